package analyzer

import (
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetSchedule: most broadcast minutes inside the local night, on several
// nights; broadcasting in shifts or in parallel with other hosts at one place
// makes one night count as a pattern already.
const DetSchedule = "schedule"

// ScheduleConfig: a host's broadcasts mostly inside the night window, on most
// nights, for hours; several hosts covering one night in shifts.
type ScheduleConfig struct {
	// NightStart and NightEnd bound the night in local hours. Default 20 to 4: the
	// reference case broadcast "from about 20:00 to 04:00".
	NightStart int `yaml:"night_start"`
	NightEnd   int `yaml:"night_end"`
	// MinNightShare is the share of broadcast minutes at night where the schedule
	// starts to count; FullNightShare is where it counts fully. Defaults 0.5 and
	// 0.9: many hosts stream in the evening, few almost only at night.
	MinNightShare  float64 `yaml:"min_night_share"`
	FullNightShare float64 `yaml:"full_night_share"`
	// MinNights is how many nights with night broadcasting make a schedule rather
	// than one late evening. Default 3.
	MinNights int `yaml:"min_nights"`
	// MinNightMinutes is the least night broadcasting that counts a night. Default 30.
	MinNightMinutes int `yaml:"min_night_minutes"`
	// ShiftGap is the largest gap between one host's broadcast ending and another's
	// starting on the same device or place for the two to be shifts. Default 45m.
	ShiftGap time.Duration `yaml:"shift_gap"`
	// MostNightsShare is the share of a host's active days with night
	// broadcasting at which "on most nights" counts fully. Default 0.6: a
	// schedule, not a few late evenings among many days.
	MostNightsShare float64 `yaml:"most_nights_share"`
	// ShiftScore is the schedule score, times the night share's, of one night
	// in shifts with other hosts at one device or place; ShiftScorePerNight is
	// added for each further such night. Defaults 0.5 and 0.25: shifts are a
	// pattern from the first night, and strong from the second.
	ShiftScore         float64 `yaml:"shift_score"`
	ShiftScorePerNight float64 `yaml:"shift_score_per_night"`
	// HandoverGap is the largest gap between one host's last stream event
	// and another host's stream start, at night, for a shift hand-over: what
	// is left of a shared phone on apps that send no device id, location or
	// address. Default 20m: a heartbeat interval and the minutes a phone
	// takes to change hands. 0 turns hand-overs off. By timing alone a
	// hand-over is weak (streams end and begin every minute on a busy
	// platform): it links hosts that each reach an alert, and counts in the
	// money family, never in the schedule.
	HandoverGap time.Duration `yaml:"handover_gap"`
	// HandoverNights is on how many nights a pair of hosts must hand over
	// to each other to be linked; two new accounts are linked from the
	// first while no operator account explains either yet (a ring's first
	// night on a sparse app). Default 2: one coincidence is common, the
	// same pair on two nights is a rota.
	HandoverNights int `yaml:"handover_nights"`
}

func defaultScheduleConfig() ScheduleConfig {
	return ScheduleConfig{
		NightStart: 20, NightEnd: 4,
		MinNightShare: 0.5, FullNightShare: 0.9,
		MinNights: 3, MinNightMinutes: 30,
		ShiftGap:        45 * time.Minute,
		MostNightsShare: 0.6, ShiftScore: 0.5, ShiftScorePerNight: 0.25,
		HandoverGap: 20 * time.Minute, HandoverNights: 2,
	}
}

func (s ScheduleConfig) validate(bad func(field, why string)) {
	if s.NightStart < 0 || s.NightStart > 23 || s.NightEnd < 0 || s.NightEnd > 23 || s.NightStart == s.NightEnd {
		bad("schedule.night_start/night_end", "must be distinct hours 0..23")
	}
	if !(0 <= s.MinNightShare && s.MinNightShare < s.FullNightShare && s.FullNightShare <= 1) {
		bad("schedule.min_night_share/full_night_share", "need 0 <= min < full <= 1")
	}
	if s.MinNights < 1 || s.MinNightMinutes < 1 || s.ShiftGap < 0 {
		bad("schedule", "min_nights and min_night_minutes must be >= 1, shift_gap >= 0")
	}
	if s.MostNightsShare <= 0 || s.MostNightsShare > 1 {
		bad("schedule.most_nights_share", "must be in (0,1]")
	}
	if s.HandoverGap < 0 || s.HandoverGap > 2*time.Hour || s.HandoverNights < 1 {
		bad("schedule.handover_gap/handover_nights", "handover_gap in 0..2h, handover_nights >= 1")
	}
	if !unit(s.ShiftScore) || !unit(s.ShiftScorePerNight) {
		bad("schedule.shift_score/shift_score_per_night", "must be in [0,1]")
	}
}

// scheduleEvidence: the host's broadcasting in the window, by local day.
type scheduleEvidence struct {
	minutes, nightMinutes  int
	nights, togetherNights int
	activeDays             int
}

var schedule = &familyOf[scheduleEvidence]{
	Name: DetSchedule,
	Role: roleContext,
	Score: func(e *Engine, h *hostState, ev *scheduleEvidence, _ *hostEval) float64 {
		sc := e.cfg.Schedule
		cut := localDay(e.now.Add(-e.cfg.Window), e.defTZ)
		for _, d := range h.days {
			if d.minutes == 0 || d.day < cut {
				continue
			}
			ev.activeDays++
			ev.minutes += int(d.minutes)
			ev.nightMinutes += int(d.nightMinutes)
			if int(d.nightMinutes) >= sc.MinNightMinutes {
				ev.nights++
				if d.shift {
					ev.togetherNights++
				}
			}
		}
		if ev.minutes == 0 {
			return 0
		}
		share := float64(ev.nightMinutes) / float64(ev.minutes)
		shareScore := clamp01((share - sc.MinNightShare) / (sc.FullNightShare - sc.MinNightShare))
		regular := clamp01(float64(ev.nights) / float64(sc.MinNights))
		// On most nights: nights with night broadcasting over all active days.
		most := clamp01(float64(ev.nights) / float64(ev.activeDays) / sc.MostNightsShare)
		own := shareScore * regular * most
		shifts := 0.0
		if ev.togetherNights > 0 {
			shifts = shareScore * clamp01(sc.ShiftScore+sc.ShiftScorePerNight*float64(ev.togetherNights-1))
		}
		return max(own, shifts)
	},
	Explain: func(e *Engine, h *hostState, ev *scheduleEvidence, n int, _ []*hostState) (string, map[string]any) {
		sc := e.cfg.Schedule
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
	},
	Save: func(_ *ckWriter, enc *snapshot.Enc, ev *scheduleEvidence) {
		for _, x := range [...]int{ev.minutes, ev.nightMinutes, ev.nights, ev.togetherNights, ev.activeDays} {
			enc.Varint(int64(x))
		}
	},
	Load: func(_ *ckReader, d *snapshot.Dec, ev *scheduleEvidence) {
		for _, x := range [...]*int{&ev.minutes, &ev.nightMinutes, &ev.nights, &ev.togetherNights, &ev.activeDays} {
			*x = int(d.Varint())
		}
	},
}

// unit says x is a score weight in [0,1].
func unit(x float64) bool { return x >= 0 && x <= 1 }
