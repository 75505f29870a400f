package text

// The cue tables. Each group names the cue it feeds and says where its words come
// from. Phrases use the syntax described in match.go ("a|b", "...", "prefix*") and are
// matched against Normalize's output, so write them in lower case, without
// punctuation, and without leetspeak or repeated letters: Normalize removes those.
//
// Sources: DOMAIN.md and the Cirebon decision 94/Pid.Sus/2024/PN Cbn (fake shop ads,
// "DM or WhatsApp", kos, coin bonus, girls of 16-17); ECPAT Indonesia 2023 on the
// vocabulary of online child prostitution (open BO, VCS, pc/japri); AMLC and IJM
// reports on Philippine online sexual exploitation of children (stay-in jobs, "pm
// lang", Taglish); common Indonesian job-ad wording (loker, UMK, BPJS, lamaran).
// Lists are deliberately short and specific: a word that is common in harmless
// chat does not belong here unless a neighbouring word pins its meaning down.

// ---------------------------------------------------------------------------
// Recruitment (ParseRecruitment)

// recruitLures are phrases that count wherever they appear in an ad, post, bio or DM.
var recruitLures = []cueGroup{
	// Lodging supplied by the employer: the Cirebon girls lived in the operator's kos,
	// where the phone, tripod and ring light were. PH ads say "stay-in".
	{"lodging", []string{
		"kos|kost|kosan|kostan|mess|mes|asrama|penginapan ... disediakan|disiapin|disiapkan|disiapkn|gratis|free|ditanggung|tersedia|dikasih|dapat|dapet|include|termasuk",
		"disediakan|gratis|free|dapat|dapet|plus ... kos|kost|kosan|kostan|mess|asrama|penginapan|tempat",
		"tempat tinggal", "akomodasi",
		"free lodging|housing|accommodation|accomodation|board|room|dorm|stay",
		"lodging|housing|accommodation|accomodation ... provided|included|free",
		"board and lodging", "with accommodation", "stay in ... provided|free|available|included",
		"libre|libreng|free|may tirahan|matutuluyan|pabahay|tulugan", "libre|libreng|free ... tirahan|bahay|stay",
		"matutuluyan",
		// Cebuano: "libre puy-anan" (free place to stay), "naay kapuy-an".
		"libre|libreng|free|naay|adunay|may puy anan", "libre|libreng|free|naay|adunay|may puyanan|kapuyan|boarding",
		"libre|libreng|free|naay|adunay|may kapuy an", "puy anan ... libre|free|sagot", "puyanan ... libre|free|sagot",
	}},
	// No qualifications asked: the bait for a 16-year-old without a diploma.
	{"no_experience", []string{
		"tanpa|tidak|tak|ga|gak|nggak|enggak|tdk|gausah|gaperlu|gk ... pengalaman|ijazah|skill|keahlian|ijasah|syarat|cv",
		"pengalaman|ijazah ... tidak|tak|ga|gak|nggak|tdk ... perlu|diperlukan|dibutuhkan|wajib|harus",
		"no ... experience|exp|diploma|degree|requirements|requirement|skills",
		"experience ... not ... required|needed|necessary",
		"without experience", "walang ... experience|karanasan|requirements|diploma",
		"kahit walang", "pemula|newbie|beginners|beginner ... welcome|boleh|bisa|ok|okay",
		"walay ... experience|eksperyensya|kasinatian|requirements|diploma", "bisan walay",
	}},
	// Pay far above the local wage, in words; amounts are parsed separately.
	{"high_pay", []string{
		"gaji|penghasilan|income|salary|pay|bayaran|sahod|sweldo|pendapatan|upah ... besar|tinggi|gede|fantastis|jutaan|puluhan|belasan|high|big|malaki|malaking|mataas|dolar|dollar",
		"high|big|huge|malaki|malaking|mataas na ... salary|pay|income|earnings|sahod|sweldo|kita",
		"easy|quick|fast|big ... money|cash", "uang|duit ... cepat|gampang|mudah|banyak",
		"cepat kaya", "earn ... big|thousands|dollars|dolar", "cuan ... besar|gede|banyak",
		"puluhan|belasan|ratusan juta", "jutaan ... per|perbulan|sebulan|bulan|seminggu|minggu",
		"malaki|malaking ... kita|sahod|sweldo",
		// Cebuano: "dako ang sweldo", "dakog sweldo", "taas nga sweldo".
		"dako|dakong|dakog|taas ... sweldo|suweldo|kita|bayad", "sweldo|suweldo|bayad ... dako|taas",
	}},
	// Ages below 18 in words, or "any age": the Cirebon ad asked for 16-20.
	{"young_age", []string{
		"usia|umur|age|edad bebas|any|free", "any age",
		"no age limit", "tanpa batas|batasan usia|umur", "tidak|tak|ga ... ada ... batas|batasan ... usia|umur",
		"walang age limit", "abg", "pelajar", "remaja", "teen", "teens", "teenager", "teenagers",
		"under|below|dibawah|belum 17|18", "di bawah 17|18", "siswi", "anak sekolah",
		"perempuan|cewek|cewe|wanita|gadis|girls|ladies|women|babae ... muda|young",
		"young ... girls|ladies|women|females|girl", "dalagita", "menor de edad",
		"highschool|hs|shs|jhs students|student|girls",
		// Cebuano: "batan-on nga babaye" (young women), "bisan pila ang edad" (any age).
		"batan on ... babaye|babae|girls|dalaga", "bisan pila ... edad|idad", "walay age limit",
	}},
	// Move the conversation to a private channel, away from the platform.
	{"private_contact", []string{
		"dm", "inbox", "japri", "wa", "whatsapp", "wasap", "watsap", "whats app", "telegram", "tele",
		"line id|me", "id line", "add line", "messenger", "viber", "kakao",
		"chat|message|msg|text|contact|hubungi|kontak ... me|aku|saya|kami|admin|langsung|lang|wa|kak|via|po",
		"langsung chat|pm", "hmu", "hit me up", "pm|ib ... me|aku|saya|aja|ya|lang|for|mo|po|kami|only",
		"send ... message",
		// Cebuano "ra" is Tagalog "lang" (only): "pm ra", "chat ra sa messenger".
		"chat|message|msg|text|pm|ib ... ra|dayon",
	}},
	// Girls only (suppressed when the ad also asks for men: "pria/wanita").
	{"female_only", []string{
		"cewek", "cewe", "perempuan", "wanita", "gadis", "girls", "girl", "female", "females",
		"ladies", "lady", "women", "woman", "babae", "dalaga", "babaye", "kababayen an",
	}},
	// Night work: the Cirebon broadcasts ran 20:00-04:00. Time ranges are parsed too.
	{"night_work", []string{
		"kerja|shift|work|working ... malam|malem", "jam kerja ... malam|malem", "night shift|work|job", "graveyard shift",
		"work|working at night", "malam|malem ... sampai|hingga|sd|s|ke ... pagi|subuh",
		"sampai pagi|subuh", "begadang", "overnight", "panggabi", "gabi ... trabaho|shift|work",
		"panggabii", "trabaho|work|shift ... sa ... gabii", "gabii ... trabaho|shift|work",
	}},
	// The real job: live-streaming host, video calls.
	{"live_host", []string{
		"host|hostess|talent|streamer|model|presenter ... live|streaming|aplikasi|app|online|bigo|tiktok|livestream|vc",
		"live host|streamer|streaming|talent|model", "livestream", "streaming", "streamer",
		"cuma|hanya|tinggal|just|only|lang ... live", "live di|dari hp|handphone|rumah|kos|kamar|hape",
		"video call|chat|vc", "vc", "vcall", "webcam", "cam girl|model", "camgirl", "online host",
		"chat host", "host aplikasi", "ngobrol|chatting|chat ... bule|foreigner|foreigners|asing",
	}},
	// Transport supplied: the girls were fetched ("dijemput") to the boarding house.
	{"pickup", []string{
		"dijemput", "antar jemput", "penjemputan", "pick|fetch you", "pick ... up ... you",
		"pickup|pick up ... provided|free|included", "tiket|ticket|tix ... disediakan|gratis|free|ditanggung|dibeliin|dibelikan|provided|included",
		"ongkos|transport|transportasi|transportation|fare|airfare|pamasahe|pasahe ... ditanggung|gratis|free|disediakan|provided|included|libre",
		"free ... transport|transportation|ticket|fare|airfare|flight", "libre|libreng ... pamasahe|pasahe|ticket|plete|pliti",
		"sundo", "susunduin", "sunduin",
	}},
	// The duties are left vague or made light: the job behind the ad is not the one
	// advertised.
	{"vague_duties", []string{
		"kerja|kerjaan|pekerjaan|job|work|trabaho ... gampang|mudah|santai|ringan|simple|easy|madali|chill",
		"easy job|work|task|tasks", "cuma|hanya|tinggal|just|only ... ngobrol|chat|chatting|duduk|nemenin|temenin|menemani|senyum|talk|sit|smile|joget",
		"no pressure", "madali lang", "chill lang", "sayon ra", "sayon lang", "trabaho ... sayon", "chat ra",
	}},
}

