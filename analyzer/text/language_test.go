package text

import "testing"

func TestLanguage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, text, want string }{
		{"indonesian ad", "Lowongan pegawai toko pakaian Cirebon. Cewek, usia 16-20, gaji 2.000.000 + tempat tinggal. Langsung DM aja", "id"},
		{"indonesian dm", "Besok dijemput jam 7 malam", "id"},
		{"indonesian leet", "l0wongan k3rja g4ji 5jt", "id"},
		{"tagalog ad", "Naghahanap ng babae para sa live, libreng tirahan, malaki ang sahod", "tl"},
		{"taglish", "Hiring po! Kailangan lang ng girls, walang experience needed, 25k a month", "tl"},
		{"cebuano ad", "Nangita mi og babaye, libre puy-anan, dako ang sweldo, pm ra", "ceb"},
		{"cebuano chat", "pila imong edad? ikaw ra diha?", "ceb"},
		{"english", "We are hiring girls for night work, no experience required, contact us now", "en"},
		{"one word", "live", LanguageUnknown},
		{"empty", "", LanguageUnknown},
		{"numbers", "083054637738 2jt", LanguageUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Language(c.text); got != c.want {
				t.Errorf("Language(%q) = %q, want %q", c.text, got, c.want)
			}
		})
	}
}

// A marker word in two lists would count for both and tell nothing.
func TestLanguageWordsDisjoint(t *testing.T) {
	seen := map[string]string{}
	for _, l := range languages {
		for w := range l.words {
			if other, ok := seen[w]; ok {
				t.Errorf("%q marks both %s and %s", w, other, l.code)
			}
			seen[w] = l.code
		}
	}
}

func FuzzLanguage(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch got := Language(s); got {
		case "id", "tl", "en", "ceb", LanguageUnknown:
		default:
			t.Fatalf("Language(%q) = %q", s, got)
		}
	})
}
