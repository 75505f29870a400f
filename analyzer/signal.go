package analyzer

import "fmt"

// DetSignal: an external classifier's score other than age (the score and
// label are the host's state; the family keeps no evidence of its own).
const DetSignal = "signal"

// SignalConfig: external classifier scores other than age.
type SignalConfig struct {
	// MinScore is the external score that counts. Default 0.8.
	MinScore float64 `yaml:"min_score"`
	// DecisiveLabels raise an alert to high on their own at MinScore: a hash match
	// against known abuse material is not a weak indicator.
	DecisiveLabels []string `yaml:"decisive_labels"`
}

func defaultSignalConfig() SignalConfig {
	return SignalConfig{MinScore: 0.8, DecisiveLabels: []string{"csam_hash_match"}}
}

func (c SignalConfig) validate(bad func(field, why string)) {
	if c.MinScore <= 0 || c.MinScore > 1 {
		bad("signals.min_score", "must be in (0,1]")
	}
}

var signal = &familyOf[struct{}]{
	Name: DetSignal,
	Role: roleExploitation,
	Score: func(e *Engine, h *hostState, _ *struct{}, _ *hostEval) float64 {
		if h.extSignal >= e.cfg.Signals.MinScore {
			return h.extSignal
		}
		return 0
	},
	Explain: func(_ *Engine, h *hostState, _ *struct{}, _ int, _ []*hostState) (string, map[string]any) {
		return fmt.Sprintf("External classifier label %q scored %.2f.", h.extLabel, h.extSignal),
			map[string]any{"label": h.extLabel, "score": round3(h.extSignal)}
	},
}
