package keyframes

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/internal/eventtest"
	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ivfFrame is one frame of an IVF stream.
type ivfFrame struct {
	data []byte
	key  bool
}

// parseIVF splits an IVF stream (32-byte file header, then per frame a
// 12-byte header with the size) in memory.
func parseIVF(t testing.TB, b []byte) []ivfFrame {
	t.Helper()
	if len(b) < 32 || string(b[:4]) != "DKIF" || string(b[8:12]) != "VP80" {
		t.Fatalf("not a VP8 IVF stream")
	}
	var out []ivfFrame
	for b = b[binary.LittleEndian.Uint16(b[6:8]):]; len(b) >= 12; {
		n := int(binary.LittleEndian.Uint32(b[:4]))
		if len(b) < 12+n {
			t.Fatalf("truncated IVF frame")
		}
		f := b[12 : 12+n]
		out = append(out, ivfFrame{data: f, key: len(f) > 0 && f[0]&1 == 0})
		b = b[12+n:]
	}
	return out
}

func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg not found under CI=true: .ci/run installs Debian's ffmpeg")
		}
		t.Skip("ffmpeg not found: apt-get install --no-install-recommends ffmpeg")
	}
	return p
}

// ffmpeg runs Debian's ffmpeg with stdin and returns its stdout: media goes
// through pipes only.
func ffmpeg(t *testing.T, bin string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	if stdin != nil {
		cmd.Args = slices.DeleteFunc(cmd.Args, func(s string) bool { return s == "-nostdin" })
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, errb.String())
	}
	return out.Bytes()
}

// encodeVP8 encodes a synthetic lavfi source to VP8 IVF on stdout.
func encodeVP8(t *testing.T, bin, src string, frames, gop int) []ivfFrame {
	return parseIVF(t, ffmpeg(t, bin, nil, "-f", "lavfi", "-i", src,
		"-frames:v", fmt.Sprint(frames), "-c:v", "libvpx", "-g", fmt.Sprint(gop), "-b:v", "1M", "-f", "ivf", "-"))
}