// recruitWeak are words that count only when the text already offers a job (a job
// word from recruitJob or a pay amount): alone they are everyday words.
var recruitWeak = []cueGroup{
	{"lodging", []string{
		"kos", "kost", "kosan", "kostan", "mess", "mes", "stay in", "live in", "dorm", "dormitory", "housing", "basecamp",
		"tinggal|nginep|menginap ... di|bareng|sama ... kos|kost|kosan|mess|mes|asrama|basecamp|apartemen",
		"tempat tidur", "rumah tinggal", "tinggal bareng",
	}},
	{"young_age", []string{"dek", "adek", "dedek", "muda", "young", "gadis", "all ages", "batan on"}},
	{"live_host", []string{"host", "talent", "streamer"}},
	{"pickup", []string{"jemput"}},
	{"vague_duties", []string{"gampang", "mudah", "santai", "easy", "madali", "simple", "ringan", "sayon"}},
	{"night_work", []string{"malam", "malem", "night", "gabi", "gabii"}},
}

// recruitJob: the text offers or asks about work. "offer" words are strong enough to
// switch on the weak lures; "job" words only set Recruitment.Job.
var recruitJob = []cueGroup{
	{"offer", []string{
		"lowongan", "loker", "lowker", "dicari", "dibutuhkan", "butuh ... karyawan|pegawai|staff|staf|crew|talent|host|spg|penjaga|kasir|pekerja|admin",
		"rekrutmen", "rekrut*", "recruit*", "hiring", "vacancy", "vacancies", "job offer|opening|openings",
		"open recruitment", "oprec", "now hiring", "we are|re hiring", "looking|searching for ... girls|ladies|women|female|females|talents|talent|staff|workers|applicants|hosts|host|models|model|babae",
		"naghahanap", "kailangan ... trabaho|worker|workers|staff|babae|girls|talent", "penerimaan karyawan|pegawai",
		"terima|cari karyawan|pegawai", "gaji", "penghasilan", "salary", "sahod", "sweldo", "upah", "pendapatan",
		"income", "bayaran", "cari|mau|butuh kerja|kerjaan", "kerja malam", "job ... for ... you",
		// Cebuano: "nangita mi og babaye" (we are looking for women), "nanginahanglan".
		"nangita|nagpangita|nanginahanglan|kinahanglan ... babaye|babae|trabahante|workers|staff|girls|talent|host|hosts",
		"nanginahanglan", "suweldo",
	}},
	{"job", []string{
		"kerja", "kerjaan", "pekerjaan", "bekerja", "job", "jobs", "work", "trabaho", "trabahante", "raket", "sideline",
		"part time", "full time", "parttime", "karyawan", "pegawai", "kasir", "spg", "admin", "talent",
		"barista", "waitress", "pelayan", "penjaga toko", "apply", "lamaran", "lamar", "interview", "career", "careers", "karir",
		"agency", "agensi",
	}},
}

