package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TLSFiles are PEM files made for one test: a CA, a server certificate it signed for
// 127.0.0.1 and localhost, and a client certificate it signed.
type TLSFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// MakeTLSFiles makes a fresh CA and its certificates in a temporary directory. Two calls give
// two unrelated CAs: one's CA does not verify the other's server.
func MakeTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey: filepath.Join(dir, "server-key.pem"), ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey: filepath.Join(dir, "client-key.pem")}
	now := time.Now()
	caKey := tlsKey(t)
	caTmpl := &x509.Certificate{SerialNumber: tlsSerial(t), Subject: pkix.Name{CommonName: "shipsync test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	writeTLSPEM(t, f.CA, "CERTIFICATE", caDER)
	leaf := func(certFile, keyFile, name string, usage x509.ExtKeyUsage, hosts bool) {
		key := tlsKey(t)
		tmpl := &x509.Certificate{SerialNumber: tlsSerial(t), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if hosts {
			tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writeTLSPEM(t, certFile, "CERTIFICATE", der)
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writeTLSPEM(t, keyFile, "PRIVATE KEY", keyDER)
	}
	leaf(f.ServerCert, f.ServerKey, "localhost", x509.ExtKeyUsageServerAuth, true)
	leaf(f.ClientCert, f.ClientKey, "shipsync", x509.ExtKeyUsageClientAuth, false)
	return f
}

// Client is a client configuration that trusts f's CA and presents f's client certificate.
func (f TLSFiles) Client(t testing.TB, serverName string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

func tlsKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func tlsSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writeTLSPEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartTLSRedis runs a redis-server that speaks TLS only (no plaintext port) with f's server
// certificate and requires a client certificate signed by f's CA, on a free loopback port, for
// the test's duration. It returns its address.
func StartTLSRedis(t testing.TB, f TLSFiles) string {
	t.Helper()
	skipShort(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found: %v; %s", err, startHint)
	}
	dir := t.TempDir()
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	runServer(t, "redis-server", filepath.Join(dir, "redis.log"), "--bind", "127.0.0.1", "--port", "0", "--tls-port", port,
		"--tls-cert-file", f.ServerCert, "--tls-key-file", f.ServerKey, "--tls-ca-cert-file", f.CA,
		"--tls-auth-clients", "yes", "--dir", dir, "--save", "", "--appendonly", "no")
	waitTCP(t, addr, 10*time.Second)
	return addr
}

// TLSMariaDB is a private MariaDB started by StartTLSMariaDB.
type TLSMariaDB struct {
	Addr string // 127.0.0.1:port, TLS only
	// User (with Password) has ALL PRIVILEGES and must present a client certificate signed by
	// the CA (REQUIRE X509). They are the shared testenv's, so NewDaemon's environment fits.
	User, Password string
	socket         string
}

// StartTLSMariaDB initialises a MariaDB datadir in a temporary directory and runs mariadbd on
// it with the binlog flags of testenv/up.sh, f's certificates and require_secure_transport, so
// a plaintext TCP client is refused. It takes a few seconds; it is stopped at cleanup.
func StartTLSMariaDB(t testing.TB, f TLSFiles) *TLSMariaDB {
	t.Helper()
	skipShort(t)
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "mariadb"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: %v; %s", bin, err, startHint)
		}
	}
	dir := t.TempDir()
	m := &TLSMariaDB{Addr: FreeAddr(t), User: MySQLUser(), Password: MySQLPassword(),
		socket: filepath.Join(dir, "m.sock")}
	if len(m.socket) > 100 {
		t.Fatalf("testenv: socket path too long for a unix socket: %s", m.socket)
	}
	data := filepath.Join(dir, "data")
	var asRoot []string
	if os.Geteuid() == 0 {
		asRoot = []string{"--user=root"} // mariadbd refuses to run as root unless told so
	}
	install := exec.Command("mariadb-install-db", append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, asRoot...)...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	_, port, _ := net.SplitHostPort(m.Addr)
	runServer(t, "mariadbd", filepath.Join(dir, "launch.log"), append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + m.socket, "--port=" + port, "--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(dir, "m.pid"), // no --log-error: errors go to the log start shows
		"--log-bin=mysql-bin", "--binlog-format=ROW", "--binlog-row-image=FULL", "--server-id=1",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci", "--skip-name-resolve",
		"--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0", "--innodb-doublewrite=0",
		"--ssl-ca=" + f.CA, "--ssl-cert=" + f.ServerCert, "--ssl-key=" + f.ServerKey, "--require-secure-transport=ON"},
		asRoot...)...)
	Eventually(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		out, err := m.rootSQL("SELECT 1")
		return err == nil, fmt.Sprintf("TLS MariaDB not answering on %s: %v %s", m.socket, err, out)
	})
	pw := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(m.Password)
	var script strings.Builder
	for _, host := range []string{"127.0.0.1", "localhost"} {
		fmt.Fprintf(&script, "CREATE USER '%s'@'%s' IDENTIFIED BY '%s' REQUIRE X509;\n", m.User, host, pw)
		fmt.Fprintf(&script, "GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s';\n", m.User, host)
	}
	if out, err := m.rootSQL(script.String()); err != nil {
		t.Fatalf("create user on the TLS MariaDB: %v\n%s", err, out)
	}
	return m
}

// CreateDatabase creates an empty utf8mb4 database (root, over the server's unix socket).
func (m *TLSMariaDB) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	if out, err := m.rootSQL("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		t.Fatalf("create database %s: %v\n%s", name, err, out)
	}
}

// rootSQL runs statements as root over the unix socket, which require_secure_transport allows.
func (m *TLSMariaDB) rootSQL(script string) ([]byte, error) {
	cmd := exec.Command("mariadb", "--no-defaults", "--protocol=socket", "--socket="+m.socket, "-uroot", "--batch")
	cmd.Stdin = strings.NewReader(script)
	return cmd.CombinedOutput()
}

// runServer runs a server process with its output in logFile, killed at cleanup; the log is shown
// when the test fails.
func runServer(t testing.TB, bin, logFile string, args ...string) {
	t.Helper()
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // stopping a test server
		cmd.Wait()         //nolint:errcheck
		log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
				t.Logf("%s output:\n%s", bin, b)
			}
		}
	})
}

func waitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, 20*time.Millisecond, func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil, fmt.Sprintf("%s not listening: %v", addr, err)
	})
}
