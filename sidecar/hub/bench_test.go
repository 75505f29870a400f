package hub

import (
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const benchSockets = 200

// connectMany dials n moderator sockets that read everything and report each
// alert message on got.
func connectMany(b *testing.B, th *testHub, n int, got chan<- struct{}) []*websocket.Conn {
	b.Helper()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c := th.dial(b, "tok-ana", "")
		readType(b, c, "snapshot")
		conns[i] = c
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				if got != nil {
					got <- struct{}{}
				}
			}
		}()
	}
	return conns
}

func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkMemory200Sockets reports heap and stack in use per connected socket,
// both ends counted: the hub's side (connection, buffers, send queue, two
// goroutines) and the test's gorilla client with its reading goroutine.
func BenchmarkMemory200Sockets(b *testing.B) {
	for range b.N {
		th := newTestHub(b, nil)
		for i := range 50 {
			th.Publish(alert(fmt.Sprintf("a%d", i), 0))
		}
		before := inUse()
		conns := connectMany(b, th, benchSockets, nil)
		after := inUse()
		b.ReportMetric(float64(after-before)/benchSockets, "B/socket")
		for _, c := range conns {
			c.Close()
		}
		_ = th.Close()
	}
}

// BenchmarkPublishFanout200 publishes one alert at a time to 200 sockets and
// times until the last socket has read it; p50 and p99 of that are reported.
func BenchmarkPublishFanout200(b *testing.B) {
	th := newTestHub(b, func(o *Options) { o.Audit = nil })
	got := make(chan struct{}, benchSockets*4)
	connectMany(b, th, benchSockets, got)
	a := alert("a1", 0)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		a.Updates = i
		start := time.Now()
		th.Publish(a)
		for range benchSockets {
			<-got
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// fullHub is a hub with n open alerts, each claimed and noted, and a full
// resume ring of 4,096 messages, closed: what a restart saves.
func fullHub(b *testing.B, n int) *Hub {
	b.Helper()
	h, err := New(Options{Tokens: []Token{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		h.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	for i := n; h.seq < 4096; i++ {
		h.Publish(alert(fmt.Sprintf("a%d", i%n), i/n))
	}
	h.mu.Lock()
	for _, st := range h.alerts {
		st.claimedBy, st.claimUntil = "ana", time.Date(2026, 3, 1, 21, 15, 0, 0, time.UTC)
		st.addNote(Note{At: time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC), By: "ana", Text: "looked at it"})
	}
	h.mu.Unlock()
	_ = h.Close()
	return h
}

// BenchmarkStateEncode takes the state of a hub with 1,000 open alerts and a
// full ring (4,096 messages) and encodes it: what a checkpoint pays.
func BenchmarkStateEncode(b *testing.B) {
	h := fullHub(b, 1000)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		enc, err := h.State().Encode()
		if err != nil {
			b.Fatal(err)
		}
		size = len(enc)
	}
	b.ReportMetric(float64(size), "state-bytes")
}

// BenchmarkStateDecodeRestore decodes that state and restores it into a new
// hub: what a start pays.
func BenchmarkStateDecodeRestore(b *testing.B) {
	enc, err := fullHub(b, 1000).State().Encode()
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Tokens: []Token{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}},
		Logger: slog.New(slog.DiscardHandler)}
	b.ReportAllocs()
	for b.Loop() {
		s, err := DecodeState(enc)
		if err != nil {
			b.Fatal(err)
		}
		h, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Restore(s); err != nil {
			b.Fatal(err)
		}
		_ = h.Close()
	}
	b.ReportMetric(float64(len(enc)), "state-bytes")
}

// BenchmarkSnapshot1000 encodes the snapshot one connecting console gets from
// the same hub: the reference the state's costs are measured against.
func BenchmarkSnapshot1000(b *testing.B) {
	h := fullHub(b, 1000)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		h.mu.Lock()
		size = len(h.snapshotLocked())
		h.mu.Unlock()
	}
	b.ReportMetric(float64(size), "snapshot-bytes")
}

// BenchmarkStateCopy is State's part under the hub's lock: how long a
// checkpoint delays Publish and actions (sorting and Encode run outside it).
func BenchmarkStateCopy(b *testing.B) {
	h := fullHub(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		_ = h.stateCopy()
	}
}