// recruitLegit are the marks of a real employer; each subtracts from the score.
var recruitLegit = []cueGroup{
	// Somewhere to send an application: email, website, HR department, an office.
	// (E-mail addresses and web addresses are found on the raw text.)
	{"application_address", []string{
		"kirim|kirimkan|kirimkan ... lamaran|cv|berkas|resume", "lamaran|lamar ... ke|via|melalui|di|lewat",
		"apply ... at|via|online|through|on|here|to", "send ... cv|resume", "email", "e mail", "hrd", "human resource*",
		"kantor", "office", "alamat", "jl", "jln", "walk in|walkin", "walkin", "interview|wawancara ... di|at|on",
		"datang langsung", "website", "jobstreet", "linkedin", "glints", "kalibrr", "indeed",
	}},
	// Minimum wage words; pay amounts at or below HighPayIDR count too.
	{"normal_pay", []string{"umr", "umk", "ump", "gaji|upah pokok", "minimum wage", "sesuai ketentuan", "basic salary|pay"}},
	// Experience asked for (dropped when a negation precedes it).
	{"experience_required", []string{
		"pengalaman ... min|minimal|minimum|tahun|thn|th|di|dibidang|bidang",
		"min|minimal|minimum ... pengalaman", "berpengalaman", "experienced",
		"years|yrs|year|yr ... experience|exp", "experience ... required|preferred|needed|necessary|a must|in",
		"with experience", "may experience", "at least ... experience",
	}},
	// Day-time hours; time ranges are parsed too.
	{"office_hours", []string{
		"shift pagi|siang", "senin ... jumat|sabtu", "mon ... fri|friday|sat|saturday", "monday ... friday|saturday",
		"office hours", "day shift", "hari kerja", "working days", "9 to 5", "jam kantor",
	}},
	// Social security and insurance: Indonesian BPJS, Philippine SSS/PhilHealth/Pag-IBIG.
	{"benefits", []string{
		"bpjs", "asuransi", "insurance", "jamsostek", "thr", "tunjangan", "sss", "philhealth",
		"pag ibig", "pagibig", "hmo", "13th month", "paid leave", "cuti", "health card",
	}},
}

// maleWords cancel female_only: "dicari karyawan pria/wanita" asks for anyone.
var maleWords = []string{"pria", "laki", "cowok", "cowo", "lelaki", "male", "males", "men", "man", "boys", "lalaki", "lalake", "l p", "p w"}

// bonusWords and coinWords: a bonus tied to coins or gift targets is the Cirebon
// offer ("bonus 2,5jt kalau tembus 50 juta koin"); both must appear in the text.
var (
	bonusWords = []string{"bonus", "komisi", "insentif", "incentive", "commission", "reward", "hadiah", "tembus", "capai", "kejar", "bagi hasil", "persen"}
	coinWords  = []string{"koin", "coin", "coins", "diamond", "diamonds", "gift", "gifts", "beans", "poin", "point", "points", "star", "stars", "target", "rose", "roses"}
)

// negations that cancel an "experience required" match placed right after them.
var negations = []string{"tanpa", "tidak", "tak", "ga", "gak", "nggak", "enggak", "tdk", "no", "not", "without", "walang", "hindi", "gausah", "gk", "kahit", "walay", "dili", "bisan"}

// payWords mark a bare number as pay ("gaji 2000000").
var payWords = []string{"gaji", "penghasilan", "income", "salary", "pay", "bayaran", "sahod", "sweldo", "suweldo", "upah", "pendapatan", "rate", "earn", "earning", "earnings", "honor", "fee", "kita", "rp", "idr", "php", "usd"}

