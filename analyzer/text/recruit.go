package text

import (
	"math"
	"strconv"
	"strings"
)

// HighPayIDR is the monthly pay, in rupiah, above which an offer counts as the
// "high_pay" lure: about twice a typical Indonesian regional minimum wage (UMK 2025
// ranges from about 2.2 to 5.4 million; most regions sit near 2-3 million). The
// Cirebon operators promised 5 million a month to girls who had answered a 2 million
// shop-assistant ad.
const HighPayIDR = 4_000_000

// HighPayPHP is the same threshold for offers in Philippine pesos: about twice a
// provincial minimum wage (roughly 12,000-17,000 pesos a month in 2025).
const HighPayPHP = 30_000

// Exchange rates used to report foreign amounts in Recruitment.PayIDR. They are fixed
// on purpose (mid-2025 rates, rounded): the analyzer is pure and runs on event time, and
// a few percent of drift does not move an amount across HighPayIDR.
const (
	PHPToIDR = 280
	USDToIDR = 16_000
)

// workDaysPerMonth turns a daily rate into a monthly one; hoursPerDay a rate per hour.
const (
	workDaysPerMonth = 26
	hoursPerDay      = 8
)

// Recruitment reads an ad, post, bio or DM.
type Recruitment struct {
	// Job: the text offers or asks about work ("lowongan", "dicari", "loker", "hiring",
	// "kerja", "gaji" ...).
	Job bool
	// Lures found, in the order of LureCues.
	Lures []string
	// Legit marks of a real employer found, in the order of LegitCues.
	Legit []string
	// MinAge and MaxAge are the age bounds the text asks for ("usia 16-20", "min usia
	// 21", "17+"); 0 when absent.
	MinAge, MaxAge int
	// PayIDR is the highest monthly pay offered, in rupiah, bonuses excluded: daily
	// rates are multiplied by 26, weekly by 4⅓, hourly by 8×26; pesos and dollars are
	// converted with PHPToIDR and USDToIDR. 0 when no amount is found.
	PayIDR int64
	// Score is the lure strength minus the legitimacy, in [0,1]; see ParseRecruitment.
	Score float64
}

// LureCues are the names Recruitment.Lures uses, strongest first.
var LureCues = []string{"young_age", "lodging", "coin_bonus", "pickup", "high_pay", "live_host", "night_work", "no_experience", "female_only", "vague_duties", "private_contact"}

// LegitCues are the names Recruitment.Legit uses.
var LegitCues = []string{"application_address", "adult_only", "normal_pay", "experience_required", "office_hours", "benefits"}

// Score weights, set by hand so that each Cirebon-style ad lands at 0.6 or more, a
// single strong lure in a DM ("Besok dijemput jam 7 malam") at 0.3 or more, and a real
// shop or agency ad below 0.3.
//
// Lures: a young age, lodging from the employer, a coin bonus and being fetched are
// what set a trafficking offer apart from an ordinary job; high pay, live hosting and
// night work are ordinary for streamers; the rest is common in any cheap job ad.
// Legitimacy: asking for adults only and giving an application address are the
// strongest marks of a real employer; minimum-wage pay is weak (the Cirebon bait ad
// offered 2,000,000, close to normal pay) so it never cancels a lure by itself.
var (
	lureWeight = map[string]float64{
		"young_age": 0.35, "lodging": 0.35, "coin_bonus": 0.30, "pickup": 0.30,
		"high_pay": 0.20, "live_host": 0.20, "night_work": 0.20,
		"no_experience": 0.15, "female_only": 0.15, "vague_duties": 0.15,
		"private_contact": 0.10,
	}
	// jobBonus is added when a text that offers a job also carries a lure.
	jobBonus    = 0.10
	legitWeight = map[string]float64{
		"adult_only": 0.40, "application_address": 0.25,
		"experience_required": 0.20, "office_hours": 0.20, "benefits": 0.20,
		"normal_pay": 0.10,
	}
)

