package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// TLS is a client's TLS to a server (shop.tls, state.redis.tls). The section's presence turns
// TLS on; without ca_file the system's roots verify the server.
type TLS struct {
	CAFile   string `yaml:"ca_file"`   // PEM roots that sign the server's certificate
	CertFile string `yaml:"cert_file"` // client certificate (PEM), with key_file: both or neither
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked in the server's certificate; default: the host the
	// connection goes to.
	ServerName string `yaml:"server_name"`
	// SkipVerify accepts any server certificate: the link is encrypted but open to a man in
	// the middle. Refused unless Insecure is also set, so it cannot be switched on by accident.
	SkipVerify bool `yaml:"skip_verify"`
	Insecure   bool `yaml:"insecure"`
}

// Client loads the files of t (nil: no TLS, and nil is returned) into a client configuration.
// path is t's YAML path, for the errors; addr, when set, gives the default server name (its
// host), for clients that do not derive it from the address they dial.
func (t *TLS) Client(path, addr string) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName,
		InsecureSkipVerify: t.SkipVerify && t.Insecure} //nolint:gosec // only when insecure: true acknowledges it
	if tc.ServerName == "" && addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		tc.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", path, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: no PEM certificate in %s", path, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file: %w", path, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// validateTLS checks the shape of a tls section (no I/O: the files are read at start).
func (v *validator) validateTLS(path string, t *TLS) {
	if t == nil {
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add(path+".cert_file", "cert_file and key_file go together (PEM client certificate and key files)")
	}
	if t.SkipVerify && !t.Insecure {
		v.add(path+".skip_verify", "accepts any server certificate (open to a man in the middle); set insecure: true as well to mean it")
	}
	if t.Insecure && !t.SkipVerify {
		v.add(path+".insecure", "only acknowledges skip_verify: true; without it, remove insecure")
	}
}
