package analyzer

import (
	"fmt"
	"strings"
)

// Reasons: one plain sentence per family with its figures, for the moderator.

func (e *Engine) reasons(hosts []*hostState, best *[numDetectors]float64) []Reason {
	var out []Reason
	for i, d := range Detectors {
		if best[i] < 0.3 {
			continue
		}
		var top *hostState
		var n int
		for _, h := range hosts {
			if h.eval.scores[i] >= 0.3 {
				n++
			}
			if top == nil || h.eval.scores[i] > top.eval.scores[i] {
				top = h
			}
		}
		sum, ev := e.explain(i, top, n, hosts)
		out = append(out, Reason{Detector: d, Score: round3(best[i]), Summary: sum, Evidence: ev})
	}
	return out
}

func pct(x float64) int { return int(x*100 + 0.5) }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// explain writes family i's sentence from the strongest host's figures and the
// number n of member hosts the family applies to.
func (e *Engine) explain(i int, h *hostState, n int, hosts []*hostState) (string, map[string]any) {
	ev := &h.eval
	who := "The host"
	if n > 1 {
		who = fmt.Sprintf("%d hosts", n)
	}
	sc := e.cfg.Schedule
	switch i {
	case iSchedule:
		share := 0.0
		if ev.minutes > 0 {
			share = float64(ev.nightMinutes) / float64(ev.minutes)
		}
		lead := "The host broadcast"
		if n > 1 {
			lead = fmt.Sprintf("%d hosts broadcast mostly at night; the most regular broadcast", n)
		}
		s := fmt.Sprintf("%s %d%% of %.1f hours between %02d:00 and %02d:00 local time, on %s of %s",
			lead, pct(share), float64(ev.minutes)/60, sc.NightStart, sc.NightEnd, plural(ev.nights, "night", "nights"), plural(ev.activeDays, "day", "days"))
		if ev.togetherNights > 0 {
			s += fmt.Sprintf(", %s in shifts or side by side with other hosts at one device or place", plural(ev.togetherNights, "night", "nights"))
		}
		return s + ".", map[string]any{"night_share": round3(share), "hours": round3(float64(ev.minutes) / 60),
			"nights": ev.nights, "active_days": ev.activeDays, "shift_nights": ev.togetherNights, "hosts": n}
	case iColocation:
		what := map[placeKind]string{placeDevice: "one device", placeCell: "one location cell", placeNet: "one home network"}[ev.colocKind]
		s := fmt.Sprintf("%d hosts broadcast regularly from %s", ev.colocHosts, what)
		if ev.colocNew > 0 {
			s += fmt.Sprintf(", %d of them new accounts", ev.colocNew+boolInt(e.isNew(h)))
		}
		return s + ".", map[string]any{"place": strings.TrimPrefix(ev.colocKey, "device:"), "place_kind": []string{"device", "location", "network"}[ev.colocKind],
			"hosts": ev.colocHosts, "new_accounts": ev.colocNew}
	case iRecruitment:
		a := e.accounts[ev.recruiter]
		cues := ""
		if a != nil && len(a.lureCues) > 0 {
			cues = " (" + strings.ReplaceAll(strings.Join(a.lureCues, ", "), "_", " ") + ")"
		}
		var s string
		switch ev.recruitVia {
		case "dm":
			s = fmt.Sprintf("Account %s, whose posts or messages carry job lures%s, messaged %s before they began hosting", ev.recruiter, cues, plural(max(ev.recruits, 1), "account", "accounts"))
		case "agency":
			s = fmt.Sprintf("%s joined the agency of account %s, whose posts carry job lures%s", who, ev.recruiter, cues)
		default:
			s = fmt.Sprintf("%s pay out to account %s, whose posts carry job lures%s", who, ev.recruiter, cues)
		}
		return s + ".", map[string]any{"account": ev.recruiter, "lure_score": round3(ev.recruiterLure), "recruits": ev.recruits, "via": ev.recruitVia}
	case iMoney:
		var payers, fresh int
		var coins int64
		for _, o := range hosts {
			if o.eval.beneficiary == ev.beneficiary && ev.beneficiary != "" {
				payers++
				coins += o.payoutOther
			}
		}
		if ev.beneficiary == "" {
			return fmt.Sprintf("%d%% of the host's coins came from abroad in the senders' night.", pct(ev.foreignNightShare)),
				map[string]any{"foreign_night_share": round3(ev.foreignNightShare)}
		}
		fresh = ev.benNewPayers
		s := fmt.Sprintf("%s paid out %d coins to account %s instead of themselves; it takes coins from %s, %d of them new accounts",
			plural(payers, "host", "hosts"), coins, ev.beneficiary, plural(ev.benPayers, "host", "hosts"), fresh)
		if ev.foreignNightShare >= 0.1 {
			s += fmt.Sprintf("; %d%% of gifts came from abroad in the senders' night", pct(ev.foreignNightShare))
		}
		return s + ".", map[string]any{"beneficiary": ev.beneficiary, "coins": coins, "payers": ev.benPayers,
			"new_payers": fresh, "foreign_night_share": round3(ev.foreignNightShare)}
	case iAudience:
		target := "the host"
		if n > 1 {
			target = fmt.Sprintf("%d hosts (figures for the most directed)", n)
		}
		return fmt.Sprintf("Viewers directed %s in chat %d times, followed within minutes by %d gifts from the same viewers; %d%% of heartbeats were in paid private rooms.",
				target, ev.directives, ev.directed, pct(ev.privateShare)),
			map[string]any{"directives": ev.directives, "directed_gifts": ev.directed, "private_share": round3(ev.privateShare)}
	case iAge:
		var s string
		switch ev.ageSource {
		case "declared":
			s = fmt.Sprintf("%s declared a birth year that makes them about %d years old", who, ev.ageYears)
		case "text":
			s = fmt.Sprintf("%s wrote that they are at school or under age", who)
		case "classifier":
			s = fmt.Sprintf("An external age estimate scored %s as a minor (%.2f)", strings.ToLower(who), h.ageSignal)
		default:
			s = "Viewers repeatedly asked the host's age or school"
		}
		if h.verified == 0 {
			s += "; age not verified"
		}
		return s + ".", map[string]any{"age_years": ev.ageYears, "source": ev.ageSource, "verified": h.verified == 1}
	case iAccountAge:
		if n > 1 {
			return fmt.Sprintf("%d hosts began broadcasting within days of creating their accounts (the newest after %.0f days).", n, ev.accountDays),
				map[string]any{"account_days": round3(ev.accountDays), "hosts": n}
		}
		return fmt.Sprintf("The host began broadcasting %.0f days after the account was created.", ev.accountDays),
			map[string]any{"account_days": round3(ev.accountDays)}
	case iSignal:
		return fmt.Sprintf("External classifier label %q scored %.2f.", h.extLabel, h.extSignal),
			map[string]any{"label": h.extLabel, "score": round3(h.extSignal)}
	}
	return "", nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// raiseSignals reports each family score of h that moved by 0.15 or more since
// the last report, for analysts' trend tables.
func (e *Engine) raiseSignals(h *hostState) {
	for i, d := range Detectors {
		s := h.eval.scores[i]
		if s < 0.3 && h.signal[i] < 0.3 {
			continue
		}
		if s-h.signal[i] < 0.15 && h.signal[i]-s < 0.15 {
			continue
		}
		h.signal[i] = s
		e.stats.SignalsRaised++
		if e.OnSignal != nil {
			sum, ev := e.explain(i, h, 1, []*hostState{h})
			e.OnSignal(Signal{At: e.now, Detector: d, Entity: EntityRef{KindHost, h.id}, Score: round3(s), Summary: sum, Evidence: ev})
		}
	}
}
