package sfxml

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// fuzzCheckword signs the seeds of the push fuzzers; testdata/fuzz holds bodies signed with it.
const fuzzCheckword = "fuzz-checkword-0001"

// fuzzRoutes are scans whose texts hold the characters that break naive form and XML handling.
func fuzzRoutes() []WaybillRoute {
	return []WaybillRoute{
		{ID: "1", MailNo: "SF0000000000001", OrderID: `SO A&B+C 100% #1 'x' "y"`, AcceptTime: "2024-05-01 18:00:00",
			AcceptAddress: "上海市", Remark: "顺丰速运 已收取快件 <a>", OpCode: "50"},
		{ID: "2", MailNo: "SF0000000000001", OrderID: "SO1", AcceptTime: "2024-05-02 09:30:00",
			AcceptAddress: "北京市", Remark: `签收 a=b&c=d+e%20f`, OpCode: "80"},
	}
}

// checkAccepted fails t unless body, which ParsePush accepted, really is a push whose document,
// read the way a form is read once, was signed with key, and p is a push the caller can use.
func checkAccepted(t *testing.T, body []byte, key string, p Push) {
	t.Helper()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatalf("accepted a body that is not a form: %v", err)
	}
	doc, err := documentField(form)
	if err != nil || len(form[FieldVerifyCode]) != 1 {
		t.Fatalf("accepted document %v, verifyCode %d times", err, len(form[FieldVerifyCode]))
	}
	if code, want := form.Get(FieldVerifyCode), Sign(doc, key); code != want {
		t.Fatalf("accepted a forged push: verifyCode %q, the code of the document is %q", code, want)
	}
	if strings.Contains(strings.ToUpper(doc), "<!DOCTYPE") {
		t.Fatalf("accepted a document with a DTD: %q", doc)
	}
	if len(p.Routes) == 0 {
		t.Fatal("accepted a push without routes")
	}
	for i, r := range p.Routes {
		if _, err := r.Time(); strings.TrimSpace(r.MailNo) == "" || strings.TrimSpace(r.OpCode) == "" || err != nil {
			t.Fatalf("accepted route %d without mailno, opCode or time: %+v", i, r)
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
			t.Fatalf("error reveals the checkword: %v", err)
		}
	}
}

// FuzzParsePush feeds raw form bodies to ParsePush: it must never panic, and it must accept a
// body only when its document really was signed with the checkword, so a fuzzed verifyCode
// never passes.
func FuzzParsePush(f *testing.F) {
	form, err := EncodePush("SHIPSYNC01", fuzzRoutes(), fuzzCheckword)
	if err != nil {
		f.Fatal(err)
	}
	good := form.Encode()
	doc := form.Get(FieldXML)
	f.Add([]byte(good))
	f.Add([]byte(good[:len(good)/2]))
	f.Add([]byte(strings.Replace(good, "verifyCode=", "verifyCode=A", 1)))
	f.Add([]byte(url.Values{FieldXML: {doc}, FieldVerifyCode: {Sign(doc, "other-checkword")}}.Encode()))
	f.Add([]byte(url.Values{FieldContent: {doc}, FieldVerifyCode: {Sign(doc, fuzzCheckword)}}.Encode()))
	f.Add([]byte(url.QueryEscape(good)))
	f.Add([]byte("xml=%3CRequest%2F%3E&verifyCode=x&verifyCode=y"))
	f.Add([]byte("xml=%zz&verifyCode=x"))
	f.Add([]byte("xml=<Request/>;verifyCode="))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePush(body, fuzzCheckword)
		if err != nil {
			checkRejected(t, body, fuzzCheckword, err)
			return
		}
		checkAccepted(t, body, fuzzCheckword, p)
	})
}

// FuzzParsePushXML signs fuzzed documents correctly, so that the XML decoding behind the
// verifyCode check is reached: it must never panic, never accept a DTD, an accepted push has
// at least one route with a mailno, an opCode and a readable time, and what is accepted
// survives an EncodePush round trip.
func FuzzParsePushXML(f *testing.F) {
	form, err := EncodePush("SHIPSYNC01", fuzzRoutes(), fuzzCheckword)
	if err != nil {
		f.Fatal(err)
	}
	doc := form.Get(FieldXML)
	f.Add(doc)
	f.Add(doc[:len(doc)/2])
	f.Add(doc + doc)
	f.Add(`<?xml version="1.0"?><!DOCTYPE Request [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + doc)
	f.Add(strings.Replace(doc, `remark="`, `remark="&x;`, 1))
	f.Add(`<?xml version="1.0" encoding="GBK"?>` + doc)
	f.Add(`<Request service='RoutePushService'><Body><WaybillRoute mailno='SF1' opCode='80' acceptTime='2024-05-02 09:00:00'/></Body></Request>`)
	f.Add(`<Request service="RoutePushService"><Body><WaybillRoute mailno="SF1" opCode="80" acceptTime="2024-02-30 09:00:00"/></Body></Request>`)
	f.Add(`<Request xmlns="urn:x" service="RoutePushService"><Body><WaybillRoute mailno="SF1" opCode="80" acceptTime="2024-05-02 09:00:00"/></Body></Request>`)
	f.Add(`<Request service="RoutePushService"><Body><![CDATA[x]]><WaybillRoute mailno="SF1" opCode="&#x38;0" acceptTime="2024-05-02 09:00:00"/></Body></Request>`)
	f.Fuzz(func(t *testing.T, doc string) {
		body := []byte(url.Values{FieldXML: {doc}, FieldVerifyCode: {Sign(doc, fuzzCheckword)}}.Encode())
		p, err := ParsePush(body, fuzzCheckword)
		if err != nil {
			checkRejected(t, body, fuzzCheckword, err)
			if errors.Is(err, ErrBadSignature) {
				t.Fatalf("correctly signed document %q refused as badly signed: %v", doc, err)
			}
			return
		}
		checkAccepted(t, body, fuzzCheckword, p)
		again, err := EncodePush(p.Head, p.Routes, fuzzCheckword)
		if err != nil {
			t.Fatalf("accepted push does not encode: %v", err)
		}
		q, err := ParsePush([]byte(again.Encode()), fuzzCheckword)
		if err != nil {
			t.Fatalf("accepted push, encoded again, is refused: %v\ndocument %q", err, again.Get(FieldXML))
		}
		if len(q.Routes) != len(p.Routes) || q.Head != p.Head {
			t.Fatalf("round trip changed the push: %+v -> %+v", p, q)
		}
		for i := range p.Routes {
			if q.Routes[i] != p.Routes[i] {
				t.Fatalf("round trip changed route %d: %+v -> %+v", i, p.Routes[i], q.Routes[i])
			}
		}
	})
}
