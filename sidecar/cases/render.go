package cases

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store"
)

//go:embed page.html
var pageHTML string

//go:embed print.css
var printCSS string

// renderer renders the printable page. The page is one document: its style
// is inline and allowed by its hash in the Content-Security-Policy, there is
// no script, and it loads nothing (default-src 'none').
type renderer struct {
	t   *template.Template
	csp string
}

func newRenderer() (*renderer, error) {
	t, err := template.New("case").Funcs(template.FuncMap{
		"utc":     utc,
		"figures": figures,
		"join":    func(s []string) string { return strings.Join(s, ", ") },
	}).Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("case page template: %w", err)
	}
	sum := sha256.Sum256([]byte(printCSS))
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return &renderer{t: t, csp: csp}, nil
}

// CSP is the Content-Security-Policy the page is served with.
func (r *renderer) CSP() string { return r.csp }

// Render writes the page of c.
func (r *renderer) Render(c *Case) ([]byte, error) {
	var b bytes.Buffer
	err := r.t.Execute(&b, struct {
		C   *Case
		CSS template.CSS
		Max int
	}{c, template.CSS(printCSS), store.MaxEvidenceRows})
	return b.Bytes(), err
}

func utc(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// figures writes a reason's evidence as name=value pairs in name order.
func figures(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v := m[k]
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = fmt.Sprintf("%g", x)
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " · ")
}
