package text

import (
	"slices"
	"testing"
)

// Scenario texts and their variants: the Score contract of ParseRecruitment.
func TestParseRecruitmentScore(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		text     string
		min, max float64 // Score must lie in [min, max]
	}{
		// Real job ads and agencies: below 0.3.
		{"legit minimarket cashier", "Lowongan kasir minimarket, shift pagi/siang, gaji sesuai UMK, BPJS. Lamaran ke abadijaya.co.id/karir", 0, 0.29},
		{"legit agency 21+", "Agency kami membuka rekrutmen host live streaming untuk jualan produk kecantikan, jam kerja 10.00-17.00, gaji pokok + komisi, min usia 21. Kantor di Jayapura. Lamar via email", 0, 0.29},
		{"legit agency bio", "Agency resmi host live. Kantor di Mataram. Rekrutmen terbuka untuk usia 21+.", 0, 0.29},
		{"legit SPG daily pay", "Dicari SPG untuk event pameran di Surakarta, usia 20-28, gaji harian 150rb. Daftar di 08xx", 0, 0.29},
		{"legit SPG with phone", "Dicari SPG untuk event pameran di Mataram, usia 20-28, gaji harian 150rb. Daftar di 085223284935", 0, 0.29},
		{"legit grocery", "Butuh penjaga toko sembako di Mataram, jujur & rajin, gaji 1,8jt + makan, tinggal di rumah sendiri. WA 081960316497", 0, 0.29},
		{"legit barista", "Dibutuhkan segera barista untuk cafe kami di Jakarta, pengalaman min 1 tahun. Hubungi HRD 081234567890", 0, 0.29},
		{"legit online shop admin", "Loker admin online shop, kerja dari rumah, gaji 2,5jt. Info WA 081234567890", 0, 0.29},
		{"legit cosmetics", "Lowongan kerja! Dicari karyawan toko kosmetik di Jakarta. Syarat usia 18-35, min SMA. Gaji UMR + uang makan. Kirim lamaran ke hrd@abadijaya.co.id", 0, 0.29},
		{"legit english barista", "We are hiring baristas, 2 years experience, apply at careers.example.com, 21+", 0, 0.29},
		{"legit english retail", "Now hiring sales associates, age 21 and above, Monday to Friday 9am-6pm, health insurance. Send your CV to jobs@example.ph", 0, 0.29},
		{"legit tagalog", "Hiring cashier, 21 pataas, may SSS PhilHealth Pag-IBIG, walk-in interview sa office namin", 0, 0.29},
		{"legit cebuano", "Nangita mi og cashier sa among tindahan, 21 pataas, naay SSS PhilHealth, walk-in interview sa office", 0, 0.29},
		{"legit male and female", "Dicari karyawan pria/wanita, usia 20-30, pengalaman minimal 1 tahun, gaji UMK, BPJS. Kirim CV ke hrd@contoh.co.id", 0, 0.29},

		// The scenario's fake ads: 0.6 or more.
		{"fake shop assistant", "Dibutuhkan penjaga toko, perempuan muda, tidak perlu ijazah, gaji 2jt, kos disediakan. Chat WA 083054637738", 0.6, 1},
		{"fake Cirebon shop", "Lowongan pegawai toko pakaian Cirebon. Cewek, usia 16-20, gaji 2.000.000 + tempat tinggal. Langsung DM aja", 0.6, 1},
		{"fake talent live", "Dicari talent live cewek, penghasilan 5-7jt/bulan + bonus 2,5jt kalau tembus 50 juta koin, mess gratis, usia bebas", 0.6, 1},
		{"fake host live night", "Lowongan host live streaming, kerja malam, gaji 5jt + bonus target koin, disediakan kos. Cewek usia 17-22. DM aja", 0.6, 1},

		// Recruiter DMs to a future host: 0.3 or more.
		{"dm dek and mess", "Halo dek, masih cari kerja? Gaji 2jt + mess", 0.3, 1},
		{"dm kos ready", "Nanti tinggal di kos yang udah disiapin ya", 0.3, 1},
		{"dm pickup", "Besok dijemput jam 7 malam", 0.3, 1},
		{"dm easy live", "Kerjanya gampang kok, cuma live di hp", 0.3, 1},

		// English, Taglish and Tagalog variants: 0.6 or more.
		{"english young girls", "Hiring young girls 16-20 for online work, free lodging, high salary, message me on WhatsApp", 0.6, 1},
		{"english female talents", "Looking for female talents, no experience needed, stay-in provided, PM me", 0.6, 1},
		{"taglish stay-in", "Hiring! Online chat support, female 16-19 y/o, stay-in with free food and lodging, 25k-35k/month, PM lang po", 0.6, 1},
		{"cebuano", "Nangita mi og babaye, 16 pataas, libre puy-anan, dako ang sweldo, chat lang", 0.6, 1},
		{"cebuano young", "Nanginahanglan og batan-on nga babaye para online host, walay experience, libre puy-anan ug kaon, dakong sweldo, pm ra", 0.6, 1},
		{"small capitals", "ʟᴏᴡᴏɴɢᴀɴ ᴋᴇʀᴊᴀ, ᴄᴇᴡᴇᴋ ᴜꜱɪᴀ 16-20, ɢᴀᴊɪ 5ᴊᴛ, ᴋᴏꜱ ᴅɪꜱᴇᴅɪᴀᴋᴀɴ, ᴅᴍ ᴀᴊᴀ", 0.6, 1},
		{"tagalog", "Naghahanap kami ng mga babae, 16 pataas, libreng tirahan at pagkain, malaki ang sahod, chat lang sa messenger", 0.6, 1},
		{"english video call", "Job offer for young ladies, work from home, video call with foreigners, earn $500/week, pm me", 0.6, 1},
		{"indonesian model weekly", "Dicari model untuk video call, cewek 17+, bayaran 1,5jt/minggu, tempat tinggal ditanggung, dijemput di terminal", 0.6, 1},

		// Obfuscated: 0.6 or more.
		{"obfuscated leet", "l0wongan kerja, g4ji 5jt, k0s disediakan, usia 16-20", 0.6, 1},
		{"obfuscated spaced", "L O W O N G A N kerja cewek usia 16-20, k o s gratis", 0.6, 1},
		{"obfuscated spaced pay", "g a j i 5jt, kos disediakan, usia 17-22, DM aja", 0.6, 1},
		{"obfuscated emoji", "💰gaji💰 5jt + mess, usia 16-20", 0.6, 1},
		{"obfuscated hashtags", "#lowongankerja #hostlive cewek usia 16-20, g@ji 7jt, m3ss gratis, japri", 0.6, 1},
		{"obfuscated fancy letters", "𝐋𝐨𝐰𝐨𝐧𝐠𝐚𝐧 host live, usia 15-19, kos disediakan, bonus koin", 0.6, 1},

		// Ordinary posts: nothing.
		{"post morning", "Selamat pagi semua", 0, 0},
		{"post live tonight", "Live lagi nanti malam ya guys", 0, 0},
		{"post recipe", "Resep sambal enak ala aku", 0, 0},
		{"post thanks gift", "Terima kasih gift-nya kak", 0, 0},
		{"post selling", "Jualan baju murah, cek etalase", 0, 0},
		{"post tired of work", "Capek kerja hari ini, pulang ke kos langsung tidur", 0, 0.29},
		{"post shop price", "Promo baju anak, harga 50rb, wa 081234567890", 0, 0.1},
		{"legit babysitter", "Dicari babysitter, usia 25-40, gaji 3jt, tinggal bersama keluarga, pengalaman min 2 thn", 0, 0.29},
		{"legit domestic worker", "Dibutuhkan ART, gaji 2,5jt, tinggal di rumah majikan", 0, 0.29},
		{"legit PH call center", "Hiring call center agents, graduate of any 4-year course, 18 above, ₱18,000/month, with HMO. Apply via kalibrr", 0, 0.29},
		{"fake bigo talent", "need talent live bigo, target 30 hari, bonus diamond, cewek only, dm", 0.6, 1},
		{"fake cafe girls 17+", "Butuh cewe buat kerja di cafe, gaji 4jt, mess, usia 17 thn keatas, wa 08123456789", 0.6, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ParseRecruitment(tc.text)
			if r.Score < tc.min || r.Score > tc.max {
				t.Errorf("Score = %.2f, want [%.2f, %.2f]\n text   %q\n lures  %v\n legit  %v\n ages %d-%d pay %d job %v",
					r.Score, tc.min, tc.max, tc.text, r.Lures, r.Legit, r.MinAge, r.MaxAge, r.PayIDR, r.Job)
			}
		})
	}
}

