package analyzer

import (
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// A detector family of DOMAIN.md, one file each (schedule.go, colocation.go,
// recruitment.go, money.go, audience.go, age.go, account_age.go, signal.go):
// its config, how it scores one host in 0..1 from the host's state and what it
// is linked to, the figures behind the score (its evidence) and the sentence
// that explains them. None is decisive alone: severity.go combines the families
// of the table by their role. Scoring only reads the engine; what it needs
// folded or cached is done by Apply before it is called.

// role is what a family's strong score means to severity.
type role uint8

const (
	// roleContext: when and where someone broadcasts; night owls share
	// student houses, so context alone never makes an alert urgent.
	roleContext role = iota
	// roleExploitation: evidence of someone profiting from the broadcasts.
	roleExploitation
	// roleMinor: the host is likely a minor.
	roleMinor
	// roleFresh: the host's account is days old; vulnerability, not evidence.
	roleFresh
)

// maxFamilies bounds the table, so that scores stay in fixed arrays.
const maxFamilies = 16

// family is one row of the table, built with familyOf.
type family interface {
	name() string
	role() role
	// score is pure: it fills slot i of ev with the family's evidence and
	// returns the score. Families earlier in the table are already scored in
	// ev (co-location reads the schedule's shift nights).
	score(e *Engine, h *hostState, ev *hostEval, i int) float64
	// den says the family's evidence shows new accounts sharing one phone.
	den(ev *hostEval, i int) bool
	explain(e *Engine, h *hostState, i, n int, hosts []*hostState) (string, map[string]any)
	save(w *ckWriter, enc *snapshot.Enc, ev *hostEval, i int)
	load(r *ckReader, d *snapshot.Dec, ev *hostEval, i int)
}

// familyOf is a family whose evidence is an E, kept per host in its slot of
// hostEval.evidence and overwritten at each evaluation.
type familyOf[E any] struct {
	Name string
	Role role
	// Score fills ev (zeroed) and returns the family's score; it must not
	// change the engine's state.
	Score func(e *Engine, h *hostState, ev *E, all *hostEval) float64
	// Explain writes the sentence for the strongest host h of an alert, n of
	// whose hosts the family applies to.
	Explain func(e *Engine, h *hostState, ev *E, n int, hosts []*hostState) (string, map[string]any)
	// Den, when set, says ev shows one device shared (severity's den rule).
	Den func(ev *E) bool
	// Save and Load carry the evidence through a checkpoint, every field in
	// order; nil when E is empty.
	Save func(w *ckWriter, enc *snapshot.Enc, ev *E)
	Load func(r *ckReader, d *snapshot.Dec, ev *E)
}

func (f *familyOf[E]) name() string { return f.Name }
func (f *familyOf[E]) role() role   { return f.Role }

// slot returns the evidence in slot i of ev, making it on first use: one per
// host and family for the host's life, so evaluation does not allocate.
func (f *familyOf[E]) slot(ev *hostEval, i int) *E {
	p, _ := ev.evidence[i].(*E)
	if p == nil {
		p = new(E)
		ev.evidence[i] = p
	}
	return p
}

func (f *familyOf[E]) score(e *Engine, h *hostState, ev *hostEval, i int) float64 {
	p := f.slot(ev, i)
	var zero E
	*p = zero
	return f.Score(e, h, p, ev)
}

func (f *familyOf[E]) den(ev *hostEval, i int) bool {
	if f.Den == nil {
		return false
	}
	p, _ := ev.evidence[i].(*E)
	return p != nil && f.Den(p)
}

func (f *familyOf[E]) explain(e *Engine, h *hostState, i, n int, hosts []*hostState) (string, map[string]any) {
	p, _ := h.eval.evidence[i].(*E)
	if p == nil {
		p = new(E) // a host never scored: explain zero figures, change nothing
	}
	return f.Explain(e, h, p, n, hosts)
}

func (f *familyOf[E]) save(w *ckWriter, enc *snapshot.Enc, ev *hostEval, i int) {
	if f.Save == nil {
		return
	}
	p, _ := ev.evidence[i].(*E)
	if p == nil {
		p = new(E)
	}
	f.Save(w, enc, p)
}

func (f *familyOf[E]) load(r *ckReader, d *snapshot.Dec, ev *hostEval, i int) {
	if f.Load == nil {
		return
	}
	f.Load(r, d, f.slot(ev, i))
}

// evidenceOf finds the evidence of type E in ev (the zero value when the host
// was never scored): for a family reading another's figures, or its own on
// other hosts.
func evidenceOf[E any](ev *hostEval) *E {
	for _, x := range ev.evidence {
		if p, ok := x.(*E); ok {
			return p
		}
	}
	return new(E)
}

// hostEval is a host's last evaluation: family scores, the severity they make,
// and each family's evidence, in the order of the table.
type hostEval struct {
	at       time.Time
	scores   [maxFamilies]float64
	sev      Severity
	evidence [maxFamilies]any
}

// checkFamilies refuses a table severity cannot use.
func checkFamilies(fams []family) error {
	if len(fams) > maxFamilies {
		return fmt.Errorf("%d detector families, at most %d", len(fams), maxFamilies)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		if seen[f.name()] {
			return fmt.Errorf("detector family %q twice", f.name())
		}
		seen[f.name()] = true
	}
	return nil
}

func clamp01(x float64) float64 {
	switch {
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// who names the subject of a sentence about n hosts.
func who(n int) string {
	if n > 1 {
		return fmt.Sprintf("%d hosts", n)
	}
	return "The host"
}
