package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLSConfig serves the public listener over HTTPS.
type TLSConfig struct {
	// CertFile is the PEM certificate chain (leaf first) and KeyFile its
	// private key. Both or neither. The pair is read again when either file
	// changes (its modification time or size, checked at most once a second
	// as clients connect) and on SIGHUP: a renewed certificate is served
	// without a restart. A pair that does not load (a rotation half done)
	// keeps the previous certificate and is counted and logged. Only
	// HTTP/1.1 is offered: the websockets upgrade from it.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// enabled says whether TLS is configured.
func (t TLSConfig) enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

func (t TLSConfig) validate() []error {
	if t.enabled() && (t.CertFile == "" || t.KeyFile == "") {
		return []error{errors.New("tls: cert_file and key_file go together")}
	}
	return nil
}

// certCheckEvery is how often a handshake may stat the certificate files.
const certCheckEvery = time.Second

// certStamp identifies one version of the certificate and key files.
type certStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// certReloader serves the certificate of a pair of files and reloads it when
// they change. It stats the files from GetCertificate, at most once per
// certCheckEvery, instead of watching them with a timer or inotify: there is
// no goroutine to stop, the check costs two stats a second at most, and a
// renewal (certbot, cert-manager's symlink swap) is served from the first
// handshake after it. SIGHUP forces a check (Reload).
type certReloader struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger
	reloads           *prometheus.CounterVec
	expiry            prometheus.Gauge

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   certStamp
	failed  *certStamp // the files whose load last failed: counted and logged once
	checked time.Time
}

func newCertReloader(cfg TLSConfig, now func() time.Time, reg prometheus.Registerer, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: cfg.CertFile, keyFile: cfg.KeyFile, now: now, log: log,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_tls_certificate_reloads_total",
			Help: "Loads of the TLS certificate after its files changed, by result (ok, error: the previous one is kept)."}, []string{"result"}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_tls_certificate_expiry_timestamp_seconds",
			Help: "When the served TLS certificate expires (its NotAfter), Unix seconds."}),
	}
	for _, r := range []string{"ok", "error"} {
		c.reloads.WithLabelValues(r)
	}
	if err := reg.Register(c.reloads); err != nil {
		return nil, fmt.Errorf("tls metrics: %w", err)
	}
	if err := reg.Register(c.expiry); err != nil {
		return nil, fmt.Errorf("tls metrics: %w", err)
	}
	st, err := c.statFiles()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cert, err := c.load()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	c.set(cert, st)
	return c, nil
}

func (c *certReloader) statFiles() (certStamp, error) {
	cf, err := os.Stat(c.certFile)
	if err != nil {
		return certStamp{}, err
	}
	kf, err := os.Stat(c.keyFile)
	if err != nil {
		return certStamp{}, err
	}
	return certStamp{certMod: cf.ModTime(), keyMod: kf.ModTime(), certSize: cf.Size(), keySize: kf.Size()}, nil
}

// load reads and checks the pair; the error names the files, never key bytes.
func (c *certReloader) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	return &cert, nil
}

// set serves cert from now on. Call with mu held, or before serving.
func (c *certReloader) set(cert *tls.Certificate, st certStamp) {
	c.cert, c.stamp, c.failed = cert, st, nil
	if cert.Leaf != nil {
		c.expiry.Set(float64(cert.Leaf.NotAfter.Unix()))
	}
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= certCheckEvery || now.Before(c.checked) {
		c.checked = now
		c.refreshLocked(false)
	}
	return c.cert, nil
}

// prepare loads the pair now (SIGHUP), for install once the rest of a
// reload has been checked too.
func (c *certReloader) prepare() (*tls.Certificate, certStamp, error) {
	st, err := c.statFiles()
	if err != nil {
		return nil, certStamp{}, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, certStamp{}, err
	}
	return cert, st, nil
}

// install serves a pair that prepare loaded.
func (c *certReloader) install(cert *tls.Certificate, st certStamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = c.now()
	c.set(cert, st)
}

func (c *certReloader) refreshLocked(force bool) error {
	st, err := c.statFiles()
	if !force && (err == nil && st == c.stamp || c.failed != nil && st == *c.failed) {
		return nil // unchanged, or the same broken files as last time (already counted)
	}
	if err == nil {
		var cert *tls.Certificate
		if cert, err = c.load(); err == nil {
			c.set(cert, st)
			c.reloads.WithLabelValues("ok").Inc()
			attrs := []any{"cert_file", c.certFile}
			if cert.Leaf != nil {
				attrs = append(attrs, "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
			}
			c.log.Info("TLS certificate reloaded", attrs...)
			return nil
		}
	}
	c.reloads.WithLabelValues("error").Inc()
	c.failed = &st
	c.log.Error("TLS certificate not reloaded; the previous one is still served", "err", err)
	return err
}

// serverTLS is the public listener's TLS configuration.
func (c *certReloader) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.GetCertificate,
		// HTTP/1.1 only: the intake and moderators' websockets are HTTP/1.1
		// upgrades, which a browser would not attempt over HTTP/2.
		NextProtos: []string{"http/1.1"},
	}
}
