package simulate

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// zone is a time zone of a region. The offset is fixed: none of the regions
// observes daylight saving, so local hours need no zone database.
type zone struct {
	name   string
	offset int64 // seconds east of UTC
}

// city is a public city centre; homes and shops are placed at random offsets
// around it, so no coordinate points at a real address.
type city struct {
	name     string
	lat, lon float64
	zone     int // index into region.zones
}

// country is a viewer's country with its UTC offset (for "the viewer's night")
// and its weight among foreign viewers.
type country struct {
	code   string
	offset int64
	weight float64
}

// gift is a virtual gift of the app's catalogue.
type gift struct {
	name  string
	coins int64
}

// region holds everything that makes a world Indonesian or Filipino: names,
// zones, money and the language of every text. All of it is made up or generic.
type region struct {
	code      string // ISO 3166-1 alpha-2 of the domestic viewers
	currency  string
	coinValue float64 // money paid out per coin
	decimals  int     // decimals of payout amounts
	zones     []zone
	zoneW     []float64
	cities    []city
	ringCity  []int   // cities rings are placed in
	ipFirst   []uint8 // first octets of synthetic public addresses
	phone     string  // printf pattern of a fake phone number, one %04d
	address   string  // printf pattern of a made-up street address: %d, %s (city)
	shops     []string
	agencies  []string
	gifts     []gift
	ramadan   bool // whether sahur streams are a thing here
	// rails name the region's payout rails that stand for a generic
	// payout.method ("ewallet" → GCash or Maya in the Philippines); a method
	// without names is sent as it is.
	rails map[string][]string

	banter, songReq, gamer, dj, sahur, nightOwl, shopping, cooking []string
	teenViewer, teenHost, diaspora, directing, directPrivate       []string
	rudeViewer, ringHost, ringHostAge, hostThanks, hostPosts       []string
	titleChat, titleMusic, titleGaming, titleDJ, titleCooking      []string
	titleShop, titleTeen, titleSahur, titleNightOwl, titleRing     []string
	ringAds, ringAdsEN, realAds, agencyBio, agencyAds, agencyDMs   []string
	recruiterDMs, recruiterDMsEN, targetReplies, operatorDMs       []string
	operatorDMsEN, ownPhonesBio, fanDMs                            []string
}

// rail is the payout method an account sends for the generic method m: one of
// the region's named rails, chosen by the account's id (so the world's random
// draws are not touched), or m itself.
func (rg *region) rail(m, id string) string {
	names := rg.rails[m]
	if len(names) == 0 {
		return m
	}
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return names[h%uint32(len(names))]
}

// foreignCountries are where foreign viewers come from: the rings' buyers
// (US, GB, AU, CA …) and diaspora fans (MY, SA, TW, HK …) alike.
var foreignCountries = []country{
	{"US", -5 * 3600, 0.16},
	{"GB", 1 * 3600, 0.10},
	{"AU", 10 * 3600, 0.12},
	{"CA", -5 * 3600, 0.06},
	{"SA", 3 * 3600, 0.08},
	{"MY", 8 * 3600, 0.10},
	{"TW", 8 * 3600, 0.07},
	{"HK", 8 * 3600, 0.07},
	{"SG", 8 * 3600, 0.05},
	{"KR", 9 * 3600, 0.04},
	{"JP", 9 * 3600, 0.04},
	{"AE", 4 * 3600, 0.04},
	{"DE", 2 * 3600, 0.03},
	{"NL", 2 * 3600, 0.02},
	{"PH", 8 * 3600, 0.04}, // replaced by ID for the Philippine region
}

func regionByCode(code string) (*region, error) {
	switch strings.ToLower(code) {
	case "", "id":
		return indonesia, nil
	case "ph":
		return philippines, nil
	}
	return nil, fmt.Errorf("unknown region %q (want \"id\" or \"ph\")", code)
}

// fill replaces {shop}, {city}, {phone}, {site}, {address} and {agency} in a template.
func (rg *region) fill(r *rand.Rand, tmpl, cityName string) string {
	shop := pick(r, rg.shops)
	slug := strings.ToLower(strings.NewReplacer(" ", "", "'", "", "-", "").Replace(shop))
	rep := strings.NewReplacer(
		"{shop}", shop,
		"{city}", cityName,
		"{phone}", fmt.Sprintf(rg.phone, r.IntN(10000)),
		"{site}", slug+".example.com",
		"{address}", fmt.Sprintf(rg.address, 1+r.IntN(120), cityName),
		"{agency}", pick(r, rg.agencies),
	)
	return rep.Replace(tmpl)
}

