package janus

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		m       Mapping
		p       publisher
		want    Feed
		skipped bool
	}{
		{"default", Mapping{}, publisher{7, "host-a"}, Feed{Room: 9, ID: 7, Display: "host-a", StreamID: "janus-9-7", Host: "host-a"}, false},
		{"no display", Mapping{}, publisher{7, ""}, Feed{Room: 9, ID: 7, StreamID: "janus-9-7", Host: "janus-9-7"}, false},
		{"prefix", Mapping{StreamPrefix: "edge1"}, publisher{7, "x"}, Feed{Room: 9, ID: 7, Display: "x", StreamID: "edge1-9-7", Host: "x"}, false},
		{"pattern both", Mapping{DisplayPattern: `^(?P<host>[a-z0-9]+)/(?P<stream>[a-z0-9]+)$`}, publisher{7, "h1/s1"},
			Feed{Room: 9, ID: 7, Display: "h1/s1", StreamID: "s1", Host: "h1"}, false},
		{"pattern host only", Mapping{DisplayPattern: `^u:(?P<host>\d+)$`}, publisher{7, "u:42"},
			Feed{Room: 9, ID: 7, Display: "u:42", StreamID: "janus-9-7", Host: "42"}, false},
		{"unmatched", Mapping{DisplayPattern: `^u:(?P<host>\d+)$`}, publisher{7, "guest"}, Feed{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.m = Config{Mapping: tc.m}.withDefaults().Mapping
			m, err := tc.m.compile()
			if err != nil {
				t.Fatal(err)
			}
			got, ok := m.feed(9, tc.p)
			if ok == tc.skipped || got != tc.want {
				t.Errorf("feed = %+v, %v; want %+v, %v", got, ok, tc.want, !tc.skipped)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"no url":         {},
		"bad scheme":     {URL: "ws://127.0.0.1:8188"},
		"poll too fast":  {URL: "http://127.0.0.1:8088/janus", PollInterval: 10e6},
		"backoff":        {URL: "http://127.0.0.1:8088/janus", BackoffMin: 10e9, BackoffMax: 1e9},
		"pattern":        {URL: "http://127.0.0.1:8088/janus", Mapping: Mapping{DisplayPattern: "("}},
		"pattern groups": {URL: "http://127.0.0.1:8088/janus", Mapping: Mapping{DisplayPattern: "^x$"}},
		"body":           {URL: "http://127.0.0.1:8088/janus", MaxBodyBytes: 10},
	} {
		if _, err := New(c, func(*webrtc.PeerConnection, Feed) error { return nil }, nil, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "secret")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"S": "from-env"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct{ env, file, want, err string }{
		{"S", f, "from-env", ""},
		{"EMPTY", f, "from-file", ""},
		{"", f, "from-file", ""},
		{"", "", "", ""},
		{"EMPTY", "", "", "EMPTY is empty"},
		{"", filepath.Join(dir, "none"), "", "no such file"},
	} {
		got, err := readSecret("s", tc.env, tc.file, getenv)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("readSecret(%q, %q) = %q, %v; want %q, %q", tc.env, tc.file, got, err, tc.want, tc.err)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	err := redact(&url.Error{Op: "Get", URL: "http://127.0.0.1:8088/janus/1?apisecret=topsecret&maxev=10", Err: errors.New("refused")})
	if strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("redact: %v", err)
	}
}