// ffmpegGrayHash decodes the first frame of an IVF stream with ffmpeg's own
// VP8 decoder to gray pixels and hashes them: the list entry comes from a
// decoder other than the one under test.
func ffmpegGrayHash(t *testing.T, bin string, ivf []byte, w, h int) pdq.Hash {
	raw := ffmpeg(t, bin, ivf, "-f", "ivf", "-i", "-", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-")
	if len(raw) != w*h {
		t.Fatalf("ffmpeg gave %d bytes for %dx%d", len(raw), w, h)
	}
	img := &image.Gray{Pix: raw, Stride: w, Rect: image.Rect(0, 0, w, h)}
	hash, q := pdq.Image(img)
	if q < 50 {
		t.Fatalf("test pattern quality %d", q)
	}
	return hash
}

// TestRealVP8Keyframes: real VP8 keyframes from ffmpeg, decoded, hashed and
// matched against a list holding the hash of one of them (from ffmpeg's own
// decoding): that stream raises a decisive signal, a different picture does
// not, and both go to a real classifier over HTTP as JPEG.
func TestRealVP8Keyframes(t *testing.T) {
	bin := needFFmpeg(t)
	ivfA := ffmpeg(t, bin, nil, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10",
		"-frames:v", "6", "-c:v", "libvpx", "-g", "3", "-b:v", "1M", "-f", "ivf", "-")
	framesA := parseIVF(t, ivfA)
	framesB := encodeVP8(t, bin, "mandelbrot=size=640x360:rate=10", 1, 1)
	// The same picture re-encoded smaller and at a tenth of the bitrate, as a
	// re-upload would be: not the same bytes, not the same pixels.
	framesD := parseIVF(t, ffmpeg(t, bin, nil, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10",
		"-vf", "scale=480:270", "-frames:v", "1", "-c:v", "libvpx", "-b:v", "100k", "-f", "ivf", "-"))
	if !framesA[0].key || framesA[1].key || !framesB[0].key {
		t.Fatalf("keyframe layout: %v %v %v", framesA[0].key, framesA[1].key, framesB[0].key)
	}
	listed := ffmpegGrayHash(t, bin, ivfA, 640, 360)

	dir := t.TempDir()
	listPath := filepath.Join(dir, "known.csv")
	if err := os.WriteFile(listPath, []byte("hash,quality,id\n"+listed.String()+",100,case-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	list, err := hashlist.NewWatcher(hashlist.Config{Name: "known", Path: listPath}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		io.WriteString(w, `{"labels":[{"label":"minor","score":0.4}]}`)
	}))
	defer srv.Close()
	rec := &eventtest.Recorder{}
	cl, err := classify.New(classify.Options{Config: classify.Config{URL: srv.URL}, Sink: rec.Sink, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	s, err := New(Options{Config: Config{MinInterval: time.Second}, Lists: []List{list}, Classifier: cl, Sink: rec.Sink, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())

	t0 := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
	steps := []struct {
		f    Frame
		want string
	}{
		{Frame{StreamID: "sA", HostID: "hA", Codec: CodecVP8, Data: framesA[0].data, At: t0}, ResultQueued},
		{Frame{StreamID: "sA", Codec: CodecVP8, Data: framesA[3].data, At: t0.Add(500 * time.Millisecond)}, ResultSampledOut},
		{Frame{StreamID: "sA", Codec: CodecVP8, Data: framesA[1].data, At: t0.Add(2 * time.Second)}, ResultQueued},
		{Frame{StreamID: "sB", HostID: "hB", Codec: CodecVP8, Data: framesB[0].data, At: t0}, ResultQueued},
		{Frame{StreamID: "sC", Codec: "AV1", Data: framesB[0].data, At: t0}, ResultUnsupported},
		{Frame{StreamID: "sD", Codec: CodecVP8, Data: framesD[0].data, At: t0}, ResultQueued},
	}
	for i, st := range steps {
		if res := s.Offer(st.f); res != st.want {
			t.Errorf("step %d: %s, want %s", i, res, st.want)
		}
	}
	eventtest.WaitFor(t, "four frames processed", func() bool {
		return testutil.ToFloat64(s.m.processed.WithLabelValues(ResultHashed))+
			testutil.ToFloat64(s.m.processed.WithLabelValues(ResultNotKeyframe)) == 4
	})
	if n := testutil.ToFloat64(s.m.processed.WithLabelValues(ResultNotKeyframe)); n != 1 {
		t.Errorf("not_keyframe %v", n)
	}
	matches := rec.BySource(Source)
	if len(matches) != 2 {
		t.Fatalf("hash-match signals: %+v", matches)
	}
	slices.SortFunc(matches, func(a, b event.Event) int { return strings.Compare(a.StreamID, b.StreamID) })
	if d := matches[1]; d.StreamID != "sD" || d.Score == 1 {
		t.Errorf("re-encoded copy: %+v", d)
	} else {
		t.Logf("re-encoded copy matched at distance %d", int((1-d.Score)*256+0.5))
	}
	ev := matches[0]
	if ev.StreamID != "sA" || ev.HostID != "hA" || ev.Label != "csam_hash_match" || !ev.At.Equal(t0) || ev.Type != event.TypeSignal {
		t.Errorf("signal %+v", ev)
	}
	// The signal is one the analyzer acts on alone.
	ac := analyzer.DefaultConfig()
	if !slices.Contains(ac.Signals.DecisiveLabels, ev.Label) || ev.Score < ac.Signals.MinScore {
		t.Errorf("signal %s score %v is not decisive for the analyzer (%v, min %v)", ev.Label, ev.Score, ac.Signals.DecisiveLabels, ac.Signals.MinScore)
	}
	// It is a valid contract event.
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var dec event.Decoder
	var back event.Event
	if err := dec.Decode(line, &back); err != nil {
		t.Errorf("signal does not decode: %v\n%s", err, line)
	}
	t.Logf("matched at score %.3f (distance %d)", ev.Score, int((1-ev.Score)*256+0.5))

	// The same picture again: within match_cooldown it is counted, not
	// signalled; past it, signalled again.
	for i, at := range []time.Time{t0.Add(3 * time.Second), t0.Add(6 * time.Minute)} {
		if res := s.Offer(Frame{StreamID: "sA", HostID: "hA", Codec: CodecVP8, Data: framesA[0].data, At: at}); res != ResultQueued {
			t.Fatalf("repeat %d: %s", i, res)
		}
		eventtest.WaitFor(t, "the repeat matched", func() bool {
			return testutil.ToFloat64(s.m.matches.WithLabelValues("known")) == float64(3+i)
		})
	}
	if n := testutil.ToFloat64(s.m.suppressed.WithLabelValues("known")); n != 1 {
		t.Errorf("suppressed %v, want 1", n)
	}
	eventtest.WaitFor(t, "a second signal past the cooldown", func() bool { return len(rec.BySource(Source)) == 3 })

	eventtest.WaitFor(t, "classifier signals for every hashed keyframe", func() bool { return len(rec.BySource("classifier")) == 5 })
	mu.Lock()
	defer mu.Unlock()
	for _, b := range got {
		if len(b) < 3 || b[0] != 0xff || b[1] != 0xd8 {
			t.Errorf("classifier got no JPEG")
		}
	}
}

// TestSamplerWants: the tap is asked for VP8 key frames always and for
// H.264 only when the classifier takes access units (Ronda decodes no
// H.264), so that an H.264 publisher is not asked for key frames (RTCP PLI)
// that would be dropped as not decoded.
func TestSamplerWants(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler()) // never reached: Wants asks no one
	defer srv.Close()
	for _, tc := range []struct {
		name       string
		classifier bool
		h264       bool
	}{{"hash lists only", false, false}, {"classifier without accepts_h264", true, false}, {"classifier with accepts_h264", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &eventtest.Recorder{}
			listPath := filepath.Join(t.TempDir(), "known.csv")
			if err := os.WriteFile(listPath, []byte("hash,quality,id\n"+strings.Repeat("5a", 32)+",100,case-1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			list, err := hashlist.NewWatcher(hashlist.Config{Name: "known", Path: listPath}, nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Lists: []List{list}, Sink: rec.Sink, Registerer: prometheus.NewRegistry()}
			if tc.classifier {
				cl, err := classify.New(classify.Options{Config: classify.Config{URL: srv.URL, AcceptsH264: tc.h264}, Sink: rec.Sink})
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				o.Classifier = cl
			}
			s, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop(context.Background())
			for codec, want := range map[string]bool{"vp8": true, CodecVP8: true, "h264": tc.h264, CodecH264: tc.h264, "av1": false} {
				if got := s.Wants(codec); got != want {
					t.Errorf("Wants(%q) = %v, want %v", codec, got, want)
				}
			}
		})
	}
}
