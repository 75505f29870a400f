package analyzer

import (
	"fmt"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetMoney: coins paid out to someone other than the host, the more so when
// that beneficiary collects from several new hosts; a large share of gifts
// from abroad in the senders' night, unless a few whales fund the host.
const DetMoney = "money"

// MoneyConfig: gifts paid out to someone other than the host; one beneficiary
// taking several new hosts' coins; foreign gifting in the viewers' night.
type MoneyConfig struct {
	// MinNewPayers is how many new-account hosts paying one beneficiary make it a
	// collector. Default 2.
	MinNewPayers int `yaml:"min_new_payers"`
	// ForeignNightShare is the share of a host's coins from abroad, sent in the
	// sender's night, that counts fully. Default 0.3.
	ForeignNightShare float64 `yaml:"foreign_night_share"`
	// WhaleShare: when the top three senders give this share of a host's coins
	// or more, the host is whale-funded (popular singers) and foreign gifting does
	// not count. Default 0.6.
	WhaleShare float64 `yaml:"whale_share"`
	// ForeignScore is what foreign night gifting counts fully. Default 0.15:
	// diaspora fans gift at night too.
	ForeignScore float64 `yaml:"foreign_score"`
	// PayoutScore, times the share of the host's payouts that go to someone
	// else, counts a payout elsewhere. Default 0.3: with foreign fans it stays
	// under strong, since teens are paid out to a parent, hosts to a partner.
	PayoutScore float64 `yaml:"payout_score"`
	// CollectorScore, times that share, is added when a new host pays a
	// beneficiary collecting from min_new_payers new hosts. Default 0.3.
	CollectorScore float64 `yaml:"collector_score"`
	// LureScore, times that share, is added when the beneficiary posts lures
	// (recruitment.min_ad_score). Default 0.15.
	LureScore float64 `yaml:"lure_score"`
	// LegitAgencyDiscount is taken off when an old host pays its own agency
	// that shows legitimacy cues. Default 0.25.
	LegitAgencyDiscount float64 `yaml:"legit_agency_discount"`
	// CashMethodScore is added when payouts go out by ATM, e-wallet, phone
	// credit or crypto, or by a named rail (GCash, Maya, Palawan Express,
	// Cebuana Lhuillier, M Lhuillier, DANA, OVO, ...: payrail.go). Default 0.05.
	CashMethodScore float64 `yaml:"cash_method_score"`
	// ShiftCollectorScore, times that share, is added when the
	// beneficiary, not a legitimate agency nor the agency the host
	// broadcasts under, to whom all the host's payouts went, also takes the
	// coins of hosts this one hands over to or from at night
	// (schedule.handover_gap), on schedule.handover_nights nights together,
	// both broadcasting mostly at night: one phone passed along a rota
	// through the night with the money going to one third account, the
	// quiet ring on old or bought accounts that no collector of new
	// accounts shows. Default 0.25: with a payout elsewhere it makes money
	// strong; a family sharing a payout account passes the phone on in the
	// evening, not along a night.
	ShiftCollectorScore float64 `yaml:"shift_collector_score"`
}

func defaultMoneyConfig() MoneyConfig {
	return MoneyConfig{
		MinNewPayers: 2, ForeignNightShare: 0.3, WhaleShare: 0.6,
		ForeignScore: 0.15, PayoutScore: 0.3, CollectorScore: 0.3, LureScore: 0.15,
		LegitAgencyDiscount: 0.25, CashMethodScore: 0.05, ShiftCollectorScore: 0.25,
	}
}

func (c MoneyConfig) validate(bad func(field, why string)) {
	if c.MinNewPayers < 1 || c.ForeignNightShare <= 0 || c.WhaleShare <= 0 || c.WhaleShare > 1 {
		bad("money", "min_new_payers >= 1, foreign_night_share > 0, whale_share in (0,1]")
	}
	for _, x := range [...]float64{c.ForeignScore, c.PayoutScore, c.CollectorScore, c.LureScore, c.LegitAgencyDiscount, c.CashMethodScore, c.ShiftCollectorScore} {
		if !unit(x) {
			bad("money", "foreign_score, payout_score, collector_score, lure_score, legit_agency_discount, cash_method_score and shift_collector_score in [0,1]")
			break
		}
	}
}

// moneyEvidence: where the host's coins go, and from where they come.
type moneyEvidence struct {
	beneficiary       string
	payers, newPayers int    // hosts paying the beneficiary, and the new ones
	shiftPayer        string // a host h hands over to at night who pays it too
	payoutOther       int64
	foreignNightShare float64
}

var money = &familyOf[moneyEvidence]{
	Name: DetMoney,
	Role: roleExploitation,
	Score: func(e *Engine, h *hostState, ev *moneyEvidence, _ *hostEval) float64 {
		mc := e.cfg.Money
		foreign := 0.0
		if h.coins > 0 {
			ev.foreignNightShare = float64(h.foreignNightCoins) / float64(h.coins)
			if float64(h.topCoins)/float64(h.coins) < mc.WhaleShare {
				foreign = mc.ForeignScore * clamp01(ev.foreignNightShare/mc.ForeignNightShare)
			}
		}
		if h.payoutOther == 0 {
			return foreign
		}
		ev.payoutOther = h.payoutOther
		var top *acctLink
		for i := range h.beneficiaries {
			if top == nil || h.beneficiaries[i].coins > top.coins {
				top = &h.beneficiaries[i]
			}
		}
		// Weighted by how much of the host's money goes elsewhere: a host who
		// mostly cashes out to itself and now and then to another is not "someone
		// else takes the money".
		share := float64(h.payoutOther) / float64(h.payoutOther+h.payoutSelf)
		s := mc.PayoutScore*share + foreign
		b := e.accounts[top.id]
		ev.beneficiary = top.id
		if b != nil {
			ev.payers = len(b.payers)
			for _, p := range b.payers {
				if ph := e.hosts[p.id]; ph != nil && e.isNew(ph) {
					ev.newPayers++
				}
			}
			// The indicator is a beneficiary taking the coins of several new
			// hosts: it speaks of the new ones, not of an old account that pays it.
			if ev.newPayers >= mc.MinNewPayers && e.isNew(h) {
				s += mc.CollectorScore * share
			}
			// Hosts of one agency pay it and may follow one another at
			// night: paying the agency one broadcasts under is the agency
			// model (one that posts lures is caught by its lures). A host
			// who also cashes out to herself is not on a rota whose money
			// all goes to someone else.
			ownAgency := h.agency == b.id
			if !b.legit && !ownAgency && h.payoutSelf == 0 {
				if ev.shiftPayer = e.shiftPayer(h, b); ev.shiftPayer != "" {
					s += mc.ShiftCollectorScore * share
				}
			}
			if b.lure >= e.cfg.Recruitment.MinAdScore {
				s += mc.LureScore * share
			}
			if b.legit && h.agency == b.id && !e.isNew(h) {
				s -= mc.LegitAgencyDiscount
			}
		}
		if h.payMethods&payCash != 0 {
			s += mc.CashMethodScore
		}
		return clamp01(s)
	},
	Explain: func(_ *Engine, h *hostState, ev *moneyEvidence, _ int, hosts []*hostState) (string, map[string]any) {
		if ev.beneficiary == "" {
			return fmt.Sprintf("%d%% of the host's coins came from abroad in the senders' night.", pct(ev.foreignNightShare)),
				map[string]any{"foreign_night_share": round3(ev.foreignNightShare)}
		}
		var payers int
		var coins int64
		for _, o := range hosts {
			if evidenceOf[moneyEvidence](&o.eval).beneficiary == ev.beneficiary {
				payers++
				coins += o.payoutOther
			}
		}
		s := fmt.Sprintf("%s paid out %d coins to account %s instead of themselves; it takes coins from %s, %d of them new accounts",
			plural(payers, "host", "hosts"), coins, ev.beneficiary, plural(ev.payers, "host", "hosts"), ev.newPayers)
		if ev.shiftPayer != "" {
			s += fmt.Sprintf("; it also takes the coins of host %s, who takes over from or hands over to this one at night", ev.shiftPayer)
		}
		if ev.foreignNightShare >= 0.1 {
			s += fmt.Sprintf("; %d%% of gifts came from abroad in the senders' night", pct(ev.foreignNightShare))
		}
		evidence := map[string]any{"beneficiary": ev.beneficiary, "coins": coins, "payers": ev.payers,
			"new_payers": ev.newPayers, "foreign_night_share": round3(ev.foreignNightShare)}
		if ev.shiftPayer != "" {
			evidence["shift_payer"] = ev.shiftPayer
		}
		if r := lastPayRail(h.payMethods); r != nil {
			s += fmt.Sprintf("; cashed out by %s (%s)", r.name, r.kind)
			evidence["rail"] = r.name
		}
		return s + ".", evidence
	},
	Save: func(w *ckWriter, enc *snapshot.Enc, ev *moneyEvidence) {
		w.str(enc, ev.beneficiary)
		enc.Varint(int64(ev.payers))
		enc.Varint(int64(ev.newPayers))
		w.str(enc, ev.shiftPayer)
		enc.Varint(ev.payoutOther)
		enc.F64(ev.foreignNightShare)
	},
	Load: func(r *ckReader, d *snapshot.Dec, ev *moneyEvidence) {
		ev.beneficiary = r.str(d)
		ev.payers = int(d.Varint())
		ev.newPayers = int(d.Varint())
		if r.version >= 2 {
			ev.shiftPayer = r.str(d)
		}
		ev.payoutOther = d.Varint()
		ev.foreignNightShare = d.F64()
	},
}

// paysTo says host id pays out to b.
func paysTo(b *acctState, id string) bool {
	for _, p := range b.payers {
		if p.id == id {
			return true
		}
	}
	return false
}

// shiftPayer names a host that hands over to or from h at night and pays b
// too, when the hand-overs of h with b's payers (both sides mostly at night)
// add up to schedule.handover_nights: a rota of several hosts passing one
// phone along shows that on its first night, a chance hand-over with one of
// them does not. (New accounts need no rota: the collector score counts
// their beneficiary.)
func (e *Engine) shiftPayer(h *hostState, b *acctState) string {
	if !e.nightly(h) {
		return ""
	}
	first := ""
	var nights int64
	for _, l := range h.handovers {
		o := e.hosts[l.id]
		if o == nil || !paysTo(b, l.id) || !e.nightly(o) {
			continue
		}
		if first == "" {
			first = l.id
		}
		nights += handoverNights(l.coins)
		if nights >= int64(e.cfg.Schedule.HandoverNights) {
			return first
		}
	}
	return ""
}