// Each cue fires on its own words.
func TestParseRecruitmentCues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		text  string
		lure  string // a lure that must be found ("" for none)
		legit string // a legit cue that must be found ("" for none)
	}{
		{"lodging kos disediakan", "kos disediakan", "lodging", ""},
		{"lodging tempat tinggal", "gaji 2jt + tempat tinggal", "lodging", ""},
		{"lodging mess with job", "dicari karyawan, mess", "lodging", ""},
		{"lodging boarding", "free boarding house and accommodation provided", "lodging", ""},
		{"lodging stay-in", "stay-in provided", "lodging", ""},
		{"lodging tagalog", "may libreng tirahan", "lodging", ""},
		{"no experience id", "tanpa pengalaman", "no_experience", ""},
		{"no diploma id", "tidak perlu ijazah", "no_experience", ""},
		{"no experience en", "no experience needed", "no_experience", ""},
		{"high pay amount", "gaji 5jt", "high_pay", ""},
		{"high pay range", "penghasilan 5-7jt/bulan", "high_pay", ""},
		{"high pay daily", "gaji 200rb/hari", "high_pay", ""},
		{"high pay words", "gaji besar, penghasilan jutaan", "high_pay", ""},
		{"high pay easy money", "easy money from home", "high_pay", ""},
		{"high pay pesos", "sahod 40,000 pesos a month", "high_pay", ""},
		{"coin bonus", "bonus 2,5jt kalau tembus 50 juta koin", "coin_bonus", ""},
		{"coin bonus diamond", "bonus diamond tiap minggu", "coin_bonus", ""},
		{"young age range", "usia 16-20", "young_age", ""},
		{"young age plus", "cewek 17+", "young_age", ""},
		{"young age any", "usia bebas", "young_age", ""},
		{"young age any en", "any age welcome", "young_age", ""},
		{"young age dek in offer", "dek, mau kerja? gaji 3jt", "young_age", ""},
		{"young age pelajar", "terima pelajar", "young_age", ""},
		{"young age teen", "teen models wanted", "young_age", ""},
		{"young age under 18", "under 18 ok", "young_age", ""},
		{"young age school", "anak SMA boleh daftar", "young_age", ""},
		{"private dm", "DM aja", "private_contact", ""},
		{"private wa", "chat WA", "private_contact", ""},
		{"private telegram", "hubungi telegram", "private_contact", ""},
		{"private phone no address", "info 081234567890", "private_contact", ""},
		{"private spaced phone", "hubungi 0812 3456 7890", "private_contact", ""},
		{"private wa link", "klik wa.me/6281234567890", "private_contact", ""},
		{"female cewek", "dicari cewek", "female_only", ""},
		{"female girls only", "girls only", "female_only", ""},
		{"night work", "kerja malam", "night_work", ""},
		{"night shift", "night shift available, hiring now", "night_work", ""},
		{"night hours", "lowongan, jam kerja 20.00-04.00", "night_work", ""},
		{"night hours words", "lowongan, kerja jam 8 malam sampai 4 pagi", "night_work", ""},
		{"live host", "host live", "live_host", ""},
		{"live host phone", "cuma live di hp", "live_host", ""},
		{"live host video call", "video call dengan bule", "live_host", ""},
		{"pickup", "besok dijemput", "pickup", ""},
		{"pickup en", "we pick you up from the station", "pickup", ""},
		{"pickup ticket", "tiket disediakan", "pickup", ""},
		{"pickup fare", "libre pamasahe", "pickup", ""},
		{"vague easy", "kerjanya gampang", "vague_duties", ""},
		{"vague easy en", "easy job, just chat", "vague_duties", ""},
		{"vague santai in offer", "lowongan santai", "vague_duties", ""},

		{"legit email", "kirim CV ke hrd@contoh.co.id", "", "application_address"},
		{"legit website", "apply at careers.example.com", "", "application_address"},
		{"legit kirim lamaran", "kirim lamaran ke kantor kami", "", "application_address"},
		{"legit office", "Kantor di Jl. Merdeka 10", "", "application_address"},
		{"adult min usia", "min usia 21", "", "adult_only"},
		{"adult plus", "21+", "", "adult_only"},
		{"adult above", "age 21 and above", "", "adult_only"},
		{"normal pay umk", "gaji sesuai UMK", "", "normal_pay"},
		{"normal pay amount", "gaji 2jt", "", "normal_pay"},
		{"experience id", "pengalaman min 1 tahun", "", "experience_required"},
		{"experience en", "2 years experience", "", "experience_required"},
		{"office hours id", "jam kerja 08.00-17.00", "", "office_hours"},
		{"office hours shift", "shift pagi/siang", "", "office_hours"},
		{"benefits bpjs", "BPJS kesehatan", "", "benefits"},
		{"benefits insurance", "health insurance", "", "benefits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ParseRecruitment(tc.text)
			if tc.lure != "" && !slices.Contains(r.Lures, tc.lure) {
				t.Errorf("%q: lures %v lack %q", tc.text, r.Lures, tc.lure)
			}
			if tc.legit != "" && !slices.Contains(r.Legit, tc.legit) {
				t.Errorf("%q: legit %v lack %q", tc.text, r.Legit, tc.legit)
			}
		})
	}
}

