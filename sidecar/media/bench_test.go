package media

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// The benchmark's publishers run in a child process (this test binary, run
// again with RONDA_MEDIA_PUBLISHER set), so that the CPU measured in this
// process is the receiving side's alone.
func TestMain(m *testing.M) {
	if url := os.Getenv("RONDA_MEDIA_PUBLISHER"); url != "" {
		runPublishers(url)
		return
	}
	os.Exit(m.Run())
}

// BenchmarkTapVsBareReceiver: N sessions of about 2 Mbit/s (VP8 at 30 fps
// with a key frame every 2 s, and Opus) published over loopback UDP, for a
// fixed time, to (a) the WHIP endpoint with the tap (wire facts, and key
// frames assembled for a consumer that drops them, at the default one per
// 10 s) and (b) a bare pion receiver that reads and discards every packet,
// with the same pion API. Both variants run in every iteration, one after
// the other; the CPU of this process (getrusage: user + system) from the
// publishers' start to their end is reported per session, with the ratio.
// RONDA_BENCH_SESSIONS (default 100) and RONDA_BENCH_SECONDS (default 8)
// change the load.
func BenchmarkTapVsBareReceiver(b *testing.B) {
	sessions := envInt("RONDA_BENCH_SESSIONS", 100)
	seconds := envInt("RONDA_BENCH_SECONDS", 8)
	for range b.N {
		bare := runReceiver(b, false, sessions, seconds)
		tap := runReceiver(b, true, sessions, seconds)
		b.ReportMetric(tap.cpu/float64(sessions)/tap.wall*1000, "tap_millicores/session")
		b.ReportMetric(bare.cpu/float64(sessions)/bare.wall*1000, "bare_millicores/session")
		b.ReportMetric((tap.cpu/tap.wall)/(bare.cpu/bare.wall), "tap/bare")
		// Per packet received, which does not depend on how many packets the
		// publishers (sharing the two cores) managed to send.
		tapNs, bareNs := tap.cpu*1e9/float64(tap.packets), bare.cpu*1e9/float64(bare.packets)
		b.ReportMetric(tapNs, "tap_cpu_ns/packet")
		b.ReportMetric(bareNs, "bare_cpu_ns/packet")
		b.ReportMetric(tapNs/bareNs, "tap/bare_per_packet")
		b.ReportMetric(float64(tap.packets)/float64(sessions), "tap_packets/session")
		b.ReportMetric(float64(bare.packets)/float64(sessions), "bare_packets/session")
	}
}

