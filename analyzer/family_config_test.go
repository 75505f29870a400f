package analyzer

import (
	"slices"
	"testing"
	"time"
)

// TestFamilyConfigUsed: the score constants moved into the families' configs
// are the ones scoring, including rules the defaults never reach.
func TestFamilyConfigUsed(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		edit  func(c *Config)
		story func(w *world)
		host  string
		det   string
		want  float64
	}{
		// 0.2 + 0.05 + 0.3 = 0.55, capped: a home network alone never makes
		// co-location strong. (With the defaults the sum, 0.4, stays under.)
		"network_max caps a network": {func(c *Config) { c.Colocation.Network.NewAccounts = 0.3 },
			func(w *world) { regularsAt(w, 4, false) }, "p0", DetColocation, 0.45},
		"network without the cap": {func(c *Config) { c.Colocation.Network.NewAccounts = 0.3; c.Colocation.NetworkMax = 1 },
			func(w *world) { regularsAt(w, 4, false) }, "p0", DetColocation, 0.55},
		"device base": {func(c *Config) { c.Colocation.Device.Base = 0.1 },
			goldenStories["colocation-new-hosts-on-one-device"], "h1", DetColocation, 0.1 + 0.1 + 0.2 + 0.15 + 0.05},
		"declared minor": {func(c *Config) { c.Age.DeclaredScore = 0.6 },
			goldenStories["age-declared-minor"], "h1", DetAge, 0.65},
		"directed gifts": {func(c *Config) { c.Audience.DirectedScore = 0 },
			func(w *world) { directedGift(w, time.Minute) }, "h1", DetAudience, 0.005},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tc.edit(&cfg)
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := &world{t: t, e: e}
			tc.story(w)
			w.run()
			i := slices.Index(Detectors, tc.det)
			if got := w.score(tc.host, i); round3(got) != round3(tc.want) {
				t.Errorf("%s %s score %.3f, want %.3f", tc.host, tc.det, got, tc.want)
			}
		})
	}
}
