package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DirectiveCues are the names Directive reports, in order.
//
//	undress       "buka dong", "lepas baju", "take it off", "bugil"
//	show          "ayo show", "show more", "tunjukin dong", "show me"
//	perform       "goyang dong", "mandi live dong", "twerk", "nungging"
//	camera        "cam closer", "kamera ke bawah"
//	private       "pc yuk", "private now", "go private", "vc yuk"
//	contact       "minta nomor wa dong", "dm me", "wa nya berapa"
//	open_bo       "open bo?", "bo berapa", "booking kak", "magkano ka"
//	vcs           "vcs", "vc sex", "video call bugil"
//	sexual        explicit sexual words aimed at the host ("sange", "toket", "boobs")
//	age_question  "umur berapa", "masih sekolah?", "how old are you", "kelas berapa?"
//	alone_check   "sendirian di kos?", "are you alone", "ortu dimana?"
//	gift_offer    a gift made conditional on an act: "aku kasih gift kalau buka", "kalau 1000 koin mau?"
var DirectiveCues = []string{"undress", "show", "perform", "camera", "private", "contact", "open_bo", "vcs", "sexual", "age_question", "alone_check", "gift_offer"}

// Directive reports chat that directs the host to undress, show or perform, moves her
// to a private channel or an offline meeting, asks her age or whether she is alone, or
// pays for an act. It returns cue names from DirectiveCues, nil for ordinary chat.
//
// Words that are directives only in context are checked in context: "buka" fires
// in "buka dong" or "buka bajunya" but not in "buka lapak", "buka lagu" (a song
// request), "kapan buka?" or "buka baju baru" (new clothes unboxed for a shop's
// viewers); "open" fires in "open na" but not in the Tagalog shop's "open na po";
// "show" fires in "ayo show" or "show me" but not in "show the recipe"; "pc" fires
// in "pc yuk" but not in "main pc". Tagalog ("hubad na", "pasilip naman") and
// Cebuano ("huboa na", "pila imong edad?") are read as Indonesian and English are,
// and small capitals and other look-alike letters are folded first ("ʙᴜᴋᴀ").
//
// Directive runs on every chat line, so a byte-level pre-check skips lines that
// contain no cue word before any allocation; only lines with a candidate word (or
// with leetspeak, spaced letters or non-ASCII letters) are normalised and matched.
func Directive(s string) (cues []string) {
	if !mayDirect(s) {
		return nil
	}
	return directiveSlow(s)
}

var (
	phoneSet  = setOf(phoneWords)
	askSet    = setOf(contactAsks)
	verbRules = compileVerbs()
	// anchors holds, with repeated letters collapsed, every word that some Directive
	// rule needs; a line without one cannot produce a cue.
	anchors = buildAnchors()
	// anchorPrefix3 holds the first three bytes of the anchors of three bytes or more,
	// anchorPrefix2 the two-byte anchors (bit sets; collisions only cost a lookup).
	anchorPrefix3, anchorPrefix2 = func() (p3, p2 [256]uint64) {
		for a := range anchors {
			switch {
			case len(a) >= 3:
				bitSet(&p3, prefix3([]byte(a)))
			case len(a) == 2:
				bitSet(&p2, prefix2([]byte(a)))
			}
		}
		return p3, p2
	}()
)

// verbRule is a compiled directiveVerb; its verbs are lexicon classes (fVerb0<<k).
type verbRule struct {
	cue                        int
	obj, block, after, notWith map[string]bool
	needFiller                 bool
}

// payThenSet is payThen as a set.
var payThenSet = setOf(payThen)

// paidThen: the newGoods word at k is followed, in its clause and within two
// words, by a gift or a payment: "buka baju baru aku kasih gift" offers a
// price for undressing ("baru": "(only) then"), it unboxes nothing.
func paidThen(toks []tok, k int) bool {
	if toks[k].end != 0 {
		return false
	}
	for m := k + 1; m < len(toks) && m <= k+2; m++ {
		if payThenSet[toks[m].s] {
			return true
		}
		if toks[m].end != 0 {
			break
		}
	}
	return false
}