var (
	recLureM  = compile(recruitLures...)
	recWeakM  = compile(recruitWeak...)
	recJobM   = compile(recruitJob...)
	recLegitM = compile(recruitLegit...)
	maleM     = compile(cueGroup{"male", maleWords})

	bonusSet     = setOf(bonusWords)
	coinSet      = setOf(coinWords)
	negationSet  = setOf(negations)
	payWordSet   = setOf(payWords)
	millionSet   = setOf(millionWords)
	thousandSet  = setOf(thousandWords)
	notMoneySet  = setOf(notMoney)
	priceSet     = setOf(priceWords)
	phSet        = setOf(phMarkers)
	periodOf     = periods()
	backPeriodOf = map[string]int{
		"harian": perDayK, "perhari": perDayK, "daily": perDayK, "arawan": perDayK,
		"mingguan": perWeekK, "perminggu": perWeekK, "weekly": perWeekK, "lingguhan": perWeekK,
		"bulanan": perMonthK, "perbulan": perMonthK, "monthly": perMonthK, "buwanan": perMonthK,
		"perjam": perHourK, "hourly": perHourK, "tahunan": perYearK, "yearly": perYearK, "annual": perYearK,
	}
)

const (
	perNoneK = iota
	perDayK
	perWeekK
	perMonthK
	perHourK
	perYearK
)

func periods() map[string]int {
	m := map[string]int{}
	for k, l := range map[int][]string{perDayK: perDay, perWeekK: perWeek, perMonthK: perMonth, perHourK: perHour, perYearK: perYear} {
		for _, w := range l {
			m[w] = k
		}
	}
	return m
}

// ParseRecruitment reads an ad, post, bio or DM for the lures of a trafficking job
// offer and the marks of a real one.
//
// Score = Σ lure weights (+0.1 when the text offers a job and has a lure) − Σ legit
// weights, clamped to [0,1]; the weights are in lureWeight and legitWeight. Some words
// ("kos", "mess", "dek", "host", "gampang") count only when the text offers a job or a
// pay amount (recruitWeak): alone they are everyday words.
func ParseRecruitment(s string) Recruitment {
	toks := tokenize(s)
	var r Recruitment
	var lures, legit cueSet

	jobs := recJobM.set(toks)
	offer := jobs.has(recJobM.id("offer"))
	r.Job = jobs != 0

	pay := parsePay(toks, r.Job)
	r.PayIDR = pay.maxIDR
	if offer || r.PayIDR > 0 {
		r.Job = true
		offer = true
	}

	addLure := func(name string) { lures.add(indexOf(LureCues, name)) }
	recLureM.find(toks, func(h hit) {
		name := recLureM.cues[h.cue]
		if name == "private_contact" && toks[h.start].s == "pm" && h.start > 0 && isNumber(toks[h.start-1].s) {
			return // "jam 5 pm"
		}
		addLure(name)
	})
	if offer {
		recWeakM.find(toks, func(h hit) { addLure(recWeakM.cues[h.cue]) })
	}
	if lures.has(indexOf(LureCues, "female_only")) && maleM.set(toks) != 0 {
		lures &^= 1 << uint(indexOf(LureCues, "female_only"))
	}

	r.MinAge, r.MaxAge = parseAges(toks)
	if r.MinAge > 0 && r.MinAge < 18 {
		addLure("young_age")
	}
	if _, minor, _ := ageScan(scanChat(toks), false); minor {
		addLure("young_age")
	}
	if pay.high {
		addLure("high_pay")
	}
	if hasAny(toks, bonusSet) && hasAny(toks, coinSet) {
		addLure("coin_bonus")
	}
	night, office := parseHours(toks)
	if night && (offer || r.Job) {
		addLure("night_work")
	}

	recLegitM.find(toks, func(h hit) {
		name := recLegitM.cues[h.cue]
		if name == "experience_required" && negated(toks, h.start) {
			return
		}
		legit.add(indexOf(LegitCues, name))
	})
	address, contactLink := scanAddresses(s)
	if address {
		legit.add(indexOf(LegitCues, "application_address"))
	}
	if contactLink {
		addLure("private_contact")
	}
	if hasPhone(toks) && !legit.has(indexOf(LegitCues, "application_address")) {
		addLure("private_contact") // a bare phone number and nowhere to apply
	}
	if r.MinAge >= 21 {
		legit.add(indexOf(LegitCues, "adult_only"))
	}
	if pay.normal {
		legit.add(indexOf(LegitCues, "normal_pay"))
	}
	if office {
		legit.add(indexOf(LegitCues, "office_hours"))
	}

	score := 0.0
	for i, name := range LureCues {
		if lures.has(i) {
			r.Lures = append(r.Lures, name)
			score += lureWeight[name]
		}
	}
	if r.Job && len(r.Lures) > 0 {
		score += jobBonus
	}
	for i, name := range LegitCues {
		if legit.has(i) {
			r.Legit = append(r.Legit, name)
			score -= legitWeight[name]
		}
	}
	r.Score = math.Round(math.Max(0, math.Min(1, score))*1000) / 1000
	return r
}

