package kdniao

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// fuzzAppKey signs the seeds of the push fuzzers; testdata/fuzz holds bodies signed with it.
const fuzzAppKey = "fuzz-app-key-0001"

// fuzzPush is a push whose texts hold the characters that break naive form and JSON handling.
func fuzzPush() TracePush {
	return TracePush{EBusinessID: "1237100", PushTime: "2024-05-02 10:00:00", Data: []Trace{{
		EBusinessID: "1237100", OrderCode: "SO20240501001", ShipperCode: "SIM", LogisticCode: "SIM0000000001",
		Success: true, State: "3", StateEx: "301", Location: `北京 A&B+C 100% #1 'x' "y"`,
		Traces: []TraceEvent{
			{AcceptTime: "2024-05-01 18:00:00", AcceptStation: "已揽收", Location: "上海市", Action: "1"},
			{AcceptTime: "2024-05-02 09:30:00", AcceptStation: `签收 a=b&c=d+e%20f`, Action: "301", Remark: "%zz"},
		},
	}}}
}

// checkAccepted fails t unless body, which ParsePush accepted under key, really is a 101 push
// whose RequestData, read the way a form is read once, was signed with key.
func checkAccepted(t *testing.T, body []byte, key string, p TracePush) {
	t.Helper()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatalf("accepted a body that is not a form: %v", err)
	}
	if len(form["RequestType"]) != 1 || form.Get("RequestType") != "101" {
		t.Fatalf("accepted RequestType %q", form["RequestType"])
	}
	if len(form["RequestData"]) != 1 || len(form["DataSign"]) != 1 {
		t.Fatalf("accepted RequestData %d times, DataSign %d times", len(form["RequestData"]), len(form["DataSign"]))
	}
	data, sign := form.Get("RequestData"), form.Get("DataSign")
	if want := Sign(data, key); sign != want {
		t.Fatalf("accepted a forged push: DataSign %q, the signature of RequestData %q is %q", sign, data, want)
	}
	if len(p.Data) == 0 {
		t.Fatal("accepted a push without waybills")
	}
	for i, d := range p.Data {
		if strings.TrimSpace(d.LogisticCode) == "" || strings.TrimSpace(d.State) == "" {
			t.Fatalf("accepted Data[%d] without LogisticCode or State: %+v", i, d)
		}
	}
}

// checkRejected fails t unless err is of exactly one documented kind and does not reveal key.
func checkRejected(t *testing.T, body []byte, key string, err error) {
	t.Helper()
	bad, malformed := errors.Is(err, ErrBadSignature), errors.Is(err, ErrMalformed)
	if bad == malformed {
		t.Fatalf("error wraps ErrBadSignature %v, ErrMalformed %v, want exactly one: %v", bad, malformed, err)
	}
	// The body may carry the key itself (then the message may echo it): only a key the
	// sender did not write counts as a leak.
	if strings.Contains(err.Error(), key) && !strings.Contains(string(body), key) {
		if q, qerr := url.QueryUnescape(string(body)); qerr != nil || !strings.Contains(q, key) {
			t.Fatalf("error reveals the app key: %v", err)
		}
	}
}

// FuzzParsePush feeds raw form bodies to ParsePush: it must never panic, and it must accept a
// body only when its RequestData really was signed with the app key, so a fuzzed DataSign never
// passes.
func FuzzParsePush(f *testing.F) {
	form, err := EncodePush(fuzzPush(), fuzzAppKey)
	if err != nil {
		f.Fatal(err)
	}
	good := form.Encode()
	data := form.Get("RequestData")
	f.Add([]byte(good))
	f.Add([]byte(good[:len(good)/2]))
	f.Add([]byte(strings.Replace(good, "DataSign=", "DataSign=A", 1)))
	f.Add([]byte(url.Values{"RequestType": {"101"}, "RequestData": {data}, "DataSign": {Sign(data, "other-key")}}.Encode()))
	f.Add([]byte(url.QueryEscape(good)))
	f.Add([]byte("RequestType=101&RequestData=%7B%7D&DataSign=x&DataSign=y"))
	f.Add([]byte("RequestType=101&RequestData=%zz&DataSign=x"))
	f.Add([]byte("RequestType=101;RequestData={}&DataSign="))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePush(body, fuzzAppKey)
		if err != nil {
			checkRejected(t, body, fuzzAppKey, err)
			return
		}
		checkAccepted(t, body, fuzzAppKey, p)
	})
}

// FuzzParsePushJSON signs fuzzed RequestData correctly, so that the JSON decoding behind the
// signature check is reached: it must never panic, an accepted push has at least one waybill,
// each with a LogisticCode and a State, and what is accepted survives an EncodePush round trip.
func FuzzParsePushJSON(f *testing.F) {
	form, err := EncodePush(fuzzPush(), fuzzAppKey)
	if err != nil {
		f.Fatal(err)
	}
	data := form.Get("RequestData")
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(data + "}")
	f.Add(`{"EBusinessID":1237100,"Count":1,"Data":[{"LogisticCode":118954907573,"State":2,"StateEx":201,` +
		`"Traces":[{"AcceptTime":"2024-05-02 09:30:00","Action":2,"Extra":null}]}]}`)
	f.Add(`{"Data":[{"LogisticCode":"SIM1","State":{"v":2}}]}`)
	f.Add(`{"Data":[{"LogisticCode":" ","State":"2"}]}`)
	f.Add(`{"Data":[{"LogisticCode":"SIM1","State":-1e999}]}`)
	f.Add(`{"Data":null}`)
	f.Add(`[` + data + `]`)
	f.Fuzz(func(t *testing.T, data string) {
		body := []byte(url.Values{"RequestType": {"101"}, "RequestData": {data}, "DataSign": {Sign(data, fuzzAppKey)}}.Encode())
		p, err := ParsePush(body, fuzzAppKey)
		if err != nil {
			checkRejected(t, body, fuzzAppKey, err)
			if errors.Is(err, ErrBadSignature) {
				t.Fatalf("correctly signed RequestData %q refused as badly signed: %v", data, err)
			}
			return
		}
		checkAccepted(t, body, fuzzAppKey, p)
		again, err := EncodePush(p, fuzzAppKey)
		if err != nil {
			t.Fatalf("accepted push does not encode: %v", err)
		}
		if _, err := ParsePush([]byte(again.Encode()), fuzzAppKey); err != nil {
			t.Fatalf("accepted push, encoded again, is refused: %v\nRequestData %q", err, again.Get("RequestData"))
		}
	})
}
