package analyzer

import (
	"fmt"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetRecruitment: the host was DMed, shortly before it began hosting, by an
// account that posts lures or reaches several future hosts; or it pays out to,
// or joined the agency of, an account that posts lures.
const DetRecruitment = "recruitment"

// RecruitmentConfig: fake job ads with lures, and the account that DMs accounts
// which soon start hosting.
type RecruitmentConfig struct {
	// MinAdScore is the lure score (0..1, from analyzer/text) at which a post
	// counts as a recruitment lure. Default 0.5: real shop ads score under 0.3.
	MinAdScore float64 `yaml:"min_ad_score"`
	// WeakAdScore is the lure score of a weak lure: it counts for less in
	// recruitment, and links the hosts an account reached into one alert and
	// names the account in it. At most min_ad_score. Default 0.3: real shop ads
	// score under it.
	WeakAdScore float64 `yaml:"weak_ad_score"`
	// RecruitWindow: a DM counts as recruitment when its target starts hosting
	// within this time. Default 21 days: the reference case moved girls within weeks.
	RecruitWindow time.Duration `yaml:"recruit_window"`
	// MinRecruits is how many DM targets turned hosts make an account a recruiter
	// even without a lure text. Default 2.
	MinRecruits int `yaml:"min_recruits"`
	// RecruitShare is the least share of the accounts it messaged that must
	// have turned hosts for an account to count as a recruiter without a lure
	// text (min_recruits of them too). Default 0.5: a ring's recruiter
	// messages the few girls it moves; a greeter, scout or onboarding
	// account messages many new accounts, of which some happen to host, and
	// must not join their rings into one alert.
	RecruitShare float64 `yaml:"recruit_share"`
	// DMScore, AgencyScore and PayoutScore are the base scores of the three
	// paths to a lure-posting account: a DM before the first broadcast, its
	// agency, payouts to it. Defaults 0.45, 0.4 and 0.4: a DM just before the
	// first broadcast is the reference case's path.
	DMScore     float64 `yaml:"dm_score"`
	AgencyScore float64 `yaml:"agency_score"`
	PayoutScore float64 `yaml:"payout_score"`
	// LureWeight times the account's lure score is added to the base. Default 0.3.
	LureWeight float64 `yaml:"lure_weight"`
	// A weak lure counts WeakLureFactor of the base plus WeakLureWeight times
	// its lure score. Defaults 0.6 and 0.2.
	WeakLureFactor float64 `yaml:"weak_lure_factor"`
	WeakLureWeight float64 `yaml:"weak_lure_weight"`
	// A DM from a recruiter (min_recruits targets turned hosts) scores at least
	// RecruiterFloor plus RecruiterBonus. Defaults 0.35 and 0.2.
	RecruiterFloor float64 `yaml:"recruiter_floor"`
	RecruiterBonus float64 `yaml:"recruiter_bonus"`
	// LegitFactor scales the score of an account whose bio or ads carry
	// legitimacy cues (adult only) and no lure. Default 0.5.
	LegitFactor float64 `yaml:"legit_factor"`
}

func defaultRecruitmentConfig() RecruitmentConfig {
	return RecruitmentConfig{
		MinAdScore: 0.5, WeakAdScore: 0.3, RecruitWindow: 21 * 24 * time.Hour, MinRecruits: 2, RecruitShare: 0.5,
		DMScore: 0.45, AgencyScore: 0.4, PayoutScore: 0.4, LureWeight: 0.3,
		WeakLureFactor: 0.6, WeakLureWeight: 0.2,
		RecruiterFloor: 0.35, RecruiterBonus: 0.2, LegitFactor: 0.5,
	}
}

func (c RecruitmentConfig) validate(bad func(field, why string)) {
	if c.MinAdScore <= 0 || c.MinAdScore > 1 || c.RecruitWindow <= 0 || c.MinRecruits < 1 {
		bad("recruitment", "min_ad_score in (0,1], recruit_window > 0, min_recruits >= 1")
	}
	if c.RecruitShare < 0 || c.RecruitShare > 1 {
		bad("recruitment.recruit_share", "must be in [0, 1]")
	}
	if c.WeakAdScore <= 0 || c.WeakAdScore > c.MinAdScore {
		bad("recruitment.weak_ad_score", "must be in (0, min_ad_score]")
	}
	for _, x := range [...]float64{c.DMScore, c.AgencyScore, c.PayoutScore, c.LureWeight, c.WeakLureFactor, c.WeakLureWeight, c.RecruiterFloor, c.RecruiterBonus, c.LegitFactor} {
		if !unit(x) {
			bad("recruitment", "dm_score, agency_score, payout_score, lure_weight, weak_lure_factor, weak_lure_weight, recruiter_floor, recruiter_bonus and legit_factor in [0,1]")
			break
		}
	}
}

// recruitEvidence: the account that recruited the host, and how.
type recruitEvidence struct {
	recruiter string
	lure      float64
	recruits  int
	via       string // dm, agency, payout
}

var recruitment = &familyOf[recruitEvidence]{
	Name: DetRecruitment,
	Role: roleExploitation,
	Score: func(e *Engine, h *hostState, ev *recruitEvidence, _ *hostEval) float64 {
		rc := e.cfg.Recruitment
		best := 0.0
		consider := func(id, via string, base float64) {
			a := e.accounts[id]
			if a == nil || a.id == h.id {
				return
			}
			s := 0.0
			switch {
			case a.lure >= rc.MinAdScore:
				s = base + rc.LureWeight*a.lure
			case a.lure >= rc.WeakAdScore:
				s = base*rc.WeakLureFactor + rc.WeakLureWeight*a.lure
			}
			if via == "dm" && rc.recruiter(a) {
				s = max(s, rc.RecruiterFloor) + rc.RecruiterBonus
			}
			if a.legit && a.lure < rc.MinAdScore {
				s *= rc.LegitFactor
			}
			if s > best {
				best = s
				*ev = recruitEvidence{recruiter: a.id, lure: a.lure, recruits: len(a.recruits), via: via}
			}
		}
		for _, r := range h.recruiters {
			if !h.firstStream.IsZero() && h.firstStream.Sub(r.at) <= rc.RecruitWindow && !r.at.After(h.firstStream) {
				consider(r.id, "dm", rc.DMScore)
			}
		}
		if h.agency != "" {
			consider(h.agency, "agency", rc.AgencyScore)
		}
		if h.payoutOther > h.payoutSelf && e.isNew(h) {
			// Paying a lure-posting account only says "recruited" of a new host
			// whose money mostly goes there.
			for _, b := range h.beneficiaries {
				consider(b.id, "payout", rc.PayoutScore)
			}
		}
		return clamp01(best)
	},
	Explain: func(e *Engine, _ *hostState, ev *recruitEvidence, n int, _ []*hostState) (string, map[string]any) {
		a := e.accounts[ev.recruiter]
		cues := ""
		if a != nil && len(a.lureCues) > 0 {
			cues = " (" + strings.ReplaceAll(strings.Join(a.lureCues, ", "), "_", " ") + ")"
		}
		var s string
		switch ev.via {
		case "dm":
			s = fmt.Sprintf("Account %s, whose posts or messages carry job lures%s, messaged %s before they began hosting", ev.recruiter, cues, plural(max(ev.recruits, 1), "account", "accounts"))
		case "agency":
			s = fmt.Sprintf("%s joined the agency of account %s, whose posts carry job lures%s", who(n), ev.recruiter, cues)
		default:
			s = fmt.Sprintf("%s pay out to account %s, whose posts carry job lures%s", who(n), ev.recruiter, cues)
		}
		return s + ".", map[string]any{"account": ev.recruiter, "lure_score": round3(ev.lure), "recruits": ev.recruits, "via": ev.via}
	},
	Save: func(w *ckWriter, enc *snapshot.Enc, ev *recruitEvidence) {
		w.str(enc, ev.recruiter)
		enc.F64(ev.lure)
		enc.Varint(int64(ev.recruits))
		w.str(enc, ev.via)
	},
	Load: func(r *ckReader, d *snapshot.Dec, ev *recruitEvidence) {
		ev.recruiter = r.str(d)
		ev.lure = d.F64()
		ev.recruits = int(d.Varint())
		ev.via = r.str(d)
	},
}

// recruiter says whether a counts as a recruiter by its DMs alone:
// min_recruits of the accounts it messaged turned hosts, and at least
// recruit_share of them did (counted over the targets kept, at most maxLinks).
func (rc RecruitmentConfig) recruiter(a *acctState) bool {
	n := len(a.recruits)
	return n >= rc.MinRecruits && float64(n) >= rc.RecruitShare*float64(max(len(a.dmTargets), n))
}