func compileVerbs() []verbRule {
	var out []verbRule
	for _, v := range directiveVerbs {
		out = append(out, verbRule{
			cue:        indexOf(DirectiveCues, v.cue),
			obj:        setOf(v.objects),
			block:      setOf(v.blockedBy),
			after:      setOf(v.objectNot),
			notWith:    setOf(v.notWith),
			needFiller: v.needFiller,
		})
	}
	return out
}

func directiveSlow(s string) []string {
	toks := tokenize(s)
	if len(toks) == 0 {
		return nil
	}
	cs := scanChat(toks)
	var set cueSet
	add := func(name string) { set.add(indexOf(DirectiveCues, name)) }
	for _, h := range cs.hits {
		if i := dirCueOfChat[h.cue]; i >= 0 {
			set.add(i)
		}
	}
	var all uint64
	for i, t := range toks {
		f := cs.fl[i]
		all |= f
		if f&(fVerb0<<maxVerbRules-1) != 0 {
			for k := range verbRules {
				if f&(fVerb0<<uint(k)) != 0 && verbRules[k].fires(cs, i) {
					set.add(verbRules[k].cue)
				}
			}
		}
		if f&fContact != 0 && askedNear(toks, i) {
			add("contact")
		}
		if t.s == "line" && (i+1 < len(toks) && toks[i+1].s == "id" || i > 0 && (toks[i-1].s == "id" || toks[i-1].s == "add")) {
			add("contact")
		}
		if f&fNumber != 0 && (phoneNear(toks, i) || strings.HasSuffix(t.s, "mu")) {
			add("contact")
		}
	}
	if all&fGift != 0 && all&fCond != 0 && all&fBenign == 0 {
		add("gift_offer")
	}
	if all&fAlone != 0 {
		// Alone, asked as a question: "sendirian?", "alone?".
		clauses(toks, func(a, b int) {
			if !isQuestion(cs, a, b) {
				return
			}
			for i := a; i < b; i++ {
				if cs.fl[i]&fAlone != 0 {
					add("alone_check")
				}
			}
		})
	}
	if _, _, q := ageScan(cs, true); q {
		add("age_question")
	}
	if set == 0 {
		return nil
	}
	cues := make([]string, 0, 2)
	for i, name := range DirectiveCues {
		if set.has(i) {
			cues = append(cues, name)
		}
	}
	return cues
}

// dirCueOfChat maps chatM's cues to DirectiveCues indexes (-1 for age cues).
var dirCueOfChat = func() []int {
	out := make([]int, len(chatM.cues))
	for i, c := range chatM.cues {
		out[i] = -1
		for k, d := range DirectiveCues {
			if c == d && c != "age_question" {
				out[i] = k
			}
		}
	}
	return out
}()

// fires applies a verb rule at token i: see directiveVerb.
func (r *verbRule) fires(cs *chatScan, i int) bool {
	toks := cs.toks
	if i > 0 && inSet(r.block, toks[i-1].s) {
		return false
	}
	directive, shop := false, false
	if toks[i].end != 0 {
		return !r.needFiller || i == 0 && len(toks) == 1
	}
	for j := i + 1; j < len(toks); j++ {
		if inSet(r.obj, toks[j].s) {
			// "buka baju baru": new clothes out of their parcel, not a
			// body; unless a gift follows ("... baru aku kasih gift").
			return j+1 >= len(toks) || toks[j].end != 0 || !inSet(r.after, toks[j+1].s) || paidThen(toks, j+1)
		}
		if inSet(r.notWith, toks[j].s) {
			// "open na po": a shop says it is open; unless an object
			// follows ("open mo na po dede mo").
			shop = true
		}
		f := cs.fl[j]
		if f&fFiller == 0 {
			return false
		}
		if f&fDirFiller != 0 {
			directive = true
		}
		if toks[j].end != 0 {
			break
		}
	}
	return !shop && (!r.needFiller || directive)
}

// askedNear: a request word within three tokens of a contact noun ("minta wa dong",
// "wa nya berapa", "add me on telegram").
func askedNear(toks []tok, i int) bool {
	if strings.HasSuffix(toks[i].s, "nya") || strings.HasSuffix(toks[i].s, "mu") {
		return true // "wanya?", "wamu berapa"
	}
	for k := i - 3; k <= i+3; k++ {
		if k >= 0 && k < len(toks) && k != i && askSet[toks[k].s] {
			return true
		}
	}
	return false
}

