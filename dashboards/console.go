package dashboards

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed console/index.html console/console.js console/console.css
var consoleFiles embed.FS

// ConsoleCSP is the console's Content-Security-Policy: its own scripts,
// styles and socket only, no inline script, and no framing (a framed console
// could be clicked through by another page).
const ConsoleCSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// Console serves the moderators' console: index.html at its root, then
// console.js and console.css. Mount it under a prefix with http.StripPrefix
// (ronda serve mounts it at /console/). It answers GET and HEAD only; every
// answer carries ConsoleCSP, nosniff and no-referrer, and no-cache so that a
// new release is picked up at the next load.
func Console() http.Handler {
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
		files.ServeHTTP(w, r)
	})
}
