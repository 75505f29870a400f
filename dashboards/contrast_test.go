package dashboards

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// palette reads the console's colours: the light :root, and the dark one as
// prefers-color-scheme: dark overrides it.
func palette(t *testing.T) (light, dark map[string]string) {
	t.Helper()
	b, err := consoleFiles.ReadFile("console/console.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	decl := regexp.MustCompile(`--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;`)
	read := func(block string, into map[string]string) {
		for _, m := range decl.FindAllStringSubmatch(block, -1) {
			into[m[1]] = m[2]
		}
	}
	i := strings.Index(css, "@media (prefers-color-scheme: dark)")
	if i < 0 {
		t.Fatal("no dark scheme in console.css")
	}
	light = map[string]string{}
	read(css[:i], light)
	dark = map[string]string{}
	for k, v := range light {
		dark[k] = v
	}
	end := strings.Index(css[i:], "\n}\n")
	read(css[i:i+end], dark)
	return light, dark
}

// luminance is WCAG 2's relative luminance of #rrggbb.
func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestPaletteContrast: every pair of the palette that the console draws one
// on the other meets WCAG 2 AA, in the light and the dark scheme: 4.5:1 for
// text, 3:1 for what is not text (focus ring, chart marks, graph lines).
func TestPaletteContrast(t *testing.T) {
	light, dark := palette(t)
	text := [][2]string{
		{"ink", "bg"}, {"ink", "panel"}, {"ink", "panel-2"}, {"ink", "selected"}, {"ink", "fresh-bg"}, {"ink", "bad-bg"},
		{"muted", "bg"}, {"muted", "panel"}, {"muted", "panel-2"}, {"muted", "info-bg"},
		{"muted", "bad-bg"}, // the case panel (levers, labels) sits on the case hook's background
		{"accent-ink", "accent"}, {"head-ink", "head-bg"}, {"head-muted", "head-bg"},
		{"ok", "panel"}, {"ok", "ok-bg"}, {"warn", "panel"}, {"bad", "panel"}, {"bad", "bad-bg"}, {"bad-ink", "bad"},
		{"sev-critical-ink", "sev-critical"}, {"sev-high-ink", "sev-high"}, {"sev-medium-ink", "sev-medium"}, {"sev-low-ink", "sev-low"},
		{"sla-soon-ink", "sla-soon"}, {"sla-over-ink", "sla-over"},
	}
	marks := [][2]string{
		{"focus", "panel"}, {"focus", "selected"}, {"focus", "panel-2"}, {"focus", "bad-bg"},
		{"heat-4", "heat-0"}, {"heat-3", "panel"}, {"gift", "panel"}, {"payout", "panel"}, {"edge", "panel"},
		{"accent", "panel"}, {"sev-high", "panel"},
	}
	for scheme, p := range map[string]map[string]string{"light": light, "dark": dark} {
		check := func(pairs [][2]string, min float64) {
			for _, pr := range pairs {
				fg, bg := p[pr[0]], p[pr[1]]
				if fg == "" || bg == "" {
					t.Errorf("%s: --%s or --%s is not in the palette", scheme, pr[0], pr[1])
					continue
				}
				if c := contrast(fg, bg); c < min {
					t.Errorf("%s: --%s %s on --%s %s: %.2f:1, want at least %.1f:1", scheme, pr[0], fg, pr[1], bg, c, min)
				}
			}
		}
		check(text, 4.5)
		check(marks, 3)
	}
	if c := contrast("#ffffff", "#000000"); fmt.Sprintf("%.0f", c) != "21" {
		t.Errorf("white on black is %.2f:1, want 21:1", c)
	}
}
