package dashboards

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"
)

//go:embed console/index.html console/console.js console/console.css
var consoleFiles embed.FS

// ConsoleCSP is the console's Content-Security-Policy: its own scripts,
// styles and socket only, no inline script, and no framing (a framed console
// could be clicked through by another page).
const ConsoleCSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// ConsoleSettings are what the console reads from the service at start
// (settings.json): nothing secret, only how it should look at the queue.
type ConsoleSettings struct {
	// SLA is how long an unclaimed alert of a severity may wait before the
	// console marks it overdue (half of it: due soon); a severity left out
	// has no timer.
	SLA map[string]time.Duration
}

// MarshalJSON writes the SLA in whole seconds: {"sla_seconds":{"critical":300}}.
func (s ConsoleSettings) MarshalJSON() ([]byte, error) {
	sec := map[string]int64{}
	for k, d := range s.SLA {
		sec[k] = int64(d / time.Second)
	}
	return json.Marshal(struct {
		SLA map[string]int64 `json:"sla_seconds"`
	}{sec})
}

// Console serves the moderators' console: index.html at its root, then
// console.js, console.css and settings.json (the settings given). Mount it under a prefix with http.StripPrefix
// (ronda serve mounts it at /console/). It answers GET and HEAD only; every
// answer carries ConsoleCSP, nosniff and no-referrer, and no-cache so that a
// new release is picked up at the next load.
func Console(settings ConsoleSettings) http.Handler {
	settingsJSON, _ := json.Marshal(settings) // a map of numbers: it cannot fail
	var files http.Handler = http.NotFoundHandler()
	if sub, err := fs.Sub(consoleFiles, "console"); err == nil { // it cannot fail: the directory is embedded
		files = http.FileServerFS(sub)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ConsoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/settings.json" {
			h.Set("Content-Type", "application/json")
			w.Write(settingsJSON)
			return
		}
		files.ServeHTTP(w, r)
	})
}
