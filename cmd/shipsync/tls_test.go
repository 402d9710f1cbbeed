package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipsync/shipsync/sync/config"
)

// TestTLSFilesFailAtStart: a tls section whose files cannot be loaded fails the connection
// helpers (and so run, check, status and dlq) before any I/O, naming the YAML path.
func TestTLSFilesFailAtStart(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := connectShop(config.Shop{Addr: "127.0.0.1:1", TLS: &config.TLS{CAFile: missing}}, 1); err == nil ||
		!strings.HasPrefix(err.Error(), "shop.tls.ca_file: open "+missing) {
		t.Errorf("shop with a missing ca_file: %v", err)
	}
	if _, err := newRedis(config.Redis{Addr: "127.0.0.1:1", TLS: &config.TLS{CertFile: missing, KeyFile: missing}}); err == nil ||
		!strings.HasPrefix(err.Error(), "state.redis.tls.cert_file: open "+missing) {
		t.Errorf("redis with a missing cert_file: %v", err)
	}
	db, err := connectShop(config.Shop{Addr: "127.0.0.1:1"}, 1)
	if err != nil {
		t.Fatalf("no tls section: %v", err)
	}
	db.Close()
}
