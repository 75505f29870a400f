package analyzer

// The table of detector families, in the order of an alert's reasons and of a
// checkpoint's evidence. Adding a family is a file (see family.go) and a row
// here; severity counts families by role, so it needs no change.
var defaultFamilies = []family{schedule, colocation, recruitment, money, audience, age, accountAge, signal}

// Detectors lists the families' names in the table's order.
var Detectors = familyNames(defaultFamilies)

func familyNames(fams []family) []string {
	out := make([]string, len(fams))
	for i, f := range fams {
		out[i] = f.name()
	}
	return out
}

// evalHost scores every family for h at the engine's current time into ev
// (h's own evaluation: each family's evidence is reused in place). It reads
// the engine and changes nothing else: the live stream is folded before.
func (e *Engine) evalHost(h *hostState, ev *hostEval) {
	ev.at = e.now
	for i, f := range e.fams {
		ev.scores[i] = f.score(e, h, ev, i)
	}
	ev.sev = e.severity(h, ev)
}

// severity combines the families: exploitation shows as several indicators
// together, so severity counts the families present and rises with a minor's
// presence, never with one loud family. When and where someone broadcasts
// (context: schedule, co-location) is context: night owls share student
// houses. It takes exploitation evidence (recruitment, money, audience, an
// external signal), a minor, or new accounts sharing one phone to make context
// an alert.
func (e *Engine) severity(h *hostState, ev *hostEval) Severity {
	strong := e.cfg.Scoring.Strong
	ctx, exp := 0, 0
	minor, fresh, device := false, false, false
	for i, f := range e.fams {
		if ev.scores[i] < strong {
			continue
		}
		switch f.role() {
		case roleContext:
			ctx++
			device = device || f.den(ev, i)
		case roleExploitation:
			exp++
		case roleMinor:
			minor = true
		case roleFresh:
			fresh = true
		}
	}
	p := ctx + exp
	den := device && fresh
	var s Severity
	switch {
	case p >= 4:
		s = SeverityHigh
		if minor {
			s = SeverityCritical
		}
	case p == 3:
		s = SeverityMedium
		if minor || fresh {
			s = SeverityHigh
		}
	case p == 2 && (exp > 0 || minor || den):
		s = SeverityMedium
		if minor {
			s = SeverityHigh
		}
	case p == 1 && minor && (exp > 0 || fresh):
		s = SeverityMedium
	case p >= 1 || minor:
		s = SeverityLow
	}
	// Context and vulnerability alone ask for a look, not for urgency.
	if exp == 0 && s > SeverityMedium {
		s = SeverityMedium
	}
	if h.decisive && s < SeverityHigh {
		s = SeverityHigh
	}
	return s
}

// minor says a family of role minor is strong in ev.
func (e *Engine) minor(ev *hostEval) bool {
	for i, f := range e.fams {
		if f.role() == roleMinor && ev.scores[i] >= e.cfg.Scoring.Strong {
			return true
		}
	}
	return false
}

// combined is the noisy-OR of weighted family scores: 0..1.
func (e *Engine) combined(scores *[maxFamilies]float64) float64 {
	miss := 1.0
	for i, f := range e.fams {
		miss *= 1 - e.cfg.Scoring.Weights[f.name()]*scores[i]
	}
	return 1 - miss
}
