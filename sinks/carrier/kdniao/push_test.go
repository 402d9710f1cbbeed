package kdniao

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// twoWaybills is a push for two waybills, the second with characters that are special in URLs,
// JSON and HTML.
func twoWaybills() TracePush {
	return TracePush{
		EBusinessID: testEBusinessID,
		PushTime:    "2024-05-02 10:00:00",
		Data: []Trace{
			{EBusinessID: testEBusinessID, OrderCode: "SO20240501001", ShipperCode: "SIM", LogisticCode: "SIM0000000001",
				Success: true, State: "2", StateEx: "202", Location: "北京市",
				Traces: []TraceEvent{
					{AcceptTime: "2024-05-01 18:00:00", AcceptStation: "已揽收", Location: "上海市", Action: "1"},
					{AcceptTime: "2024-05-02 09:30:00", AcceptStation: "派件中", Location: "北京市", Action: "202"},
				}},
			{EBusinessID: testEBusinessID, OrderCode: "SO20240501002", ShipperCode: "SIM", LogisticCode: "SIM0000000002",
				Success: true, State: "3", StateEx: "301", Location: `北京 & 上海 + #1 'x' "y"`,
				Traces: []TraceEvent{
					{AcceptTime: "2024-05-01 19:00:00", AcceptStation: `【上海 A&B+C #1】已揽收 100% <ok>`, Location: "上海市", Action: "1"},
					{AcceptTime: "2024-05-02 15:00:00", AcceptStation: `已签收，签收人："本人" & 'x'`, Location: `北京 & 上海 + #1 'x' "y"`,
						Action: "301", Remark: "a=b&c=d"},
				}},
		},
	}
}

// signedPush returns a 101 form for requestData signed with testAppKey.
func signedPush(requestData string) url.Values {
	return url.Values{"RequestType": {"101"}, "RequestData": {requestData}, "DataSign": {Sign(requestData, testAppKey)}}
}

// upperHexSign and rawDigestSign are the two classic wrong ways to compute DataSign.
func upperHexSign(data, key string) string {
	sum := md5.Sum([]byte(data + key))
	return base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(hex.EncodeToString(sum[:]))))
}

