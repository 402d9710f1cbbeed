package sfxml

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testCheckword = "test-checkword-0001"

func signedForm(doc string) []byte {
	return []byte(url.Values{FieldXML: {doc}, FieldVerifyCode: {Sign(doc, testCheckword)}}.Encode())
}

func pushDoc(routes string) string {
	return `<Request service="RoutePushService" lang="zh-CN"><Head>SHIPSYNC01</Head><Body>` + routes + `</Body></Request>`
}

const route80 = `<WaybillRoute id="1001" mailno="SF1234567890123" orderid="SO1" acceptTime="2024-05-02 18:30:00" acceptAddress="北京市" remark="已签收" opCode="80"/>`

func TestParsePushVectors(t *testing.T) {
	v, docs := loadVectors(t)
	for _, tc := range []struct {
		name, field string
		want        WaybillRoute
		at          time.Time
	}{
		{"push", FieldXML, WaybillRoute{ID: "1001", MailNo: "SF1234567890123", OrderID: "SO20240501001",
			AcceptTime: "2024-05-02 18:30:00", AcceptAddress: "北京市", Remark: "已签收,感谢使用顺丰", OpCode: "80"},
			time.Date(2024, 5, 2, 10, 30, 0, 0, time.UTC)},
		// Written by hand the way SF's samples are (single quotes, newlines), under SF's own
		// field name: verified over the bytes as received, not over a re-encoding.
		{"push-hand-written", FieldContent, WaybillRoute{ID: "1002", MailNo: "SF1234567890123", OrderID: "SO20240501001",
			AcceptTime: "2024-05-02 09:00:00", AcceptAddress: "深圳市", Remark: "顺丰速运 已收取快件", OpCode: "50"},
			time.Date(2024, 5, 2, 1, 0, 0, 0, time.UTC)},
	} {
		var code string
		for _, tv := range v.Vectors {
			if tv.Name == tc.name {
				code = tv.VerifyCode
			}
		}
		body := []byte(url.Values{tc.field: {docs[tc.name]}, FieldVerifyCode: {code}}.Encode())
		p, err := ParsePush(body, v.Checkword)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.Head != "SHIPSYNC01" || len(p.Routes) != 1 || p.Routes[0] != tc.want {
			t.Errorf("%s: push = %+v", tc.name, p)
		}
		// acceptTime is Asia/Shanghai wall-clock time.
		if at, err := p.Routes[0].Time(); err != nil || !at.Equal(tc.at) {
			t.Errorf("%s: Time = %v, %v; want %v", tc.name, at, err, tc.at)
		}
	}
}

func TestParsePushAccepts(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		routes int
		check  func(t *testing.T, p Push)
	}{
		{"several routes of several waybills", pushDoc(route80 +
			`<WaybillRoute id="1002" mailno="SF2" orderid="SO2" acceptTime="2024-05-02 08:00:00" acceptAddress="上海" remark="收件" opCode="50"/>`), 2, nil},
		{"unknown opCode kept for the caller to count", pushDoc(strings.Replace(route80, `opCode="80"`, `opCode="9999"`, 1)), 1,
			func(t *testing.T, p Push) {
				if p.Routes[0].OpCode != "9999" {
					t.Errorf("opCode = %q", p.Routes[0].OpCode)
				}
			}},
		{"unknown attributes and elements ignored", pushDoc(strings.Replace(route80, `opCode="80"`, `opCode="80" reasonCode="x"`, 1) +
			`<Extra a="1"/>`), 1, nil},
		{"declaration, comments and escapes", `<?xml version="1.0" encoding="UTF-8"?><!-- push -->` +
			pushDoc(strings.Replace(route80, `remark="已签收"`, `remark="A&amp;B &lt;x&gt; &#34;q&#34; &#x4e2d;"`, 1)), 1,
			func(t *testing.T, p Push) {
				if p.Routes[0].Remark != `A&B <x> "q" 中` {
					t.Errorf("remark = %q", p.Routes[0].Remark)
				}
			}},
	}
	for _, tt := range tests {
		p, err := ParsePush(signedForm(tt.doc), testCheckword)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(p.Routes) != tt.routes {
			t.Errorf("%s: %d routes, want %d", tt.name, len(p.Routes), tt.routes)
		}
		if tt.check != nil {
			tt.check(t, p)
		}
	}
}

