package serve

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkTLSHandshake: full TLS handshakes over an in-memory pipe, the
// certificate served by the reloader (a stat of both files at most once a
// second) beside the same certificate fixed in tls.Config.Certificates.
//
//	go test -run '^$' -bench TLSHandshake -count 5 ./sidecar/serve/
func BenchmarkTLSHandshake(b *testing.B) {
	dir := b.TempDir()
	certPEM, keyPEM, leaf := selfSigned(b, 1)
	cfg := TLSConfig{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}
	writeAt(b, cfg.CertFile, certPEM, time.Now())
	writeAt(b, cfg.KeyFile, keyPEM, time.Now())
	r, err := newCertReloader(cfg, time.Now, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	fixed, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	client := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	static := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{fixed}, NextProtos: []string{"http/1.1"}}
	for _, c := range []struct {
		name string
		srv  *tls.Config
	}{{"reloader", r.serverTLS()}, {"static", static}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				a, z := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- tls.Server(a, c.srv).Handshake() }()
				if err := tls.Client(z, client).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				a.Close()
				z.Close()
			}
		})
	}
}
