package hashlist

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

const (
	h1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
	h2 = "0007001f003f003f007f00ff00ff00ff01ff01ff01ff03ff03ff03ff03ff03ff"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		minQ    int
		want    []Entry
		errLine int
		errText string
	}{
		{name: "hash alone", in: h1 + "\n", want: []Entry{{Hash: mustHash(h1), Quality: -1}}},
		{name: "hash and quality, CRLF, no final newline", in: h1 + ",100\r\n" + h2 + ",49",
			want: []Entry{{Hash: mustHash(h1), Quality: 100}, {Hash: mustHash(h2), Quality: 49}}},
		{name: "tabs, ids, header, comments, blanks", in: "# exported\nhash\tquality\tid\n\n" + strings.ToUpper(h1) + "\t90\tcase-17\textra\n",
			want: []Entry{{Hash: mustHash(h1), Quality: 90, ID: "case-17"}}},
		{name: "empty quality with id", in: h1 + ",,ref\n", want: []Entry{{Hash: mustHash(h1), Quality: -1, ID: "ref"}}},
		{name: "duplicate kept once", in: h1 + ",80,a\n" + h1 + ",90,b\n", want: []Entry{{Hash: mustHash(h1), Quality: 80, ID: "a"}}},
		{name: "below min quality left out", in: h1 + ",40\n" + h2 + ",60\n" + h2[:63] + "e\n", minQ: 50,
			want: []Entry{{Hash: mustHash(h2), Quality: 60}, {Hash: mustHash(h2[:63] + "e"), Quality: -1}}},
		{name: "empty file", in: "", want: nil},
		{name: "short hash", in: h1 + "\n" + h1[:60] + ",90\n", errLine: 2, errText: "field 1"},
		{name: "not hex", in: "z" + h1[1:] + "\n", errLine: 1, errText: "field 1"},
		{name: "quality over 100", in: h1 + ",101\n", errLine: 1, errText: "quality"},
		{name: "quality not a number", in: h1 + ",9x\n", errLine: 1, errText: "quality"},
		{name: "quality with sign", in: h1 + ",+9\n", errLine: 1, errText: "quality"},
		{name: "quoted", in: `"` + h1 + `",90` + "\n", errLine: 1, errText: "quot"},
		{name: "header only on the first record", in: h1 + "\nhash,quality\n", errLine: 2, errText: "field 1"},
		{name: "space around hash", in: " " + h1 + "\n", errLine: 1, errText: "field 1"},
		{name: "id not printable", in: h1 + ",1,a\x01b\n", errLine: 1, errText: "field 3"},
		{name: "id too long", in: h1 + ",1," + strings.Repeat("a", 129) + "\n", errLine: 1, errText: "field 3"},
		{name: "line too long", in: h1 + ",1,a," + strings.Repeat("a", 5000) + "\n", errLine: 1, errText: "longer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(strings.NewReader(c.in), c.minQ, 10)
			if c.errLine != 0 {
				var le *LineError
				if !errors.As(err, &le) || le.Line != c.errLine || !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("err %v, want line %d with %q", err, c.errLine, c.errText)
				}
				if got != nil {
					t.Errorf("entries %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("entry %d: %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
	t.Run("max entries", func(t *testing.T) {
		_, err := Decode(strings.NewReader(h1+"\n"+h2+"\n"), 0, 1)
		if !errors.Is(err, ErrTooMany) {
			t.Fatalf("err %v", err)
		}
	})
}

func mustHash(s string) pdq.Hash {
	h, err := pdq.ParseHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

// FuzzDecode: no input panics; what decodes re-encodes to a file that
// decodes to the same entries.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(h1 + ",100,id-1\n" + h2 + "\t50\n"))
	f.Add([]byte("hash,quality\n# c\n\n" + h1 + "\r\n"))
	f.Add([]byte(h1 + ",,x\n"))
	f.Add([]byte(`"` + h1 + `"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		es, err := Decode(bytes.NewReader(in), 0, 1000)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		for _, e := range es {
			buf.WriteString(e.Hash.String())
			buf.WriteByte(',')
			if e.Quality >= 0 {
				buf.WriteString(itoa(e.Quality))
			}
			buf.WriteByte(',')
			buf.WriteString(e.ID)
			buf.WriteByte('\n')
		}
		again, err := Decode(&buf, 0, 1000)
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-decode: %v, %d of %d", err, len(again), len(es))
		}
		for i := range es {
			if es[i] != again[i] {
				t.Fatalf("entry %d: %+v then %+v", i, es[i], again[i])
			}
		}
	})
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// randomEntries makes n uniformly random hashes from a fixed seed.
func randomEntries(n int, seed uint64) []Entry {
	es := make([]Entry, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	next := func() uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	for i := range es {
		es[i] = Entry{Hash: pdq.FromWords([4]uint64{next(), next(), next(), next()}), Quality: 100}
	}
	return es
}

// flip returns h with the given number of bits flipped, spread over the hash.
func flip(h pdq.Hash, n int, seed int) pdq.Hash {
	for i := range n {
		k := (seed*31 + i*97) % 256
		h[31-k/8] ^= 1 << (k % 8)
	}
	return h
}

// TestIndexAgrees: the multi-index finds exactly what brute force finds,
// at distances around every threshold radius it enumerates.
func TestIndexAgrees(t *testing.T) {
	t.Parallel()
	es := randomEntries(20000, 3)
	x := NewIndex(es)
	for _, threshold := range []int{0, 10, 15, 16, 31, 32, 47, 48, 63} {
		for i, d := range []int{0, 1, 8, 15, 16, 17, 30, 31, 32, 33, 47, 48, 63, 64, 90} {
			q := flip(es[(i*977)%len(es)].Hash, d, i)
			bm, bok := x.MatchBrute(q, threshold)
			mm, mok := x.MatchMIH(q, threshold)
			if bok != mok || bm != mm {
				t.Errorf("threshold %d, %d bits off: brute %v %+v, mih %v %+v", threshold, d, bok, bm, mok, mm)
			}
			if want := d <= threshold; bok != want {
				t.Errorf("threshold %d, %d bits off: matched %v", threshold, d, bok)
			}
		}
	}
	if _, ok := x.Match(pdq.Hash{}, 31); ok {
		t.Error("the zero hash matched random hashes within 31 bits")
	}
	if _, ok := NewIndex(nil).Match(es[0].Hash, 31); ok {
		t.Error("an empty list matched")
	}
}

func writeList(t *testing.T, path, body string, mod time.Time) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mod, mod); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestWatcherReload: a changed file is swapped in; a bad one leaves the list
// in service and is counted once; a fixed one is taken again.
func TestWatcherReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "list.csv")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writeList(t, path, h1+",100,first\n", t0)
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(Config{Name: "test", Path: path}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := w.Match(flip(mustHash(h1), 5, 1)); !ok || m.Entry.ID != "first" || m.Distance != 5 {
		t.Fatalf("match %+v %v", m, ok)
	}
	if _, ok := w.Match(mustHash(h2)); ok {
		t.Fatal("h2 matched a list without it")
	}
	if changed, err := w.Reload(); changed || err != nil {
		t.Fatalf("unchanged file reloaded: %v %v", changed, err)
	}

	writeList(t, path, h1+",100,first\n"+h2+",100,second\n", t0.Add(time.Second))
	if changed, err := w.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if m, ok := w.Match(mustHash(h2)); !ok || m.Entry.ID != "second" {
		t.Fatalf("after reload: %+v %v", m, ok)
	}

	writeList(t, path, h1+",100\nnot a hash\n", t0.Add(2*time.Second))
	_, err = w.Reload()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Fatalf("bad file: %v", err)
	}
	if _, err := w.Reload(); err != nil {
		t.Fatalf("the same bad file reported again: %v", err)
	}
	if _, ok := w.Match(mustHash(h2)); !ok {
		t.Fatal("the bad file took the list out of service")
	}
	if got := testutil.ToFloat64(w.m.reloads.WithLabelValues("test", "error")); got != 1 {
		t.Errorf("errors counted %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.m.entries.WithLabelValues("test")); got != 2 {
		t.Errorf("entries gauge %v, want 2", got)
	}

	// The polling loop takes the next good file by itself.
	w2, err := NewWatcher(Config{Name: "polled", Path: path, PollInterval: 100 * time.Millisecond}, nil, reg)
	if err == nil {
		t.Fatal("a watcher started on a bad file")
	}
	writeList(t, path, h2+"\n", t0.Add(3*time.Second))
	w2, err = NewWatcher(Config{Name: "polled", Path: path, PollInterval: 100 * time.Millisecond}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w2.Start(ctx)
	defer w2.Stop()
	writeList(t, path, h1+"\n", t0.Add(4*time.Second))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := w2.Match(mustHash(h1)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the poller did not reload the file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w2.Stop()
	w2.Stop()
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{Name: "n", Path: "p"}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.Label != "csam_hash_match" || good.Threshold != 31 {
		t.Errorf("defaults %+v", good)
	}
	for _, bad := range []Config{
		{Path: "p"}, {Name: "n"},
		{Name: "n", Path: "p", Threshold: 64},
		{Name: "n", Path: "p", MinQuality: 101},
		{Name: "n", Path: "p", PollInterval: time.Millisecond},
	} {
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
