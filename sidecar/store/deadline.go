package store

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// dialBounded dials ClickHouse for the Writer (with TLS when tlsConf is set,
// as the driver would) and wraps the connection in a deadlineConn.
func dialBounded(dialTimeout time.Duration, tlsConf *tls.Config, writeTimeout time.Duration) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: dialTimeout}
		var c net.Conn
		var err error
		if tlsConf != nil {
			c, err = (&tls.Dialer{NetDialer: d, Config: tlsConf}).DialContext(ctx, "tcp", addr)
		} else {
			c, err = d.DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			return nil, err
		}
		return &deadlineConn{Conn: c, timeout: writeTimeout}, nil
	}
}

// deadlineConn bounds every write to timeout. The driver sets a write
// deadline from the context while it prepares and ends an insert, but none
// while it streams a block within one (batch.Flush): without this, a frozen
// server, once the socket buffers are full, would hold a Flush for good. A
// deadline the driver sets itself is kept when it is the earlier one.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu    sync.Mutex
	asked time.Time // the write deadline the driver set; zero for none
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.asked = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.asked = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	d := time.Now().Add(c.timeout)
	c.mu.Lock()
	if !c.asked.IsZero() && c.asked.Before(d) {
		d = c.asked
	}
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
