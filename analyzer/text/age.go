package text

import (
	"strconv"
	"strings"
)

// AgeCueNames are the names AgeCues reports, in order.
//
//	school_grade  a school year: "kelas 11", "kelas 2 SMA", "kelas XI", "grade 10", "10th grade"
//	school_level  junior or senior high school: "anak SMP", "aku SMA", "high school", "baru lulus SMP"
//	in_school     "masih sekolah", "pulang sekolah", "still in school"
//	student       a school pupil: "pelajar", "siswi", "murid"
//	age_stated    an age under 18: "16 tahun", "umur 15", "I'm 15", "16yo", "15 y/o", "15 na ako"
//	teen_word     "abg", "bocil", "remaja", "teen", "underage", "belum punya KTP"
//	age_question  asks the age or school of someone: "umur berapa", "how old", "masih sekolah?"
var AgeCueNames = []string{"school_grade", "school_level", "in_school", "student", "age_stated", "teen_word", "age_question"}

var (
	firstSet        = setOf(ageFirstPerson)
	durationSet     = setOf(durationWords)
	levelSet        = setOf(schoolLevels)
	juniorSet       = setOf(juniorLevels)
	schoolNegSet    = setOf(schoolNegators)
	sdContextSet    = setOf(sdContext)
	ageAfterNumSet  = setOf(ageUnits, []string{"na", "pa", "and", "dan", "ya", "kak", "lho", "loh", "kok", "nih", "sih", "only", "lang", "ako", "old", "this", "next", "turning", "tahun", "thn", "baru"})
	durationAfter   = setOf([]string{"lalu", "yang", "lagi", "silam", "pengalaman", "kerja", "bekerja", "terakhir", "mendatang", "ago", "experience", "of", "in", "kedepan", "ke", "menikah", "nikah", "pacaran", "berdiri", "tinggal", "merantau", "jualan", "live", "streaming"})
	ageLeadFillers  = setOf([]string{"aku", "saya", "ku", "ko", "mo", "ni", "nya", "sekarang", "skrg", "baru", "masih", "udah", "sudah", "now", "is", "ko", "ane", "gw", "gue", "ak"})
	romanGrades     = map[string]int{"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10, "xi": 11, "xii": 12}
	kahStems        = setOf([]string{"apa", "siapa", "dimana", "mana", "berapa", "kapan", "bisa", "masih", "sudah", "udah", "benar", "betul", "beneran"})
	questionOpeners = setOf([]string{"are", "r", "do", "is", "apakah", "did", "have", "can"})
)

// AgeCues finds text cues that the speaker or the person addressed is a minor, and
// questions about someone's age or school. cues lists names from AgeCueNames; minor
// is true when a cue states it (in a statement, not a question): "aku kelas 11" is
// minor, "kelas berapa?" and "masih sekolah?" are only "age_question".
//
// Education requirements and memories are not minors: "min SMA", "lulusan SMA", "guru
// SMP", "jaman SMA dulu". An age range in an ad ("usia 16-20") is left to
// ParseRecruitment.
func AgeCues(s string) (cues []string, minor bool) {
	set, minor, _ := ageScan(scanChat(tokenize(s)), false)
	for i, name := range AgeCueNames {
		if set.has(i) {
			cues = append(cues, name)
		}
	}
	return cues, minor
}

// ageScan is AgeCues on a scanned text; question reports an age question. unitOnly
// skips the ages stated without an age word or unit ("aku 15", "15 y o", "15 pa
// lang"): Directive uses it so that its pre-check can rely on age words alone.
func ageScan(cs *chatScan, unitOnly bool) (set cueSet, minor, question bool) {
	qIdx := len(AgeCueNames) - 1
	toks := cs.toks
	clauses(toks, func(a, b int) {
		found := clauseMinorCues(cs, a, b, unitOnly)
		for _, h := range cs.hits {
			if h.start < a || h.start >= b {
				continue
			}
			switch name := chatM.cues[h.cue]; name {
			case "age_question":
				set.add(qIdx)
			case "level":
				if !schoolNegated(toks[a:b], h.start-a, toks[h.start].s) {
					found.add(indexOf(AgeCueNames, "school_level"))
				}
			case "in_school", "student", "teen_word":
				found.add(indexOf(AgeCueNames, name))
			}
		}
		if isQuestion(cs, a, b) {
			if found != 0 {
				set.add(qIdx)
				return
			}
			for i := a; i < b; i++ {
				if cs.fl[i]&fAsk != 0 {
					set.add(qIdx)
					break
				}
			}
			return
		}
		if found != 0 {
			set |= found
			minor = true
		}
	})
	return set, minor, set.has(qIdx)
}

// isQuestion: the clause [a, b) ends with "?", contains a question word, opens like an
// English question, or ends in a tag ("masih sekolah gak", "kamu masih sekolah ya").
func isQuestion(cs *chatScan, a, b int) bool {
	if b <= a {
		return false
	}
	c := cs.toks[a:b]
	if c[len(c)-1].end == '?' {
		return true
	}
	for i, t := range c {
		if cs.fl[a+i]&fQuestion != 0 || strings.HasSuffix(t.s, "kah") && kahStems[strings.TrimSuffix(t.s, "kah")] {
			return true
		}
	}
	if questionOpeners[c[0].s] && len(c) > 1 && cs.fl[a+1]&fSecond != 0 {
		return true
	}
	last := c[len(c)-1].s
	if cs.fl[b-1]&fTag != 0 && len(c) > 1 {
		if last != "ya" && last != "yah" && last != "kan" {
			return true
		}
		for i := a; i < b-1; i++ {
			if cs.fl[i]&fSecond != 0 {
				return true
			}
		}
	}
	return false
}

// clauseMinorCues finds the minor cues of the clause [a, b) that are not phrases.
func clauseMinorCues(cs *chatScan, a, b int, unitOnly bool) cueSet {
	var set cueSet
	c := cs.toks[a:b]
	idx := func(name string) int { return indexOf(AgeCueNames, name) }
	for i, t := range c {
		w := t.s
		switch {
		case w == "kelas" || w == "grade" || w == "grado":
			if i+1 < len(c) {
				if g, ok := grade(c[i+1].s); ok && g >= 1 && g <= 12 {
					set.add(idx("school_grade"))
				}
			}
		case isNumber(w):
			num, unit := splitNum(w)
			if (unit == "th" || unit == "st" || unit == "nd" || unit == "rd") && i+1 < len(c) && c[i+1].s == "grade" {
				if n, err := strconv.Atoi(num); err == nil && n >= 1 && n <= 12 {
					set.add(idx("school_grade"))
				}
			}
			if statedMinorAge(c, i, unitOnly) {
				set.add(idx("age_stated"))
			}
		case cs.fl[a+i]&fAgeWord != 0:
			if j := ageNumberAfter(c, i); j > 0 {
				if n, ok := bareAge(c[j].s); ok && n >= 5 && n < 18 {
					set.add(idx("age_stated"))
				}
			}
		}
		if w == "sd" || cs.fl[a+i]&fLevel != 0 {
			if lv := levelAt(c, i); lv != "" && !schoolNegated(c, i, lv) {
				set.add(idx("school_level"))
			}
		}
	}
	return set
}

// grade reads a school year after "kelas"/"grade": "11", "2", "xi".
func grade(s string) (int, bool) {
	if g, ok := romanGrades[s]; ok {
		return g, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// levelAt returns the school level named at c[i] ("sma", "smp"...), "" if none.
func levelAt(c []tok, i int) string {
	w := c[i].s
	if w == "sd" {
		if (i > 0 && sdContextSet[c[i-1].s]) || (i+1 < len(c) && c[i+1].s == "kelas") {
			return w
		}
		return ""
	}
	if levelSet[w] {
		return w
	}
	for _, s := range suffixes[:3] { // smanya, smpku
		if strings.HasSuffix(w, s) && levelSet[w[:len(w)-len(s)]] {
			return w[:len(w)-len(s)]
		}
	}
	return ""
}

// schoolNegated: the level is an education requirement or a memory, unless it is
// "baru lulus SMP" (just finished junior high: 15).
func schoolNegated(c []tok, i int, level string) bool {
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		w := c[k].s
		if !schoolNegSet[w] {
			continue
		}
		if (w == "lulus" || w == "tamat" || w == "graduate") && juniorSet[level] && k > 0 && (c[k-1].s == "baru" || c[k-1].s == "just" || c[k-1].s == "abis" || c[k-1].s == "habis") {
			return false
		}
		return true
	}
	if i+1 < len(c) && (c[i+1].s == "dulu" || c[i+1].s == "days" || c[i+1].s == "teacher" || c[i+1].s == "graduate" || c[i+1].s == "friend" || c[i+1].s == "friends") {
		return true
	}
	return false
}

// ageNumberAfter returns the index of the number that follows an age word at c[i]
// ("umur 15", "umurku 15", "usia aku 16"), or 0.
func ageNumberAfter(c []tok, i int) int {
	for j := i + 1; j < len(c) && j <= i+3; j++ {
		if isNumber(c[j].s) {
			return j
		}
		if !ageLeadFillers[c[j].s] {
			return 0
		}
	}
	return 0
}

// bareAge reads a single age ("15", "15th", "15yo"), refusing ranges and decimals.
func bareAge(s string) (int, bool) {
	num, unit := splitNum(s)
	if unit != "" && !ageUnitSet[unit] {
		return 0, false
	}
	if strings.ContainsAny(num, ".,:-+") {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// statedMinorAge: the number at c[i] states an age under 18 ("16 tahun", "16yo", "15 y
// o", "aku 15", "i am 15", "15 na ako").
func statedMinorAge(c []tok, i int, unitOnly bool) bool {
	num, unit := splitNum(c[i].s)
	if strings.ContainsAny(num, ".,:-+") {
		return false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 5 || n >= 18 {
		return false
	}
	next := ""
	if i+1 < len(c) {
		next = c[i+1].s
	}
	after := ""
	if i+2 < len(c) {
		after = c[i+2].s
	}
	prev := ""
	if i > 0 {
		prev = c[i-1].s
	}
	firstPerson := firstSet[prev] || (prev == "am" && i > 1 && c[i-2].s == "i") || ageLeadFillers[prev] && i > 1 && firstSet[c[i-2].s]
	duration := durationSet[prev] || (i > 1 && durationSet[c[i-2].s])
	u := unit
	uAfter := after
	if u == "" {
		u = next
	} else {
		uAfter = next
	}
	switch u {
	case "yo", "anyos", "taon":
		return !duration
	case "y":
		return uAfter == "o" && !unitOnly
	case "yr", "yrs", "year", "years":
		return uAfter == "old" || firstPerson
	case "tahun", "thn", "taun", "thun":
		return !duration && !durationAfter[uAfter]
	case "th":
		return firstPerson && !unitOnly
	}
	if unit != "" || unitOnly {
		return false
	}
	if firstPerson {
		return next == "" || ageAfterNumSet[next]
	}
	// "15 na ako" (Tagalog: I am 15 now).
	return next == "na" && after == "ako" || next == "pa" && after == "lang"
}
