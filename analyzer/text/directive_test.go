package text

import (
	"bufio"
	"os"
	"slices"
	"testing"
)

func TestDirective(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text string
		want string // a cue that must be reported
	}{
		// The scenario's directed chat.
		{"buka dong", "undress"},
		{"aku kasih gift kalau buka", "undress"},
		{"aku kasih gift kalau buka", "gift_offer"},
		{"lepas dong", "undress"},
		{"take it off", "undress"},
		{"ayo show", "show"},
		{"show more", "show"},
		{"tunjukin dong", "show"},
		{"goyang dong", "perform"},
		{"mandi live dong", "perform"},
		{"cam closer", "camera"},
		{"pc yuk", "private"},
		{"private now", "private"},
		{"open bo?", "open_bo"},
		{"how old are you", "age_question"},
		{"berapa umurmu dek?", "age_question"},
		{"kelas berapa?", "age_question"},
		{"masih sekolah ya?", "age_question"},
		{"sendirian di kos?", "alone_check"},
		{"kalau 1000 koin mau?", "gift_offer"},

		// Variants.
		{"BUKA BAJUNYA DONG KAK", "undress"},
		{"buka bh nya", "undress"},
		{"bukain dikit dong", "undress"},
		{"lepasin semua", "undress"},
		{"take off your shirt", "undress"},
		{"bugil dong", "undress"},
		{"open pls", "undress"},
		{"show me", "show"},
		{"show boobs", "show"},
		{"liatin dadanya", "show"},
		{"goyangin pantatnya", "perform"},
		{"twerk for me", "perform"},
		{"kamera ke bawah dong", "camera"},
		{"go private", "private"},
		{"private show?", "private"},
		{"vc yuk kak", "private"},
		{"minta nomor wa dong", "contact"},
		{"wa nya berapa kak", "contact"},
		{"dm me", "contact"},
		{"line id?", "contact"},
		{"bo berapa?", "open_bo"},
		{"magkano ka?", "open_bo"},
		{"vcs?", "vcs"},
		{"vc sex berapa", "vcs"},
		{"video call bugil", "vcs"},
		{"sange gak kak", "sexual"},
		{"umur berapa kak", "age_question"},
		{"kamu SMP atau SMA?", "age_question"},
		{"udah kuliah?", "age_question"},
		{"what grade are you in", "age_question"},
		{"ilang taon ka na?", "age_question"},
		{"are you alone?", "alone_check"},
		{"ortu kamu dimana?", "alone_check"},
		{"i'll tip if you dance", "gift_offer"},
		{"pakita mo naman", "show"},
		{"hubad na", "undress"},

		// Obfuscated.
		{"b u k a dong", "undress"},
		{"b.u.k.a", "undress"},
		{"bukaaaa dongggg", "undress"},
		{"0pen b0", "open_bo"},
		{"v.c.s", "vcs"},
		{"s h o w", "show"},
		{"ＢＵＫＡ dong", "undress"},
		{"bυka dong 🔥", "undress"},
		{"😍 show more 😍", "show"},
		{"t4ke it 0ff", "undress"},

		// Small capitals and other look-alike letters fold to Latin.
		{"ʙᴜᴋᴀ", "undress"},
		{"ʙᴜᴋᴀ ᴅᴏɴɢ", "undress"},
		{"ꜱʜᴏᴡ ᴅᴏɴɢ", "show"},
		{"ᴘᴄ ʏᴜᴋ", "private"},
		{"bukа dоng", "undress"}, // Cyrillic а and о

		// Tagalog.
		{"hubad na", "undress"},
		{"hubarin mo na", "undress"},
		{"open na", "undress"},
		{"pakita ka naman", "show"},
		{"pasilip naman", "show"},
		{"ipakita mo dede mo", "show"},
		{"magkano ka?", "open_bo"},
		{"numero mo pls", "contact"},
		{"nasaan parents mo?", "alone_check"},
		{"ilang taon ka na?", "age_question"},
		{"gift ko kung hubad ka", "gift_offer"},
		{"pc tayo", "private"},

		// "baru" after a garment is new goods only for a verb that unboxes
		// ("buka baju baru"); before a gift it is "(only) then": a price.
		{"lepas bh baru aku transfer", "undress"},
		{"copot baju baru", "undress"},
		{"buka baju baru aku kasih gift", "undress"},
		{"buka baju baru dikasih", "undress"},
		{"buka baju baru ku gift 1000", "undress"},
		// "po" makes a bare "open na po" a shop; not when a body or a
		// garment follows.
		{"open mo na po dede mo", "undress"},
		{"open po bra", "undress"},

		// Cebuano.
		{"huboa na palihug", "undress"},
		{"hukasa imong sinina", "undress"},
		{"hubo dayon", "undress"},
		{"ipakita imong lawas", "show"},
		{"pila imong edad?", "age_question"},
		{"pila na ka ka tuig?", "age_question"},
		{"asa ka nag eskwela?", "age_question"},
		{"ikaw ra diha?", "alone_check"},
		{"asa imong mama?", "alone_check"},
		{"pila imong rate?", "open_bo"},
		{"gift nako kon mohubo ka", "gift_offer"},
	}
	for _, tc := range cases {
		t.Run(tc.text+"/"+tc.want, func(t *testing.T) {
			t.Parallel()
			got := Directive(tc.text)
			if !slices.Contains(got, tc.want) {
				t.Errorf("Directive(%q) = %v, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// Ordinary banter, song requests, shop and game talk: no cue.
func TestDirectiveLookalikes(t *testing.T) {
	t.Parallel()
	cases := []string{
		// The scenario's ordinary chat.
		"izin nonton", "hadir", "wkwk", "jam berapa live lagi?", "lanjut kak", "share dong kak", "kak spill dong",
		"belum tidur kak?", "ayo push rank", "hai hai", "mantap", "kak cantik", "suaranya bagus", "makan apa kak",
		"semangat kak", "kak buka lapak ya?", "gg", "lagu dong kak", "keren", "followed", "sehat selalu kak",
		"udah sahur?", "halo kak", "mabar yuk", "nice", "salam dari Cirebon",
		// Song requests and shop talk with directive words.
		"buka lagu dong", "buka lagu yang kemarin kak", "buka puasa bareng yuk", "kapan buka?", "buka lapak jam berapa?",
		"tokonya buka?", "buka link di bio", "buka live lagi besok ya", "show the recipe", "show me the recipe please",
		"talk show tadi seru", "the show was great", "showroom mobil", "tunjukin resepnya dong", "liatin produknya kak",
		"open the box!", "when do you open?", "open it!", "lepas kangen", "lepas landas", "goyang dumang dong",
		"lagu goyang dumang", "udah mandi belum?", "aku mandi dulu ya", "main pc atau hp?", "pc gaming",
		"akun private ya", "private room mabar", "harga berapa kak?", "berapa harganya kak", "nomor berapa lagunya kak",
		"pin dong kak", "cek dm kak", "terima kasih gift-nya kak", "makasih gift nya kak", "kalau menang aku kasih gift",
		"kalau nyanyi lagi aku kasih gift", "mau gift apa kak?", "long time no see", "aku sendirian nih",
		"selamat tahun baru", "zoom in produknya dong", "closer to the product please", "kak kelas make up kapan?",
		"aku pulang sekolah jam 2", "sekolah libur besok", "semua sehat?", "halo semua", "open mic malam ini",
		"cek ombak", "satu dua tiga", "a b", "x",
		// Known false cues: an unboxing of new clothes, a shop that is open, look-alike
		// letters of shop talk, and Cyrillic words that happen to fold to Latin ones.
		"buka baju baru", "buka baju baru kak, unboxing", "Buka baju baru dari Shopee!", "ʙᴜᴋᴀ ʙᴀᴊᴜ ʙᴀʀᴜ",
		"show new dress collection", "pakita bagong damit", "open na po", "Open na po ang shop!", "open na po kami",
		"open na po tayo ulit bukas", "ʙᴜᴋᴀ ʟᴀᴘᴀᴋ", "ᴏᴘᴇɴ ɴᴀ ᴘᴏ", "как дела", "мама", "ɢᴏᴏᴅ ᴍᴏʀɴɪɴɢ",
		// Tagalog and Cebuano banter.
		"kumain ka na?", "ingat po", "salamat sa gift", "maayong gabii", "unsa imong kanta?", "pila ka subscribers?",
	}
	for _, s := range cases {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			if got := Directive(s); got != nil {
				t.Errorf("Directive(%q) = %v, want nil", s, got)
			}
		})
	}
}

// Every directed line of the public scenarios fires, every other line does not.
func TestDirectiveScenarioChat(t *testing.T) {
	t.Parallel()
	for _, f := range []struct {
		path string
		want bool
	}{{"testdata/chat_directed.txt", true}, {"testdata/chat_sample.txt", false}} {
		for _, line := range readLines(t, f.path) {
			if got := Directive(line); (got != nil) != f.want {
				t.Errorf("%s: Directive(%q) = %v", f.path, line, got)
			}
		}
	}
}

// The pre-check never hides a cue the full path would find.
func TestDirectivePrecheckSound(t *testing.T) {
	t.Parallel()
	lines := append(readLines(t, "testdata/chat_sample.txt"), readLines(t, "testdata/chat_directed.txt")...)
	for _, s := range lines {
		if !mayDirect(s) && directiveSlow(s) != nil {
			t.Errorf("pre-check skips %q but it has cues %v", s, directiveSlow(s))
		}
	}
	for _, g := range directivePhrases {
		for _, ph := range g.phrases {
			s := examplePhrase(ph)
			if !mayDirect(s) && directiveSlow(s) != nil {
				t.Errorf("pre-check skips phrase example %q (%s)", s, ph)
			}
		}
	}
}

// examplePhrase writes the simplest text a phrase matches: its first words.
func examplePhrase(ph string) string {
	p := parsePhrase(ph)
	out := ""
	for i, st := range p.steps {
		if i > 0 {
			out += " "
		}
		out += st.words[0]
	}
	return out
}

func TestDirectiveNoAllocOnChat(t *testing.T) {
	lines := readLines(t, "testdata/chat_sample.txt")
	var skipped []string
	for _, l := range lines {
		if !mayDirect(l) {
			skipped = append(skipped, l)
		}
	}
	if len(skipped) < len(lines)/2 {
		t.Fatalf("pre-check passes %d of %d ordinary lines to the full path", len(lines)-len(skipped), len(lines))
	}
	allocs := testing.AllocsPerRun(10, func() {
		for _, l := range skipped {
			Directive(l)
		}
	})
	if allocs != 0 {
		t.Errorf("Directive allocates %.1f times on ordinary chat", allocs)
	}
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
