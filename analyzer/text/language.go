package text

import "strings"

// Language guesses the language of a short text from its function words, for
// the analysts' count of recruitment texts by language: "id" (Indonesian, with
// the Malay and Javanese-flavoured chat that shares its words), "tl" (Tagalog
// and Taglish), "ceb" (Cebuano, the Visayas' and Mindanao's language: its own
// function words, since it shares most job words with Tagalog), "en" (English), or "und" (undetermined: too few marker words,
// or a tie). It reads words only (after Normalize), never names a speaker, and
// is a count, not a classifier: a text mixing languages goes to the one with
// the most marker words.
func Language(s string) string {
	var n [len(languages)]int
	for _, t := range tokenize(s) {
		for i, l := range languages {
			if _, ok := l.words[t.s]; ok {
				n[i]++
			}
		}
	}
	best, second := -1, 0
	for i := range n {
		switch {
		case best < 0 || n[i] > n[best]:
			if best >= 0 {
				second = n[best]
			}
			best = i
		case n[i] > second:
			second = n[i]
		}
	}
	if n[best] < minLanguageWords {
		return LanguageUnknown
	}
	if n[best] == second {
		// Taglish borrows English content words around Tagalog grammar.
		if n[iTagalog] == n[best] && n[iEnglish] == n[best] && n[iIndonesian] < n[best] {
			return "tl"
		}
		return LanguageUnknown
	}
	return languages[best].code
}

const (
	iIndonesian = iota
	iTagalog
	iEnglish
	iCebuano
)

// LanguageUnknown is Language's answer when the words do not tell.
const LanguageUnknown = "und"

// minLanguageWords is how many marker words a text needs before Language names a
// language: one word ("live", "kak") is shared across the region's chat.
const minLanguageWords = 2

// languages are the marker words of each language Language tells apart: frequent
// function words and the job-ad words of tables.go, none shared between two lists.
var languages = [...]struct {
	code  string
	words map[string]struct{}
}{
	{"id", wordSet("yang dan di ke dari untuk dengan ini itu tidak ada bisa aku saya kamu kami kita " +
		"juga sudah belum akan mau aja ya dong kok nih sih gak ga nggak tapi kalau karena atau " +
		"lagi nanti besok malam pagi siang hari bulan tahun kerja kerjanya gaji lowongan loker " +
		"dicari dibutuhkan butuh usia umur cewek cewe perempuan tempat tinggal disediakan langsung " +
		"cuma hanya gampang dijemput jam toko penjaga pegawai daftar hubungi harian ribu juta " +
		"selamat terima kasih makasih bareng yuk jualan murah enak semua semalam udah")},
	{"tl", wordSet("ang ng mga sa si ni ay ako ikaw siya tayo sila ko mo niya namin natin " +
		"po opo hindi wala walang may meron lang naman din rin na ba kasi pero kung para " +
		"trabaho sahod sweldo naghahanap kailangan babae lalaki edad buwan araw gabi libre libreng " +
		"tirahan madali salamat kayo dito doon ngayon bukas")},
	{"en", wordSet("the and to of for you is are with we our your this that will be can no not " +
		"from at on in it my me i im they their have has need needed hiring job work apply " +
		"salary pay experience required only girls women age years old per month day night " +
		"easy contact call message us now today tomorrow thanks thank")},
	{"ceb", wordSet("ug og nga kay nimo imong akong dili unsa kana didto karon ugma gabii buntag adlaw " +
		"nangita kinahanglan nanginahanglan trabahante babaye batan dako dakong sayon ra jud gyud kaayo " +
		"mao naa walay puy pila tuig kaon")},
}

func wordSet(s string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(s) {
		m[w] = struct{}{}
	}
	return m
}
