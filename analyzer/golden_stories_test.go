package analyzer

import (
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// The stories behind testdata/timelines/*.events.ndjson (written by
// `go test ./analyzer -run TestGolden -golden-events -update`): each family's
// pattern and each lookalike of DOMAIN.md, then the edges of the thresholds,
// one story on each side where a rule turns.
var goldenStories = map[string]func(w *world){
	// Schedule.
	"schedule-nightly": func(w *world) {
		h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
		nights(6, func(d int) { w.broadcast(h, at(d, 21), 5, streamOpt{}) })
	},
	"schedule-shifts-on-one-device": func(w *world) {
		for i, id := range []string{"h1", "h2", "h3"} {
			w.broadcast(hostSpec{id: id, device: "d1", created: newAcct(-5)}, at(0, 20+2*float64(i)), 2, streamOpt{})
		}
	},
	"lookalike-night-shift-gamer": func(w *world) {
		h := hostSpec{id: "g1", device: "dg", created: newAcct(-10), ip: "36.1.2.3"}
		nights(10, func(d int) {
			w.broadcast(h, at(d, 22), 5, streamOpt{gifts: 40, coins: 20, country: "MY", chats: []string{"mabar yuk", "gg bang", "push rank"}})
		})
	},
	"lookalike-sahur-streams": func(w *world) {
		for i, id := range []string{"s1", "s2"} {
			h := hostSpec{id: id, device: "ds" + id, created: oldAcct(), lat: -6.2 + float64(i), lon: 106.8}
			nights(10, func(d int) {
				w.broadcast(h, at(d, 26.5), 1.5, streamOpt{chats: []string{"sahur sahur", "jangan lupa niat puasa"}})
			})
		}
	},
	"lookalike-evening-host": func(w *world) {
		h := hostSpec{id: "e1", device: "de"}
		nights(6, func(d int) { w.broadcast(h, at(d, 17), 3.5, streamOpt{}) })
	},
	"edge-night-of-exactly-min-minutes": func(w *world) {
		h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
		nights(4, func(d int) { w.broadcast(h, at(d, 20), 0.5, streamOpt{}) }) // 20:00-20:30
	},
	"edge-night-under-min-minutes": func(w *world) {
		h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
		nights(4, func(d int) { w.broadcast(h, at(d, 20), 29.0/60, streamOpt{}) })
	},
	"edge-one-night-and-short-evenings": func(w *world) {
		// One full night and four nights of 20 minutes: all at night, but a
		// night on one day of five is no schedule, and no shifts either.
		h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
		w.broadcast(h, at(0, 21), 3, streamOpt{})
		for d := 1; d < 5; d++ {
			w.broadcast(h, at(d, 20), 20.0/60, streamOpt{})
		}
	},
	"edge-window-keeps-first-night": func(w *world) {
		// The first night is exactly the window's length before the last
		// evaluation: still inside.
		h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
		w.broadcast(h, at(0, 21), 2, streamOpt{})
		w.broadcast(h, at(7, 21), 2, streamOpt{})
		w.broadcast(h, at(14, 21), 2, streamOpt{})
	},
	"edge-shift-gap-exact": func(w *world) {
		// One phone, old accounts: the second host starts exactly shift_gap
		// after the first ended.
		nights(2, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(d, 20), 1, streamOpt{})
			w.broadcast(hostSpec{id: "h2", device: "d1", created: oldAcct()}, at(d, 21.75), 2, streamOpt{})
		})
	},
	"edge-shift-gap-exceeded": func(w *world) {
		nights(2, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(d, 20), 1, streamOpt{})
			w.broadcast(hostSpec{id: "h2", device: "d1", created: oldAcct()}, at(d, 21.75+1.0/60), 2, streamOpt{})
		})
	},
	"edge-old-accounts-back-to-back-in-one-cell": func(w *world) {
		// Housemates on their own phones, one after the other at night: at a
		// shared cell only new accounts make shifts.
		nights(2, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", lat: -6.9, lon: 107.6, created: oldAcct()}, at(d, 20), 2, streamOpt{})
			w.broadcast(hostSpec{id: "h2", device: "d2", lat: -6.9, lon: 107.6, created: oldAcct()}, at(d, 22), 2, streamOpt{})
		})
	},

	// Co-location.
	"colocation-new-hosts-on-one-device": func(w *world) {
		nights(3, func(d int) {
			for i, id := range []string{"h1", "h2", "h3"} {
				w.broadcast(hostSpec{id: id, device: "d1", ip: "110.9.8.7", created: newAcct(-4)}, at(d, 20+2.5*float64(i)), 2.5, streamOpt{})
			}
		})
	},
	"colocation-new-hosts-in-one-cell": func(w *world) {
		nights(3, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", lat: -6.7130, lon: 108.5314, created: newAcct(-3)}, at(d, 21), 5, streamOpt{})
			w.broadcast(hostSpec{id: "h2", device: "d2", lat: -6.7132, lon: 108.5316, created: newAcct(-3)}, at(d, 21.2), 5, streamOpt{})
		})
	},
	"edge-new-host-on-an-old-hosts-phone": func(w *world) {
		// A new account borrows an old account's phone in the evening: the
		// new-accounts bonus needs new accounts on both sides.
		nights(3, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(d, 17), 1, streamOpt{})
			w.broadcast(hostSpec{id: "h2", device: "d1", created: newAcct(-3)}, at(d, 19), 1, streamOpt{})
		})
	},
	"lookalike-siblings": func(w *world) {
		nights(7, func(d int) {
			for i, id := range []string{"f1", "f2", "f3"} {
				w.broadcast(hostSpec{id: id, device: "df" + id, ip: "180.1.1.9", lat: -6.9, lon: 107.6, created: oldAcct()}, at(d, 16+2*float64(i)), 2, streamOpt{})
			}
		})
	},
	"lookalike-boarding-house": func(w *world) {
		nights(7, func(d int) {
			for i, id := range []string{"k1", "k2", "k3", "k4"} {
				w.broadcast(hostSpec{id: id, device: "dk" + id, ip: "182.2.3.4", lat: -7.77, lon: 110.37, created: oldAcct()}, at(d, 13+3*float64(i)), 2, streamOpt{})
			}
		})
	},
	"lookalike-mall-hotspot": func(w *world) {
		for i := 0; i < 14; i++ {
			id := "m" + string(rune('a'+i))
			w.broadcast(hostSpec{id: id, device: "dm" + id, ip: "202.3.4.5", lat: -6.2250, lon: 106.7990, created: newAcct(-3)}, at(i%5, 19+float64(i%3)), 1, streamOpt{})
		}
	},
	"lookalike-carrier-nat": func(w *world) {
		for i := 0; i < 20; i++ {
			id := "n" + string(rune('a'+i))
			w.broadcast(hostSpec{id: id, device: "dn" + id, ip: "114.4.4." + string(rune('0'+i%10)), created: newAcct(-3)}, at(i%4, 21), 3, streamOpt{})
		}
	},
	"edge-cell-of-public-place-hosts": func(w *world) { regularsAt(w, 8, true) },
	"edge-cell-over-public-place-hosts": func(w *world) {
		regularsAt(w, 9, true)
	},
	"edge-network-of-nat-hosts":   func(w *world) { regularsAt(w, 4, false) },
	"edge-network-over-nat-hosts": func(w *world) { regularsAt(w, 5, false) },

	// Recruitment.
	"recruitment-lure-ad-and-dms": func(w *world) {
		w.post("rec", "ad", "L0wongan kerja toko, cewek usia 16-20, g4ji 5jt + bonus target koin, k0s disediakan. DM aja", "", at(-6, 9))
		for i, id := range []string{"r1", "r2"} {
			w.link("rec", id, "dm", at(-4+i, 19))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-3)}, at(0, 21), 2, streamOpt{})
		}
	},
	"recruitment-english-lure-in-a-dm": func(w *world) {
		w.post("rec", "dm", "Hiring young girls 16-20 for online work, free lodging, high salary, message me on WhatsApp", "r1", at(-3, 19))
		w.broadcast(hostSpec{id: "r1", device: "d1", created: newAcct(-2)}, at(0, 21), 2, streamOpt{})
	},
	"lookalike-shop-ad-and-a-friends-dm": func(w *world) {
		w.post("shop", "ad", "Lowongan kasir minimarket Bandung, shift pagi/siang, gaji sesuai UMK, BPJS. Lamaran ke tokomaju.co.id/karir", "", at(-6, 9))
		w.link("shop", "j1", "dm", at(-4, 10))
		w.post("shop", "dm", "Halo, lamaran kamu sudah kami terima, wawancara hari Senin jam 10", "j1", at(-4, 10.1))
		w.link("friend", "j1", "dm", at(-2, 10))
		w.broadcast(hostSpec{id: "j1", device: "dj", created: newAcct(-3)}, at(0, 16), 2, streamOpt{})
	},
	"lookalike-legit-agency-recruiting-21-plus": func(w *world) {
		w.post("ag", "ad", "Agency kami membuka rekrutmen host live streaming untuk jualan produk kecantikan, jam kerja 10.00-17.00, gaji pokok + komisi, min usia 21. Kantor di Jakarta", "", at(-10, 9))
		for i, id := range []string{"a1", "a2"} {
			w.link("ag", id, "dm", at(-5+i, 11))
			w.link(id, "ag", "agency", at(-3+i, 11))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-20)}, at(0, 11+float64(i)), 3, streamOpt{})
		}
	},
	"edge-weak-lure-at-weak-ad-score": func(w *world) {
		// "Lowongan kerja, gaji besar" scores exactly weak_ad_score (0.3): a
		// weak lure, which counts for less.
		w.post("rec", "ad", "Lowongan kerja, gaji besar", "", at(-6, 9))
		w.link("rec", "r1", "dm", at(-2, 19))
		w.broadcast(hostSpec{id: "r1", device: "d1", created: newAcct(-3)}, at(0, 21), 2, streamOpt{})
	},
	"edge-lone-host-with-recruiter-stays-medium": func(w *world) {
		// One host, recruited by a lure DM, broadcasting nightly: medium. A
		// ring is raised a level; one host behind an operator is not a ring.
		w.post("rec", "dm", "Hiring young girls 16-20 for online work, free lodging, high salary, message me on WhatsApp", "r1", at(-3, 19))
		h := hostSpec{id: "r1", device: "d1", created: oldAcct()}
		nights(4, func(d int) { w.broadcast(h, at(d, 21), 3, streamOpt{}) })
	},
	"edge-recruiter-of-min-recruits-without-lure": func(w *world) {
		for i, id := range []string{"r1", "r2"} {
			w.link("rec", id, "dm", at(-4+i, 19))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-3)}, at(0, 21+float64(i)), 2, streamOpt{})
		}
	},
	"edge-dm-after-first-broadcast": func(w *world) {
		w.post("rec", "ad", "L0wongan kerja toko, cewek usia 16-20, g4ji 5jt + bonus target koin, k0s disediakan. DM aja", "", at(-6, 9))
		h := hostSpec{id: "r1", device: "d1", created: newAcct(-3)}
		w.broadcast(h, at(0, 21), 2, streamOpt{})
		w.link("rec", "r1", "dm", at(1, 10))
		w.broadcast(h, at(2, 21), 2, streamOpt{})
	},

	// Money.
	"money-beneficiary-of-new-hosts": func(w *world) {
		for _, id := range []string{"h1", "h2"} {
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-4)}, at(0, 21), 4, streamOpt{gifts: 50, coins: 100})
			w.payout(id, "op", 5000, "ewallet", at(6, 10))
		}
	},
	"lookalike-legit-agency-payouts": func(w *world) {
		w.post("ag", "bio", "Agency resmi host live. Kantor di Bandung. Rekrutmen terbuka untuk usia 21+.", "", at(-30, 9))
		for i, id := range []string{"l1", "l2", "l3", "l4"} {
			w.link(id, "ag", "agency", at(-20+i, 9))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: oldAcct()}, at(1, 10+float64(i)), 2, streamOpt{gifts: 20, coins: 50})
			w.payout(id, "ag", 1000, "bank", at(6, 10))
		}
	},
	"lookalike-whale-funded-singer": func(w *world) {
		h := hostSpec{id: "sing", device: "ds", created: oldAcct()}
		nights(5, func(d int) {
			w.broadcast(h, at(d, 19), 3, streamOpt{gifts: 30, coins: 5000, country: "SA", senders: 2, chats: []string{"lagu favorit?", "nyanyi lagi kak", "request dangdut dong"}})
		})
	},
	"edge-whale-share-exact": func(w *world) {
		// Five senders give alike: the top three give exactly whale_share,
		// which is whale-funded. Gifts come in Saudi Arabia's night.
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(0, 28), 2, streamOpt{gifts: 10, coins: 100, country: "SA", senders: 5})
	},
	"edge-whale-share-under": func(w *world) {
		// Six senders alike: the top three give half, and foreign night
		// gifting counts.
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(0, 28), 2, streamOpt{gifts: 12, coins: 100, country: "SA", senders: 6})
	},
	"edge-old-host-pays-a-collector": func(w *world) {
		for _, h := range []hostSpec{{id: "h1", device: "d1", created: newAcct(-4)}, {id: "h2", device: "d2", created: newAcct(-4)}, {id: "h3", device: "d3", created: oldAcct()}} {
			w.broadcast(h, at(0, 21), 4, streamOpt{gifts: 50, coins: 100})
			w.payout(h.id, "op", 5000, "bank", at(6, 10))
		}
	},
	"edge-new-host-pays-its-legit-agency": func(w *world) {
		// A legit agency's discount is for old hosts; a new one paying it
		// keeps its money score. (The bio is inside the window: state older
		// than the window is forgotten.)
		w.post("ag", "bio", "Agency resmi host live. Kantor di Bandung. Rekrutmen terbuka untuk usia 21+.", "", at(-10, 9))
		w.link("l1", "ag", "agency", at(-2, 9))
		w.broadcast(hostSpec{id: "l1", device: "d1", created: newAcct(-3)}, at(1, 10), 2, streamOpt{gifts: 20, coins: 50})
		w.payout("l1", "ag", 1000, "bank", at(6, 10))
	},

	// Audience.
	"audience-directives-paid-private-rooms": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 3, streamOpt{private: 0.3,
			chats: []string{"buka dong", "pc yuk kak", "ayo show"}, chatEvery: 10 * time.Minute, giftAfterDir: true})
	},
	"lookalike-banter-and-song-requests": func(w *world) {
		nights(3, func(d int) {
			w.broadcast(hostSpec{id: "s1", device: "d1", created: oldAcct()}, at(d, 20), 3, streamOpt{gifts: 200, coins: 10,
				chats: []string{"buka lagu dong kak", "request dangdut", "suaranya bagus", "mabar yuk", "share dong kak"}, chatEvery: 2 * time.Minute, giftAfterDir: true})
		})
	},
	"lookalike-dj-vip-room": func(w *world) {
		nights(4, func(d int) {
			w.broadcast(hostSpec{id: "dj", device: "d1", created: oldAcct()}, at(d, 23), 4, streamOpt{private: 0.2, gifts: 50, coins: 20})
		})
	},
	"edge-private-room-one-hour": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(0, 21), 1, streamOpt{private: 0.5})
	},
	"edge-gift-at-directive-window": func(w *world) { directedGift(w, 5*time.Minute) },
	"edge-gift-after-directive-window": func(w *world) {
		directedGift(w, 5*time.Minute+time.Second)
	},

	// Age.
	"age-declared-minor": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1", birthYear: 2009, verified: no}, at(0, 21), 2, streamOpt{})
	},
	"lookalike-teen-homework-chat": func(w *world) {
		h := hostSpec{id: "teen", device: "dt", ip: "36.5.6.7", lat: -6.3, lon: 106.9, birthYear: 2009, verified: no, created: oldAcct()}
		nights(7, func(d int) {
			w.broadcast(h, at(d, 15), 1.5, streamOpt{gifts: 5, coins: 1, chats: []string{"pr matematika susah", "semangat belajar", "kelas berapa kak?"}})
		})
	},
	"edge-age-declared-17":          func(w *world) { declaredAge(w, 17, no) },
	"edge-age-declared-18":          func(w *world) { declaredAge(w, 18, no) },
	"edge-age-declared-18-verified": func(w *world) { declaredAge(w, 18, yes) },
	"edge-age-stated-17-in-text":    func(w *world) { statedAge(w, "aku 17 tahun", 3) },
	"edge-age-stated-18-in-text":    func(w *world) { statedAge(w, "aku 18 tahun", 3) },
	"edge-age-text-twice":           func(w *world) { statedAge(w, "aku kelas 11", 2) },
	"edge-age-text-three-times":     func(w *world) { statedAge(w, "aku kelas 11", 3) },

	// Account age.
	"account-age-new-and-old": func(w *world) {
		w.broadcast(hostSpec{id: "new", device: "d1", created: newAcct(-2)}, at(0, 21), 2, streamOpt{})
		w.broadcast(hostSpec{id: "old", device: "d2", created: oldAcct()}, at(0, 21), 2, streamOpt{})
	},
	"edge-account-age-exactly-new-account": func(w *world) {
		w.broadcast(hostSpec{id: "h30", device: "d1", created: at(-30, 21)}, at(0, 21), 2, streamOpt{})
		w.broadcast(hostSpec{id: "h29", device: "d2", created: at(-29, 21)}, at(0, 21), 2, streamOpt{})
	},

	// External signals.
	"signal-score-counts": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "nudity", 0.93, at(0, 21.5)))
	},
	"signal-decisive-label": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "csam_hash_match", 0.99, at(0, 21.5)))
	},
	"signal-minor-label-feeds-age": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "minor", 0.9, at(0, 21.5)))
	},
	"edge-signal-at-min-score": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "nudity", 0.8, at(0, 21.5)))
		w.broadcast(hostSpec{id: "h2", device: "d2"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h2", "nudity", 0.79, at(0, 21.5)))
	},

	// Severity and alerts.
	"ring-cirebon": func(w *world) { cirebon(w, 8) },
	"ring-of-adults-stays-below-critical": func(w *world) {
		// The reference case's ring with adults of verified age: every family
		// converges but age, so it is high, never critical.
		adultRing(w, "", 8, 0)
	},
	"edge-context-and-minor-stay-medium": func(w *world) {
		// New teen siblings sharing a phone at night: context, a minor and new
		// accounts, but no exploitation: a look, not urgency.
		nights(4, func(d int) {
			for i, id := range []string{"t1", "t2"} {
				w.broadcast(hostSpec{id: id, device: "d1", created: newAcct(-4), birthYear: 2010, verified: no}, at(d, 20+2*float64(i)), 2, streamOpt{})
			}
		})
	},
	"edge-new-minor-alone-at-night": func(w *world) {
		h := hostSpec{id: "h1", device: "d1", created: newAcct(-3), birthYear: 2010, verified: no}
		nights(5, func(d int) { w.broadcast(h, at(d, 21), 3, streamOpt{}) })
	},
	"alerts-merge-when-rings-join": func(w *world) {
		// Two rings raise an alert each; then a host of the younger ring pays
		// the older ring's operator, and the younger alert merges into the older.
		adultRing(w, "a", 4, 0)
		adultRing(w, "b", 4, 2)
		w.payout("bh1", "opa", 900000, "ewallet", at(6, 12))
	},
}

