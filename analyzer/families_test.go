package analyzer

import (
	"testing"
)

// One test per detector family: the pattern fires, and each lookalike of
// DOMAIN.md, alone, does not raise an alert.

func TestSchedule(t *testing.T) {
	t.Parallel()
	t.Run("nightly host is a schedule", func(t *testing.T) {
		w := newWorld(t)
		h := hostSpec{id: "h1", device: "d1", created: oldAcct()}
		nights(6, func(d int) { w.broadcast(h, at(d, 21), 5, streamOpt{}) })
		w.run()
		assertStrong(t, w, "h1", iSchedule)
	})
	t.Run("shifts on one device count from the first night", func(t *testing.T) {
		w := newWorld(t)
		for i, id := range []string{"h1", "h2", "h3"} {
			w.broadcast(hostSpec{id: id, device: "d1", created: newAcct(-5)}, at(0, 20+2*float64(i)), 2, streamOpt{})
		}
		w.run()
		for _, id := range []string{"h1", "h2", "h3"} {
			assertStrong(t, w, id, iSchedule)
		}
	})
	t.Run("lookalike: night-shift gamer", func(t *testing.T) {
		w := newWorld(t)
		h := hostSpec{id: "g1", device: "dg", created: newAcct(-10), ip: "36.1.2.3"}
		nights(10, func(d int) {
			w.broadcast(h, at(d, 22), 5, streamOpt{gifts: 40, coins: 20, country: "MY", chats: []string{"mabar yuk", "gg bang", "push rank"}})
		})
		w.run()
		assertStrong(t, w, "g1", iSchedule)
		assertNoAlert(t, w, "g1")
	})
	t.Run("lookalike: sahur streams", func(t *testing.T) {
		w := newWorld(t)
		for i, id := range []string{"s1", "s2"} {
			h := hostSpec{id: id, device: "ds" + id, created: oldAcct(), lat: -6.2 + float64(i), lon: 106.8}
			nights(10, func(d int) {
				w.broadcast(h, at(d, 26.5), 1.5, streamOpt{chats: []string{"sahur sahur", "jangan lupa niat puasa"}})
			})
		}
		w.run()
		assertNoAlert(t, w, "s1", "s2")
	})
	t.Run("evening host is no schedule", func(t *testing.T) {
		w := newWorld(t)
		h := hostSpec{id: "e1", device: "de"}
		nights(6, func(d int) { w.broadcast(h, at(d, 17), 3.5, streamOpt{}) })
		w.run()
		assertWeak(t, w, "e1", iSchedule)
	})
}

func TestColocation(t *testing.T) {
	t.Parallel()
	t.Run("new hosts on one device", func(t *testing.T) {
		w := newWorld(t)
		nights(3, func(d int) {
			for i, id := range []string{"h1", "h2", "h3"} {
				w.broadcast(hostSpec{id: id, device: "d1", ip: "110.9.8.7", created: newAcct(-4)}, at(d, 20+2.5*float64(i)), 2.5, streamOpt{})
			}
		})
		w.run()
		for _, id := range []string{"h1", "h2", "h3"} {
			assertStrong(t, w, id, iColocation)
		}
	})
	t.Run("new hosts on own phones in one cell, side by side at night", func(t *testing.T) {
		w := newWorld(t)
		nights(3, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", lat: -6.7130, lon: 108.5314, created: newAcct(-3)}, at(d, 21), 5, streamOpt{})
			// 30 m away, possibly the neighbouring cell.
			w.broadcast(hostSpec{id: "h2", device: "d2", lat: -6.7132, lon: 108.5316, created: newAcct(-3)}, at(d, 21.2), 5, streamOpt{})
		})
		w.run()
		assertStrong(t, w, "h1", iColocation)
		assertStrong(t, w, "h2", iColocation)
	})
	t.Run("lookalike: family of siblings", func(t *testing.T) {
		w := newWorld(t)
		nights(7, func(d int) {
			for i, id := range []string{"f1", "f2", "f3"} {
				w.broadcast(hostSpec{id: id, device: "df" + id, ip: "180.1.1.9", lat: -6.9, lon: 107.6, created: oldAcct()}, at(d, 16+2*float64(i)), 2, streamOpt{})
			}
		})
		w.run()
		for _, id := range []string{"f1", "f2", "f3"} {
			assertWeak(t, w, id, iColocation)
		}
		assertNoAlert(t, w, "f1", "f2", "f3")
	})
	t.Run("lookalike: student boarding house", func(t *testing.T) {
		w := newWorld(t)
		nights(7, func(d int) {
			for i, id := range []string{"k1", "k2", "k3", "k4"} {
				w.broadcast(hostSpec{id: id, device: "dk" + id, ip: "182.2.3.4", lat: -7.77, lon: 110.37, created: oldAcct()}, at(d, 13+3*float64(i)), 2, streamOpt{})
			}
		})
		w.run()
		for _, id := range []string{"k1", "k2", "k3", "k4"} {
			assertWeak(t, w, id, iColocation)
		}
		assertNoAlert(t, w, "k1", "k2", "k3", "k4")
	})
	t.Run("lookalike: mall hotspot", func(t *testing.T) {
		w := newWorld(t)
		for i := 0; i < 14; i++ {
			id := "m" + string(rune('a'+i))
			w.broadcast(hostSpec{id: id, device: "dm" + id, ip: "202.3.4.5", lat: -6.2250, lon: 106.7990, created: newAcct(-3)}, at(i%5, 19+float64(i%3)), 1, streamOpt{})
		}
		w.run()
		for i := 0; i < 14; i++ {
			assertWeak(t, w, "m"+string(rune('a'+i)), iColocation)
		}
		assertNoAlert(t, w)
	})
	t.Run("lookalike: carrier NAT", func(t *testing.T) {
		w := newWorld(t)
		for i := 0; i < 20; i++ {
			id := "n" + string(rune('a'+i))
			w.broadcast(hostSpec{id: id, device: "dn" + id, ip: "114.4.4." + string(rune('0'+i%10)), created: newAcct(-3)}, at(i%4, 21), 3, streamOpt{})
		}
		w.run()
		assertWeak(t, w, "na", iColocation)
		assertNoAlert(t, w)
	})
}