// Amount units (multipliers) and periods. A day is 26 working days a month, a week 4
// and a third weeks, an hour an eight-hour day.
var (
	millionWords  = []string{"jt", "jta", "juta", "jutaan", "jtan", "million", "mil", "milyon", "m"}
	thousandWords = []string{"rb", "rbu", "ribu", "ribuan", "k", "thousand", "libo", "rban"}
	perDay        = []string{"hari", "harian", "perhari", "sehari", "day", "daily", "araw", "arawan", "kada araw"}
	perWeek       = []string{"minggu", "mingguan", "perminggu", "seminggu", "week", "weekly", "linggo", "lingguhan"}
	perMonth      = []string{"bulan", "bln", "bulanan", "perbulan", "sebulan", "month", "monthly", "mo", "buwan", "buwanan", "kada buwan"}
	perHour       = []string{"jam", "perjam", "hour", "hourly", "hr", "oras"}
	perYear       = []string{"tahun", "tahunan", "pertahun", "year", "yearly", "annually", "annual", "taon"}
	// Tokens that say a number counts coins or followers, not money.
	notMoney = []string{"koin", "coin", "coins", "diamond", "diamonds", "poin", "point", "points", "followers", "follower", "viewers", "views", "likes", "gift", "gifts", "beans", "star", "stars", "orang", "org", "persen", "km", "kg", "cm", "menit", "mins", "minutes"}
	// Price words before an amount make it a price, not pay.
	priceWords = []string{"harga", "price", "murah", "diskon", "discount", "promo", "ongkir", "beli", "jual", "modal", "biaya", "bayar", "dp", "sewa", "tiket", "presyo", "hanya", "cuma", "only", "sale", "cod"}
	// Philippine context for bare "k" amounts ("25k/month" is pesos in Manila).
	phMarkers = []string{"php", "peso", "pesos", "piso", "sahod", "sweldo", "trabaho", "naghahanap", "kailangan", "buwan", "kada", "po", "lang", "libre", "libreng", "tirahan", "babae", "manila", "cebu", "davao", "pinoy", "pinay", "suweldo", "babaye", "nangita"}
)

// ---------------------------------------------------------------------------
// Age (AgeCues, and young_age / adult_only in ParseRecruitment)

// ageWords introduce an age ("usia 16-20", "umur 15", "age 16 to 20").
var ageWords = []string{"usia", "umur", "age", "ages", "aged", "edad", "idad"}

// ageUnits follow an age ("16 tahun", "15 y/o", "15 taon").
var ageUnits = []string{"tahun", "thn", "th", "taun", "thun", "yo", "y", "yr", "yrs", "year", "years", "taon", "anyos", "tahunan", "tuig"}

// ageFirstPerson introduce one's own age ("aku 15", "I'm 15", "15 na ako").
var ageFirstPerson = []string{"aku", "saya", "gw", "gue", "gua", "ane", "ak", "im", "ako", "sy", "i am"}

// durationWords before "N tahun" make it a span of time, not an age.
var durationWords = []string{"selama", "pengalaman", "sejak", "lebih", "dari", "kerja", "menikah", "nikah", "berdiri", "tiap", "setiap", "per", "masa", "kontrak", "garansi", "experience", "for", "lalu", "ago", "cicilan", "tenor"}

// ageMinQualifier and ageMaxQualifier qualify a single age.
var (
	ageMinQualifier = []string{"min", "minimal", "minimum", "minim", "least", "mulai", "dari", "from", "above", "over", "diatas", "atas", "lebih"}
	ageMaxQualifier = []string{"max", "maks", "maksimal", "maksimum", "maximum", "maximal", "under", "below", "dibawah", "bawah", "kurang", "until", "hingga"}
	ageRangeJoin    = []string{"sampai", "sd", "s", "d", "hingga", "to", "until", "hanggang", "and", "dan", "ke", "till"}
	agePlusWords    = []string{"keatas", "atas", "above", "up", "older", "plus", "pataas", "over"}
	// personWords make a bare "16-20" an age range ("young girls 16-20").
	personWords = []string{"cewek", "cewe", "cowok", "perempuan", "wanita", "pria", "gadis", "girls", "girl", "female", "females", "ladies", "women", "male", "boys", "talent", "talents", "host", "hosts", "spg", "babae", "lalaki", "model", "models", "anak"}
)

// minorGroups are statements that the speaker (or the person addressed) is a minor.
// Each group names the AgeCues cue it reports.
var minorGroups = []cueGroup{
	// In school now. "pulang sekolah" (back from school) is how teens open a stream.
	{"in_school", []string{
		"masih sekolah", "pulang|berangkat|bolos|besok|habis|abis|baru ... sekolah", "anak sekolah",
		"seragam sekolah", "tugas|pr sekolah", "still in school", "after school", "school tomorrow",
		"skipped school", "nag aaral pa", "nag aaral|aaral ... pa ... ako", "estudyante pa",
	}},
	// Pupils: pelajar/siswa/murid are school pupils in Indonesian (university students are
	// mahasiswa, which is not here).
	{"student", []string{"pelajar", "siswa", "siswi", "murid", "schoolgirl", "school girl", "schoolboy"}},
	// Words for minors and teenagers. "abg" is "anak baru gede", a young teen; "belum
	// punya KTP" means under 17, the age of the identity card.
	{"teen_word", []string{
		"abg", "bocil", "remaja", "teen", "teens", "teenager", "underage", "under age", "dibawah|di ... bawah umur",
		"belum cukup umur", "belum|blm|ga|gak|nggak|tidak ... punya|ada ... ktp", "belum 17|18", "under|below 18",
		"not 18 yet", "im a minor", "loli", "jailbait", "menor de edad", "dalagita", "minor ako",
	}},
}

