// Package text reads the words people write on a live-streaming platform (chat lines,
// feed posts, ads, bios and direct messages) and turns them into the named cues the
// detectors weigh: the lures and the legitimacy marks of a job ad (ParseRecruitment),
// chat that directs a host to undress, perform or go private (Directive), and hints that
// a speaker or the person addressed is a minor (AgeCues). Normalize is the shared
// folding step: case, diacritics, leetspeak, spaced-out letters and repeated letters.
//
// The package must stay pure: no I/O, no goroutines, no clock, no logging, no state
// beyond the read-only cue tables built at start-up, and it must not keep the texts it
// reads. It never decides anything on its own: every cue is weak alone (DOMAIN.md,
// "each alone is weak"); the detectors combine cues with schedule, place and money
// evidence on linked accounts.
//
// The word lists live in tables.go, grouped by cue with the reason for each group, so
// that a trust & safety analyst can extend them without touching the matching code.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds text for matching and returns space-separated tokens.
//
//   - Letters are lower-cased, decomposed (NFKD) and stripped of combining marks, so
//     "Gájì", "ＧＡＪＩ" and "𝐠𝐚𝐣𝐢" all become "gaji"; zero-width and other format
//     characters are dropped so they cannot split a word; letters that look Latin
//     but that NFKD keeps (Cyrillic, Greek and Armenian twins, Latin small capitals
//     "ʙᴜᴋᴀ", dotless ı) are mapped to their Latin twins (confusables).
//   - Leetspeak inside words becomes letters: 0→o, 1→i or l, 3→e, 4→a, 5→s, 7→t, 8→b,
//     @→a, $→s. A digit between letters is always converted ("g4ji", "l0wongan"); a digit
//     at the start or end of a word only when the result is a word of the cue tables
//     ("1owongan", "g4j1"). Otherwise digits stay digits: pure numbers ("2000000",
//     "2.000.000", "16-20", "08.00-17.00", "21+") keep their inner separators and
//     numbers glued to a unit keep the unit ("2jt", "2,5jt", "150rb", "16yo"); other
//     letter-digit mixes are split ("usia16" → "usia 16", "rp5.000.000" → "rp
//     5.000.000").
//   - Emoji, symbols and punctuation become spaces; an apostrophe inside a word is
//     dropped ("i'm" → "im"); "$" before a number becomes the token "usd" and "₱" the
//     token "php", so amounts keep their currency.
//   - Runs of three or more single characters are joined ("l o w o n g a n", "g.a.j.i",
//     "g-a-j-i" → one word); a job word glued to the next word is split again
//     ("lowongankerja", "#lokerjakarta" → "loker jakarta").
//   - Letters repeated three or more times are squeezed to one ("gajiii" → "gaji"), or to
//     two when only the doubled form is a table word ("freeee" → "free"). Doubled
//     letters are kept, because Indonesian needs them ("kebanggaan", "maaf", "saat"),
//     unless the word is not in the tables and the undoubled form is a table word of at
//     least four letters ("gajii" → "gaji", "shoow" → "show").
//
// Normalize is idempotent, and its result has no leading, trailing or double spaces.
func Normalize(s string) string {
	toks := tokenize(s)
	n := 0
	for _, t := range toks {
		n += len(t.s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.s)
	}
	return b.String()
}

// tok is one token of normalised text. end records the strongest clause punctuation
// that followed it in the original text: '?' for a question mark, '.' for other
// sentence ends (. ! ; newline), ',' for a comma or colon, 0 for none. AgeCues uses it
// to tell "masih sekolah?" from "aku masih sekolah".
type tok struct {
	s   string
	end byte
}

// tokenize is Normalize before the tokens are joined.
func tokenize(s string) []tok {
	if toks, ok := tokenizePlain(s); ok {
		return toks
	}
	return tokenizeRunes(s)
}

// tokenizePlain is tokenize for the common chat line: ASCII letters and punctuation
// only, no digits and no leet symbols. Its words are slices of one lower-cased copy.
func tokenizePlain(s string) ([]tok, bool) {
	words := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf, '0' <= c && c <= '9', c == '@' || c == '$' || c == '\'' || c == '`':
			return nil, false
		case isASCIILetter(c) && (i == 0 || !isASCIILetter(s[i-1])):
			words++
		}
	}
	lower := strings.ToLower(s)
	z := tokenizer{toks: make([]tok, 0, words)}
	for i := 0; i < len(lower); {
		if !isASCIILetter(lower[i]) {
			z.mark(rune(lower[i]))
			i++
			continue
		}
		j, double := i+1, false
		for j < len(lower) && isASCIILetter(lower[j]) {
			double = double || lower[j] == lower[j-1]
			j++
		}
		w := lower[i:j]
		if double {
			w = squeezeWord([]rune(w))
		}
		z.emit(w)
		i = j
	}
	z.post()
	return z.toks, true
}