var indonesia = &region{
	code:      "ID",
	currency:  "IDR",
	coinValue: 100,
	decimals:  0,
	zones:     []zone{{"Asia/Jakarta", 7 * 3600}, {"Asia/Makassar", 8 * 3600}, {"Asia/Jayapura", 9 * 3600}},
	zoneW:     []float64{0.72, 0.2, 0.08},
	cities: []city{
		{"Jakarta", -6.2088, 106.8456, 0}, {"Bandung", -6.9175, 107.6191, 0},
		{"Cirebon", -6.7320, 108.5523, 0}, {"Semarang", -6.9667, 110.4167, 0},
		{"Yogyakarta", -7.7956, 110.3695, 0}, {"Surabaya", -7.2575, 112.7521, 0},
		{"Medan", 3.5952, 98.6722, 0}, {"Palembang", -2.9761, 104.7754, 0},
		{"Tegal", -6.8694, 109.1402, 0}, {"Indramayu", -6.3273, 108.3249, 0},
		{"Makassar", -5.1477, 119.4327, 1}, {"Denpasar", -8.6705, 115.2126, 1},
		{"Mataram", -8.5833, 116.1167, 1}, {"Balikpapan", -1.2379, 116.8529, 1},
		{"Jayapura", -2.5337, 140.7181, 2}, {"Sorong", -0.8762, 131.2558, 2},
		{"Ambon", -3.6954, 128.1814, 2},
	},
	ringCity: []int{2, 8, 9, 1, 3, 10, 12},
	ipFirst:  []uint8{36, 39, 103, 110, 112, 114, 118, 120, 125, 180, 182},
	phone:    "0800-0000-%04d",
	address:  "Jl. Kenanga No. %d, %s",
	shops: []string{"Toko Sinar Melati", "Butik Cahaya Ayu", "Minimarket Sumber Rezeki Jaya",
		"Kedai Kopi Senja Raya", "Toko Baju Mawar Indah", "Grosir Bintang Terang",
		"Konter Pulsa Maju Lancar", "Toko Kue Manis Sekali", "Distro Angin Barat"},
	agencies: []string{"Bintang Talenta Agency", "Cahaya Live Management", "Pelangi Kreasi Talent"},
	gifts: []gift{{"mawar", 1}, {"hati", 5}, {"kopi", 10}, {"bunga", 30}, {"boneka", 99},
		{"mahkota", 199}, {"mobil", 499}, {"kapal", 1999}, {"istana", 9999}},
	ramadan: true,

	banter: []string{"halo kak", "hai hai", "semangat kak", "wkwk", "kak cantik", "salam kenal kak",
		"lagi ngapain kak?", "udah makan belum?", "makan apa kak", "mantap", "keren", "nice", "gg",
		"followed", "share dong kak", "jam berapa live lagi?", "salam dari Bandung", "salam dari Medan",
		"salam dari Surabaya", "hadir kak", "absen dulu", "seru banget", "lanjut kak", "sehat selalu kak",
		"mabar yuk", "lagu favorit?", "cuaca di sana gimana?", "kapan live bareng?", "kak pakai hp apa?",
		"baru pulang kerja nih", "hahaha lucu", "good night kak"},
	songReq: []string{"request lagu dong kak", "nyanyi lagu dangdut dong", "lagu favorit kakak apa?",
		"nyanyi lagi kak", "request lagu galau", "duet yuk kak", "suaranya merdu banget", "lagu pop dong kak",
		"kak suaranya bagus"},
	gamer: []string{"push rank kak", "mabar yuk", "ayo push rank", "main apa malam ini?", "savage!",
		"gg bang", "jangan feeding", "ID game berapa kak?", "mythic kapan?", "war lagi", "begadang lagi nih",
		"kuat banget begadangnya"},
	dj: []string{"drop the bass!", "remix lagi bang", "mantap DJ", "gas terus", "lagu ini judulnya apa?",
		"jedag jedug", "nonton dari Malaysia", "vibes malam minggu", "request remix dangdut"},
	sahur: []string{"sahur sahur!", "udah sahur?", "menu sahur apa kak?", "temenin sahur", "imsak jam berapa?",
		"semangat puasa kak", "bangunin sahur dong"},
	nightOwl: []string{"belum tidur kak?", "insomnia nih", "temenin begadang", "jam segini masih live",
		"ngantuk tapi seru", "kerja malam juga kak?", "habis shift malam nih"},
	shopping: []string{"harga berapa kak?", "ready size L?", "ongkir ke Bekasi berapa?", "checkout kak",
		"warna lain ada?", "bahannya apa kak?", "promo sampai kapan?", "keranjang kuning nomor berapa?",
		"buka baju baru dong kak", "buka baju baru lagi kak"},
	cooking: []string{"resepnya dong", "enak banget kayaknya", "pakai bumbu apa?", "masak apa hari ini?",
		"kak itu pakai santan?"},
	teenViewer: []string{"pr matematika udah belum?", "kelas berapa kak?", "masih sekolah?", "besok ulangan ya?",
		"belajar bareng yuk", "tugasnya dikumpul kapan?", "sekolah di mana kak?"},
	teenHost: []string{"aku kelas 11", "lagi ngerjain pr fisika", "besok ulangan mtk", "habis pulang sekolah nih",
		"aku kelas 10 kak", "bantuin soal nomor 5 dong"},
	diaspora: []string{"salam dari Taipei", "salam dari KL", "kangen kampung", "nonton dari Riyadh",
		"semangat kak dari Hong Kong", "libur kerja jadi bisa nonton", "pulang kerja langsung nonton"},
	directing: []string{"buka", "buka dong", "pc", "pc yuk", "show dong", "open bo?", "umur berapa?",
		"masih sekolah?", "kelas berapa?", "kalau 1000 koin mau?", "privat yuk", "yang tadi lagi dong"},
	directPrivate: []string{"pc", "pc yuk", "privat yuk", "room privat?"},
	rudeViewer:    []string{"buka dong", "umur berapa?", "pc", "show dong"},
	ringHost:      []string{"makasih kak 🙏", "iya kak", "tunggu ya kak", "gift dulu kak", "makasih giftnya"},
	ringHostAge:   []string{"16 kak", "masih kelas 11 kak", "17 kak", "masih sekolah kak"},
	hostThanks: []string{"makasih gift-nya kak", "terima kasih sudah mampir", "jangan lupa follow ya",
		"yang baru join salam kenal"},
	hostPosts: []string{"Live lagi nanti malam ya", "Makasih yang udah nonton semalam!",
		"Follow ya biar ga ketinggalan live", "Selamat pagi semua", "Jualan baju murah, cek etalase",
		"Mabar jam 9 malam", "Resep sambal ala aku", "Karaoke bareng yuk nanti", "Terima kasih gift-nya kak"},
	titleChat:     []string{"ngobrol santai", "temenin sore", "curhat yuk", "live santai", "say hi dong"},
	titleMusic:    []string{"karaoke bareng", "nyanyi request", "akustik malam", "live nyanyi"},
	titleGaming:   []string{"push rank mythic", "mabar malam", "ranked sampai pagi", "main bareng"},
	titleDJ:       []string{"DJ remix malam minggu", "jedag jedug", "remix party"},
	titleCooking:  []string{"masak-masak", "resep hari ini", "dapur kita"},
	titleShop:     []string{"promo baju murah", "flash sale", "live jualan", "diskon hari ini"},
	titleTeen:     []string{"belajar bareng", "ngerjain pr", "pulang sekolah", "ngobrol sore"},
	titleSahur:    []string{"temenin sahur", "sahur bareng", "nunggu imsak"},
	titleNightOwl: []string{"begadang bareng", "insomnia club", "ngobrol dini hari"},
	titleRing:     []string{"temenin begadang 🌙", "live malam", "ngobrol santai", "pc open", "😘😘", "sendirian nih", "temenin malam"},
	ringAds: []string{
		"Lowongan penjaga toko {shop} di {city}. Cewek usia 16-20, tanpa pengalaman, gaji 5jt/bulan + kos gratis. Bonus 2,5jt kalau tembus 50 juta koin. Minat DM atau WA {phone}",
		"Dicari SPG {shop} {city}, perempuan 16-20 thn, tidak perlu ijazah, mess disediakan, g4ji 4-6jt. Langsung DM/WA {phone}",
		"L0wongan kerja karyawati toko {city}, usia 16-20, tempat tinggal disediakan, gaji di atas UMR + bonus target 50 juta koin. Chat WA {phone}",
		"Butuh cepat! Pegawai toko {shop}, cewek 16-20, tanpa pengalaman, tinggal di kos gratis, gaji 5jt. DM aja",
	},
	ringAdsEN: []string{
		"Hiring female shop assistants for {shop} in {city}, age 16-20, no experience needed, free lodging, salary 5M/month + bonus when you reach 50 million coins. DM or WhatsApp {phone}",
		"Job opening: SPG / store staff, girls 16-20, accommodation provided, high pay. Message me on WA {phone}",
	},
	realAds: []string{
		"Lowongan kasir {shop} {city}, usia 20-35, min. SMA/SMK, gaji sesuai UMK + BPJS. Lamaran ke {site}/karir",
		"Dicari SPG pameran di {city}, usia 20-28, gaji harian 150rb. Kirim CV ke {site}",
		"Butuh penjaga toko {shop}, jujur & rajin, usia 21-40, gaji 2,3jt + makan. Datang langsung ke {address}",
		"Loker admin online shop {shop}, usia 21+, kerja di kantor {city}, gaji UMK. Info WA {phone}",
		"Dicari barista {shop} {city}, pengalaman min 1 tahun, usia 21-30. Lamaran ke {site}",
		"Lowongan pramuniaga {shop}, pria/wanita 19-30, gaji 2,4jt + tunjangan, tidak disediakan mess. Walk-in interview di {address}",
	},
	agencyBio: []string{"Agency resmi host live {agency}. Kantor di {city}. Rekrutmen terbuka untuk usia 21+, kontrak jelas."},
	agencyAds: []string{"{agency} membuka rekrutmen host live, usia 21+, gaji pokok + komisi, pelatihan gratis. Daftar di {site}",
		"Rekrutmen 21+: host live jualan untuk brand lokal, jam kerja siang, kantor di {city}. Info {site}"},
	agencyDMs: []string{"Halo kak, terima kasih sudah daftar. Jadwal training Senin jam 10 di kantor {city}.",
		"Kontraknya kami kirim lewat email ya kak, jangan lupa bawa KTP."},
	recruiterDMs: []string{"Halo kak, masih cari kerja?", "Kerjanya gampang kok, cuma live di hp",
		"Tempat tinggal disediakan, gaji 5jt", "Umur berapa dek?", "Besok dijemput jam 7 malam",
		"Jangan bilang orang tua dulu ya"},
	recruiterDMsEN: []string{"Hi dear, are you still looking for a job?", "The work is easy, just live streaming on the phone",
		"Free lodging and good salary", "How old are you?", "We will pick you up tomorrow at 7pm"},
	targetReplies: []string{"iya kak masih", "aku umur 16 kak, boleh?", "kerjanya apa kak?", "oke kak"},
	operatorDMs: []string{"Nanti malam live jam 8 ya", "HP sudah dicas, jangan lupa ring light",
		"Target minggu ini 5 juta koin", "Gantian shift jam 12"},
	operatorDMsEN: []string{"Go live at 8 tonight", "Target this week is 5 million coins",
		"Charge the phone and set up the light"},
	ownPhonesBio: []string{"Agency live streaming, cari talent baru. DM aja"},
	fanDMs:       []string{"kak live jam berapa?", "semangat terus kak", "boleh minta lagu besok?"},
}

