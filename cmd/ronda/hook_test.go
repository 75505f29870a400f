package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHookForm(t *testing.T) {
	t.Parallel()
	now := time.Unix(1796528538, 270557688)
	f, err := hookForm([]string{"call=publish", "app=live", "name=s1", "addr=10.0.0.7", "args=host=alice&call=evil&name=other"}, now, 42)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"call": "publish", "app": "live", "name": "s1", "addr": "10.0.0.7",
		"clientid": "exec-1796528538270557688-42", "host": "alice"} {
		if got := f.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for name, args := range map[string][]string{
		"unknown key":   {"call=publish", "name=s", "secret=x"},
		"no call":       {"name=s"},
		"wrong call":    {"call=update", "name=s"},
		"no name":       {"call=publish", "app=live"},
		"not key=value": {"call=publish", "name=s", "live"},
	} {
		if _, err := hookForm(args, now, 1); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// hookRecorder is a stand-in for Ronda's hook endpoint that records what it
// gets and answers with the status of its turn.
type hookRecorder struct {
	mu       sync.Mutex
	forms    []url.Values
	secrets  []string
	statuses []int // one per request; past the end, 200
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f, _ := url.ParseQuery(string(b))
	h.mu.Lock()
	n := len(h.forms)
	h.forms = append(h.forms, f)
	h.secrets = append(h.secrets, r.Header.Get("X-Ronda-Secret"))
	status := 200
	if n < len(h.statuses) {
		status = h.statuses[n]
	}
	h.mu.Unlock()
	w.WriteHeader(status)
}

// TestHookCommand runs the binary as nginx-rtmp's exec would: the form and
// the secret arrive; a 503 is tried again with the same client id; a wrong
// secret, Ronda down or Ronda hanging all exit 0 within the bound with one
// line on stderr that does not hold the secret.
func TestHookCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	secret := "hook-secret-0123456789abcdef"
	secretFile := filepath.Join(dir, "hook.secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	args := []string{"call=publish", "app=live", "name=s1", "addr=127.0.0.1", "args=host=alice"}
	run := func(url string, env []string, extra ...string) (result, time.Duration) {
		t.Helper()
		cmd := exec.Command(ronda(t), append(append([]string{"hook", "nginx-rtmp", "--url", url}, extra...), args...)...)
		cmd.Env = append(os.Environ(), env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("hook exited %v; stderr:\n%s", err, stderr.String())
		}
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("the secret is in stderr:\n%s", stderr.String())
		}
		return result{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}, took
	}

	rec := &hookRecorder{statuses: []int{503}}
	ts := httptest.NewServer(rec)
	defer ts.Close()
	r, took := run(ts.URL+"/hooks/nginx-rtmp", nil, "--secret-file", secretFile)
	if r.stderr != "" {
		t.Errorf("a delivered hook wrote to stderr:\n%s", r.stderr)
	}
	rec.mu.Lock()
	if len(rec.forms) != 2 {
		t.Fatalf("%d requests, want 2 (a 503, then the retry)", len(rec.forms))
	}
	a, b := rec.forms[0], rec.forms[1]
	if a.Get("clientid") == "" || a.Get("clientid") != b.Get("clientid") {
		t.Errorf("client ids %q and %q: a retry must repeat the id", a.Get("clientid"), b.Get("clientid"))
	}
	if !regexp.MustCompile(`^exec-\d+-\d+$`).MatchString(a.Get("clientid")) || a.Get("call") != "publish" ||
		a.Get("name") != "s1" || a.Get("host") != "alice" || rec.secrets[1] != secret {
		t.Errorf("form %v, secret header %q", a, rec.secrets[1])
	}
	rec.mu.Unlock()
	t.Logf("hook delivered after one 503 in %v", took)

	// The secret from the environment, as nginx passes it with "env RONDA_HOOK_SECRET;".
	rec2 := &hookRecorder{}
	ts2 := httptest.NewServer(rec2)
	defer ts2.Close()
	run(ts2.URL, []string{"RONDA_HOOK_SECRET=" + secret})
	if len(rec2.secrets) != 1 || rec2.secrets[0] != secret {
		t.Errorf("secret from the environment: %q", rec2.secrets)
	}

	// A wrong secret: Ronda answers 403 (before branch failopen) or 200; no retry, exit 0.
	rec3 := &hookRecorder{statuses: []int{403}}
	ts3 := httptest.NewServer(rec3)
	defer ts3.Close()
	if r, _ := run(ts3.URL, []string{"RONDA_HOOK_SECRET=wrong-secret-0123456789"}); !strings.Contains(r.stderr, "403") || len(rec3.forms) != 1 {
		t.Errorf("wrong secret: %d requests, stderr:\n%s", len(rec3.forms), r.stderr)
	}

	// Ronda down: a port nobody listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + ln.Addr().String() + "/hooks/nginx-rtmp"
	ln.Close()
	if r, took := run(down, nil, "--secret-file", secretFile, "--timeout", "1s"); !strings.Contains(r.stderr, "not delivered") {
		t.Errorf("Ronda down: stderr:\n%s", r.stderr)
	} else {
		t.Logf("Ronda down: hook gave up in %v", took)
	}

	// Ronda frozen: it accepts the connection and never answers.
	hang := make(chan struct{})
	frozen := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer frozen.Close()
	defer close(hang)
	r, took = run(frozen.URL, nil, "--secret-file", secretFile, "--timeout", "500ms")
	if !strings.Contains(r.stderr, "not delivered") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("Ronda frozen: want one line on stderr:\n%s", r.stderr)
	}
	t.Logf("Ronda frozen: hook gave up in %v (bound 500ms)", took)

	// No secret at all: nothing is posted, exit 0.
	rec4 := &hookRecorder{}
	ts4 := httptest.NewServer(rec4)
	defer ts4.Close()
	if r, _ := run(ts4.URL, []string{"RONDA_HOOK_SECRET="}); len(rec4.forms) != 0 || !strings.Contains(r.stderr, "no secret") {
		t.Errorf("no secret: %d requests, stderr:\n%s", len(rec4.forms), r.stderr)
	}
}
