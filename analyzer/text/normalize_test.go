package text

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		// Case, diacritics, compatibility forms, look-alike letters, invisible characters.
		{"lower case", "LOWONGAN Kerja", "lowongan kerja"},
		{"diacritics", "Gájì sesuai UMK", "gaji sesuai umk"},
		{"fullwidth", "ＧＡＪＩ", "gaji"},
		{"math bold", "𝐠𝐚𝐣𝐢 𝐛𝐞𝐬𝐚𝐫", "gaji besar"},
		{"cyrillic a", "gаji", "gaji"},
		{"small capitals", "ʙᴜᴋᴀ ɢᴀᴊɪ ꜱʜᴏᴡ", "buka gaji show"},
		{"small capitals all", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnopqrstuvwyz"},
		{"dotless i and armenian o", "gajı lօwongan", "gaji lowongan"},
		{"cyrillic shha", "һost", "host"},
		{"other scripts kept", "как дела ελλάδα", "kak дeлa eλλaδa"},
		{"zero width inside word", "lo\u200bwon\u200dgan", "lowongan"},
		{"soft hyphen", "lowon\u00adgan", "lowongan"},

		// Leetspeak inside words, never in numbers.
		{"leet interior", "l0wongan g4ji k0s", "lowongan gaji kos"},
		{"leet one as l at start", "1owongan", "lowongan"},
		{"leet one as i at end", "g4j1", "gaji"},
		{"leet one as i inside", "l1ve h0st", "live host"},
		{"leet at and dollar", "g@ji $ex", "gaji sex"},
		{"leet seven and three", "s3x h0s7", "sex host"},
		{"leet then year", "l0wongan2024", "lowongan 2024"},
		{"mention at sign dropped", "@budi halo", "budi halo"},
		{"pure number", "2000000", "2000000"},
		{"thousands dots", "gaji 2.000.000", "gaji 2.000.000"},
		{"decimal comma with unit", "2,5jt", "2,5jt"},
		{"age range", "usia 16-20", "usia 16-20"},
		{"amount range with unit", "5-7jt/bulan", "5-7jt bulan"},
		{"unit glued", "2jt 150rb 30k", "2jt 150rb 30k"},
		{"age unit glued", "16yo", "16yo"},
		{"plus after number", "usia 21+.", "usia 21+"},
		{"plus plus", "21++", "21+"},
		{"word glued to number", "usia16-20 kelas11", "usia 16-20 kelas 11"},
		{"currency glued", "Rp5.000.000", "rp 5.000.000"},
		{"amount glued to word", "gaji5jt", "gaji 5jt"},
		{"amount glued to leet word", "g4ji5jt", "gaji 5jt"},
		{"time range", "jam 08.00-17.00", "jam 08.00-17.00"},
		{"clock", "20:00", "20:00"},
		{"phone with dashes", "0812-3456-7890", "0812-3456-7890"},
		{"phone placeholder", "08xx", "08 xx"},
		{"dollar amount", "$500/week", "usd 500 week"},
		{"peso sign", "₱25,000", "php 25,000"},

		// Emoji and punctuation become spaces.
		{"emoji around word", "💰gaji💰", "gaji"},
		{"punctuation", "Lowongan kerja!!! DM aja...", "lowongan kerja dm aja"},
		{"apostrophe", "I'm 15, don't tell", "im 15 dont tell"},
		{"slash", "shift pagi/siang", "shift pagi siang"},

		// Spaced-out letters are joined.
		{"spaced capitals", "L O W O N G A N", "lowongan"},
		{"spaced letters", "g a j i 5jt", "gaji 5jt"},
		{"dotted letters", "g.a.j.i", "gaji"},
		{"hyphenated letters", "g-a-j-i", "gaji"},
		{"spaced with leet digit", "g 4 j i", "gaji"},
		{"two singles stay", "l/p", "l p"},
		{"spaced then words", "k o s gratis", "kos gratis"},

		// Repeated letters.
		{"triple squeezed", "gajiii", "gaji"},
		{"long run squeezed", "bukaaaaa dongggg", "buka dong"},
		{"double kept", "kebanggaan maaf saat", "kebanggaan maaf saat"},
		{"double squeezed to table word", "gajii", "gaji"},
		{"triple to table double", "freeee", "free"},
		{"table word with triple kept", "sss philhealth", "sss philhealth"},

		// Glued job words.
		{"hashtag compound", "#lowongankerja #lokerjakarta", "lowongan kerja loker jakarta"},
		{"hiring compound", "#hiringnow", "hiring now"},
		{"no split of table word", "gajian kerjaan", "gajian kerjaan"},

		// Whitespace.
		{"collapse whitespace", "  halo \t\n  kak  ", "halo kak"},
		{"empty", "", ""},
		{"only emoji", "🔥🔥🔥", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Normalize(tc.in)
			if got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := Normalize(got); again != got {
				t.Errorf("not idempotent: Normalize(%q) = %q", got, again)
			}
		})
	}
}

func TestNormalizeClausePunctuation(t *testing.T) {
	t.Parallel()
	toks := tokenize("masih sekolah? aku kelas 11, kamu.")
	ends := map[string]byte{}
	for _, tk := range toks {
		ends[tk.s] = tk.end
	}
	for w, want := range map[string]byte{"sekolah": '?', "11": ',', "kamu": '.', "masih": 0} {
		if ends[w] != want {
			t.Errorf("end of %q = %q, want %q", w, ends[w], want)
		}
	}
}

// checkNormalized is the contract the fuzzer checks.
func checkNormalized(t *testing.T, in, got string) {
	t.Helper()
	if strings.Contains(got, "  ") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") {
		t.Fatalf("Normalize(%q) = %q: stray spaces", in, got)
	}
	if again := Normalize(got); again != got {
		t.Fatalf("Normalize not idempotent on %q:\n first  %q\n second %q", in, got, again)
	}
}

// tokenizePlain, the shortcut for plain ASCII lines, must agree with the general path.
func TestTokenizePlainAgrees(t *testing.T) {
	t.Parallel()
	lines := append(readLines(t, "testdata/chat_sample.txt"), readLines(t, "testdata/chat_directed.txt")...)
	lines = append(lines, "Halo KAK!!! bukaaa dong...", "kak, buka lapak ya?", "gajii; maaf\nsaat", "a b c", "L O W O N G A N", "#lowongankerja", "")
	plain := 0
	for _, s := range lines {
		fast, ok := tokenizePlain(s)
		if !ok {
			continue
		}
		plain++
		if slow := tokenizeRunes(s); !slices.Equal(fast, slow) {
			t.Errorf("tokenizePlain(%q) = %v, tokenizeRunes = %v", s, fast, slow)
		}
	}
	if plain < len(lines)/2 {
		t.Errorf("only %d of %d lines took the plain path", plain, len(lines))
	}
}