func TestMoney(t *testing.T) {
	t.Parallel()
	t.Run("one beneficiary takes several new hosts' coins", func(t *testing.T) {
		w := newWorld(t)
		for _, id := range []string{"h1", "h2"} {
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-4)}, at(0, 21), 4, streamOpt{gifts: 50, coins: 100})
			w.payout(id, "op", 5000, "ewallet", at(6, 10))
		}
		w.run()
		assertStrong(t, w, "h1", iMoney)
		assertStrong(t, w, "h2", iMoney)
	})
	t.Run("lookalike: legit agency", func(t *testing.T) {
		w := newWorld(t)
		w.post("ag", "bio", "Agency resmi host live. Kantor di Bandung. Rekrutmen terbuka untuk usia 21+.", "", at(-30, 9))
		for i, id := range []string{"l1", "l2", "l3", "l4"} {
			w.link(id, "ag", "agency", at(-20+i, 9))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: oldAcct()}, at(1, 10+float64(i)), 2, streamOpt{gifts: 20, coins: 50})
			w.payout(id, "ag", 1000, "bank", at(6, 10))
		}
		w.run()
		for _, id := range []string{"l1", "l2", "l3", "l4"} {
			assertWeak(t, w, id, iMoney)
		}
		assertNoAlert(t, w, "ag", "l1")
	})
	t.Run("lookalike: whale-funded singer with diaspora fans", func(t *testing.T) {
		w := newWorld(t)
		h := hostSpec{id: "sing", device: "ds", created: oldAcct()}
		nights(5, func(d int) {
			w.broadcast(h, at(d, 19), 3, streamOpt{gifts: 30, coins: 5000, country: "SA", senders: 2, chats: []string{"lagu favorit?", "nyanyi lagi kak", "request dangdut dong"}})
		})
		w.run()
		assertWeak(t, w, "sing", iMoney)
		assertNoAlert(t, w, "sing")
	})
}

func TestAge(t *testing.T) {
	t.Parallel()
	t.Run("declared minor", func(t *testing.T) {
		w := newWorld(t)
		w.broadcast(hostSpec{id: "h1", device: "d1", birthYear: 2009, verified: no}, at(0, 21), 2, streamOpt{})
		w.run()
		assertStrong(t, w, "h1", iAge)
	})
	t.Run("lookalike: teen doing homework chat in the afternoon", func(t *testing.T) {
		w := newWorld(t)
		h := hostSpec{id: "teen", device: "dt", ip: "36.5.6.7", lat: -6.3, lon: 106.9, birthYear: 2009, verified: no, created: oldAcct()}
		nights(7, func(d int) {
			w.broadcast(h, at(d, 15), 1.5, streamOpt{gifts: 5, coins: 1, chats: []string{"pr matematika susah", "semangat belajar", "kelas berapa kak?"}})
		})
		w.run()
		assertStrong(t, w, "teen", iAge)
		assertNoAlert(t, w, "teen")
	})
}

func TestAccountAge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.broadcast(hostSpec{id: "new", device: "d1", created: newAcct(-2)}, at(0, 21), 2, streamOpt{})
	w.broadcast(hostSpec{id: "old", device: "d2", created: oldAcct()}, at(0, 21), 2, streamOpt{})
	w.run()
	assertStrong(t, w, "new", iAccountAge)
	assertWeak(t, w, "old", iAccountAge)
	assertNoAlert(t, w, "new", "old")
}

