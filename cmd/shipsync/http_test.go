package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/config"
)

func noPush() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /push/{carrier}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.PathValue("carrier")) })
	return mux
}

// TestServeHTTPTLS: with tls_cert/tls_key the listener speaks HTTPS only; a bad key pair fails
// at start, not later.
func TestServeHTTPTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	addr, stop, err := serveHTTP(context.Background(), config.HTTP{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, noPush(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+addr+"/push/sim", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "sim" {
		t.Fatalf("https push: %d %q", resp.StatusCode, body)
	}
	plain, err := http.Post("http://"+addr+"/push/sim", "text/plain", strings.NewReader("x"))
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Fatal("the TLS listener answered plain HTTP")
		}
	}

	if _, _, err := serveHTTP(context.Background(), config.HTTP{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: certFile}, noPush(), log); err == nil ||
		!strings.Contains(err.Error(), "http.tls_cert") {
		t.Fatalf("a bad key pair: %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shipsync test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
