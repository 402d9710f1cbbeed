package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shipsync/shipsync/testenv"
)

func TestValidateTLS(t *testing.T) {
	base := mustParse(t, readFile(t, "testdata/minimal.yaml"))
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"none", func(*Config) {}, nil},
		{"empty sections: system roots", func(c *Config) { c.Shop.TLS, c.State.Redis.TLS = &TLS{}, &TLS{} }, nil},
		{"full", func(c *Config) {
			c.Shop.TLS = &TLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "db.internal"}
		}, nil},
		{"cert without key", func(c *Config) { c.Shop.TLS = &TLS{CertFile: "c.pem"} },
			[]string{"shop.tls.cert_file: cert_file and key_file go together (PEM client certificate and key files)"}},
		{"key without cert", func(c *Config) { c.State.Redis.TLS = &TLS{KeyFile: "k.pem"} },
			[]string{"state.redis.tls.cert_file: cert_file and key_file go together (PEM client certificate and key files)"}},
		{"skip_verify alone", func(c *Config) { c.Shop.TLS = &TLS{SkipVerify: true} },
			[]string{"shop.tls.skip_verify: accepts any server certificate (open to a man in the middle); set insecure: true as well to mean it"}},
		{"skip_verify with insecure", func(c *Config) { c.State.Redis.TLS = &TLS{SkipVerify: true, Insecure: true} }, nil},
		{"insecure alone", func(c *Config) { c.State.Redis.TLS = &TLS{Insecure: true} },
			[]string{"state.redis.tls.insecure: only acknowledges skip_verify: true; without it, remove insecure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *base
			tt.mutate(&c)
			if got := errLines(c.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseTLSSection(t *testing.T) {
	text := strings.Replace(string(readFile(t, "testdata/minimal.yaml")), "shop:\n", "shop:\n  tls:\n    skip_verify: yes\n    ca_fil: x\n", 1)
	_, err := parse([]byte(text), env("SHOP_DB_PASSWORD", "", "KDNIAO_APP_KEY", "k"))
	got := strings.Join(errLines(err), "\n")
	for _, want := range []string{`shop.tls.ca_fil: unknown key (did you mean "ca_file"?)`, "shop.tls.skip_verify: accepts any server certificate"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
}

func TestTLSClient(t *testing.T) {
	f := testenv.MakeTLSFiles(t)
	var none *TLS
	if tc, err := none.Client("shop.tls", "db:3306"); tc != nil || err != nil {
		t.Errorf("no section: %v, %v; want no TLS", tc, err)
	}

	tc, err := (&TLS{CAFile: f.CA, CertFile: f.ClientCert, KeyFile: f.ClientKey}).Client("shop.tls", "db.internal:3306")
	if err != nil {
		t.Fatal(err)
	}
	if tc.ServerName != "db.internal" || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("client config: server name %q, roots %v, %d certificates, skip verify %v, min version %x",
			tc.ServerName, tc.RootCAs != nil, len(tc.Certificates), tc.InsecureSkipVerify, tc.MinVersion)
	}
	if tc, _ := (&TLS{ServerName: "shop.example"}).Client("shop.tls", "10.0.0.1:3306"); tc.ServerName != "shop.example" || tc.RootCAs != nil {
		t.Errorf("server_name: %q, roots %v; want shop.example and the system's roots", tc.ServerName, tc.RootCAs)
	}
	if tc, _ := (&TLS{}).Client("state.redis.tls", ""); tc.ServerName != "" {
		t.Errorf("no address: server name %q, want none (the dialler's host)", tc.ServerName)
	}
	if tc, _ := (&TLS{SkipVerify: true, Insecure: true}).Client("shop.tls", "db:3306"); !tc.InsecureSkipVerify {
		t.Error("skip_verify with insecure: verification still on")
	}

	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		t    TLS
		want string
	}{
		{TLS{CAFile: filepath.Join(t.TempDir(), "missing.pem")}, "shop.tls.ca_file: open "},
		{TLS{CAFile: notPEM}, "shop.tls.ca_file: no PEM certificate in " + notPEM},
		{TLS{CertFile: f.ClientCert, KeyFile: f.ServerKey}, "shop.tls.cert_file: tls: private key does not match public key"},
	} {
		if _, err := tt.t.Client("shop.tls", "db:3306"); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.t, err, tt.want)
		}
	}
}
