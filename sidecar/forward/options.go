package forward

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// Defaults of Options.
const (
	DefaultMaxBatchLines    = 5_000
	DefaultMaxBatchBytes    = 1 << 20
	DefaultFlushInterval    = 100 * time.Millisecond
	DefaultWindow           = 4
	DefaultBufferEvents     = 200_000
	DefaultBufferBytes      = 64 << 20
	DefaultMinBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	// MaxAnswerBytes bounds a message from the server: an ack of a batch of
	// 50,000 rejected lines fits.
	MaxAnswerBytes = 32 << 20
)

// Options configure a Forwarder. Zero values take the documented
// defaults.
type Options struct {
	// URL is the base of the receiving Ronda: wss:// (https is taken as
	// wss), or ws:// (http) to a loopback host only (localhost, 127.0.0.0/8,
	// ::1): only the handshake is signed, so over plain ws:// across a
	// network the batches that follow could be altered or injected on the
	// path (PROTOCOL.md, "Transport"). wire.WSPath is appended to its path
	// unless it ends with it already. Required.
	URL string
	// KeyID and Secret sign every handshake: a key of the receiver's
	// keys (intake.Options.Keys). Required; Secret at least wire.MinKeyBytes.
	KeyID  string
	Secret []byte
	// Sender names this forwarder to the receiver, which keeps one sequence
	// per key, sender and session: 1 to wire.MaxWSParamBytes of
	// [A-Za-z0-9._-]. Required. A fresh session id is made by New.
	Sender string

	// MaxBatchLines and MaxBatchBytes bound one batch; each is also lowered
	// to the receiver's limits (max_lines, rate burst, max_batch_bytes) from
	// its hello. Defaults 5,000 lines and 1 MiB.
	MaxBatchLines int
	MaxBatchBytes int
	// FlushInterval is the age at which a partial batch goes out. Default
	// 100 ms.
	FlushInterval time.Duration
	// Window is the number of batches sent and not yet answered. Default 4.
	Window int

	// BufferEvents and BufferBytes bound the events held in memory:
	// waiting, in flight and not yet acknowledged. Past either Add returns
	// ErrBufferFull. With a SpoolDir, batches move to disk once memory is
	// half full, so that only a spool that cannot keep up (or is full) makes
	// Add fail. Defaults 200,000 events and 64 MiB.
	BufferEvents int
	BufferBytes  int64

	// SpoolDir, when set, is a sidecar/spool directory (one Forwarder per
	// directory) that holds batches while the receiver is away longer than
	// memory allows, and what Close could not deliver; the next Forwarder on
	// the same directory sends it first. Empty: memory only.
	SpoolDir string
	// SpoolMaxBytes bounds the spool on disk. Default 1 GiB; past it new
	// batches stay in memory and Add may return ErrBufferFull.
	SpoolMaxBytes int64
	// SpoolNoSync skips fsync in the spool. For tests only.
	SpoolNoSync bool

	// MinBackoff and MaxBackoff bound the jittered exponential wait between
	// connection attempts. Defaults 100 ms and 10 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// HandshakeTimeout bounds a connect up to the server's hello. Default 10 s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each write to the socket. Default 10 s.
	WriteTimeout time.Duration
	// TLSConfig is used for wss://. Nil: the system roots.
	TLSConfig *tls.Config
	// NetDialContext dials the TCP connection. Nil: net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// DisableCompression does not offer permessage-deflate.
	DisableCompression bool

	// Logger gets connects at info, losses and refusals at warn; never the
	// secret, a signature or event contents. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the ronda_forwarder_* metrics. Nil registers
	// nothing.
	Registerer prometheus.Registerer
}

// CheckURL says whether raw may be an Options.URL, with the error New gives
// (a configuration check can report it first).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("url %q: scheme must be ws or wss", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: no host", raw)
	}
	if (u.Scheme == "ws" || u.Scheme == "http") && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("url %q: plain %s:// is allowed to a loopback host only; use wss:// (batches after the signed handshake are not authenticated, so TLS must protect them on a network)",
			raw, u.Scheme)
	}
	return nil
}

func (o *Options) validate() error {
	if err := CheckURL(o.URL); err != nil {
		return err
	}
	if o.KeyID == "" || len(o.KeyID) > event.MaxIDBytes {
		return fmt.Errorf("key id: must be 1 to %d bytes", event.MaxIDBytes)
	}
	if len(o.Secret) < wire.MinKeyBytes {
		return fmt.Errorf("secret shorter than %d bytes", wire.MinKeyBytes)
	}
	if !wire.ValidID(o.Sender) {
		return fmt.Errorf("sender %.80q: 1 to %d bytes of A-Z a-z 0-9 . _ -", o.Sender, wire.MaxWSParamBytes)
	}
	for _, c := range []struct {
		name string
		bad  bool
	}{
		{"max batch lines", o.MaxBatchLines < 0},
		{"max batch bytes", o.MaxBatchBytes < 0},
		{"flush interval", o.FlushInterval < 0},
		{"window", o.Window < 0},
		{"max buffer events", o.BufferEvents < 0},
		{"max buffer bytes", o.BufferBytes < 0},
		{"spool max bytes", o.SpoolMaxBytes < 0},
		{"min backoff", o.MinBackoff < 0},
		{"max backoff", o.MaxBackoff < 0},
		{"handshake timeout", o.HandshakeTimeout < 0},
		{"write timeout", o.WriteTimeout < 0},
	} {
		if c.bad {
			return fmt.Errorf("%s: must not be negative", c.name)
		}
	}
	if o.MaxBatchBytes != 0 && o.MaxBatchBytes <= event.MaxEventBytes {
		return fmt.Errorf("max batch bytes %d: must hold an event of %d bytes", o.MaxBatchBytes, event.MaxEventBytes)
	}
	return nil
}

// orDefault sets an unset (zero) option to its default.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

func (o *Options) setDefaults() {
	orDefault(&o.MaxBatchLines, DefaultMaxBatchLines)
	orDefault(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	orDefault(&o.FlushInterval, DefaultFlushInterval)
	orDefault(&o.Window, DefaultWindow)
	orDefault(&o.BufferEvents, DefaultBufferEvents)
	if o.BufferBytes == 0 {
		o.BufferBytes = DefaultBufferBytes
	}
	orDefault(&o.MinBackoff, DefaultMinBackoff)
	orDefault(&o.MaxBackoff, DefaultMaxBackoff)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	orDefault(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	orDefault(&o.WriteTimeout, DefaultWriteTimeout)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// isLoopbackHost says whether host (a URL's Hostname) is this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
