package text

import "testing"

// BenchmarkDirective runs over a sample of real (synthetic-scenario) chat lines:
// ordinary chat, which is most of the traffic, and directed chat.
func BenchmarkDirective(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"chat", "testdata/chat_sample.txt"},
		{"directed", "testdata/chat_directed.txt"},
	} {
		lines := readLines(b, bc.path)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				if Directive(lines[i%len(lines)]) != nil {
					n++
				}
			}
			_ = n
		})
	}
}

var benchTexts = []string{
	"Dicari talent live cewek, penghasilan 5-7jt/bulan + bonus 2,5jt kalau tembus 50 juta koin, mess gratis, usia bebas. WA 080564854832",
	"Lowongan kasir minimarket Cirebon, shift pagi/siang, gaji sesuai UMK, BPJS. Lamaran ke abadijaya.co.id/karir",
	"l0wongan kerja, g4ji 5jt, k0s disediakan, usia 16-20",
	"Besok dijemput jam 7 malam",
	"Live lagi nanti malam ya guys",
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Normalize(benchTexts[i%len(benchTexts)])
	}
}

func BenchmarkParseRecruitment(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ParseRecruitment(benchTexts[i%len(benchTexts)])
	}
}

func BenchmarkAgeCues(b *testing.B) {
	lines := readLines(b, "testdata/chat_sample.txt")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		AgeCues(lines[i%len(lines)])
	}
}

// BenchmarkLanguage beside BenchmarkParseRecruitment: the store runs both on
// every post it keeps.
func BenchmarkLanguage(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Language(benchTexts[i%len(benchTexts)])
	}
}
