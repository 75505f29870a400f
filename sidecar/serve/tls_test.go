package serve

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// selfSigned makes a certificate for 127.0.0.1 with serial serial, and
// returns its PEM, its key's PEM and the parsed certificate.
func selfSigned(t testing.TB, serial int64) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "ronda-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), cert
}

// writeAt writes b to path and gives it modification time at, so that a
// rewrite within the file system's time resolution is still seen.
func writeAt(t testing.TB, path string, b []byte, at time.Time) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// TestTLSCertificateRotation serves the public listener over TLS with a
// generated certificate, replaces the files while the service runs, and sees a
// real TLS client get the new certificate without a restart; a half-done
// rotation (a new certificate beside the old key) keeps the previous
// certificate and is counted. The intake and the moderators' websocket work
// over TLS, and plain HTTP is not answered.
func TestTLSCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1, x1 := selfSigned(t, 1)
	c2, k2, x2 := selfSigned(t, 2)
	c3, k3, x3 := selfSigned(t, 3)
	mod := time.Now().Add(-time.Hour)
	writeAt(t, certPath, c1, mod)
	writeAt(t, keyPath, k1, mod)

	cfg := baseConfig(t)
	cfg.TLS = TLSConfig{CertFile: certPath, KeyFile: keyPath}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	svc, err := New(Options{Config: cfg, Getenv: getenv, Listener: ln, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("service log:\n%s", tail(logs.String(), 40))
		}
	}()
	addr := svc.Addr()

	roots := x509.NewCertPool()
	for _, c := range []*x509.Certificate{x1, x2, x3} {
		roots.AddCert(c)
	}
	clientTLS := &tls.Config{RootCAs: roots}
	served := func() int64 {
		conn, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if n := served(); n != 1 {
		t.Fatalf("serial %d served at start, want 1", n)
	}

	// Over TLS: readiness, a signed batch, a moderator's websocket.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Timeout: 10 * time.Second}
	waitFor(t, 10*time.Second, "readyz over TLS", func() bool {
		resp, err := hc.Get("https://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	body := []byte(`{"type":"stream.start","id":"tls-1","at":"` + time.Now().UTC().Format(time.RFC3339) + `","stream_id":"s","host_id":"h"}` + "\n")
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+intake.Path, bytes.NewReader(body))
	wire.Sign(req, keyID, []byte(keySecret), body, time.Now())
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("intake over TLS answered %d", resp.StatusCode)
	}
	d := websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: 5 * time.Second}
	ws, wresp, err := d.Dial("wss://"+addr+hub.Path, http.Header{"Authorization": {"Bearer " + tokModA}})
	if err != nil {
		code := 0
		if wresp != nil {
			code = wresp.StatusCode
		}
		t.Fatalf("moderator over wss: %v (HTTP %d)", err, code)
	}
	ws.Close()
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered on the TLS listener")
		}
	}

	// A rotation half done: the new certificate beside the old key.
	writeAt(t, certPath, c2, mod.Add(time.Minute))
	waitFor(t, 10*time.Second, "the failed load counted", func() bool {
		served()
		return metricSum(t, svc.reg, "ronda_tls_certificate_reloads_total", "result", "error") == 1
	})
	if n := served(); n != 1 {
		t.Errorf("serial %d served with a mismatched pair on disk, want 1 kept", n)
	}
	// The rotation completed.
	writeAt(t, keyPath, k2, mod.Add(2*time.Minute))
	waitFor(t, 10*time.Second, "the new certificate served", func() bool { return served() == 2 })
	if n := metricSum(t, svc.reg, "ronda_tls_certificate_reloads_total", "result", "ok"); n != 1 {
		t.Errorf("%v reloads counted ok, want 1", n)
	}
	if exp := metricSum(t, svc.reg, "ronda_tls_certificate_expiry_timestamp_seconds"); exp != float64(x2.NotAfter.Unix()) {
		t.Errorf("expiry gauge %v, want %d", exp, x2.NotAfter.Unix())
	}

	// SIGHUP reads the files again, even with the time stamps put back.
	writeAt(t, certPath, c3, mod)
	writeAt(t, keyPath, k3, mod)
	if err := svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := served(); n != 3 {
		t.Errorf("serial %d served after Reload, want 3", n)
	}
}

// TestTLSConfigRefused: a certificate without its key, or files that do not
// load, stop the start with an error naming them.
func TestTLSConfigRefused(t *testing.T) {
	cfg := baseConfig(t)
	cfg.TLS = TLSConfig{CertFile: "/nonexistent/cert.pem"}
	if err := cfg.Finish(); err == nil {
		t.Error("cert_file without key_file accepted")
	}
	dir := t.TempDir()
	c1, _, _ := selfSigned(t, 1)
	_, k2, _ := selfSigned(t, 2)
	cfg.TLS = TLSConfig{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}
	writeAt(t, cfg.TLS.CertFile, c1, time.Now())
	writeAt(t, cfg.TLS.KeyFile, k2, time.Now())
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = New(Options{Config: cfg, Getenv: getenv, Listener: ln, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("c.pem")) {
		t.Errorf("a mismatched pair: %v, want an error naming the files", err)
	}
}