// tokenizeRunes is tokenize for any text.
func tokenizeRunes(s string) []tok {
	rs := fold(s)
	z := tokenizer{toks: make([]tok, 0, len(rs)/5+2)}
	n := len(rs)
	for i := 0; i < n; i++ {
		r := rs[i]
		if isWord(r) {
			z.cur = append(z.cur, r)
			continue
		}
		var prev, next rune
		if len(z.cur) > 0 {
			prev = z.cur[len(z.cur)-1]
		}
		if i+1 < n {
			next = rs[i+1]
		}
		switch r {
		case '\'', '’', '‘', '`', 'ʼ', '´':
			// isApostrophe lists the same runes for Directive's pre-check.
			if isLetter(prev) && isLetter(next) {
				continue // i'm, don't, ka'bar: one word
			}
		case '.', ',', ':':
			if isDigit(prev) && isDigit(next) {
				z.cur = append(z.cur, r) // 2.000.000, 2,5, 20:00
				continue
			}
		case '-', '‐', '‑', '–', '—', '−':
			if isDigit(prev) && isDigit(next) {
				z.cur = append(z.cur, '-') // 16-20, 5-7jt
				continue
			}
		case '+':
			if isDigit(prev) && !isWord(next) {
				z.cur = append(z.cur, '+') // 21+, 17+
				continue
			}
		case '@':
			if isLetter(next) || (isLetter(prev) && isWord(next)) {
				z.cur = append(z.cur, '@') // g@ji; a leading @ of a mention is dropped later
				continue
			}
		case '$':
			if isDigit(next) && !isLetter(prev) {
				z.flush()
				z.emit("usd")
				continue
			}
			if isLetter(next) || (isLetter(prev) && isWord(next)) {
				z.cur = append(z.cur, '$')
				continue
			}
		case '₱':
			z.flush()
			z.emit("php")
			continue
		}
		z.flush()
		z.mark(r)
	}
	z.flush()
	z.post()
	return z.toks
}

type tokenizer struct {
	toks []tok
	cur  []rune
}

func (z *tokenizer) emit(s string) { z.toks = append(z.toks, tok{s: s}) }

func (z *tokenizer) flush() {
	if len(z.cur) == 0 {
		return
	}
	plain := true
	for _, r := range z.cur {
		if numeric(r) {
			plain = false
			break
		}
	}
	if plain {
		z.emit(squeezeWord(z.cur)) // the common case: a word of letters
	} else {
		for _, p := range processRaw(z.cur) {
			z.emit(p)
		}
	}
	z.cur = z.cur[:0]
}

// mark records clause punctuation on the last token.
func (z *tokenizer) mark(r rune) {
	if len(z.toks) == 0 {
		return
	}
	t := &z.toks[len(z.toks)-1]
	switch r {
	case '?', '¿', '？':
		t.end = '?'
	case '.', '!', ';', '\n', '…', '¡', '。', '！':
		if t.end != '?' {
			t.end = '.'
		}
	case ',', ':', '、', '，':
		if t.end == 0 {
			t.end = ','
		}
	}
}

// post joins spaced-out letters and splits glued job words.
func (z *tokenizer) post() {
	toks := z.toks
	hasSingle := false
	for _, t := range toks {
		if isSingle(t.s) {
			hasSingle = true
			break
		}
	}
	if hasSingle {
		out := make([]tok, 0, len(toks))
		for i := 0; i < len(toks); {
			j, letters := i, 0
			for j < len(toks) && isSingle(toks[j].s) {
				if c, _ := utf8.DecodeRuneInString(toks[j].s); !isDigit(c) {
					letters++
				}
				j++
			}
			if j-i >= 3 && letters >= 2 && letters*2 >= j-i {
				var rs []rune
				for _, t := range toks[i:j] {
					rs = append(rs, []rune(t.s)...)
				}
				ps := processRaw(rs)
				for k, p := range ps {
					t := tok{s: p}
					if k == len(ps)-1 {
						t.end = toks[j-1].end
					}
					out = append(out, t)
				}
				i = j
				continue
			}
			if j == i {
				j++
			}
			out = append(out, toks[i:j]...)
			i = j
		}
		toks = out
	}
	var out []tok
	for i, t := range toks {
		ps := splitCompound(t.s)
		if ps == nil {
			if out != nil {
				out = append(out, t)
			}
			continue
		}
		if out == nil {
			out = append(make([]tok, 0, len(toks)+2), toks[:i]...)
		}
		for k, p := range ps {
			nt := tok{s: p}
			if k == len(ps)-1 {
				nt.end = t.end
			}
			out = append(out, nt)
		}
	}
	if out != nil {
		toks = out
	}
	z.toks = toks
}