func hasAny(toks []tok, set map[string]bool) bool {
	for _, t := range toks {
		if inSet(set, t.s) {
			return true
		}
	}
	return false
}

// negated: one of the two tokens before i is a negation ("tanpa pengalaman", "no
// experience required").
func negated(toks []tok, i int) bool {
	for k := i - 1; k >= 0 && k >= i-2; k-- {
		if negationSet[toks[k].s] {
			return true
		}
	}
	return false
}

// isNumber: the token starts with a digit.
func isNumber(s string) bool { return s != "" && isDigit(rune(s[0])) }

// splitNum splits "2,5jt" into "2,5" and "jt".
func splitNum(s string) (num, unit string) {
	i := 0
	for i < len(s) && numeric(rune(s[i])) {
		i++
	}
	return s[:i], s[i:]
}

// parseNumber reads "2.000.000", "2,000,000", "2,5", "1.8", "5-7" (a range) and "21+".
// grouped reports thousands separators.
func parseNumber(num string) (vals []float64, grouped bool) {
	for _, part := range strings.Split(num, "-") {
		part = strings.TrimRight(part, "+")
		if part == "" {
			continue
		}
		groups := strings.FieldsFunc(part, func(r rune) bool { return r == '.' || r == ',' || r == ':' })
		if len(groups) == 0 {
			continue
		}
		thousands := len(groups) > 1
		for _, g := range groups[1:] {
			if len(g) != 3 {
				thousands = false
			}
		}
		var v float64
		var err error
		switch {
		case len(groups) == 1:
			v, err = strconv.ParseFloat(groups[0], 64)
		case thousands:
			grouped = true
			v, err = strconv.ParseFloat(strings.Join(groups, ""), 64)
		default:
			v, err = strconv.ParseFloat(strings.Join(groups[:len(groups)-1], "")+"."+groups[len(groups)-1], 64)
		}
		if err == nil && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	return vals, grouped
}

// phoneLike: an Indonesian or Philippine phone number ("0812...", "62812...", "0917...").
func phoneLike(num string) bool {
	d := strings.ReplaceAll(num, "-", "")
	for i := 0; i < len(d); i++ {
		if !isDigit(rune(d[i])) {
			return false
		}
	}
	return len(d) >= 9 && (d[0] == '0' || strings.HasPrefix(d, "62") || strings.HasPrefix(d, "63"))
}

// hasPhone finds a phone number, also when written in groups ("0812 3456 7890").
func hasPhone(toks []tok) bool {
	for i, t := range toks {
		num, unit := splitNum(t.s)
		if unit != "" || num == "" {
			continue
		}
		if phoneLike(num) {
			return true
		}
		if d := strings.ReplaceAll(num, "-", ""); len(d) >= 3 && (strings.HasPrefix(d, "08") || strings.HasPrefix(d, "62") || strings.HasPrefix(d, "09") || strings.HasPrefix(d, "63")) {
			for j := i + 1; j < len(toks) && j <= i+3; j++ {
				n, u := splitNum(toks[j].s)
				if u != "" || n == "" || strings.ContainsAny(n, ".,:") {
					break
				}
				d += strings.ReplaceAll(n, "-", "")
				if phoneLike(d) {
					return true
				}
			}
		}
	}
	return false
}

type payInfo struct {
	maxIDR       int64
	high, normal bool
}

type currency int

const (
	curNone currency = iota
	curIDR
	curPHP
	curUSD
)

func currencyWord(s string) currency {
	switch s {
	case "rp", "idr", "rupiah":
		return curIDR
	case "php", "peso", "pesos", "piso", "p":
		return curPHP
	case "usd", "dollar", "dollars", "dolar", "us":
		return curUSD
	}
	return curNone
}

// parsePay finds pay amounts; see Recruitment.PayIDR. Outside a job text (jobText
// false) an amount counts only next to a pay word or with a period ("/bulan"): "harga
// 50rb" in a shop post is a price.
func parsePay(toks []tok, jobText bool) payInfo {
	var pi payInfo
	ph := 0
	for _, t := range toks {
		if phSet[t.s] {
			ph++
		}
	}
	for i := range toks {
		num, unit := splitNum(toks[i].s)
		if num == "" || !isDigit(rune(num[0])) {
			continue
		}
		if phoneLike(num) {
			continue
		}
		next := i + 1
		if unit == "" && next < len(toks) && (millionSet[toks[next].s] || thousandSet[toks[next].s]) {
			unit = toks[next].s
			next++
		}
		mult := 1.0
		cur := curNone
		switch {
		case millionSet[unit]:
			mult = 1e6
		case thousandSet[unit]:
			mult = 1e3
		case unit != "":
			continue // 16yo, 10th, 8pm
		}
		if unit == "m" && !(i > 0 && (payWordSet[toks[i-1].s] || currencyWord(toks[i-1].s) != curNone)) {
			continue // "5m" is metres unless pay or a currency says otherwise
		}
		if next < len(toks) && notMoneySet[toks[next].s] {
			continue // "50 juta koin"
		}
		if i > 0 {
			cur = currencyWord(toks[i-1].s)
			if cur == curPHP && toks[i-1].s == "p" && !strings.ContainsAny(num, ".,") {
				cur = curNone // "p 5" is not obviously pesos
			}
		}
		if cur == curNone && next < len(toks) {
			if c := currencyWord(toks[next].s); c != curNone && toks[next].s != "p" && toks[next].s != "us" {
				cur = c
				next++
			}
		}
		vals, grouped := parseNumber(num)
		if len(vals) == 0 {
			continue
		}
		payCtx, bonus, price := false, false, false
		for k := i - 1; k >= 0 && k >= i-3; k-- {
			w := toks[k].s
			if payWordSet[w] || inSet(payWordSet, w) {
				payCtx = true
			}
			if priceSet[w] || inSet(priceSet, w) {
				price = true
			}
			if k >= i-2 && (w == "bonus" || w == "komisi" || w == "insentif" || w == "tip" || w == "tips" || w == "incentive" || w == "commission" || w == "target" || w == "tembus" || w == "capai") {
				bonus = true
			}
		}
		hi := vals[len(vals)-1]
		for _, v := range vals {
			hi = math.Max(hi, v)
		}
		money := mult > 1 || cur != curNone || (grouped && hi >= 10_000) || (payCtx && hi >= 100)
		if !money || bonus || price && !payCtx {
			continue
		}
		if cur == curNone {
			cur = curIDR
			if ph >= 2 && !(unit != "" && unit != "k" && unit != "m" && unit != "thousand" && unit != "million" && unit != "libo" && unit != "milyon") {
				cur = curPHP
			}
		}
		period := perNoneK
		for k := next; k < len(toks) && k <= next+2; k++ {
			w := toks[k].s
			if p, ok := periodOf[w]; ok {
				period = p
				break
			}
			if p, ok := backPeriodOf[w]; ok {
				period = p
				break
			}
			if w != "per" && w != "a" && w != "an" && w != "kada" && w != "sa" && w != "each" && w != "every" && w != "se" && w != "isang" {
				break
			}
		}
		if period == perNoneK {
			for k := i - 1; k >= 0 && k >= i-3; k-- {
				if p, ok := backPeriodOf[toks[k].s]; ok {
					period = p
					break
				}
			}
		}
		if !jobText && !payCtx && period == perNoneK {
			continue
		}
		for _, v := range vals {
			v *= mult
			if cur == curIDR && period == perNoneK && v >= 50_000 && v < 500_000 {
				period = perDayK // an unqualified 150rb is a day's pay
			}
			monthly := v
			switch period {
			case perDayK:
				monthly = v * workDaysPerMonth
			case perWeekK:
				monthly = v * 52 / 12
			case perHourK:
				monthly = v * hoursPerDay * workDaysPerMonth
			case perYearK:
				monthly = v / 12
			}
			idr := monthly
			high := false
			switch cur {
			case curPHP:
				idr = monthly * PHPToIDR
				high = monthly > HighPayPHP
			case curUSD:
				idr = monthly * USDToIDR
				high = idr > HighPayIDR
			default:
				high = monthly > HighPayIDR
			}
			if idr < 300_000 || idr > 1e12 {
				continue // not a wage: a fee, a price, or a number we misread
			}
			if high {
				pi.high = true
			}
			if int64(idr) > pi.maxIDR {
				pi.maxIDR = int64(idr)
			}
		}
	}
	pi.normal = pi.maxIDR > 0 && !pi.high
	return pi
}

// parseAges finds the age bounds an ad asks for; see Recruitment.MinAge.
func parseAges(toks []tok) (minAge, maxAge int) {
	set := func(lo, hi int) {
		if lo > 0 && (minAge == 0 || lo < minAge) {
			minAge = lo
		}
		if hi > 0 && hi > maxAge {
			maxAge = hi
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i].s
		if inSet(ageWordSet, t) {
			q := 0 // -1 max, +1 min
			for k := i - 1; k >= 0 && k >= i-2; k-- {
				if ageMinSet[toks[k].s] {
					q = 1
				} else if ageMaxSet[toks[k].s] {
					q = -1
				}
			}
			j := i + 1
			for ; j < len(toks) && j <= i+3 && !isNumber(toks[j].s); j++ {
				w := toks[j].s
				switch {
				case ageMinSet[w]:
					q = 1
				case ageMaxSet[w]:
					q = -1
				case w == "antara" || w == "between" || w == "at" || w == "range" || w == "limit" || w == "syarat" || w == "ko" || w == "mo" || w == "nya" || w == "ku":
				default:
					j = len(toks) // a word we do not know: not an age
				}
			}
			if j >= len(toks) {
				continue
			}
			if lo, hi, ok := ageAt(toks, j, q); ok {
				set(lo, hi)
			}
			continue
		}
		if !isNumber(t) {
			continue
		}
		// Ages without an age word: "16-20 tahun", "16-20yo", "21+", "min 21 tahun",
		// "girls 16-20".
		num, unit := splitNum(t)
		vals, _ := parseNumber(num)
		if len(vals) == 0 || strings.ContainsAny(num, ".,:") {
			continue
		}
		nextWord := ""
		if i+1 < len(toks) {
			nextWord = toks[i+1].s
		}
		if notMoneySet[nextWord] || millionSet[nextWord] || thousandSet[nextWord] || nextWord == "jam" || nextWord == "pm" || nextWord == "am" {
			continue
		}
		ageUnit := ageUnitSet[unit] || (unit == "" && (ageUnitSet[nextWord] || nextWord == "old"))
		if unit != "" && !ageUnitSet[unit] {
			continue
		}
		lo, hi := int(vals[0]), int(vals[len(vals)-1])
		if !plausibleAge(lo) || !plausibleAge(hi) {
			continue
		}
		switch {
		case len(vals) == 2 && lo < hi && (ageUnit || nearPerson(toks, i)):
			set(lo, hi)
		case len(vals) == 1 && strings.HasSuffix(num, "+") && lo >= 14 && lo <= 40:
			set(lo, 0)
		case len(vals) == 1 && plusAfter(toks, i) && !nearExperience(toks, i):
			set(lo, 0) // "16 pataas", "17 tahun ke atas"
		case len(vals) == 1 && ageUnit && i > 0 && ageMinSet[toks[i-1].s] && !nearExperience(toks, i):
			set(lo, 0)
		case len(vals) == 1 && ageUnit && i > 0 && ageMaxSet[toks[i-1].s] && !nearExperience(toks, i):
			set(0, lo)
		}
	}
	if maxAge > 0 && minAge > maxAge {
		maxAge = 0
	}
	return minAge, maxAge
}

var (
	ageWordSet = setOf(ageWords)
	ageUnitSet = setOf(ageUnits)
	ageMinSet  = setOf(ageMinQualifier)
	ageMaxSet  = setOf(ageMaxQualifier)
	ageJoinSet = setOf(ageRangeJoin)
	agePlusSet = setOf(agePlusWords)
	personSet  = setOf(personWords)
)

func plausibleAge(n int) bool { return n >= 10 && n <= 80 }

// plusAfter: "and above" follows the number at i, after an optional age unit.
func plusAfter(toks []tok, i int) bool {
	k := i + 1
	if k < len(toks) && ageUnitSet[toks[k].s] {
		k++
	}
	if k >= len(toks) {
		return false
	}
	switch w := toks[k].s; {
	case w == "keatas" || w == "pataas" || w == "above" || w == "plus":
		return true
	case (w == "ke" || w == "and" || w == "or") && k+1 < len(toks):
		n := toks[k+1].s
		return n == "atas" || n == "above" || n == "older" || n == "up"
	}
	return false
}

func nearPerson(toks []tok, i int) bool {
	for k := i - 3; k <= i+3; k++ {
		if k >= 0 && k < len(toks) && k != i && inSet(personSet, toks[k].s) {
			return true
		}
	}
	return false
}

func nearExperience(toks []tok, i int) bool {
	for k := i - 4; k < i; k++ {
		if k >= 0 && (strings.HasPrefix(toks[k].s, "pengalaman") || strings.HasPrefix(toks[k].s, "experience") || toks[k].s == "exp") {
			return true
		}
	}
	return false
}

// ageAt reads the age expression that starts at toks[j] after an age word; q is the
// qualifier seen (+1 minimum, -1 maximum).
func ageAt(toks []tok, j, q int) (lo, hi int, ok bool) {
	num, unit := splitNum(toks[j].s)
	if unit != "" && !ageUnitSet[unit] {
		return 0, 0, false
	}
	vals, _ := parseNumber(num)
	if len(vals) == 0 || strings.ContainsAny(num, ".,:") {
		return 0, 0, false
	}
	a := int(vals[0])
	if !plausibleAge(a) {
		return 0, 0, false
	}
	if len(vals) == 2 {
		b := int(vals[1])
		if plausibleAge(b) && b > a {
			return a, b, true
		}
		return 0, 0, false
	}
	if strings.HasSuffix(num, "+") {
		return a, 0, true
	}
	k := j + 1
	if k < len(toks) && ageUnitSet[toks[k].s] {
		k++
		if k < len(toks) && toks[k].s == "old" {
			k++
		}
	}
	if k < len(toks) {
		w := toks[k].s
		switch {
		case agePlusSet[w] || w == "ke" && k+1 < len(toks) && toks[k+1].s == "atas" || w == "and" && k+1 < len(toks) && agePlusSet[toks[k+1].s]:
			return a, 0, true
		case w == "kebawah" || w == "below" || w == "pababa" || w == "younger" || w == "ke" && k+1 < len(toks) && toks[k+1].s == "bawah":
			return 0, a, true
		case ageJoinSet[w] || isNumber(w):
			m := k
			for m < len(toks) && m <= k+2 && ageJoinSet[toks[m].s] {
				m++
			}
			if m < len(toks) {
				n2, u2 := splitNum(toks[m].s)
				v2, _ := parseNumber(n2)
				if (u2 == "" || ageUnitSet[u2]) && len(v2) == 1 && !strings.ContainsAny(n2, ".,:") {
					if b := int(v2[0]); plausibleAge(b) && b > a {
						return a, b, true
					}
				}
			}
		}
	}
	switch q {
	case 1:
		return a, 0, true
	case -1:
		return 0, a, true
	}
	return a, a, true
}

// parseHours finds working-hour ranges ("20.00-04.00", "jam 8 malam sampai 4 pagi",
// "8pm-4am", "08.00-17.00") and says whether one runs at night (starts at 19:00 or
// later, before 04:00, or crosses midnight) or in office hours (starts 05-11, ends
// 12-19).
func parseHours(toks []tok) (night, office bool) {
	classify := func(a, b int) {
		if a < 0 || b < 0 || a > 24 || b > 24 {
			return
		}
		switch {
		case a >= 19 || a < 4 || b < a:
			night = true
		case a >= 5 && a <= 11 && b >= 12 && b <= 19:
			office = true
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i].s
		if !isNumber(t) {
			continue
		}
		// One token: "20.00-04.00".
		if parts := strings.Split(t, "-"); len(parts) == 2 {
			a, okA := clock(parts[0])
			b, okB := clock(parts[1])
			if okA && okB {
				classify(a, b)
				continue
			}
		}
		a, ok, used := hourAt(toks, i)
		if !ok {
			continue
		}
		k := i + used
		for k < len(toks) && k <= i+used+1 && (ageJoinSet[toks[k].s] || toks[k].s == "jam" || toks[k].s == "pukul") {
			k++
		}
		if k < len(toks) && isNumber(toks[k].s) {
			if b, ok, _ := hourAt(toks, k); ok {
				classify(a, b)
				i = k
			}
		}
	}
	return night, office
}

// clock reads "20.00", "20:00" or "8".
func clock(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	h, m, found := strings.Cut(strings.ReplaceAll(s, ":", "."), ".")
	if found && (len(m) != 2 || m > "59") {
		return 0, false
	}
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(h)
	if err != nil || len(h) > 2 {
		return 0, false
	}
	return n, true
}

// hourAt reads a time of day at toks[i]: "20.00", "8pm", "8 malam", "4 pagi"; used is
// the number of tokens read. A bare number is not a time.
func hourAt(toks []tok, i int) (h int, ok bool, used int) {
	num, unit := splitNum(toks[i].s)
	if n, ok := clock(num); ok && unit == "" {
		return n, true, 1
	}
	n, err := strconv.Atoi(num)
	if err != nil || n > 24 {
		return 0, false, 0
	}
	switch unit {
	case "pm":
		return n%12 + 12, true, 1
	case "am":
		return n % 12, true, 1
	case "":
	default:
		return 0, false, 0
	}
	if i+1 >= len(toks) {
		return 0, false, 0
	}
	switch toks[i+1].s {
	case "malam", "malem", "pm", "gabi":
		if n < 12 && n >= 5 {
			n += 12
		}
		return n, true, 2
	case "sore":
		if n < 12 {
			n += 12
		}
		return n, true, 2
	case "pagi", "subuh", "am", "umaga", "madaling":
		return n % 12, true, 2
	case "siang", "tanghali":
		if n < 6 {
			n += 12
		}
		return n, true, 2
	}
	return 0, false, 0
}

// scanAddresses looks at the raw text for e-mail and web addresses (an application
// address) and for chat links (wa.me, t.me: a private contact).
func scanAddresses(s string) (address, contactLink bool) {
	if !strings.ContainsAny(s, ".@") {
		return false, false
	}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == ',' || r == ';' || r == '(' || r == ')' || r == '<' || r == '>' || r == '"' || r == '\''
	}) {
		f = strings.ToLower(strings.TrimRight(f, ".!?:"))
		if at := strings.IndexByte(f, '@'); at > 0 {
			if d := f[at+1:]; strings.Contains(d, ".") && domainLike(d) {
				address = true
				continue
			}
		}
		host := f
		for _, p := range []string{"https://", "http://"} {
			host = strings.TrimPrefix(host, p)
		}
		host = strings.TrimPrefix(host, "www.")
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i]
		}
		if !domainLike(host) {
			continue
		}
		switch {
		case contactHosts[host]:
			contactLink = true
		case shortHosts[host]:
		default:
			address = true
		}
	}
	return address, contactLink
}

var (
	tlds         = setOf([]string{"com", "id", "net", "org", "ph", "co", "io", "my", "sg", "info", "biz", "asia", "careers", "jobs", "work", "edu", "gov", "me", "link", "ly", "ee", "site", "online", "xyz"})
	contactHosts = setOf([]string{"wa.me", "api.whatsapp.com", "chat.whatsapp.com", "wa.link", "t.me", "telegram.me", "m.me", "line.me", "lin.ee"})
	shortHosts   = setOf([]string{"bit.ly", "s.id", "linktr.ee", "tinyurl.com", "cutt.ly", "shorturl.at", "rebrand.ly"})
)

// domainLike: labels of letters, digits and hyphens, at least one letter, a known TLD.
func domainLike(h string) bool {
	labels := strings.Split(h, ".")
	if len(labels) < 2 || !tlds[labels[len(labels)-1]] {
		return false
	}
	letter := false
	for _, l := range labels {
		if l == "" {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case 'a' <= c && c <= 'z':
				letter = true
			case '0' <= c && c <= '9' || c == '-':
			default:
				return false
			}
		}
	}
	return letter
}