// Lookalikes: words near a cue that must not fire it.
func TestParseRecruitmentLookalikes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		not  []string // cues (lure or legit) that must be absent
	}{
		{"own home is not lodging", "tinggal di rumah sendiri", []string{"lodging"}},
		{"kos outside an offer", "Live dari kos malam ini", []string{"lodging"}},
		{"work from home", "Loker admin, kerja dari rumah, gaji 2,5jt", []string{"lodging", "live_host"}},
		{"makan is not lodging", "gaji 1,8jt + makan", []string{"lodging"}},
		{"min SMA is not young", "Syarat usia 18-35, min SMA", []string{"young_age"}},
		{"age 20-28 is not young", "usia 20-28", []string{"young_age", "adult_only"}},
		{"age 18-35 is not adult only", "usia 18-35", []string{"young_age", "adult_only"}},
		{"normal pay is not high", "gaji 2.000.000", []string{"high_pay"}},
		{"daily 150rb is normal", "gaji harian 150rb", []string{"high_pay"}},
		{"coins are not pay", "tembus 50 juta koin", []string{"high_pay"}},
		{"bonus without coins", "gaji pokok + komisi", []string{"coin_bonus"}},
		{"phone with HRD", "Hubungi HRD 081234567890", []string{"private_contact"}},
		{"5 pm is not pm me", "kerja sampai jam 5 pm", []string{"private_contact"}},
		{"male and female", "karyawan pria/wanita", []string{"female_only"}},
		{"night post without job", "Live lagi nanti malam ya guys", []string{"night_work"}},
		{"office hours not night", "jam kerja 10.00-17.00", []string{"night_work"}},
		{"experience negated", "tanpa pengalaman, usia 16-20 tahun", []string{"experience_required"}},
		{"no experience required negated", "no experience required", []string{"experience_required"}},
		{"pickup idiom", "semangat jemput rezeki", []string{"pickup"}},
		{"host post", "Host live ceria, follow ya", []string{"night_work", "lodging"}},
		{"gampang outside an offer", "Resep gampang", []string{"vague_duties"}},
		{"years of experience are not age", "pengalaman minimal 10 tahun", []string{"young_age"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ParseRecruitment(tc.text)
			for _, c := range tc.not {
				if slices.Contains(r.Lures, c) || slices.Contains(r.Legit, c) {
					t.Errorf("%q: %q fired (lures %v, legit %v)", tc.text, c, r.Lures, r.Legit)
				}
			}
		})
	}
}

