package text

import "strings"

// The chat lexicon: one map lookup per token (plus one per matching suffix) gives
// every word class the Directive and AgeCues rules ask about, instead of one lookup
// per class. Directive runs on every chat line that passes its pre-check, so this is
// its hot loop.

// Word classes. Classes marked "stem" also match the word plus a suffix (see
// suffixes): "bukain" is the verb "buka".
const (
	fVerb0 uint64 = 1 << iota // directiveVerbs[0]; the next len(directiveVerbs)-1 bits follow
	_                         // room for six verb rules
	_
	_
	_
	_
	_
	_
	fContact   // contactNouns, stem
	fNumber    // numberNouns, stem
	fGift      // giftWords, stem
	fCond      // conditionWords, exact
	fBenign    // benignActs, stem
	fAlone     // alone words, exact
	fAsk       // age-asking words, stem
	fAgeWord   // ageWords, stem
	fQuestion  // questionWords, exact
	fTag       // tagQuestion, exact
	fSecond    // secondPerson, exact
	fLevel     // schoolLevels, stem
	fFiller    // fillers, exact
	fDirFiller // directiveFillers, exact
)

const maxVerbRules = 8

type lexEntry struct{ exact, stem uint64 }

var lexicon = func() map[string]lexEntry {
	if len(directiveVerbs) > maxVerbRules {
		panic("text: too many directive verb rules")
	}
	m := map[string]lexEntry{}
	reg := func(bit uint64, stem bool, words ...[]string) {
		for _, l := range words {
			for _, w := range l {
				e := m[w]
				e.exact |= bit
				if stem {
					e.stem |= bit
				}
				m[w] = e
			}
		}
	}
	for k, v := range directiveVerbs {
		reg(fVerb0<<uint(k), true, v.verbs)
	}
	reg(fContact, true, contactNouns)
	reg(fNumber, true, numberNouns)
	reg(fGift, true, giftWords)
	reg(fCond, false, conditionWords)
	reg(fBenign, true, benignActs)
	reg(fAlone, false, aloneWords)
	reg(fAsk, true, ageAskWords)
	reg(fAgeWord, true, ageWords)
	reg(fQuestion, false, questionWords)
	reg(fTag, false, tagQuestion)
	reg(fSecond, false, secondPerson)
	reg(fLevel, true, schoolLevels)
	reg(fFiller, false, fillers)
	reg(fDirFiller, false, directiveFillers)
	return m
}()

// flagsOf returns the word classes of token t.
func flagsOf(t string) uint64 {
	e := lexicon[t]
	f := e.exact
	for _, s := range suffixes {
		if len(t) > len(s)+1 && strings.HasSuffix(t, s) {
			f |= lexicon[t[:len(t)-len(s)]].stem
		}
	}
	return f
}

// chatScan is a chat line read once for Directive and AgeCues: its tokens, their word
// classes, and the phrases of chatM found in it.
type chatScan struct {
	toks []tok
	fl   []uint64
	hits []hit
}

// chatM holds the phrase tables of Directive and AgeCues, so one pass finds both.
var chatM = compile(append(append(append(append([]cueGroup{}, directivePhrases...), minorGroups...),
	cueGroup{"level", schoolLevelPhrase}), ageQuestionPhrases...)...)

func scanChat(toks []tok) *chatScan {
	cs := &chatScan{toks: toks, fl: make([]uint64, len(toks))}
	for i, t := range toks {
		cs.fl[i] = flagsOf(t.s)
	}
	chatM.find(toks, func(h hit) { cs.hits = append(cs.hits, h) })
	return cs
}

// clauses calls fn for each clause [a, b) of the tokens: a clause ends at a token
// followed by punctuation.
func clauses(toks []tok, fn func(a, b int)) {
	for a := 0; a < len(toks); {
		b := a
		for b < len(toks) && toks[b].end == 0 {
			b++
		}
		if b < len(toks) {
			b++ // include the token that carries the punctuation
		}
		fn(a, b)
		a = b
	}
}