func phoneNear(toks []tok, i int) bool {
	for k := i - 1; k <= i+1; k++ {
		if k >= 0 && k < len(toks) && k != i && phoneSet[toks[k].s] {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// The pre-check

// mayDirect reports whether s could produce a Directive cue: it holds an anchor word,
// or something only Normalize can read (leetspeak, spaced letters, letters outside
// ASCII). It never allocates.
func mayDirect(s string) bool {
	var w word
	singles := 0 // consecutive one-character words
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			w.letter(c | 0x20)
			continue
		case '0' <= c && c <= '9':
			w.digit(c)
			continue
		case c == '\'' || c == '`':
			if w.letters && i+1 < len(s) && isASCIILetter(s[i+1]) {
				continue // "i'm" is one word
			}
		case c == '@' || c == '$':
			if w.letters || i+1 < len(s) && isASCIILetter(s[i+1]) {
				return true // "g@ji", "$ex"
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if norm.NFKD.PropertiesString(s[i:]).Decomposition() != nil {
				return true // "ⓓ", "ｂ": a compatibility form of a letter
			}
			i += size - 1
			if isApostrophe(r) && w.letters && i+1 < len(s) && isASCIILetter(s[i+1]) {
				continue
			}
			if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Cf, r) || r == '₱' {
				return true // Normalize folds it
			}
		}
		if w.size > 0 {
			if w.end(&singles) {
				return true
			}
			w = word{}
		}
	}
	return w.size > 0 && w.end(&singles)
}

// word is the pre-check's view of the current word: lower case, repeated letters
// collapsed (digits kept), at most len(b) bytes.
type word struct {
	b                     [24]byte
	n, size               int
	last                  byte
	over, letters, digits bool
}

func (w *word) letter(c byte) {
	w.letters = true
	w.size++
	if c == w.last {
		return
	}
	w.last = c
	w.put(c)
}

func (w *word) digit(c byte) {
	w.digits = true
	w.size++
	w.last = 0
	w.put(c)
}

func (w *word) put(c byte) {
	if w.n == len(w.b) {
		w.over = true
		return
	}
	w.b[w.n] = c
	w.n++
}

// end decides at the end of a word whether the line needs the full path.
func (w *word) end(singles *int) bool {
	if w.letters && w.digits {
		return true // leetspeak or a glued amount: let Normalize decide
	}
	if w.n == 1 && !w.over {
		// One character once repeated letters are squeezed: "d MMMMM" may join.
		*singles++
		return *singles >= 3 // "b u k a"
	}
	*singles = 0
	return w.over && w.letters || anchorHit(w.b[:w.n])
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// anchorHit looks a collapsed word up in anchors, also without a suffix.
func anchorHit(w []byte) bool {
	if len(w) < 2 {
		return false
	}
	// Every anchor, and every word that is an anchor plus a suffix, starts with the
	// first three bytes of a longer anchor or with a two-byte anchor: most words stop
	// here, before any hashing.
	if !(len(w) >= 3 && bitTest(&anchorPrefix3, prefix3(w)) || bitTest(&anchorPrefix2, prefix2(w))) {
		return false
	}
	if anchors[string(w)] {
		return true
	}
	switch w[len(w)-1] {
	case 'a', 'u', 'h', 'n':
	default:
		return false // no suffix ends otherwise
	}
	for _, s := range collapsedSuffixes {
		if len(w) > len(s)+1 && string(w[len(w)-len(s):]) == s && anchors[string(w[:len(w)-len(s)])] {
			return true
		}
		// The suffix's first letter merged with the word's last one ("bukaan" → "bukan").
		if t := s[1:]; len(w) > len(t)+1 && string(w[len(w)-len(t):]) == t && w[len(w)-len(t)-1] == s[0] && anchors[string(w[:len(w)-len(t)])] {
			return true
		}
	}
	return false
}

func prefix2(w []byte) int { return int(w[0]&0x7f)<<7 | int(w[1]&0x7f) }

func prefix3(w []byte) int { return int(w[0]&0x1f)<<10 | int(w[1]&0x1f)<<5 | int(w[2]&0x1f) }

func bitTest(set *[256]uint64, k int) bool { return set[k>>6&255]&(1<<(k&63)) != 0 }

func bitSet(set *[256]uint64, k int) { set[k>>6&255] |= 1 << (k & 63) }

var collapsedSuffixes = func() []string {
	var out []string
	for _, s := range suffixes {
		out = append(out, collapse(s))
	}
	return out
}()

// collapse lower-cases ASCII and squeezes every run of a letter to one.
func collapse(w string) string {
	b := make([]byte, 0, len(w))
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c |= 0x20
		}
		if len(b) > 0 && b[len(b)-1] == c && !isDigit(rune(c)) {
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// anchorStop are frequent chat words never used as anchors when a phrase has a rarer
// word.
var anchorStop = setOf([]string{
	"kak", "dong", "yuk", "ya", "lagi", "live", "berapa", "brp", "brapa", "aku", "kamu", "mau", "di", "ke", "sama", "me",
	"you", "are", "the", "it", "now", "more", "your", "ur", "u", "r", "and", "to", "sini", "aja", "sih", "deh", "kalau",
	"kalo", "if", "ayo", "in", "up", "for", "a", "is", "do", "what", "how", "lets", "let", "go", "ada", "orang",
	"mana", "dimana", "ga", "gak", "tidak", "bisa", "ready", "no", "home", "out", "away", "kerja", "tidur", "pergi",
	"still", "kamar", "kos", "kost", "kosan", "an", "s", "ka", "call", "video", "chat", "hot", "plus", "time", "short",
	"down", "move", "pake", "pakai", "tanpa", "nggak", "terima", "open", "mu", "belum", "udah", "semua", "semuanya", "bawah", "turun",
	"sudah", "masih", "baru", "besok", "habis", "abis", "pulang", "anak", "cukup", "punya", "blm", "tugas", "pr",
	"mama", "papa", "ortu", "after", "atau", "berangkat", "seragam", "dibawah", "under", "below", "not", "yet", "im",
})

// anchorStep picks the step of a phrase that is cheapest to pre-check: a step without
// stop words if there is one, then the
// fewest words, then the longest shortest word ("pulang|baru ... sekolah" → "sekolah").
func anchorStep(p pattern) int {
	best, bestStop := -1, true
	minLen := func(st step) int {
		m := 1 << 30
		for _, w := range st.words {
			m = min(m, len(w))
		}
		return m
	}
	for k, st := range p.steps {
		stop := false
		for _, w := range st.words {
			stop = stop || anchorStop[w]
		}
		better := best < 0 ||
			bestStop && !stop ||
			bestStop == stop && (len(st.words) < len(p.steps[best].words) ||
				len(st.words) == len(p.steps[best].words) && minLen(st) >= minLen(p.steps[best]))
		if better {
			best, bestStop = k, stop
		}
	}
	return best
}

// buildAnchors collects the words the Directive rules need.
func buildAnchors() map[string]bool {
	m := map[string]bool{}
	addW := func(w string) {
		for _, f := range strings.Fields(w) {
			m[collapse(f)] = true
		}
	}
	addPhrases := func(groups []cueGroup) {
		for _, g := range groups {
			for _, ph := range g.phrases {
				p := parsePhrase(ph)
				best := anchorStep(p)
				for _, w := range p.steps[best].words {
					if strings.HasSuffix(w, "*") {
						panic("text: prefix words are not allowed in Directive tables: " + ph)
					}
					addW(w)
				}
			}
		}
	}
	addPhrases(directivePhrases)
	addPhrases(ageQuestionPhrases)
	addPhrases(minorGroups)
	for _, v := range directiveVerbs {
		for _, w := range v.verbs {
			addW(w)
		}
	}
	for _, l := range [][]string{contactNouns, numberNouns, giftWords, {"line"}, aloneWords, ageWords, schoolLevels, schoolLevelPhrase, juniorLevels, {"sd", "kelas", "grade", "grado"}, {"tahun", "thn", "taun", "thun", "taon", "anyos", "yo", "years", "year", "yrs", "yr", "ako"}} {
		for _, w := range l {
			addW(w)
		}
	}
	for _, w := range ageAskWords {
		addW(w)
	}
	return m
}
