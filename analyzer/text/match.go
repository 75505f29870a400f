package text

import (
	"fmt"
	"strings"
)

// A phrase in the cue tables is a small pattern over normalised tokens:
//
//	"kos disediakan"        consecutive tokens
//	"kos|mess gratis"       "|" separates words accepted at one position
//	"kos ... disediakan"    "..." lets up to maxGap other tokens come between
//	"disiap*"               a trailing "*" accepts any token that starts with it
//
// Every word also accepts itself plus one Indonesian suffix (see suffixes): "kos"
// matches "kosan", "buka" matches "bukain", "umur" matches "umurmu".
const maxGap = 3

// suffixes are the clitics and verb endings Indonesian glues to a word. "-an" turns
// "kos" into "kosan"; the price is that "gaji" also matches "gajian" (payday), which
// is harmless for the cues here.
var suffixes = [...]string{"nya", "ku", "mu", "lah", "kah", "in", "kan", "an"}

type step struct {
	words []string // alternatives; a trailing '*' makes a prefix
	gap   int      // tokens that may be skipped before this step
}

type pattern struct {
	steps []step
	cue   int // index of the cue in its matcher's cue list
	src   string
}

// matcher finds the phrases of a set of cue groups in a token list.
type matcher struct {
	cues  []string
	pats  []pattern
	index map[string][]int32 // first word → patterns
	star  []int32            // patterns whose first word is a prefix
}

// cueGroup is one named list of phrases.
type cueGroup struct {
	cue     string
	phrases []string
}

func compile(groups ...cueGroup) *matcher {
	m := &matcher{index: map[string][]int32{}}
	cueIdx := map[string]int{}
	for _, g := range groups {
		ci, ok := cueIdx[g.cue]
		if !ok {
			ci = len(m.cues)
			cueIdx[g.cue] = ci
			m.cues = append(m.cues, g.cue)
		}
		for _, ph := range g.phrases {
			p := parsePhrase(ph)
			p.cue = ci
			id := int32(len(m.pats))
			m.pats = append(m.pats, p)
			for _, w := range p.steps[0].words {
				if strings.HasSuffix(w, "*") {
					m.star = append(m.star, id)
					continue
				}
				m.index[w] = append(m.index[w], id)
			}
		}
	}
	return m
}

func parsePhrase(ph string) pattern {
	p := pattern{src: ph}
	gap := 0
	for _, f := range strings.Fields(ph) {
		if f == "..." {
			gap = maxGap
			continue
		}
		p.steps = append(p.steps, step{words: strings.Split(f, "|"), gap: gap})
		gap = 0
	}
	if len(p.steps) == 0 {
		panic(fmt.Sprintf("text: empty phrase %q in cue tables", ph))
	}
	return p
}

// wordEq reports whether token t is word w (see the phrase syntax).
func wordEq(t, w string) bool {
	if t == w {
		return true
	}
	if n := len(w) - 1; n > 0 && w[n] == '*' {
		return strings.HasPrefix(t, w[:n])
	}
	if len(t) <= len(w) || t[:len(w)] != w {
		return false
	}
	rest := t[len(w):]
	for _, s := range suffixes {
		if rest == s {
			return true
		}
	}
	return false
}

func stepEq(t string, s *step) bool {
	for _, w := range s.words {
		if wordEq(t, w) {
			return true
		}
	}
	return false
}

// hit is one phrase found: its cue and the token span [start, end).
type hit struct {
	cue        int
	start, end int
}

// find calls fn for every phrase that matches, at most once per pattern and start.
func (m *matcher) find(toks []tok, fn func(h hit)) {
	var seen [8]int32
	for i := range toks {
		t := toks[i].s
		ns := 0
		try := func(id int32) {
			for _, s := range seen[:ns] {
				if s == id {
					return
				}
			}
			if ns < len(seen) {
				seen[ns] = id
				ns++
			}
			if end := m.pats[id].matchAt(toks, i); end >= 0 {
				fn(hit{cue: m.pats[id].cue, start: i, end: end})
			}
		}
		for _, id := range m.index[t] {
			try(id)
		}
		for _, s := range suffixes {
			if len(t) > len(s)+1 && strings.HasSuffix(t, s) {
				for _, id := range m.index[t[:len(t)-len(s)]] {
					try(id)
				}
			}
		}
		for _, id := range m.star {
			try(id)
		}
	}
}

// matchAt matches p with its first word at toks[i]; it returns the end of the match or -1.
func (p *pattern) matchAt(toks []tok, i int) int {
	if !stepEq(toks[i].s, &p.steps[0]) {
		return -1
	}
	return p.matchRest(toks, 1, i+1)
}

func (p *pattern) matchRest(toks []tok, k, from int) int {
	if k == len(p.steps) {
		return from
	}
	s := &p.steps[k]
	for j := from; j < len(toks) && j <= from+s.gap; j++ {
		if stepEq(toks[j].s, s) {
			if end := p.matchRest(toks, k+1, j+1); end >= 0 {
				return end
			}
		}
	}
	return -1
}

// cueSet is a small set of cue indexes of one matcher.
type cueSet uint64

func (c *cueSet) add(i int)          { *c |= 1 << uint(i) }
func (c cueSet) has(i int) bool      { return c&(1<<uint(i)) != 0 }
func (m *matcher) id(cue string) int { return indexOf(m.cues, cue) }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	panic("text: unknown cue " + s)
}

// set returns the cues found in toks.
func (m *matcher) set(toks []tok) cueSet {
	var c cueSet
	m.find(toks, func(h hit) { c.add(h.cue) })
	return c
}

// words returns every word of the groups, for the vocabulary.
func words(groups ...cueGroup) []string {
	var out []string
	for _, g := range groups {
		for _, ph := range g.phrases {
			for _, f := range strings.Fields(ph) {
				for _, w := range strings.Split(f, "|") {
					w = strings.TrimSuffix(w, "*")
					if w != "..." && w != "" {
						out = append(out, w)
					}
				}
			}
		}
	}
	return out
}

// inSet reports whether t, or t without one suffix, is in set.
func inSet(set map[string]bool, t string) bool {
	if set[t] {
		return true
	}
	for _, s := range suffixes {
		if len(t) > len(s)+1 && strings.HasSuffix(t, s) && set[t[:len(t)-len(s)]] {
			return true
		}
	}
	return false
}

func setOf(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, w := range l {
			m[w] = true
		}
	}
	return m
}