// schoolLevels name junior and senior high school; "sd" (primary) needs a school
// word next to it because "sd" is also "s/d", "until".
var (
	schoolLevels      = []string{"sma", "smp", "smk", "mts", "slta", "sltp", "highschool", "jhs", "shs", "elementary"}
	schoolLevelPhrase = []string{"high school", "middle school", "junior high", "senior high", "grade school"}
	// primary/junior levels make "baru lulus ..." (just finished ...) a minor.
	juniorLevels = []string{"smp", "sd", "mts", "sltp", "jhs", "elementary", "middle", "junior"}
	// schoolNegators before a level make it an education requirement or a memory:
	// "min SMA", "lulusan SMA", "guru SMA", "jaman SMA dulu".
	schoolNegators = []string{"min", "minimal", "minimum", "lulusan", "tamatan", "tamat", "pendidikan", "ijazah", "alumni", "graduate", "grad", "lulus", "setara", "guru", "teacher", "mantan", "dulu", "jaman", "zaman", "waktu", "pas", "reuni", "after", "since", "back", "syarat", "was", "when", "tahun", "angkatan", "sejak", "former", "nung", "noong", "teman", "temen", "friend", "friends"}
	// sdContext: "sd" means primary school only next to these words.
	sdContext = []string{"anak", "masih", "murid", "siswa", "siswi", "bocah", "kelas", "anaknya"}
)

// ageQuestionPhrases ask the age or school of the person addressed.
var ageQuestionPhrases = []cueGroup{{"age_question", []string{
	"umur|usia|umurmu|umurnya|usiamu|age berapa|brp|brapa", "berapa|brp|brapa umur|usia|umurmu|umurnya|usiamu",
	"kelas berapa|brp|brapa", "lahir tahun|thn berapa|brp", "tahun berapa lahir", "how old", "what grade|age",
	"whats your age", "asl", "ilang taon", "anong grade", "edad mo", "sekolah dimana|mana", "sekolah di mana",
	"smp atau sma", "sma atau smp", "are you|u ... in|still ... school",
	"do you go to school", "r u ... in school", "you in school", "age pls|please|plz",
	// Cebuano: "pila imong edad?", "pila na ka ka tuig?", "asa ka nag eskwela?".
	"pila ... edad|idad|tuig", "asa ka ... eskwela|skwela|school", "grade ilan", "anong year mo", "estudyante ka ba",
}}}

// ageAskWords in a question ask about age or school: "udah kuliah?", "sekolah libur
// gak?" ("kelas" is left out: "kelas make up kapan?" asks about a class).
var ageAskWords = []string{"sekolah", "kuliah", "school", "grade", "umur", "usia", "age", "sma", "smp", "smk", "old", "taon", "edad", "lahir", "college", "highschool", "tuig", "idad", "eskwela"}

// aloneWords asked as a question check that the host is alone: "sendirian?".
var aloneWords = []string{"sendirian", "sendiri", "alone", "isa"}

// questionWords make a clause a question even without "?".
var questionWords = []string{"berapa", "brp", "brapa", "apa", "apakah", "dimana", "how", "what", "which", "ilang", "anong", "ano", "saan", "ba", "diba", "kah", "pila", "unsa", "asa"}

// tagQuestion words end a tag question: "masih sekolah gak".
var tagQuestion = []string{"gak", "ga", "nggak", "enggak", "engga", "gk", "ngga", "belum", "blm", "bukan", "kan", "ya", "yah", "or not", "right"}

// secondPerson pronouns: a "ya" tag only asks when it is about "you".
var secondPerson = []string{"kamu", "kau", "km", "lu", "lo", "loe", "elu", "u", "you", "ur", "your", "ka", "kak", "dek", "adek", "mu", "sis"}

// ---------------------------------------------------------------------------
// Directive chat (Directive)