// TestParsePushRejects: forged, truncated, oversized, hostile and incomplete pushes are each
// refused with the right error, and no message reveals the checkword.
func TestParsePushRejects(t *testing.T) {
	good := pushDoc(route80)
	code := Sign(good, testCheckword)
	form := func(kv ...string) []byte {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return []byte(v.Encode())
	}
	xxe := `<?xml version="1.0"?><!DOCTYPE Request [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
		pushDoc(strings.Replace(route80, `remark="已签收"`, `remark="&xxe;"`, 1))
	deep := pushDoc(strings.Repeat("<a>", 10) + route80 + strings.Repeat("</a>", 10))
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"forged: signed with another checkword", form(FieldXML, good, FieldVerifyCode, Sign(good, "other")), ErrBadSignature},
		{"forged: document changed after signing", form(FieldXML, strings.Replace(good, `opCode="80"`, `opCode="70"`, 1),
			FieldVerifyCode, code), ErrBadSignature},
		{"unsigned", form(FieldXML, good), ErrBadSignature},
		{"empty verifyCode", form(FieldXML, good, FieldVerifyCode, ""), ErrBadSignature},
		{"verifyCode twice", form(FieldXML, good, FieldVerifyCode, code, FieldVerifyCode, code), ErrMalformed},
		{"no document", form(FieldVerifyCode, code), ErrMalformed},
		{"document twice", form(FieldXML, good, FieldXML, good, FieldVerifyCode, code), ErrMalformed},
		{"xml and content", form(FieldXML, good, FieldContent, good, FieldVerifyCode, code), ErrMalformed},
		{"not a form", []byte("xml=%zz&verifyCode=x"), ErrMalformed},
		{"double-encoded form", []byte(url.QueryEscape(string(signedForm(good)))), ErrMalformed},
		{"oversized body", append(signedForm(good), strings.Repeat("&pad=x", MaxDocumentBytes/6+1)...), ErrMalformed},
		{"truncated document, signed", signedForm(good[:len(good)-12]), ErrMalformed},
		{"empty document, signed", signedForm(""), ErrMalformed},
		{"not XML, signed", signedForm(`{"json":true}`), ErrMalformed},
		{"DTD with an external entity, signed", signedForm(xxe), ErrMalformed},
		{"undeclared entity, signed", signedForm(strings.Replace(good, `remark="已签收"`, `remark="&lt;&nbsp;"`, 1)), ErrMalformed},
		{"GBK declared, signed", signedForm(`<?xml version="1.0" encoding="GBK"?>` + good), ErrMalformed},
		{"invalid UTF-8, signed", signedForm(strings.Replace(good, "已签收", "\xff\xfe", 1)), ErrMalformed},
		{"nested too deep, signed", signedForm(deep), ErrMalformed},
		{"a second root, signed", signedForm(good + good), ErrMalformed},
		{"text after the root, signed", signedForm(good + "trailing"), ErrMalformed},
		{"a Response, not a Request, signed", signedForm(`<Response service="RoutePushService"><Head>OK</Head></Response>`), ErrMalformed},
		{"another service, signed", signedForm(strings.Replace(good, "RoutePushService", "OrderService", 1)), ErrMalformed},
		{"no routes, signed", signedForm(pushDoc("")), ErrMalformed},
		{"route without mailno, signed", signedForm(pushDoc(strings.Replace(route80, `mailno="SF1234567890123"`, `mailno=" "`, 1))), ErrMalformed},
		{"route without opCode, signed", signedForm(pushDoc(strings.Replace(route80, ` opCode="80"`, "", 1))), ErrMalformed},
		{"route with an unreadable time, signed", signedForm(pushDoc(strings.Replace(route80, "2024-05-02 18:30:00", "2024/05/02", 1))), ErrMalformed},
	}
	for _, tt := range tests {
		_, err := ParsePush(tt.body, testCheckword)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
			continue
		}
		if other := map[error]error{ErrBadSignature: ErrMalformed, ErrMalformed: ErrBadSignature}[tt.want]; errors.Is(err, other) {
			t.Errorf("%s: err wraps both kinds: %v", tt.name, err)
		}
		if strings.Contains(err.Error(), testCheckword) {
			t.Errorf("%s: message reveals the checkword: %v", tt.name, err)
		}
	}
	// The receiver without a checkword accepts nothing, not even a push signed with "".
	if _, err := ParsePush([]byte(url.Values{FieldXML: {good}, FieldVerifyCode: {Sign(good, "")}}.Encode()), ""); !errors.Is(err, ErrBadSignature) {
		t.Errorf("empty checkword: err = %v", err)
	}
}

func TestEncodePushRoundTrip(t *testing.T) {
	routes := []WaybillRoute{{ID: "7", MailNo: "SF1", OrderID: `SO "1" & <2>`, AcceptTime: "2024-05-02 18:30:00",
		AcceptAddress: "北京\t市", Remark: "line1\nline2", OpCode: "80"}}
	form, err := EncodePush("SHIPSYNC01", routes, testCheckword)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePush([]byte(form.Encode()), testCheckword)
	if err != nil {
		t.Fatal(err)
	}
	if p.Head != "SHIPSYNC01" || len(p.Routes) != 1 || p.Routes[0] != routes[0] {
		t.Errorf("round trip = %+v, want %+v", p, routes)
	}
}

func TestPushReply(t *testing.T) {
	if got := string(PushReply(true, "ignored")); got != `<Response service="RoutePushService"><Head>OK</Head></Response>` {
		t.Errorf("ok reply = %s", got)
	}
	got := PushReply(false, "unknown_waybill SF1 <&>")
	want := `<Response service="RoutePushService"><Head>ERR</Head><ERROR code="4001">unknown_waybill SF1 &lt;&amp;&gt;</ERROR></Response>`
	if string(got) != want {
		t.Errorf("failure reply = %s\nwant %s", got, want)
	}
	r, err := ParseResponse(got)
	if err != nil || r.Head != HeadErr || r.Error == nil || r.Error.Reason != "unknown_waybill SF1 <&>" {
		t.Errorf("failure reply reads back as %+v, %v", r, err)
	}
}
