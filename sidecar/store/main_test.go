package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// One server for the package's tests that do not break it; fault tests start
// their own.
var shared struct {
	once sync.Once
	srv  *chtest.Server
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedServer starts the package's server on first use.
func sharedServer(t testing.TB) *chtest.Server {
	t.Helper()
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "ronda-ch-")
		if shared.err == nil {
			shared.srv, shared.err = chtest.Launch(shared.dir, chtest.Config{})
		}
	})
	if shared.err != nil {
		t.Fatalf("start clickhouse: %v", shared.err)
	}
	return shared.srv
}

var dbSeq struct {
	sync.Mutex
	n int
}

// freshDB is a database name no other test uses.
func freshDB(t testing.TB) string {
	dbSeq.Lock()
	defer dbSeq.Unlock()
	dbSeq.n++
	return fmt.Sprintf("ronda_t%d", dbSeq.n)
}

func connect(t testing.TB, s *chtest.Server) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := Open(ctx, s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
