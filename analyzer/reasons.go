package analyzer

import "fmt"

// Reasons: one plain sentence per family with its figures, for the moderator.

func (e *Engine) reasons(hosts []*hostState, best *[maxFamilies]float64) []Reason {
	var out []Reason
	for i, f := range e.fams {
		if best[i] < 0.3 {
			continue
		}
		var top *hostState
		var n int
		for _, h := range hosts {
			if h.eval.scores[i] >= 0.3 {
				n++
			}
			if top == nil || h.eval.scores[i] > top.eval.scores[i] {
				top = h
			}
		}
		sum, ev := f.explain(e, top, i, n, hosts)
		out = append(out, Reason{Detector: f.name(), Score: round3(best[i]), Summary: sum, Evidence: ev})
	}
	return out
}

func pct(x float64) int { return int(x*100 + 0.5) }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// raiseSignals reports each family score of h that moved by 0.15 or more since
// the last report, for analysts' trend tables.
func (e *Engine) raiseSignals(h *hostState) {
	for i, f := range e.fams {
		s := h.eval.scores[i]
		if s < 0.3 && h.signal[i] < 0.3 {
			continue
		}
		if s-h.signal[i] < 0.15 && h.signal[i]-s < 0.15 {
			continue
		}
		h.signal[i] = s
		e.stats.SignalsRaised++
		if e.OnSignal != nil {
			sum, ev := f.explain(e, h, i, 1, []*hostState{h})
			e.OnSignal(Signal{At: e.now, Detector: f.name(), Entity: EntityRef{KindHost, h.id}, Score: round3(s), Summary: sum, Evidence: ev})
		}
	}
}