// isSingle: a one-character token that may be part of a spaced-out word.
func isSingle(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) {
		return false
	}
	return isLetter(r) || leetLetter(r, false) != 0
}

// fold lower-cases, decomposes and strips marks and format characters, rune by rune.
func fold(s string) []rune {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	out := make([]rune, 0, len(s))
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, rune(c))
		}
		return out
	}
	if !utf8.ValidString(s) {
		// The normaliser may swallow the character after an invalid byte.
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for _, r := range norm.NFKD.String(s) {
		out = foldRune(out, r, 0)
	}
	return out
}

func foldRune(out []rune, r rune, depth int) []rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(out, r)
	}
	if unicode.IsMark(r) || unicode.Is(unicode.Cf, r) {
		return out
	}
	l := unicode.ToLower(r)
	if c, ok := confusables[l]; ok {
		return append(out, c)
	}
	if l != r && depth < 2 {
		// A lower-case letter may decompose where its capital did not.
		if d := norm.NFKD.String(string(l)); d != string(l) {
			for _, x := range d {
				out = foldRune(out, x, depth+1)
			}
			return out
		}
	}
	return append(out, l)
}

// confusables maps letters that look Latin but that NFKD leaves alone, used to dodge
// filters: Cyrillic and Greek twins ("gаji" with a Cyrillic а), Latin small capitals
// ("ʙᴜᴋᴀ", "ɢᴀᴊɪ": the "small caps" fonts of nickname generators), dotless and
// other IPA letters, and a few Armenian ones. Only look-alikes, never
// transliteration: a word of another script that is not made to look Latin keeps
// its letters, and a folded word must still pass the cue rules in context, so
// "ʙᴜᴋᴀ ʟᴀᴘᴀᴋ" is a shop opening as "buka lapak" is.
var confusables = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p',
	'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd',
	'ɡ': 'g', 'ɑ': 'a', 'ο': 'o', 'α': 'a', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'τ': 't', 'ρ': 'p',
	'υ': 'u', 'χ': 'x', 'ε': 'e', 'β': 'b', 'η': 'n', 'ѵ': 'v', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w',
	'һ': 'h', 'ԍ': 'g', 'ꙇ': 'i',
	// Latin small capitals (IPA and phonetic extensions, Latin Extended-D).
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i',
	'ᴊ': 'j', 'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ꞯ': 'q', 'ʀ': 'r',
	'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z',
	// Dotless and IPA letters.
	'ı': 'i', 'ȷ': 'j', 'ɩ': 'i', 'ǀ': 'l', 'ɒ': 'a', 'ɛ': 'e',
	// Armenian letters that pass for Latin ones.
	'օ': 'o', 'ս': 'u', 'հ': 'h', 'ո': 'n', 'ց': 'g',
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', '`', 'ʼ', '´':
		return true
	}
	return false
}

// isLetter: letters of any script, and digits of scripts other than ASCII (kept, never
// parsed as numbers).
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isWord(r rune) bool { return isDigit(r) || isLetter(r) }

// numeric: runes of the digit class inside a raw token: ASCII digits, the separators
// kept between digits, and the leet symbols.
func numeric(r rune) bool {
	switch r {
	case '.', ',', ':', '-', '+', '@', '$':
		return true
	}
	return isDigit(r)
}

// leetLetter returns the letter a leet character stands for, 0 if none. ell picks "l"
// rather than "i" for "1".
func leetLetter(r rune, ell bool) rune {
	switch r {
	case '0':
		return 'o'
	case '1':
		if ell {
			return 'l'
		}
		return 'i'
	case '3':
		return 'e'
	case '4', '@':
		return 'a'
	case '5', '$':
		return 's'
	case '7':
		return 't'
	case '8':
		return 'b'
	}
	return 0
}

type seg struct {
	num bool
	rs  []rune
}

func segments(rs []rune) []seg {
	var out []seg
	for i := 0; i < len(rs); {
		j, num := i, numeric(rs[i])
		for j < len(rs) && numeric(rs[j]) == num {
			j++
		}
		out = append(out, seg{num: num, rs: rs[i:j]})
		i = j
	}
	return out
}

// leetSeg: a short digit run made only of leet characters.
func leetSeg(s seg) bool {
	if !s.num || len(s.rs) > 3 {
		return false
	}
	for _, r := range s.rs {
		if leetLetter(r, false) == 0 {
			return false
		}
	}
	return true
}

// convert rewrites the chosen digit segments as letters, trying "1"→"i" and then
// "1"→"l"; it returns the first variant that is a table word, or the "i" variant and
// false.
func convert(segs []seg, which func(k int) bool) (string, bool) {
	var first string
	for _, ell := range [2]bool{false, true} {
		var b []rune
		for k, s := range segs {
			if s.num && which(k) {
				for _, r := range s.rs {
					b = append(b, leetLetter(r, ell))
				}
			} else {
				b = append(b, s.rs...)
			}
		}
		w := squeezeWord(b)
		if inVocab(w) || (!hasDigitRune(w) && allVocab(splitCompound(w))) {
			return w, true
		}
		if !ell {
			first = w
		}
	}
	return first, false
}

func allVocab(ws []string) bool {
	for _, w := range ws {
		if !inVocab(w) {
			return false
		}
	}
	return len(ws) > 0
}

func hasDigitRune(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(rune(s[i])) || s[i] == '@' || s[i] == '$' {
			return true
		}
	}
	return false
}

// processRaw turns one raw token (letters, digits, kept separators, leet symbols) into
// output tokens. See Normalize for the rules. Each output token is a fixed point (it
// reads the same when processed again), which makes Normalize idempotent.
func processRaw(rs []rune) []string {
	return fixRaw(processOnce(rs), 0)
}

func fixRaw(ps []string, depth int) []string {
	var out []string
	for i, p := range ps {
		again := []string{p}
		if hasDigitRune(p) && depth < 4 {
			again = processOnce([]rune(p))
		}
		if len(again) == 1 && again[0] == p {
			if out != nil {
				out = append(out, p)
			}
			continue
		}
		if out == nil {
			out = append([]string{}, ps[:i]...)
		}
		out = append(out, fixRaw(again, depth+1)...)
	}
	if out == nil {
		return ps
	}
	return out
}

func processOnce(rs []rune) []string {
	hasNum, hasLetter := false, false
	for _, r := range rs {
		if numeric(r) {
			hasNum = true
		} else {
			hasLetter = true
		}
	}
	if !hasNum {
		return []string{squeezeWord(rs)}
	}
	if !hasLetter {
		return []string{string(rs)}
	}
	segs := segments(rs)
	allLeet := true
	for _, s := range segs {
		if s.num && !leetSeg(s) {
			allLeet = false
		}
	}
	// 1. The whole token is a leet spelling of a table word: "1owongan", "g4j1", "h0st".
	if allLeet {
		if w, ok := convert(segs, func(int) bool { return true }); ok {
			return []string{w}
		}
	}
	// 2. Peel amounts glued to the end of a word: "gaji5jt", "g4ji5jt" (in one pass, so
	// that "a5jt5jt5jt..." stays linear).
	k := len(segs)
	var tail []string
	for k >= 3 && segs[k-2].num && !segs[k-1].num {
		u := string(segs[k-1].rs)
		if !(strongUnits[u] || units[u] && !leetSeg(segs[k-2])) {
			break
		}
		d := trimSeparators(withoutSymbols(segs[k-2].rs))
		if len(d) == 0 || !isDigit(d[len(d)-1]) {
			break
		}
		tail = append(tail, string(d)+u)
		k -= 2
	}
	if tail != nil {
		var head []rune
		for _, s := range segs[:k] {
			head = append(head, s.rs...)
		}
		out := processRaw(head)
		for i := len(tail) - 1; i >= 0; i-- {
			out = append(out, tail[i])
		}
		return out
	}
	// 3. Digits between letters are leet: "l0wongan2024" → "lowongan" "2024".
	interior := func(k int) bool { return k > 0 && k < len(segs)-1 && leetSeg(segs[k]) }
	anyInterior := false
	for k := range segs {
		if interior(k) {
			anyInterior = true
		}
	}
	if anyInterior {
		w, _ := convert(segs, interior)
		rs2 := []rune(w)
		if !hasDigitRune(w) {
			return []string{w}
		}
		return processRaw(rs2)
	}
	// 4. Split letters from numbers, keeping a unit on its number ("2jt", "16yo").
	var out []string
	for k := 0; k < len(segs); k++ {
		s := segs[k]
		if !s.num {
			out = append(out, squeezeWord(s.rs))
			continue
		}
		d := trimSeparators(withoutSymbols(s.rs))
		if len(d) == 0 {
			continue
		}
		if k+1 < len(segs) && units[string(segs[k+1].rs)] && isDigit(d[len(d)-1]) {
			out = append(out, string(d)+string(segs[k+1].rs))
			k++
			continue
		}
		out = append(out, string(d))
	}
	return out
}

func withoutSymbols(rs []rune) []rune {
	var d []rune
	for _, r := range rs {
		if r != '@' && r != '$' {
			d = append(d, r)
		}
	}
	return d
}

// trimSeparators drops separators that lost the digits around them when leet symbols
// were removed, so the token reads the same on a second pass.
func trimSeparators(d []rune) []rune {
	for len(d) > 0 && !isDigit(d[0]) {
		d = d[1:]
	}
	for len(d) > 0 && !isDigit(d[len(d)-1]) && !(d[len(d)-1] == '+' && len(d) > 1 && isDigit(d[len(d)-2])) {
		d = d[:len(d)-1]
	}
	// Inner separators must sit between digits.
	out := d[:0:0]
	for i, r := range d {
		if !isDigit(r) && r != '+' && (i == 0 || i == len(d)-1 || !isDigit(d[i-1]) || !isDigit(d[i+1])) {
			continue
		}
		if r == '+' && i != len(d)-1 {
			continue
		}
		out = append(out, r)
	}
	return out
}

// squeezeWord squeezes letter runs; see Normalize.
func squeezeWord(rs []rune) string {
	long, double := false, false
	for i := 1; i < len(rs); i++ {
		if rs[i] == rs[i-1] && isLetter(rs[i]) {
			double = true
			if i >= 2 && rs[i] == rs[i-2] {
				long = true
				break
			}
		}
	}
	w := string(rs)
	if !double {
		return w
	}
	if inVocab(w) {
		return w // "sss" (Philippine social security) stays
	}
	if long {
		w = squeezeRuns(rs, 3, 1)
		if !inVocab(w) {
			if w2 := squeezeRuns(rs, 3, 2); inVocab(w2) {
				w = w2
			}
		}
	}
	if !inVocab(w) {
		// Doubled letters of emphasis ("gajii", "shoow"): undouble only towards a table
		// word of four letters or more, so "saat" does not become "sat".
		if d := squeezeRuns([]rune(w), 2, 1); d != w && utf8.RuneCountInString(d) >= 4 && inVocab(d) {
			w = d
		}
	}
	return w
}

// squeezeRuns rewrites every run of at least min equal letters as keep letters.
func squeezeRuns(rs []rune, min, keep int) string {
	out := make([]rune, 0, len(rs))
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		n := j - i
		if n >= min && isLetter(rs[i]) {
			n = keep
		}
		for k := 0; k < n; k++ {
			out = append(out, rs[i])
		}
		i = j
	}
	return string(out)
}

// splitCompound splits a word that starts with a job head glued to another word
// ("lowongankerja", "lokerjakarta", "hiringnow"); nil if it does not apply. It runs in
// time linear in the word, however long.
func splitCompound(w string) []string {
	if !compoundable(w) || hasDigitRune(w) {
		return nil
	}
	var out []string
	for compoundable(w) {
		h := ""
		for _, c := range compoundHeads {
			if strings.HasPrefix(w, c) && atLeastRunes(w[len(c):], 3) {
				h = c
				break
			}
		}
		if h == "" {
			break
		}
		out = append(out, h)
		w = squeezeShort(w[len(h):])
	}
	if out == nil {
		return nil
	}
	return append(out, w)
}

// maxWordLen bounds the table words: longer tokens skip the vocabulary lookups.
const maxWordLen = 40

func compoundable(w string) bool {
	return len(w) >= 7 && !(len(w) <= maxWordLen && inVocab(w))
}

// squeezeShort is squeezeWord for a token that is already squeezed as part of a longer
// one: only a short token can still change (towards a table word).
func squeezeShort(w string) string {
	if len(w) > maxWordLen {
		return w
	}
	return squeezeWord([]rune(w))
}

func atLeastRunes(s string, n int) bool {
	for range s {
		n--
		if n <= 0 {
			return true
		}
	}
	return n <= 0
}