var yes = func() *bool { b := true; return &b }()

// regularsAt: n old-account hosts, each on its own phone, broadcasting three
// evenings from one cell (cell) or one network (else).
func regularsAt(w *world, n int, cell bool) {
	for i := 0; i < n; i++ {
		h := hostSpec{id: fmt.Sprintf("p%d", i), device: fmt.Sprintf("dp%d", i), created: newAcct(-3)}
		if cell {
			h.lat, h.lon = -6.9147, 107.6098
		} else {
			h.ip = "180.250.3." + fmt.Sprint(10+i)
		}
		nights(3, func(d int) { w.broadcast(h, at(d, 18+float64(i)/4), 1, streamOpt{}) })
	}
}

// directedGift: a viewer directs the host, then gifts after.
func directedGift(w *world, after time.Duration) {
	h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
	w.broadcast(h, at(0, 21), 1, streamOpt{})
	t := at(0, 21.25)
	w.add(event.Event{Type: event.TypeChat, At: t, StreamID: "s1", SenderID: "v1", Text: "buka dong"})
	w.add(event.Event{Type: event.TypeGift, At: t.Add(after), StreamID: "s1", HostID: "h1", SenderID: "v1", Coins: 100})
}

// declaredAge: a host whose declared birth year makes it years old this year.
func declaredAge(w *world, years int, verified *bool) {
	h := hostSpec{id: "h1", device: "d1", created: oldAcct(), birthYear: day0.Year() - years, verified: verified}
	w.broadcast(h, at(0, 21), 2, streamOpt{})
}