func TestParsePay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		want int64
	}{
		{"jt", "gaji 2jt", 2_000_000},
		{"dots", "gaji 2.000.000", 2_000_000},
		{"commas", "salary IDR 2,000,000", 2_000_000},
		{"decimal comma", "gaji 2,5jt", 2_500_000},
		{"decimal dot", "gaji 1.8jt", 1_800_000},
		{"range with unit", "penghasilan 5-7jt/bulan", 7_000_000},
		{"rp juta", "Rp 5 juta", 5_000_000},
		{"rp glued", "Rp5.000.000", 5_000_000},
		{"daily", "150rb/hari", 150_000 * 26},
		{"daily before", "gaji harian 150rb", 150_000 * 26},
		{"weekly", "1,5jt per minggu", 6_500_000},
		{"hourly", "50rb per jam", 50_000 * 8 * 26},
		{"bonus excluded", "gaji 5jt + bonus 10jt", 5_000_000},
		{"coins excluded", "bonus 2,5jt kalau tembus 50 juta koin", 0},
		{"bare pay number", "gaji 3000000", 3_000_000},
		{"phone is not pay", "gaji nego, WA 081234567890", 0},
		{"peso k", "sahod 25k kada buwan, libre tirahan", 25_000 * PHPToIDR},
		{"peso sign", "₱20,000/month", 20_000 * PHPToIDR},
		{"dollars weekly", "earn $500/week", 34_666_666},
		{"no amount", "Lowongan kasir", 0},
		{"age is not pay", "usia 16-20", 0},
		{"experience years", "pengalaman 2 tahun", 0},
		{"price is not pay", "Promo baju, harga 50rb", 0},
		{"amount outside a job text", "dapat 150rb dari live semalam", 0},
		{"weekly pesos", "sahod 5,000 kada linggo, stay in", 5_000 * 52 / 12 * PHPToIDR},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ParseRecruitment(tc.text).PayIDR
			if d := got - tc.want; d < -1000 || d > 1000 {
				t.Errorf("PayIDR(%q) = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
}

func TestParseAges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text     string
		min, max int
	}{
		{"usia 16-20", 16, 20},
		{"umur 17-22", 17, 22},
		{"Usia: 16 - 20 tahun", 16, 20},
		{"age 16 to 20", 16, 20},
		{"ages 18 until 25", 18, 25},
		{"usia 16 sampai 20 tahun", 16, 20},
		{"17+", 17, 0},
		{"min usia 21", 21, 0},
		{"usia minimal 18 tahun", 18, 0},
		{"usia maksimal 25", 0, 25},
		{"Rekrutmen terbuka untuk usia 21+.", 21, 0},
		{"young girls 16-20", 16, 20},
		{"16-20 y/o", 16, 20},
		{"16-20yo", 16, 20},
		{"17 tahun ke atas", 17, 0},
		{"16 pataas", 16, 0},
		{"age 21 and above", 21, 0},
		{"usia bebas", 0, 0},
		{"gaji 5-7jt", 0, 0},
		{"jam 20.00-04.00", 0, 0},
		{"shift 8-17", 0, 0},
		{"pengalaman minimal 2 tahun", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			r := ParseRecruitment(tc.text)
			if r.MinAge != tc.min || r.MaxAge != tc.max {
				t.Errorf("ages(%q) = %d-%d, want %d-%d", tc.text, r.MinAge, r.MaxAge, tc.min, tc.max)
			}
		})
	}
}

func TestParseRecruitmentOrderAndWeights(t *testing.T) {
	t.Parallel()
	for _, c := range LureCues {
		if _, ok := lureWeight[c]; !ok {
			t.Errorf("lure %q has no weight", c)
		}
	}
	for _, c := range LegitCues {
		if _, ok := legitWeight[c]; !ok {
			t.Errorf("legit cue %q has no weight", c)
		}
	}
	for _, g := range append(append([]cueGroup{}, recruitLures...), recruitWeak...) {
		if !slices.Contains(LureCues, g.cue) {
			t.Errorf("table group %q is not a lure", g.cue)
		}
	}
	for _, g := range recruitLegit {
		if !slices.Contains(LegitCues, g.cue) {
			t.Errorf("table group %q is not a legit cue", g.cue)
		}
	}
}
