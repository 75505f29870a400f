package analyzer

import (
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// The Philippines as a second region, the known false cues, and the senders'
// daylight saving, as golden timelines (golden_test.go). They join
// goldenStories from this file, so the region's stories stay in one place.

func init() {
	for name, story := range phStories {
		if _, dup := goldenStories[name]; dup {
			panic("golden story " + name + " defined twice")
		}
		goldenStories[name] = story
	}
}

// manila is day d, local hour h (may exceed 24) in Manila (PHT, UTC+8, one
// hour ahead of the stories' WIB).
func manila(d int, h float64) time.Time { return at(d, h-1) }

// broadcastIn is broadcast from a host whose app sends its IANA zone tz.
func (w *world) broadcastIn(tz string, h hostSpec, start time.Time, hours float64, o streamOpt) {
	n := len(w.pend)
	w.broadcast(h, start, hours, o)
	for i := n; i < len(w.pend); i++ {
		if w.pend[i].Type == event.TypeStreamStart {
			w.pend[i].TZ = tz
		}
	}
}

// nightly is a new host's nightly schedule with gifts after each chat line: the
// context in which a directive read wrongly would raise an alert.
func nightlyChat(w *world, tz string, id string, start func(d int, h float64) time.Time, chats []string) {
	h := hostSpec{id: id, device: "d" + id, created: newAcct(-5)}
	nights(4, func(d int) {
		w.broadcastIn(tz, h, start(d, 21), 4, streamOpt{chats: chats, chatEvery: 10 * time.Minute, giftAfterDir: true})
	})
}

var phStories = map[string]func(w *world){
	// A Manila ring: a Cebuano and Tagalog job ad and DMs, three new hosts on one
	// phone in shifts through Manila's night (tz Asia/Manila), viewers directing
	// them in Tagalog and Cebuano, gifts from Australia in the senders' night,
	// and the coins cashed out by GCash to the operator.
	"ring-manila-gcash": func(w *world) {
		w.post("rec", "ad", "Nangita mi og babaye, 16 pataas, libre puy-anan, dako ang sweldo, trabaho sa gabii. PM ra", "", manila(-9, 10))
		hosts := []string{"ph1", "ph2", "ph3"}
		for i, id := range hosts {
			w.link("rec", id, "dm", manila(-7+i, 20))
			w.post("rec", "dm", "Libre tirahan tsaka malaki sahod, live lang sa gabi", id, manila(-7+i, 20.1))
		}
		nights(6, func(d int) {
			for i, id := range hosts {
				h := hostSpec{id: id, device: "phone-mnl", ip: "112.198.64.7", created: newAcct(-5 + i)}
				w.broadcastIn("Asia/Manila", h, manila(d, 20+float64(i)*8/3), 8.0/3, streamOpt{gifts: 40, coins: 30, country: "AU", senders: 40,
					private: 0.3, chats: []string{"hubad na", "pila imong edad?", "pc tayo"}, chatEvery: 20 * time.Minute, giftAfterDir: true})
			}
			if d%3 == 2 {
				for _, id := range hosts {
					w.payout(id, "op", 300000, "GCash", manila(d, 11))
				}
			}
		})
	},
	// The same viewers' commands written in small capitals to dodge a filter.
	"audience-small-capital-directives": func(w *world) {
		nightlyChat(w, "Asia/Jakarta", "h1", at, []string{"ʙᴜᴋᴀ ᴅᴏɴɢ", "ᴘᴄ ʏᴜᴋ ᴋᴀᴋ", "ᴀʏᴏ ꜱʜᴏᴡ"})
	},

	// Known false cues, each in the context where a directive would count: a new
	// host's nightly schedule with a gift after every chat line.
	"lookalike-unboxing-new-clothes": func(w *world) {
		nightlyChat(w, "Asia/Jakarta", "u1", at, []string{"buka baju baru dong kak", "buka baju baru kak, unboxing", "Buka baju baru dari Shopee!"})
	},
	"lookalike-shop-open-na-po": func(w *world) {
		nightlyChat(w, "Asia/Manila", "o1", manila, []string{"open na po", "Open na po ang shop!", "open na po kami, order na"})
	},
	"lookalike-small-capital-shop-talk": func(w *world) {
		nightlyChat(w, "Asia/Jakarta", "c1", at, []string{"ʙᴜᴋᴀ ʟᴀᴘᴀᴋ ᴊᴀᴍ ʙᴇʀᴀᴘᴀ?", "ʙᴜᴋᴀ ʙᴀᴊᴜ ʙᴀʀᴜ", "ᴏᴘᴇɴ ɴᴀ ᴘᴏ", "ɢᴏᴏᴅ ɴɪɢʜᴛ ᴋᴀᴋ"})
	},
	// A Manila seller cashes her own coins out by GCash: a named rail alone,
	// paid to herself, is no money cue.
	"lookalike-manila-seller-gcash-to-self": func(w *world) {
		h := hostSpec{id: "sell", device: "dsell", created: oldAcct()}
		nights(4, func(d int) {
			w.broadcastIn("Asia/Manila", h, manila(d, 19), 3, streamOpt{gifts: 30, coins: 20, country: "PH",
				chats: []string{"open na po", "magkano po yung dress?", "salamat po"}})
		})
		w.payout("sell", "sell", 1800, "GCash", manila(4, 10))
	},

	// The senders' night follows daylight saving: US senders (America/Chicago)
	// gift a Jakarta host from 10:00 to 11:00 WIB, 03:00-04:00 UTC: 22:00-23:00
	// CDT in June (night, money counts foreign night gifting) but 21:00-22:00
	// CST in January (evening, it does not).
	"edge-us-senders-summer-night": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(0, 10), 1, streamOpt{gifts: 20, coins: 100, country: "US"})
	},
	"edge-us-senders-winter-evening": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(-140, 10), 1, streamOpt{gifts: 20, coins: 100, country: "US"})
	},
	// The gifts carry sender_tz: from 18:00 to 19:00 WIB (11:00-12:00 UTC) it
	// is 04:00-05:00 in Los Angeles, the senders' night, where the US's zone
	// (Chicago, 06:00-07:00) would say morning.
	"edge-us-senders-west-coast-sender-tz": func(w *world) {
		n := len(w.pend)
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(0, 18), 1, streamOpt{gifts: 20, coins: 100, country: "US"})
		for i := n; i < len(w.pend); i++ {
			if w.pend[i].Type == event.TypeGift {
				w.pend[i].SenderTZ = "America/Los_Angeles"
			}
		}
	},
	"edge-us-senders-morning-without-sender-tz": func(w *world) {
		w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(0, 18), 1, streamOpt{gifts: 20, coins: 100, country: "US"})
	},
}