// statedAge: a host writes line n times in its own chat.
func statedAge(w *world, line string, n int) {
	h := hostSpec{id: "h1", device: "d1", created: oldAcct(), verified: no}
	w.broadcast(h, at(0, 21), 2, streamOpt{})
	for i := 0; i < n; i++ {
		w.add(event.Event{Type: event.TypeChat, At: at(0, 21.1+float64(i)/10), StreamID: "s1", SenderID: "h1", Text: line})
	}
}

// adultRing is cirebon's ring with adults of verified age, its names
// prefixed by p, from day start for days nights.
func adultRing(w *world, p string, days, start int) {
	w.post("rec"+p, "ad", "Lowongan pegawai toko pakaian Cirebon. Cewek, usia 16-20, gaji 2.000.000 + tempat tinggal. Langsung DM aja", "", at(start-9, 10))
	hosts := []string{p + "h1", p + "h2", p + "h3"}
	for i, id := range hosts {
		w.link("rec"+p, id, "dm", at(start-7+i, 20))
	}
	lat := -6.71304 + float64(start)/10
	nights(days, func(d int) {
		for i, id := range hosts {
			h := hostSpec{id: id, device: "phone" + p, ip: fmt.Sprintf("180.29.%d.119", 217+start), lat: lat, lon: 108.53143,
				created: newAcct(start - 5 + i), birthYear: 1995, verified: yes}
			w.broadcast(h, at(start+d, 20+float64(i)*8/3), 8.0/3, streamOpt{gifts: 40, coins: 30, country: "AU", senders: 40,
				private: 0.3, chats: []string{"buka dong", "pc yuk"}, chatEvery: 20 * time.Minute, giftAfterDir: true})
		}
		if d == 3 {
			for _, id := range hosts {
				w.payout(id, "op"+p, 300000, "ewallet", at(start+d, 11))
			}
		}
	})
}
