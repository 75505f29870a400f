package dashboards

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The console is served at a prefix, each file with its type and the headers
// that keep it to its own origin.
func TestConsoleServesItsFilesWithCSP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.StripPrefix("/console", Console(ConsoleSettings{SLA: map[string]time.Duration{"critical": 5 * time.Minute}})))
	defer srv.Close()
	for _, tc := range []struct {
		path, method   string
		status         int
		ctype, content string
	}{
		{"/console/", "GET", 200, "text/html", `<script type="module" src="console.js">`},
		{"/console/console.js", "GET", 200, "text/javascript", "/v1/alerts/whoami"},
		{"/console/console.css", "GET", 200, "text/css", ".queue"},
		{"/console/settings.json", "GET", 200, "application/json", `{"sla_seconds":{"critical":300}}`},
		{"/console/missing.js", "GET", 404, "", ""},
		{"/console/", "POST", 405, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			want := map[string]string{"Content-Security-Policy": ConsoleCSP, "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "no-referrer"}
			if tc.status == 200 {
				want["Cache-Control"] = "no-cache" // net/http drops it from error answers
			}
			for h, want := range want {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.content) {
				t.Errorf("Content-Type %q, body without %q", resp.Header.Get("Content-Type"), tc.content)
			}
		})
	}
}

// The console loads nothing from elsewhere and never turns data into markup:
// what the CSP enforces in the browser, and the rule the code keeps.
func TestConsoleLoadsNothingFromElsewhereAndWritesNoMarkup(t *testing.T) {
	t.Parallel()
	offsite := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(`)
	markup := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\("style"|\son[a-z]+="`)
	for _, name := range []string{"index.html", "console.js", "console.css"} {
		b, err := consoleFiles.ReadFile("console/" + name)
		if err != nil {
			t.Fatal(err)
		}
		// The SVG namespace is a name the DOM needs for createElementNS, never fetched.
		if m := offsite.Find(bytes.ReplaceAll(b, []byte(`"http://www.w3.org/2000/svg"`), nil)); m != nil {
			t.Errorf("%s refers to %q: the console must load only its own files", name, m)
		}
		if m := markup.Find(b); m != nil {
			t.Errorf("%s uses %q: build the page with createElement and textContent", name, m)
		}
	}
}