func TestExternalSignal(t *testing.T) {
	t.Parallel()
	t.Run("score counts as a family", func(t *testing.T) {
		w := newWorld(t)
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "nudity", 0.93, at(0, 21.5)))
		w.run()
		assertStrong(t, w, "h1", iSignal)
		assertNoAlert(t, w, "h1")
	})
	t.Run("decisive label raises high on its own", func(t *testing.T) {
		w := newWorld(t)
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "csam_hash_match", 0.99, at(0, 21.5)))
		w.run()
		if s := w.flagged("h1"); s < SeverityHigh {
			t.Fatalf("hash match flagged at %s, want high", s)
		}
	})
	t.Run("minor label feeds age", func(t *testing.T) {
		w := newWorld(t)
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 2, streamOpt{})
		w.add(signalEvent("h1", "minor", 0.9, at(0, 21.5)))
		w.run()
		assertStrong(t, w, "h1", iAge)
	})
}

func TestRecruitment(t *testing.T) {
	t.Parallel()
	t.Run("lure ad and DMs to accounts that soon host", func(t *testing.T) {
		w := newWorld(t)
		w.post("rec", "ad", "L0wongan kerja toko, cewek usia 16-20, g4ji 5jt + bonus target koin, k0s disediakan. DM aja", "", at(-6, 9))
		for i, id := range []string{"r1", "r2"} {
			w.link("rec", id, "dm", at(-4+i, 19))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-3)}, at(0, 21), 2, streamOpt{})
		}
		w.run()
		assertStrong(t, w, "r1", iRecruitment)
		assertStrong(t, w, "r2", iRecruitment)
	})
	t.Run("English lure in a DM", func(t *testing.T) {
		w := newWorld(t)
		w.post("rec", "dm", "Hiring young girls 16-20 for online work, free lodging, high salary, message me on WhatsApp", "r1", at(-3, 19))
		w.broadcast(hostSpec{id: "r1", device: "d1", created: newAcct(-2)}, at(0, 21), 2, streamOpt{})
		w.run()
		assertStrong(t, w, "r1", iRecruitment)
	})
	t.Run("lookalike: real shop ad and a friend's DM", func(t *testing.T) {
		w := newWorld(t)
		w.post("shop", "ad", "Lowongan kasir minimarket Bandung, shift pagi/siang, gaji sesuai UMK, BPJS. Lamaran ke tokomaju.co.id/karir", "", at(-6, 9))
		w.link("shop", "j1", "dm", at(-4, 10))
		w.post("shop", "dm", "Halo, lamaran kamu sudah kami terima, wawancara hari Senin jam 10", "j1", at(-4, 10.1))
		w.link("friend", "j1", "dm", at(-2, 10))
		w.broadcast(hostSpec{id: "j1", device: "dj", created: newAcct(-3)}, at(0, 16), 2, streamOpt{})
		w.run()
		assertWeak(t, w, "j1", iRecruitment)
		assertNoAlert(t, w, "j1", "shop")
	})
	t.Run("lookalike: legit agency recruiting 21+", func(t *testing.T) {
		w := newWorld(t)
		w.post("ag", "ad", "Agency kami membuka rekrutmen host live streaming untuk jualan produk kecantikan, jam kerja 10.00-17.00, gaji pokok + komisi, min usia 21. Kantor di Jakarta", "", at(-10, 9))
		for i, id := range []string{"a1", "a2"} {
			w.link("ag", id, "dm", at(-5+i, 11))
			w.link(id, "ag", "agency", at(-3+i, 11))
			w.broadcast(hostSpec{id: id, device: "d" + id, created: newAcct(-20)}, at(0, 11+float64(i)), 3, streamOpt{})
		}
		w.run()
		assertWeak(t, w, "a1", iRecruitment)
		assertNoAlert(t, w, "ag", "a1", "a2")
	})
}

func TestAudience(t *testing.T) {
	t.Parallel()
	t.Run("directives paid by the directing viewer, private rooms", func(t *testing.T) {
		w := newWorld(t)
		w.broadcast(hostSpec{id: "h1", device: "d1"}, at(0, 21), 3, streamOpt{private: 0.3,
			chats: []string{"buka dong", "pc yuk kak", "ayo show"}, chatEvery: 10 * 60e9, giftAfterDir: true})
		w.run()
		assertStrong(t, w, "h1", iAudience)
		assertNoAlert(t, w, "h1") // one family alone
	})
	t.Run("lookalike: banter and song requests on a busy stream", func(t *testing.T) {
		w := newWorld(t)
		nights(3, func(d int) {
			w.broadcast(hostSpec{id: "s1", device: "d1", created: oldAcct()}, at(d, 20), 3, streamOpt{gifts: 200, coins: 10,
				chats: []string{"buka lagu dong kak", "request dangdut", "suaranya bagus", "mabar yuk", "share dong kak"}, chatEvery: 2 * 60e9, giftAfterDir: true})
		})
		w.run()
		assertWeak(t, w, "s1", iAudience)
		assertNoAlert(t, w, "s1")
	})
	t.Run("lookalike: a DJ's occasional VIP room", func(t *testing.T) {
		w := newWorld(t)
		nights(4, func(d int) {
			w.broadcast(hostSpec{id: "dj", device: "d1", created: oldAcct()}, at(d, 23), 4, streamOpt{private: 0.2, gifts: 50, coins: 20})
		})
		w.run()
		assertWeak(t, w, "dj", iAudience)
		assertNoAlert(t, w, "dj")
	})
}