func rawDigestSign(data, key string) string {
	sum := md5.Sum([]byte(data + key))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestParsePush(t *testing.T) {
	good, err := EncodePush(twoWaybills(), testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	data := good.Get("RequestData")
	with := func(change func(f url.Values)) string {
		f := url.Values{}
		for k, v := range good {
			f[k] = append([]string(nil), v...)
		}
		change(f)
		return f.Encode()
	}
	const docExample = `{"EBusinessID":"1237100","PushTime":"2024-05-02 10:00:00","Count":"1",` +
		`"Data":[{"EBusinessID":"1237100","OrderCode":"SO20240501001","ShipperCode":"SIM","LogisticCode":"SIM0000000001",` +
		`"Success":true,"State":"2","StateEx":"202","Location":"北京市",` +
		`"Traces":[{"AcceptTime":"2024-05-01 18:00:00","AcceptStation":"已揽收","Location":"上海市","Action":"1"},` +
		`{"AcceptTime":"2024-05-02 09:30:00","AcceptStation":"派件中","Location":"北京市","Action":"202"}]}]}`
	const numbers = `{"EBusinessID":1237100,"PushTime":"2024-05-02 10:00:00","Count":1,"Extra":{"x":[1,2]},` +
		`"Data":[{"LogisticCode":"SIM0000000001","ShipperCode":"SIM","Success":true,"State":3,"StateEx":301,"Unknown":"ok",` +
		`"Traces":[{"AcceptTime":"2024-05-02 09:30:00","AcceptStation":"已签收","Action":301,"Extra":null}]}]}`

	tests := []struct {
		name string
		body string
		want error // nil, ErrBadSignature or ErrMalformed
	}{
		{"two waybills", good.Encode(), nil},
		{"kdniao.md example", signedPush(docExample).Encode(), nil},
		{"numbers and unknown fields", signedPush(numbers).Encode(), nil},
		{"fields in another order, EBusinessID absent", url.Values{"DataSign": {Sign(docExample, testAppKey)},
			"RequestData": {docExample}, "RequestType": {"101"}}.Encode(), nil},

		{"wrong key", with(func(f url.Values) { f.Set("DataSign", Sign(data, "another-key")) }), ErrBadSignature},
		{"upper-case hex", with(func(f url.Values) { f.Set("DataSign", upperHexSign(data, testAppKey)) }), ErrBadSignature},
		{"raw digest", with(func(f url.Values) { f.Set("DataSign", rawDigestSign(data, testAppKey)) }), ErrBadSignature},
		{"hex not base64", with(func(f url.Values) {
			sum := md5.Sum([]byte(data + testAppKey))
			f.Set("DataSign", hex.EncodeToString(sum[:]))
		}), ErrBadSignature},
		{"missing sign", with(func(f url.Values) { f.Del("DataSign") }), ErrBadSignature},
		{"empty sign", with(func(f url.Values) { f.Set("DataSign", "") }), ErrBadSignature},
		{"signed over other data", with(func(f url.Values) { f.Set("RequestData", strings.Replace(data, "SIM0000000002", "SIM0000000003", 1)) }),
			ErrBadSignature},
		{"re-marshalled data (& as \\u0026)", with(func(f url.Values) { f.Set("RequestData", strings.ReplaceAll(data, "&", `\u0026`)) }),
			ErrBadSignature},
		{"sign checked before JSON", with(func(f url.Values) { f.Set("RequestData", `{"Data":`) }), ErrBadSignature},
		// The whole body URL-encoded a second time decodes (once) to a single field named after
		// the whole form, with no RequestType: not a push at all.
		{"double-encoded form", url.QueryEscape(good.Encode()), ErrMalformed},
		// Each value encoded twice: the fields are there, but RequestData and DataSign are still
		// percent-encoded text after the one decoding, and the sign does not verify over them.
		{"double-encoded values", with(func(f url.Values) {
			for k, v := range f {
				f[k] = []string{url.QueryEscape(v[0])}
			}
		}), ErrBadSignature},

		{"truncated JSON", signedPush(data[:len(data)/2]).Encode(), ErrMalformed},
		{"trailing bytes after JSON", signedPush(data + "}").Encode(), ErrMalformed},
		{"empty RequestData", signedPush("").Encode(), ErrMalformed},
		{"JSON array", signedPush(`[` + data + `]`).Encode(), ErrMalformed},
		{"RequestType 1007", with(func(f url.Values) { f.Set("RequestType", "1007") }), ErrMalformed},
		{"RequestType missing", with(func(f url.Values) { f.Del("RequestType") }), ErrMalformed},
		{"RequestData missing", with(func(f url.Values) { f.Del("RequestData") }), ErrMalformed},
		{"RequestData twice", with(func(f url.Values) { f.Add("RequestData", data) }), ErrMalformed},
		{"DataSign twice", with(func(f url.Values) { f.Add("DataSign", f.Get("DataSign")) }), ErrMalformed},
		{"not a form", "RequestType=101&RequestData=%zz&DataSign=x", ErrMalformed},
		{"JSON body", data, ErrMalformed},
		{"empty body", "", ErrMalformed},
		{"no Data", signedPush(`{"EBusinessID":"1237100","Count":"0"}`).Encode(), ErrMalformed},
		{"null Data", signedPush(`{"Data":null}`).Encode(), ErrMalformed},
		{"empty Data", signedPush(`{"Count":"0","Data":[]}`).Encode(), ErrMalformed},
		{"item without LogisticCode", signedPush(`{"Data":[{"State":"2","Traces":[]}]}`).Encode(), ErrMalformed},
		{"item without State", signedPush(`{"Data":[{"LogisticCode":"SIM1","StateEx":"202"}]}`).Encode(), ErrMalformed},
		{"State an object", signedPush(`{"Data":[{"LogisticCode":"SIM1","State":{"v":2}}]}`).Encode(), ErrMalformed},
		{"Success a string", signedPush(`{"Data":[{"LogisticCode":"SIM1","State":"2","Success":"yes"}]}`).Encode(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePush([]byte(tt.body), testAppKey)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if len(p.Data) == 0 {
					t.Fatal("no Data")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			other := ErrMalformed
			if tt.want == ErrMalformed {
				other = ErrBadSignature
			}
			if errors.Is(err, other) {
				t.Errorf("err = %v is both kinds", err)
			}
			if strings.Contains(err.Error(), testAppKey) {
				t.Errorf("error contains the app key: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

func TestParsePushValues(t *testing.T) {
	want := twoWaybills()
	want.Count = "2"
	form, err := EncodePush(twoWaybills(), testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePush([]byte(form.Encode()), testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
	}

	const numbers = `{"EBusinessID":1237100,"Count":2,"Data":[` +
		`{"LogisticCode":118954907573,"State":2,"StateEx":201,"Traces":[{"AcceptTime":"2024-05-02 09:30:00","Action":2}]},` +
		`{"LogisticCode":"SIM2","State":"0","Traces":null}]}`
	got, err = ParsePush([]byte(signedPush(numbers).Encode()), testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.EBusinessID != "1237100" || got.Count != "2" || got.Data[0].LogisticCode != "118954907573" ||
		got.Data[0].State != "2" || got.Data[0].StateEx != "201" || got.Data[0].Traces[0].Action != "2" ||
		got.Data[1].State != "0" || got.Data[1].Traces != nil {
		t.Errorf("numbers read as %+v", got)
	}
}

// TestEncodePushSpecialCharacters proves that text with & + # ' " % = and Chinese survives the
// form and the signature unchanged, and that RequestData is not HTML-escaped.
func TestEncodePushSpecialCharacters(t *testing.T) {
	p := twoWaybills()
	form, err := EncodePush(p, testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	data := form.Get("RequestData")
	for _, s := range []string{`北京 & 上海 + #1 'x' \"y\"`, `100% <ok>`, `"Count":"2"`} {
		if !strings.Contains(data, s) {
			t.Errorf("RequestData lacks %s: %s", s, data)
		}
	}
	if strings.Contains(data, `\u0026`) || strings.Contains(data, `\u003c`) {
		t.Errorf("RequestData is HTML-escaped: %s", data)
	}
	if form.Get("RequestType") != "101" || form.Get("EBusinessID") != testEBusinessID || !Verify(data, testAppKey, form.Get("DataSign")) {
		t.Errorf("form = %v", form)
	}
	body := form.Encode()
	if n := strings.Count(body, "&"); n != len(form)-1 {
		t.Errorf("body has %d raw &, want only the %d between fields: %s", n, len(form)-1, body)
	}
	got, err := ParsePush([]byte(body), testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data[1].Location != p.Data[1].Location || got.Data[1].Traces[0].AcceptStation != p.Data[1].Traces[0].AcceptStation ||
		got.Data[1].Traces[1].Remark != "a=b&c=d" {
		t.Errorf("special characters changed: %+v", got.Data[1])
	}
	if p.Count != "" {
		t.Error("EncodePush changed its argument")
	}
}

func TestPushReply(t *testing.T) {
	at := time.Date(2024, 5, 2, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	tests := []struct {
		id      string
		success bool
		reason  string
		want    string
	}{
		{"1237100", true, "", `{"EBusinessID":"1237100","UpdateTime":"2024-05-02 10:00:00","Success":true,"Reason":""}`},
		{"1237100", false, "unknown waybill <SIM1> & co", `{"EBusinessID":"1237100","UpdateTime":"2024-05-02 10:00:00","Success":false,"Reason":"unknown waybill <SIM1> & co"}`},
		{"", false, `签名 "错误"`, `{"EBusinessID":"","UpdateTime":"2024-05-02 10:00:00","Success":false,"Reason":"签名 \"错误\""}`},
	}
	for _, tt := range tests {
		if got := string(PushReply(tt.id, tt.success, tt.reason, at)); got != tt.want {
			t.Errorf("PushReply\n got %s\nwant %s", got, tt.want)
		}
	}
}

func TestNewest(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	ev := func(times ...string) Trace {
		var tr Trace
		for _, s := range times {
			tr.Traces = append(tr.Traces, TraceEvent{AcceptTime: s})
		}
		return tr
	}
	tests := []struct {
		name  string
		trace Trace
		want  time.Time
	}{
		{"none", Trace{}, time.Time{}},
		{"oldest first", ev("2024-05-01 18:00:00", "2024-05-02 09:30:00"), time.Date(2024, 5, 2, 9, 30, 0, 0, cst)},
		{"newest first", ev("2024-05-02 09:30:00", "2024-05-01 18:00:00"), time.Date(2024, 5, 2, 9, 30, 0, 0, cst)},
		{"unreadable one skipped", ev("2024-05-01 18:00:00", "yesterday"), time.Date(2024, 5, 1, 18, 0, 0, 0, cst)},
		{"all unreadable", ev("", "2024/05/01 18:00"), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.trace.Newest()
			if !got.Equal(tt.want) || got.IsZero() != tt.want.IsZero() {
				t.Errorf("Newest = %v, want %v", got, tt.want)
			}
			if !got.IsZero() && got.UTC().Hour() != tt.want.UTC().Hour() {
				t.Errorf("Newest = %v: not read in Asia/Shanghai", got)
			}
		})
	}
}