type receiverRun struct {
	cpu, wall float64 // seconds
	packets   int64
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func loopbackSettings() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runReceiver serves one variant, runs the publishers against it and
// measures.
func runReceiver(b *testing.B, withTap bool, sessions, seconds int) receiverRun {
	b.Helper()
	api, err := NewAPI(loopbackSettings())
	if err != nil {
		b.Fatal(err)
	}
	var handler http.Handler
	var packets func() int64
	var stop func()
	if withTap {
		var mu sync.Mutex
		var n int64
		tap, err := New(Options{Config: Config{MaxSessions: sessions + 10},
			OnKeyframe: func(string, string, []byte, time.Time) {},
			OnReport: func(r Report) {
				mu.Lock()
				for _, t := range r.Tracks {
					n += t.Packets
				}
				mu.Unlock()
			}})
		if err != nil {
			b.Fatal(err)
		}
		whip, err := NewWHIP(WHIPOptions{Tap: tap, API: api, OffersPerSecond: 1000, OfferBurst: sessions,
			Authorize: func(string) (string, bool) { return "bench", true }})
		if err != nil {
			b.Fatal(err)
		}
		handler = whip
		stop = func() { whip.Close(); tap.Close() }
		packets = func() int64 { mu.Lock(); defer mu.Unlock(); return n }
	} else {
		bare := &bareReceiver{api: api}
		handler, stop, packets = bare, bare.close, bare.count
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RONDA_MEDIA_PUBLISHER="+srv.URL+WHIPPath,
		"RONDA_BENCH_SESSIONS="+strconv.Itoa(sessions), "RONDA_BENCH_SECONDS="+strconv.Itoa(seconds))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewScanner(outPipe)
	expect := func(word string) {
		for out.Scan() {
			if out.Text() == word {
				return
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("publishers ended before %q", word)
	}
	expect("ready")
	c0, t0 := cpuSeconds(), time.Now()
	io.WriteString(in, "go\n")
	expect("done")
	c1, t1 := cpuSeconds(), time.Now()
	in.Close()
	cmd.Wait()
	stop() // the tap's ended reports count the last packets
	return receiverRun{cpu: c1 - c0, wall: t1.Sub(t0).Seconds(), packets: packets()}
}

// bareReceiver answers WHIP offers like the tap's endpoint, and reads and
// discards every packet: the reference.
type bareReceiver struct {
	api *webrtc.API
	mu  sync.Mutex
	pcs []*webrtc.PeerConnection
	wg  sync.WaitGroup
	n   int64
}

func (br *bareReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	offer, _ := io.ReadAll(r.Body)
	pc, err := br.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		br.wg.Add(1)
		go func() {
			defer br.wg.Done()
			buf := make([]byte, 1500)
			var n int64
			for {
				if _, _, err := tr.Read(buf); err != nil {
					br.mu.Lock()
					br.n += n
					br.mu.Unlock()
					return
				}
				n++
			}
		}()
	})
	br.mu.Lock()
	br.pcs = append(br.pcs, pc)
	br.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	ans, _ := pc.CreateAnswer(nil)
	gathered := webrtc.GatheringCompletePromise(pc)
	pc.SetLocalDescription(ans)
	<-gathered
	w.Header().Set("Location", r.URL.Path+"/x")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, pc.LocalDescription().SDP)
}

func (br *bareReceiver) close() {
	br.mu.Lock()
	pcs := br.pcs
	br.mu.Unlock()
	for _, pc := range pcs {
		pc.Close()
	}
	br.wg.Wait()
}

func (br *bareReceiver) count() int64 { br.mu.Lock(); defer br.mu.Unlock(); return br.n }

// procTB lets the publishers' helpers fail the child process.
type procTB struct{ testing.TB }

func (procTB) Helper()                      {}
func (procTB) Fatal(args ...any)            { fmt.Fprintln(os.Stderr, args...); os.Exit(1) }
func (procTB) Fatalf(f string, args ...any) { fmt.Fprintf(os.Stderr, f+"\n", args...); os.Exit(1) }
func (procTB) Error(args ...any)            { fmt.Fprintln(os.Stderr, args...) }
func (procTB) Errorf(f string, args ...any) { fmt.Fprintf(os.Stderr, f+"\n", args...) }

// runPublishers is the child: it connects the sessions, says ready, waits
// for go, publishes for the set time and says done.
func runPublishers(url string) {
	t := procTB{}
	sessions := envInt("RONDA_BENCH_SESSIONS", 100)
	seconds := envInt("RONDA_BENCH_SECONDS", 8)
	api, err := NewAPI(loopbackSettings())
	if err != nil {
		t.Fatal(err)
	}
	pubs := make([]*mediatest.Publisher, sessions)
	for i := range pubs {
		p := mediatest.NewPublisher(t, api, webrtc.MimeTypeVP8)
		p.KeyEvery = 60
		connected := make(chan struct{})
		var once sync.Once
		p.PC.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				once.Do(func() { close(connected) })
			}
		})
		req, _ := http.NewRequest(http.MethodPost, url+"bench-"+strconv.Itoa(i), strings.NewReader(p.Offer(t)))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer bench")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		ans, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("session %d: %s %s", i, resp.Status, ans)
		}
		p.Answer(t, string(ans))
		select {
		case <-connected:
		case <-time.After(20 * time.Second):
			t.Fatalf("session %d did not connect", i)
		}
		pubs[i] = p
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Send(context.Background(), t, time.Duration(seconds)*time.Second)
		}()
	}
	wg.Wait()
	fmt.Println("done")
	for _, p := range pubs {
		p.PC.Close()
	}
}