// directivePhrases fire wherever they appear in a chat line.
var directivePhrases = []cueGroup{
	// Undress: the clearest directive. Single words here are unambiguous.
	{"undress", []string{
		"take it|that|your|ur|em|them off", "take off ... clothes|shirt|top|bra|pants|panties|dress|everything|it",
		"strip", "striptease", "bugil", "telanjang", "naked", "nude", "nudes", "topless", "bottomless",
		"no bra", "tanpa|ga|gak|nggak|tidak pake|pakai bh|bra|daleman|beha|cd", "hubad", "maghubad", "hubarin",
		"buka|lepas|copot|lepasin|bukain semua|semuanya",
	}},
	// Camera: bring the camera closer or lower, the step before "show".
	{"camera", []string{
		"cam|camera|kamera|kamra ... closer|turun|turunin|bawah", "closer ... cam|camera|kamera",
		"zoom|zoomin ... body|badan|dada|bawah|toket|paha|pantat|boobs|ass",
		"turunin|turunkan ... kamera|cam|camera", "arahin|arahkan ... kamera|cam|camera ... bawah",
		"lower|move ... camera|cam ... down",
	}},
	// Booking the host offline ("open BO", booking out) or asking her price.
	{"open_bo", []string{
		"open|ready|terima bo|booking|bookingan", "bisa bo", "bo berapa|brp|dimana|ga|gak|kak|dong|an",
		"booking ... kamu|kak|dong|berapa|brp|out", "open b o", "short time", "st berapa",
		"berapa|brp hargamu|tarifmu", "berapa|brp ... harga|tarif kamu", "harga|tarif kamu ... berapa|brp", "hargamu|tarifmu berapa|brp",
		"magkano ka", "how much ... for ... you|u|night|hour", "pa book", "book ka",
		"magkano|pila ... rate|presyo|rates", "pila ... isa ka gabii",
	}},
	// Video-call sex and its cousins.
	{"vcs", []string{
		"vcs", "vc|vcall|videocall ... sex|seks|s|bugil|telanjang|naked|nude|hot|plus|mesum",
		"video call|chat ... sex|seks|bugil|telanjang|naked|nude|hot|mesum", "phone sex", "sexting", "cam2cam", "c2c",
	}},
	// Go private: move the show to a paid private room.
	{"private", []string{
		"go|lets|let|ayo|yuk private|privat|priv|pv", "private|privat|priv|prv show|session|vc|vcs|call",
		"show|session private|privat",
	}},
	// Explicit sexual vocabulary aimed at the host.
	{"sexual", []string{
		"sange", "horny", "toket", "tetek", "memek", "meki", "kontol", "ngentot", "ngewe", "colmek", "coli", "bokep",
		"boobs", "tits", "titties", "pussy", "dick", "cock", "cum", "libog", "malibog", "jakol", "kantot", "pepek",
		"iyot", "kayat", "bilat", "oten", "tsupa", "chupa", "kantutan", "libugan",
		"jembut", "masturbasi", "masturbate", "sex", "seks", "porn", "porno", "puting", "nipple", "nipples",
	}},
	// Isolation checks: is the host alone, are the parents away.
	{"alone_check", []string{
		"sendirian|sendiri ... di ... kos|kost|kamar|rumah|kosan", "are|r ... you|u ... alone", "home alone",
		"ortu|orangtua|parents ... dimana|mana|pergi|tidur|home|away|out|kerja",
		"are ... your ... parents", "mama papa ... dimana|mana|pergi",
		"ada orang ... rumah", "mag isa ... ka", "nag iisa ... ka", "alone ... now|tonight",
		// Tagalog and Cebuano: "nasaan parents mo?", "ikaw ra diha?", "asa imong mama?".
		"nasaan|asan|nasan ... parents|magulang|nanay|tatay|mama|papa", "asa ... imong|imo ... mama|papa|ginikanan|parents",
		"ikaw ra ... diha|dira|balay|kwarto", "ikaw lang ... dyan|diyan|bahay", "inusara ... ka",
	}},
}

// directiveVerbs fire when followed only by fillers (or nothing), or by one of the
// verb's objects; any other word after them ("buka lapak", "show the recipe", "lepas
// kangen", "goyang dumang") means the line is about something else.
type directiveVerb struct {
	cue     string
	verbs   []string
	objects []string // words after the verb that make it a directive
	// needFiller: the bare verb needs a directive filler ("mandi dong"), because
	// alone it is small talk ("udah mandi?").
	needFiller bool
	// blockedBy: a word right before the verb that makes it a question about a shop
	// or a report about oneself ("kapan buka?", "aku mandi dulu").
	blockedBy []string
	// objectNot: a word right after the object that makes the object merchandise:
	// "buka baju baru" unboxes new clothes for a shop's viewers; unless a gift
	// or a payment follows it (payThen: "buka baju baru aku kasih gift", where
	// "baru" is "(only) then").
	objectNot []string
	// notWith: a word among the fillers after a bare verb that makes the line the
	// speaker's own news: "open na po" (Tagalog: we are open now) is a shop.
	notWith []string
}

// Objects shared by the undress and show verbs: clothes and body parts (Indonesian,
// English, Tagalog and Cebuano: damit, sinina, sapot, salawal; hita, lawas, utong).
var (
	// shopBlock: before an undress verb, the words of a shop or of one's own news.
	shopBlock = []string{"kapan", "jam", "when", "toko", "tokonya", "lapak", "warung", "shop", "store", "udah", "sudah", "belum", "will", "do", "does", "you", "we", "they", "what", "time", "mau", "pukul", "akan", "gak", "ga", "nggak", "tidak", "baru"}
	// newGoods after a garment make it merchandise: "buka baju baru" (an unboxing),
	// "show new dress", "pakita bagong damit".
	newGoods = []string{"baru", "new", "bago", "bagong", "unboxing", "haul", "paket", "pesanan", "order", "collection", "koleksi"}
	clothes  = []string{"baju", "kaos", "kaus", "bh", "beha", "bra", "celana", "cd", "kancing", "rok", "handuk", "jilbab", "hijab", "kerudung", "kemeja", "daster", "piyama", "shirt", "clothes", "pants", "panties", "skirt", "dress", "towel", "underwear", "damit", "shorts", "bikini", "lingerie", "daleman", "dalaman", "kutang", "tanktop", "sinina", "sapot", "salawal", "panty", "blusa", "palda", "bestida"}
	body     = []string{"dada", "toket", "tetek", "susu", "paha", "pantat", "bokong", "kaki", "selangkangan", "perut", "pusar", "ketiak", "body", "badan", "tubuh", "boobs", "tits", "ass", "butt", "legs", "leg", "thighs", "thigh", "feet", "foot", "belly", "chest", "pussy", "boobies", "nipple", "nipples", "puting", "bawah", "suso", "pwet", "pepe", "everything", "semua", "semuanya", "kulit", "dede", "hita", "katawan", "lawas", "utong", "tiyan", "totoy", "bilat"}
	// fillers may come between a verb and the end of the line.
	fillers = []string{"dong", "donk", "dund", "deh", "kak", "ka", "kk", "kakak", "sis", "say", "sayang", "beb", "bebeb", "aja", "ajah", "yuk", "yok", "ayo", "ayok", "ya", "yah", "lagi", "dikit", "sedikit", "sih", "please", "pls", "plz", "plis", "pliss", "dulu", "now", "ok", "okay", "sekarang", "cepet", "cepat", "buruan", "mba", "mbak", "neng", "dek", "adek", "lah", "baby", "babe", "girl", "more", "me", "us", "for", "your", "ur", "mu", "kamu", "nya", "na", "naman", "mo", "po", "lang", "ate", "gurl", "pa", "again", "bro", "min", "bang", "tuh", "nih", "gih", "sana", "coba", "woy", "woi", "aku", "buat", "untuk", "biar", "oke", "sini", "here", "ko", "to", "tayo", "ta", "day", "inday", "beh", "bes", "ra", "palihug", "dali", "bilis", "dayon", "sige", "gyud", "jud", "pud", "imong", "imo", "nimo"}
	// directiveFillers are the fillers that make a bare verb a command.
	directiveFillers = []string{"dong", "donk", "dund", "deh", "yuk", "yok", "ayo", "ayok", "please", "pls", "plz", "plis", "pliss", "now", "sekarang", "cepet", "buruan", "coba", "gih", "naman", "lang", "palihug", "dali", "bilis", "dayon", "sige", "gyud", "jud"}
)

