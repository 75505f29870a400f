package hub

import (
	"fmt"
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
