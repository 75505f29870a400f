package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestOpenErrorsKeepPasswordOut: a DSN that does not parse, and one whose
// server does not answer, give errors without the password, which `ronda
// migrate` and `ronda serve` log. The driver hides it (xxxxx) today; this
// keeps a driver update from changing that unnoticed.
func TestOpenErrorsKeepPasswordOut(t *testing.T) {
	const pw = "s3cret-pw-0123"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"clickhouse://ronda:" + pw + "@127.0.0.1:1/ronda?dial_timeout=1s",
		"clickhouse://ronda:" + pw + "%zz@127.0.0.1:1/ronda",
		"clickhouse://ronda:" + pw + "@127.0.0.1:notaport/ronda",
		"clickhouse://127.0.0.1:1/ronda?username=ronda&password=" + pw + "&dial_timeout=1s",
	} {
		conn, err := Open(ctx, dsn)
		if err == nil {
			conn.Close()
			t.Fatal("Open succeeded against 127.0.0.1:1")
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Open error quotes the password: %v", err)
		}
	}
}