// payThen, within two words after a newGoods word, makes it "(only) then":
// "buka baju baru aku kasih gift", "buka baju baru dikasih".
var payThen = []string{"kasih", "dikasih", "kirim", "dikirim", "kirimin", "gift", "gifts", "digift", "transfer", "tf", "ditransfer", "sawer", "disawer", "koin", "coin", "coins", "bayar", "dibayar"}

var directiveVerbs = []directiveVerb{
	// Only "buka" (open) unboxes: "lepas baju baru" takes off new clothes.
	{cue: "undress", verbs: []string{"buka", "bukain", "bukak"},
		objects: append(append([]string{}, clothes...), body...), blockedBy: shopBlock, objectNot: newGoods},
	{cue: "undress", verbs: []string{"lepas", "lepasin", "copot", "copotin", "tanggalin", "tanggalkan", "remove", "unbutton", "hubad", "hubarin", "hubo", "huboa", "hukas", "hukasa", "hukasi", "huboan"},
		objects: append(append([]string{}, clothes...), body...), blockedBy: shopBlock},
	// "open" alone is the Tagalog shop's "open na po" and the Indonesian seller's
	// "open order": bare, it needs no sign of a shop speaking.
	{cue: "undress", verbs: []string{"open"},
		objects: append(append([]string{}, clothes...), body...), blockedBy: shopBlock, objectNot: newGoods,
		notWith: []string{"po", "opo", "kami", "tayo", "ulit", "shop", "store", "tindahan", "order", "orders", "pre"}},
	{cue: "show", verbs: []string{"show", "tunjukin", "tunjukkin", "tunjukkan", "tunjukan", "liatin", "lihatin", "perlihatkan", "pamerin", "flash", "pakita", "ipakita", "pakitaan", "pasilip", "silipin"},
		objects: append(append([]string{"body", "bodi", "boobs", "tits", "pussy", "ass", "feet"}, clothes...), body...), objectNot: newGoods, blockedBy: []string{"talk", "game", "reality", "fashion", "road", "cooking", "the", "a", "tv", "live", "late", "trade", "magic", "quiz", "puppet", "fun"}},
	{cue: "perform", verbs: []string{"goyang", "goyangin", "goyangkan", "twerk", "twerking", "jiggle", "nungging", "ngangkang", "desah", "mendesah", "desahan", "moan", "spread", "bend", "jilat", "remas", "sayaw", "giling"},
		objects: []string{"pantat", "dada", "itik", "ngebor", "hot", "erotis", "body", "pinggul", "bokong", "toket", "over", "legs", "it", "ass", "butt", "boobs", "seksi", "sexy", "pussy"}},
	{cue: "perform", verbs: []string{"mandi", "shower", "bath", "maligo"},
		objects: []string{"live", "bareng", "cam", "kamera", "camera", "depan", "on", "sambil"}, needFiller: true, blockedBy: []string{"udah", "sudah", "belum", "abis", "habis", "baru", "lagi", "aku", "saya", "gw", "gue", "mau", "pergi", "i", "im", "will", "after", "ako"}},
	{cue: "private", verbs: []string{"pc", "pv", "japri", "private", "privat", "priv", "prv", "vc", "vcall", "videocall"},
		objects: []string{"show", "chat", "call", "vc", "session", "berdua", "aku", "me", "gw", "gue", "sini"}, blockedBy: []string{"di", "pake", "pakai", "main", "gaming", "akun", "account", "ig", "profile", "profil", "mode", "set", "why", "kenapa", "rakit", "beli", "game", "laptop", "spek", "lewat"}},
	{cue: "contact", verbs: []string{"dm", "inbox", "ib", "pm"},
		objects: []string{"me", "aku", "gw", "gue", "saya", "ako", "mo", "kita"}, blockedBy: []string{"cek", "check", "liat", "lihat"}},
}