var philippines = &region{
	code:      "PH",
	currency:  "PHP",
	coinValue: 0.35,
	decimals:  2,
	zones:     []zone{{"Asia/Manila", 8 * 3600}},
	zoneW:     []float64{1},
	cities: []city{
		{"Manila", 14.5995, 120.9842, 0}, {"Quezon City", 14.6760, 121.0437, 0},
		{"Cebu City", 10.3157, 123.8854, 0}, {"Davao City", 7.1907, 125.4553, 0},
		{"Angeles", 15.1450, 120.5887, 0}, {"Cagayan de Oro", 8.4542, 124.6319, 0},
		{"Iloilo City", 10.7202, 122.5621, 0}, {"Bacolod", 10.6765, 122.9509, 0},
		{"Taguig", 14.5176, 121.0509, 0},
	},
	ringCity: []int{4, 2, 0, 7, 3},
	ipFirst:  []uint8{49, 112, 120, 122, 124, 136, 175, 180, 202, 203},
	phone:    "0900-000-%04d",
	address:  "%d Mabini St., %s",
	shops: []string{"Tindahan Bituin", "Sampaguita Boutique", "Kapehan sa Kanto", "Perlas Mart",
		"Bagong Araw Grocery", "Dalisay Bakeshop", "Alon Apparel"},
	agencies: []string{"Tala Talent Agency", "Liwanag Live Management", "Hiraya Creators Hub"},
	gifts: []gift{{"rose", 1}, {"heart", 5}, {"coffee", 10}, {"bouquet", 30}, {"teddy", 99},
		{"crown", 199}, {"car", 499}, {"yacht", 1999}, {"castle", 9999}},
	// E-wallets, and remittance centres where cash is picked up over the counter
	// (the Philippine analogue of an ATM withdrawal).
	rails: map[string][]string{
		"ewallet": {"GCash", "Maya"},
		"atm":     {"Palawan Express", "Cebuana Lhuillier", "M Lhuillier"},
	},

	banter: []string{"hello po", "hi ate", "ganda mo", "lodi", "hahaha", "nice one", "gg", "followed po",
		"shout out naman", "anong oras ka live bukas?", "kumain ka na?", "ingat po", "idol!", "petmalu",
		"godbless po", "watching from Cebu", "musta mga ka-live", "good evening po", "present!", "ang saya"},
	songReq: []string{"request po kanta", "sing naman ng paborito mo", "next song po", "ganda ng boses mo",
		"duet tayo", "isa pa po", "OPM naman po"},
	gamer: []string{"push rank na", "tara laro", "mythic na ba?", "gg idol", "ang lakas mo", "puyat ulit",
		"mabar tayo", "carry mo kami"},
	dj: []string{"drop the beat!", "remix pa idol", "lakas ng sound", "anong kanta to?", "party party",
		"watching from Dubai", "budots naman"},
	sahur: []string{"kakatapos lang ng shift", "puyat ulit", "kape muna", "sino gising pa?", "night shift gang",
		"breakfast na dito"},
	nightOwl: []string{"kakatapos lang ng shift", "puyat ulit", "kape muna", "sino gising pa?", "night shift gang",
		"breakfast na dito"},
	shopping: []string{"how much po?", "may size M pa?", "mine po", "COD available?",
		"magkano shipping to Davao?", "legit seller po ba?", "open na po", "open na po ba kayo?"},
	cooking:    []string{"recipe po", "sarap naman", "ano luto mo today?", "may sili ba yan?"},
	teenViewer: []string{"anong grade mo na?", "nag-aaral ka pa?", "may assignment ka?", "exam bukas?", "saan ka nag-aaral?"},
	teenHost:   []string{"grade 11 ako", "gumagawa ng assignment", "exam namin bukas", "kakauwi lang galing school", "grade 10 po"},
	diaspora: []string{"watching from Riyadh", "hello from Hong Kong", "miss ko na Pinas", "day off ko today",
		"OFW here, shout out", "from Taipei with love"},
	directing: []string{"show", "show naman", "pc", "pc tayo", "open cam", "open na", "how old r u",
		"ilang taon ka na?", "still in school?", "nag-aaral ka pa?", "1000 coins for show?", "private room?", "again pls",
		"huboa na", "pila imong edad?", "pasilip naman"},
	directPrivate: []string{"pc", "pc tayo", "private room?"},
	rudeViewer:    []string{"show naman", "how old r u", "pc"},
	ringHost:      []string{"thank you po", "wait lang po", "gift muna po", "salamat po"},
	ringHostAge:   []string{"16 po", "grade 11 pa po", "17 po", "nag-aaral pa po"},
	hostThanks:    []string{"thank you sa gift", "salamat sa pag-join", "follow niyo ako ha", "welcome sa mga bagong join"},
	hostPosts: []string{"Live ulit mamaya!", "Salamat sa nanood kagabi", "Follow niyo ako para updated",
		"Good morning everyone", "Sale ng damit, check niyo", "Laro tayo mamayang 9pm", "Luto tayo later"},
	titleChat:     []string{"kwentuhan tayo", "chill lang", "hello mga ka-live", "tambay muna"},
	titleMusic:    []string{"videoke night", "song requests", "acoustic session", "kantahan"},
	titleGaming:   []string{"rank push hanggang umaga", "laro tayo", "ranked grind"},
	titleDJ:       []string{"budots remix night", "DJ party", "remix sabado"},
	titleCooking:  []string{"luto tayo", "kusina ni ate", "recipe today"},
	titleShop:     []string{"live selling", "ukay finds", "flash sale po"},
	titleTeen:     []string{"study with me", "assignment muna", "after school chika"},
	titleSahur:    []string{"after shift chill", "night shift tambay", "kape at kwentuhan"},
	titleNightOwl: []string{"after shift chill", "night shift tambay", "puyat club"},
	titleRing:     []string{"gising pa ako 🌙", "late night chat", "kwentuhan", "pc open", "😘😘", "mag-isa lang"},
	ringAds: []string{
		"Hiring saleslady for {shop} in {city}, girls 16-20, no experience ok, free boarding, sahod 20k/month + bonus pag naabot 50 million coins. PM or text {phone}",
		"Need store helper, female 16-20, stay-in, mataas sahod. Message lang sa {phone}",
		"H1ring s4leslady {city}, 16-20 yrs old, libre tirahan, PM agad",
		"Nangita mi og babaye para sa {shop} {city}, 16-20, libre puy-anan, dako ang sweldo. PM ra o text {phone}",
	},
	ringAdsEN: []string{
		"Hiring female shop assistants for {shop} in {city}, age 16-20, no experience needed, free lodging, good salary + bonus when you reach 50 million coins. DM or text {phone}",
		"Job opening: store staff, girls 16-20, accommodation provided, high pay. Message me {phone}",
	},
	realAds: []string{
		"Now hiring cashier at {shop} {city}, 21-35 yrs old, at least HS graduate, minimum wage + SSS/PhilHealth. Apply at {site}/careers",
		"Wanted: barista, {shop} {city}, with 1 yr experience, 21-30. Send resume to {site}",
		"Hiring sales staff for {shop}, 21+, walk-in applicants at {address}",
		"Looking for stock clerk, {shop}, 20-35, salary per minimum wage, live-out. Text HR {phone}",
	},
	agencyBio: []string{"Official live host agency {agency}. Office in {city}. Recruiting hosts aged 21+, with contract."},
	agencyAds: []string{"{agency} is recruiting live hosts, 21+, base pay + commission, free training. Apply at {site}",
		"Recruitment 21+: daytime live selling hosts for local brands, office in {city}. Details at {site}"},
	agencyDMs: []string{"Hi, thanks for applying. Training is on Monday 10am at our {city} office.",
		"We will email the contract, please bring a valid ID."},
	recruiterDMs: []string{"Hi sis, naghahanap ka pa ba ng work?", "Madali lang, mag-live ka lang sa phone",
		"Libre tirahan tsaka malaki sahod", "Ilang taon ka na?", "Susunduin ka namin bukas 7pm",
		"Wag mo muna sabihin sa parents mo ha"},
	recruiterDMsEN: []string{"Hi dear, are you still looking for a job?", "The work is easy, just live streaming on the phone",
		"Free lodging and good salary", "How old are you?", "We will pick you up tomorrow at 7pm"},
	targetReplies: []string{"opo naghahanap pa", "16 po ako, pwede po ba?", "ano pong trabaho?", "sige po"},
	operatorDMs:   []string{"Live ka mamayang 8pm ha", "Charge mo yung phone", "Target this week 5 million coins", "Palit shift ng 12"},
	operatorDMsEN: []string{"Go live at 8 tonight", "Target this week is 5 million coins", "Charge the phone and set up the light"},
	ownPhonesBio:  []string{"Live streaming agency, looking for new talents. PM lang"},
	fanDMs:        []string{"anong oras live mo?", "keep it up idol", "pwede request bukas?"},
}
