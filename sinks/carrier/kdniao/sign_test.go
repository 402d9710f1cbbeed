package kdniao

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type vector struct {
	Name        string `json:"name"`
	RequestData string `json:"request_data"`
	AppKey      string `json:"app_key"`
	DataSign    string `json:"data_sign"`
	Valid       bool   `json:"valid"`
}

func loadVectors(t *testing.T) map[string]vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]vector, len(f.Vectors))
	for _, v := range f.Vectors {
		m[v.Name] = v
	}
	for _, name := range []string{"TV1", "TV2", "TV3", "TV1 upper-case hex", "TV1 raw digest"} {
		if _, ok := m[name]; !ok {
			t.Fatalf("testdata/vectors.json lacks %s", name)
		}
	}
	return m
}

func TestSignVectors(t *testing.T) {
	for name, v := range loadVectors(t) {
		t.Run(name, func(t *testing.T) {
			got := Sign(v.RequestData, v.AppKey)
			if len(got) != 44 || !strings.HasSuffix(got, "=") {
				t.Errorf("Sign = %q, want 44 chars ending in =", got)
			}
			if (got == v.DataSign) != v.Valid {
				t.Errorf("Sign = %q, vector %q, valid %v", got, v.DataSign, v.Valid)
			}
			if ok := Verify(v.RequestData, v.AppKey, v.DataSign); ok != v.Valid {
				t.Errorf("Verify = %v, want %v", ok, v.Valid)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	v := loadVectors(t)["TV3"]
	tests := []struct {
		name, data, key, sign string
	}{
		{"other key", v.RequestData, "test-appkey-0002", v.DataSign},
		{"data changed", strings.Replace(v.RequestData, "A&B", `A\u0026B`, 1), v.AppKey, v.DataSign},
		{"empty sign", v.RequestData, v.AppKey, ""},
		{"truncated sign", v.RequestData, v.AppKey, v.DataSign[:43]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Verify(tt.data, tt.key, tt.sign) {
				t.Error("Verify accepted")
			}
		})
	}
}
