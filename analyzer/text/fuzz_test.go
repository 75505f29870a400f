package text

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", " ", "l0wongan kerja, g4ji 5jt, k0s disediakan, usia 16-20", "L O W O N G A N", "g.a.j.i", "💰gaji💰",
	"Rp5.000.000", "2,5jt 150rb/hari 5-7jt/bulan", "21++", "a 1 b 1 c", "x y 6 z", "aaa b c", "@@@", "$$5",
	"hrd@abadijaya.co.id", "#lowongankerja", "İstanbul ǅ ﬁ ẞ ß", "gаji", "lo\u200bwongan", "1.2.3-4", "08xx",
	"buka dong", "kalau 1000 koin mau?", "masih sekolah ya?", "kelas XI", "\xff\xfe", "1-", "-1", "+1+", "a'b'c",
	"ｇ ａ ｊ ｉ", "5 x y 5", "sss s s s", "k o s2an", "g4ji5k", "1o1o1o", "ⓖⓐⓙⓘ", "ᴋᴏs",
	"ʙᴜᴋᴀ", "ʙᴜᴋᴀ ᴅᴏɴɢ", "ʙᴜᴋᴀ ʙᴀᴊᴜ ʙᴀʀᴜ", "buka baju baru", "open na po", "open na", "ᴏᴘᴇɴ ɴᴀ ᴘᴏ", "ıȷɩǀօսհոց",
	"huboa na palihug", "pila imong edad?", "ikaw ra diha?", "pasilip naman", "gift ko kung hubad ka",
	"Nangita mi og babaye, 16 pataas, libre puy-anan, dako ang sweldo, pm ra", "как дела", "ꞯꜰꜱ",
	// Inputs that once took quadratic time.
	strings.Repeat("lowongan", 2000), "a" + strings.Repeat("5jt", 2000), strings.Repeat("a1 ", 2000),
}

func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Normalize(s)
		checkNormalized(t, s, got)
		if fast, ok := tokenizePlain(s); ok {
			if slow := tokenizeRunes(s); !slices.Equal(fast, slow) {
				t.Fatalf("tokenizePlain(%q) = %v, tokenizeRunes = %v", s, fast, slow)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Normalize(%q) = %q: invalid UTF-8", s, got)
		}
	})
}

func FuzzParseRecruitment(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseRecruitment(s)
		if r.Score < 0 || r.Score > 1 || r.Score != r.Score {
			t.Fatalf("Score %v out of [0,1] for %q", r.Score, s)
		}
		if r.PayIDR < 0 || r.MinAge < 0 || r.MaxAge < 0 {
			t.Fatalf("negative field in %+v for %q", r, s)
		}
		for _, c := range r.Lures {
			if !contains(LureCues, c) {
				t.Fatalf("unknown lure %q", c)
			}
		}
		for _, c := range r.Legit {
			if !contains(LegitCues, c) {
				t.Fatalf("unknown legit cue %q", c)
			}
		}
	})
}

func FuzzDirective(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, g := range directivePhrases {
		for _, ph := range g.phrases {
			f.Add(examplePhrase(ph))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Directive(s)
		for _, c := range got {
			if !contains(DirectiveCues, c) {
				t.Fatalf("unknown cue %q", c)
			}
		}
		// The pre-check must never hide a cue.
		if !mayDirect(s) {
			if slow := directiveSlow(s); slow != nil {
				t.Fatalf("pre-check skips %q, full path finds %v", s, slow)
			}
		}
		cues, minor := AgeCues(s)
		if minor && len(cues) == 0 {
			t.Fatalf("AgeCues(%q) minor without cues", s)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The fuzz seeds are a regression test too.
func TestFuzzSeeds(t *testing.T) {
	t.Parallel()
	for _, s := range fuzzSeeds {
		checkNormalized(t, s, Normalize(s))
		ParseRecruitment(s)
		Directive(s)
		AgeCues(strings.Repeat(s, 2))
	}
}
