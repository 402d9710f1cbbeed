package sfxml

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type vectors struct {
	Checkword string `json:"checkword"`
	Vectors   []struct {
		Name       string `json:"name"`
		XML        string `json:"xml"`
		VerifyCode string `json:"verifyCode"`
	} `json:"vectors"`
	Wrong map[string]string `json:"wrong"`
}

// loadVectors reads testdata/vectors.json, whose verifyCodes were computed with OpenSSL
// (README.md, "verifyCode"), independently of this package.
func loadVectors(t *testing.T) (vectors, map[string]string) {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, tv := range v.Vectors {
		docs[tv.Name] = tv.XML
	}
	return v, docs
}

func TestSignVectors(t *testing.T) {
	v, _ := loadVectors(t)
	if len(v.Vectors) < 5 {
		t.Fatalf("only %d vectors", len(v.Vectors))
	}
	for _, tv := range v.Vectors {
		if got := Sign(tv.XML, v.Checkword); got != tv.VerifyCode {
			t.Errorf("%s: Sign = %s, want %s", tv.Name, got, tv.VerifyCode)
		}
		if !Verify(tv.XML, v.Checkword, tv.VerifyCode) {
			t.Errorf("%s: Verify rejects its own vector", tv.Name)
		}
		if len(tv.VerifyCode) != 24 || !strings.HasSuffix(tv.VerifyCode, "==") {
			t.Errorf("%s: verifyCode %q is not the base64 of a raw 16-byte digest", tv.Name, tv.VerifyCode)
		}
	}
}

// TestVerifyRejects: the ways integrations get verifyCode wrong, and tampering, never verify.
func TestVerifyRejects(t *testing.T) {
	v, docs := loadVectors(t)
	push := docs["push"]
	good := Sign(push, v.Checkword)
	tests := []struct {
		name, doc, checkword, code string
	}{
		{"base64 of the hex digest (Kdniao's way)", push, v.Checkword, v.Wrong["push_hex_digest_base64"]},
		{"checkword before the document", push, v.Checkword, v.Wrong["push_checkword_first"]},
		{"another checkword", push, "other-checkword", good},
		{"empty checkword, its own code", push, "", Sign(push, "")},
		{"document changed by one byte", strings.Replace(push, `opCode="80"`, `opCode="81"`, 1), v.Checkword, good},
		{"document re-quoted", strings.ReplaceAll(push, `"`, `'`), v.Checkword, good},
		{"code without padding", push, v.Checkword, strings.TrimRight(good, "=")},
		{"URL-safe alphabet", docs["order-request"], v.Checkword,
			strings.NewReplacer("+", "-", "/", "_").Replace(Sign(docs["order-request"], v.Checkword))},
		{"empty code", push, v.Checkword, ""},
	}
	for _, tt := range tests {
		if tt.checkword != "" && tt.code == Sign(tt.doc, tt.checkword) {
			t.Fatalf("%s: the case is a good one", tt.name)
		}
		if Verify(tt.doc, tt.checkword, tt.code) {
			t.Errorf("%s: verifies", tt.name)
		}
	}
}

func vectorConfig() Config {
	return Config{CustomerCode: "SHIPSYNC01", Checkword: "test-checkword-0001", MonthlyAccount: "7551234567",
		ExpressType: 1, PayMethod: 1}
}

func vectorOrder() Order {
	return Order{
		OrderID: "SO20240501001",
		Sender: Address{Contact: "Taylor", Mobile: "15018442396", Province: "上海", City: "上海市", County: "青浦区",
			Address: "明珠路73号"},
		Receiver: Address{Contact: `Yann "Y" O'Neil`, Tel: "010-12345678", Mobile: "15018442396", Province: "北京",
			City: "北京市", County: "朝阳区", Address: "三里屯街道 <雅秀大厦> & 1号"},
		Cargo:    []Cargo{{Name: "鞋子 A&B+C", Count: 1, Weight: 1.5, Amount: 99.5}},
		WeightKg: 1.5,
		Remark:   "小心轻放 & fragile",
	}
}

// TestEncodeVectors: the documents this package sends are byte for byte the vectors, so their
// verifyCodes are the independently computed ones.
func TestEncodeVectors(t *testing.T) {
	_, docs := loadVectors(t)
	cfg := vectorConfig()
	tests := []struct {
		name string
		req  Request
	}{
		{"route-request", cfg.RouteRequest("SF1234567890123")},
		{"search-request", cfg.SearchRequest("SO20240501001")},
		{"order-request", cfg.OrderRequest(vectorOrder())},
		{"push", Request{Service: ServiceRoutePush, Lang: Lang, Head: "SHIPSYNC01", Body: RequestBody{Routes: []WaybillRoute{{
			ID: "1001", MailNo: "SF1234567890123", OrderID: "SO20240501001", AcceptTime: "2024-05-02 18:30:00",
			AcceptAddress: "北京市", Remark: "已签收,感谢使用顺丰", OpCode: "80"}}}}},
	}
	for _, tt := range tests {
		got, err := tt.req.Encode()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != docs[tt.name] {
			t.Errorf("%s: Encode =\n%s\nwant\n%s", tt.name, got, docs[tt.name])
		}
	}
}