// contactNouns and contactAsks: a viewer asking the host for a private channel
// ("minta nomor wa dong", "wa nya berapa", "send your number").
var (
	contactNouns = []string{"wa", "whatsapp", "wasap", "watsap", "telegram", "tele", "kik", "snap", "snapchat", "viber", "messenger", "kontak", "contact"}
	// numberNouns need a phone word or "your" next to them: "nomor berapa" alone asks for a song.
	numberNouns = []string{"nomor", "nomer", "nmr", "number", "no", "num", "numero"}
	phoneWords  = []string{"wa", "hp", "telp", "telepon", "phone", "whatsapp", "cell", "cp", "kamu", "your", "ur", "mu", "u", "mo", "nimo", "imong"}
	contactAsks = []string{"minta", "bagi", "bagiin", "kasih", "share", "kirim", "send", "drop", "give", "berapa", "brp", "dong", "pls", "please", "plz", "add", "save", "mana", "dimana", "whats", "what", "your", "ur", "mu", "nya", "ada"}
)

// giftOffer: a gift made conditional on an act ("aku kasih gift kalau buka", "kalau
// 1000 koin mau?"), unless the act is singing or playing.
var (
	giftWords      = []string{"gift", "gif", "koin", "coin", "coins", "diamond", "diamonds", "sawer", "saweran", "tf", "transfer", "tip", "tips", "rose", "roses", "paus", "hadiah"}
	conditionWords = []string{"kalau", "kalo", "klo", "klu", "asal", "asalkan", "if", "basta", "kung", "kon", "pag"}
	benignActs     = []string{"nyanyi", "lagu", "sing", "song", "main", "mabar", "push", "rank", "follow", "sapa", "salam", "jawab", "masak", "menang", "win", "joget", "karaoke", "makasih", "terima", "thanks", "thank", "udah", "sudah", "dapat", "dapet", "share", "tap", "like", "ulang", "tahun", "birthday", "live", "menang"}
)

// ---------------------------------------------------------------------------
// Normalisation support

// units keep a number and its unit in one token ("2jt", "16yo"); strongUnits are never
// read as leetspeak even after a leet digit ("g4ji5jt" → "g4ji" "5jt").
var (
	strongUnits = map[string]bool{"jt": true, "jta": true, "juta": true, "jutaan": true, "jtan": true, "rb": true, "rbu": true, "ribu": true, "ribuan": true, "yo": true, "thn": true, "tahun": true, "rban": true}
	units       = map[string]bool{"jt": true, "jta": true, "juta": true, "jutaan": true, "jtan": true, "rb": true, "rbu": true, "ribu": true, "ribuan": true, "rban": true, "k": true, "m": true, "yo": true, "y": true, "yr": true, "yrs": true, "th": true, "thn": true, "tahun": true, "taun": true, "st": true, "nd": true, "rd": true, "x": true, "am": true, "pm": true, "an": true, "h": true, "hr": true, "hrs": true, "jam": true, "d": true}
)

// compoundHeads are job words split off when glued to the next word in hashtags.
var compoundHeads = []string{"lowongan", "lowker", "loker", "hiring", "dicari", "dibutuhkan", "gaji", "kerja", "info"}

// extraVocab are common words, besides the table words, that leetspeak and squeezing
// may resolve to.
var extraVocab = []string{
	"aku", "kamu", "kak", "kakak", "cantik", "mau", "yuk", "dong", "good", "free", "need", "see", "sweet", "soon",
	"too", "feel", "look", "looking", "boy", "boys", "hello", "halo", "hallo", "lol", "sexy", "seksi", "hot", "baby",
	"toko", "online", "job", "kerja", "gaji", "cewek", "host", "live", "money", "agency", "talent", "girls", "ok",
	"tinggal", "usia", "umur", "kelas", "sekolah", "jakarta", "please", "cool", "pool", "wkwk", "mantap", "keren",
	"salam", "semangat", "lagi", "lanjut", "all", "hmm", "call", "well", "will", "still", "kiss", "miss", "boss",
	"class", "grass", "full", "small", "tall", "ball", "doll", "pass", "less", "hiring", "lowongan", "loker", "info",
	"room", "food", "cool", "door", "book", "booking", "feet", "teen", "teens", "week", "sleep", "keep", "meet",
}

// vocab is every word of the tables above: Normalize resolves leetspeak and repeated
// letters towards these words.
var vocab = func() map[string]bool {
	m := map[string]bool{}
	add := func(ws ...string) {
		for _, w := range ws {
			for _, f := range words([]cueGroup{{"", []string{w}}}...) {
				if len([]rune(f)) > 1 {
					m[f] = true
				}
			}
		}
	}
	for _, gs := range [][]cueGroup{recruitLures, recruitWeak, recruitJob, recruitLegit, minorGroups, ageQuestionPhrases, directivePhrases} {
		for _, g := range gs {
			add(g.phrases...)
		}
	}
	for _, v := range directiveVerbs {
		add(v.verbs...)
		add(v.objects...)
	}
	for _, l := range [][]string{
		extraVocab, maleWords, bonusWords, coinWords, negations, payWords, millionWords, thousandWords, perDay, perWeek,
		perMonth, perHour, perYear, notMoney, phMarkers, ageWords, ageUnits, ageFirstPerson, durationWords,
		ageMinQualifier, ageMaxQualifier, ageRangeJoin, agePlusWords, personWords, schoolLevels, schoolLevelPhrase,
		juniorLevels, schoolNegators, sdContext, questionWords, tagQuestion, secondPerson, clothes, body, fillers,
		contactNouns, numberNouns, phoneWords, contactAsks, giftWords, conditionWords, benignActs, compoundHeads,
	} {
		add(l...)
	}
	return m
}()

func inVocab(w string) bool { return vocab[w] }
