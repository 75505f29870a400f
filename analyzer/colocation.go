package analyzer

import (
	"fmt"
	"strings"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetColocation: other hosts who broadcast regularly from the same device,
// location cell (with its neighbours) or home network. A shared device counts
// most; a shared cell or network counts when the hosts are new accounts, and
// public places and carrier NAT do not count at all.
const DetColocation = "colocation"

// ColocationConfig: several distinct hosts broadcasting from one place, device or
// home network, told apart from families, student houses, malls and carrier NAT.
type ColocationConfig struct {
	// CellPrecision is the geohash length of a location cell. Default 7 (about
	// 150 m): one building, with neighbouring cells checked for GPS error.
	CellPrecision int `yaml:"cell_precision"`
	// MaxAccuracyM ignores fixes less precise than this. Default 200 m.
	MaxAccuracyM float64 `yaml:"max_accuracy_m"`
	// PublicPlaceHosts: a cell with more distinct hosts than this in the window is
	// a public place (mall, cafe) and not a den. Default 8.
	PublicPlaceHosts int `yaml:"public_place_hosts"`
	// NATHosts: a network prefix with more distinct hosts than this is shared
	// infrastructure (mobile carrier NAT, campus), not a home. Default 4: a home
	// line rarely carries more broadcasting accounts.
	NATHosts int `yaml:"nat_hosts"`
	// RegularShare: a host is a regular of a place when at least this share of its
	// broadcasts come from there; passers-by do not make a den. Default 0.5.
	RegularShare float64 `yaml:"regular_share"`
	// IPv4Prefix and IPv6Prefix coarsen addresses to a network. Defaults 24 and 48.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// Device scores a device shared with other regular hosts. Defaults 0.4, 0.1
	// per further host up to 3, 0.2 when new accounts share it, 0.15 with shift
	// nights: siblings lend each other a phone; one shared by new accounts at
	// night is a den's.
	Device PlaceScoreConfig `yaml:"device"`
	// Cell scores a location cell (with its neighbours) shared with other
	// regular hosts. Defaults 0.3, 0.05 per further host up to 2, 0.25 when new
	// accounts share it and 0.15 more with shift nights (counted only with new
	// accounts: households and student houses stream side by side).
	Cell PlaceScoreConfig `yaml:"cell"`
	// Network scores a home network shared with other regular hosts. Defaults
	// 0.2, 0.05 per further host up to 1, 0.15 when new accounts share it; shift
	// nights do not count here.
	Network PlaceScoreConfig `yaml:"network"`
	// NetworkMax caps a network's score: even a home line may be shared, so
	// alone it never makes co-location strong. Default 0.45.
	NetworkMax float64 `yaml:"network_max"`
	// SeveralKinds is added when the host shares more than one kind of place
	// (a phone and a cell) with others. Default 0.05.
	SeveralKinds float64 `yaml:"several_kinds"`
}

// PlaceScoreConfig scores one kind of shared place.
type PlaceScoreConfig struct {
	// Base is the score of one other regular host there.
	Base float64 `yaml:"base"`
	// PerHost is added for each further regular host, up to MaxExtraHosts.
	PerHost       float64 `yaml:"per_host"`
	MaxExtraHosts int     `yaml:"max_extra_hosts"`
	// NewAccounts is added when the host and another regular there are new accounts.
	NewAccounts float64 `yaml:"new_accounts"`
	// ShiftNights is added when the host broadcast in shifts with others.
	ShiftNights float64 `yaml:"shift_nights"`
}

func defaultColocationConfig() ColocationConfig {
	return ColocationConfig{
		CellPrecision: 7, MaxAccuracyM: 200,
		PublicPlaceHosts: 8, NATHosts: 4, RegularShare: 0.5,
		IPv4Prefix: 24, IPv6Prefix: 48,
		Device:     PlaceScoreConfig{Base: 0.4, PerHost: 0.1, MaxExtraHosts: 3, NewAccounts: 0.2, ShiftNights: 0.15},
		Cell:       PlaceScoreConfig{Base: 0.3, PerHost: 0.05, MaxExtraHosts: 2, NewAccounts: 0.25, ShiftNights: 0.15},
		Network:    PlaceScoreConfig{Base: 0.2, PerHost: 0.05, MaxExtraHosts: 1, NewAccounts: 0.15},
		NetworkMax: 0.45, SeveralKinds: 0.05,
	}
}

func (l ColocationConfig) validate(bad func(field, why string)) {
	if l.CellPrecision < 5 || l.CellPrecision > 9 {
		bad("colocation.cell_precision", "must be 5..9 (geohash length)")
	}
	if l.MaxAccuracyM <= 0 || l.PublicPlaceHosts < 2 || l.NATHosts < 2 {
		bad("colocation", "max_accuracy_m > 0, public_place_hosts >= 2 and nat_hosts >= 2")
	}
	if l.RegularShare <= 0 || l.RegularShare > 1 {
		bad("colocation.regular_share", "must be in (0,1]")
	}
	if l.IPv4Prefix < 8 || l.IPv4Prefix > 32 || l.IPv6Prefix < 16 || l.IPv6Prefix > 128 {
		bad("colocation.ipv4_prefix/ipv6_prefix", "must be 8..32 and 16..128")
	}
	for _, p := range [...]struct {
		key string
		c   PlaceScoreConfig
	}{{"device", l.Device}, {"cell", l.Cell}, {"network", l.Network}} {
		if !unit(p.c.Base) || !unit(p.c.PerHost) || !unit(p.c.NewAccounts) || !unit(p.c.ShiftNights) || p.c.MaxExtraHosts < 0 {
			bad("colocation."+p.key, "base, per_host, new_accounts and shift_nights in [0,1], max_extra_hosts >= 0")
		}
	}
	if !unit(l.NetworkMax) || !unit(l.SeveralKinds) {
		bad("colocation.network_max/several_kinds", "must be in [0,1]")
	}
}

// colocEvidence: the place shared with the most weight.
type colocEvidence struct {
	key   string
	kind  placeKind
	hosts int // hosts there, this one included
	fresh int // other hosts there that are new accounts
}

var colocation = &familyOf[colocEvidence]{
	Name: DetColocation,
	Role: roleContext,
	Score: func(e *Engine, h *hostState, ev *colocEvidence, all *hostEval) float64 {
		lc := e.cfg.Colocation
		shifts := evidenceOf[scheduleEvidence](all).togetherNights > 0
		best := 0.0
		kinds := 0
		cut := e.now.Add(-e.cfg.Window)
		hNew := e.isNew(h)
		consider := func(ref placeRef, kind placeKind, key string, near []string) {
			if !e.regular(h, ref, kind) {
				return
			}
			others, fresh := 0, 0
			for j := -1; j < len(near); j++ {
				k := key
				if j >= 0 {
					k = near[j]
				}
				p := e.places[k]
				if p == nil {
					continue
				}
				if e.isPublic(p) {
					return
				}
				for _, o := range p.hosts {
					if o.key == h.id || o.last.Before(cut) {
						continue
					}
					oh := e.hosts[o.key]
					if oh == nil || !e.regular(oh, o, kind) {
						continue
					}
					others++
					if e.isNew(oh) {
						fresh++
					}
				}
			}
			if others == 0 {
				return
			}
			kinds++
			var s float64
			switch kind {
			case placeDevice:
				c := lc.Device
				s = c.Base + c.PerHost*float64(min(others-1, c.MaxExtraHosts))
				if hNew && fresh > 0 {
					s += c.NewAccounts
				}
				if shifts {
					s += c.ShiftNights
				}
			case placeCell:
				c := lc.Cell
				s = c.Base + c.PerHost*float64(min(others-1, c.MaxExtraHosts))
				if hNew && fresh > 0 {
					s += c.NewAccounts
					if shifts {
						s += c.ShiftNights
					}
				}
			default:
				c := lc.Network
				s = c.Base + c.PerHost*float64(min(others-1, c.MaxExtraHosts))
				if hNew && fresh > 0 {
					s += c.NewAccounts
				}
				s = min(s, lc.NetworkMax)
			}
			if s > best {
				best = s
				*ev = colocEvidence{key: key, kind: kind, hosts: others + 1, fresh: fresh}
			}
		}
		for _, r := range h.devices {
			consider(r, placeDevice, r.key, nil)
		}
		for _, r := range h.places {
			var near []string
			if p := e.places[r.key]; p != nil {
				near = p.near
			}
			consider(r, placeCell, r.key, near)
		}
		for _, r := range h.nets {
			consider(r, placeNet, r.key, nil)
		}
		if kinds >= 2 {
			best += lc.SeveralKinds
		}
		return clamp01(best)
	},
	Den: func(ev *colocEvidence) bool { return ev.kind == placeDevice },
	Explain: func(e *Engine, h *hostState, ev *colocEvidence, _ int, _ []*hostState) (string, map[string]any) {
		what := map[placeKind]string{placeDevice: "one device", placeCell: "one location cell", placeNet: "one home network"}[ev.kind]
		s := fmt.Sprintf("%d hosts broadcast regularly from %s", ev.hosts, what)
		if ev.fresh > 0 {
			s += fmt.Sprintf(", %d of them new accounts", ev.fresh+boolInt(e.isNew(h)))
		}
		return s + ".", map[string]any{"place": strings.TrimPrefix(ev.key, "device:"), "place_kind": []string{"device", "location", "network"}[ev.kind],
			"hosts": ev.hosts, "new_accounts": ev.fresh}
	},
	Save: func(w *ckWriter, enc *snapshot.Enc, ev *colocEvidence) {
		w.str(enc, ev.key)
		enc.Uvarint(uint64(ev.kind))
		enc.Varint(int64(ev.hosts))
		enc.Varint(int64(ev.fresh))
	},
	Load: func(r *ckReader, d *snapshot.Dec, ev *colocEvidence) {
		ev.key = r.str(d)
		ev.kind = placeKind(d.Uint(uint64(placeNet), "place kind"))
		ev.hosts = int(d.Varint())
		ev.fresh = int(d.Varint())
	},
}

// regular: at least RegularShare of the host's broadcasts came from this place,
// and more than one unless it is a device: one visit to a cell or network is a
// passer-by (a mall, a cafe), while one phone shared is already a link.
func (e *Engine) regular(h *hostState, ref placeRef, kind placeKind) bool {
	if h.streams == 0 || (kind != placeDevice && ref.sessions < 2) {
		return false
	}
	return float64(ref.sessions)/float64(h.streams) >= e.cfg.Colocation.RegularShare
}
