package analyzer

import (
	"fmt"
	"strings"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetAge: a declared birth year under the age of majority, the host's own words
// ("kelas 11"), an external age estimate; viewers' age questions count a little.
const DetAge = "age"

// AgeConfig: declared birth year, text cues, external age scores.
type AgeConfig struct {
	// Adult is the age of majority. Default 18 (UU 35/2014 child protection).
	Adult int `yaml:"adult"`
	// MinSignalScore is the external age-estimation score that counts. Default 0.7.
	MinSignalScore float64 `yaml:"min_signal_score"`
	// MinorLabels are the external signal labels that mean a minor.
	MinorLabels []string `yaml:"minor_labels"`
	// DeclaredScore is the score of a declared birth year under adult;
	// TurningAdultScore of one that makes adult this year (a minor until the
	// birthday, so a weak cue). Defaults 0.9 and 0.35.
	DeclaredScore     float64 `yaml:"declared_score"`
	TurningAdultScore float64 `yaml:"turning_adult_score"`
	// TextScore is the score of the host's own words saying school or under
	// age; RepeatedTextScore of RepeatedTextCues such lines or more. Defaults
	// 0.6, 0.75 and 3.
	TextScore         float64 `yaml:"text_score"`
	RepeatedTextScore float64 `yaml:"repeated_text_score"`
	RepeatedTextCues  int     `yaml:"repeated_text_cues"`
	// QuestionsScore is added to another age cue when viewers asked the
	// host's age or school Questions times or more: they back up a cue, never
	// make one. Defaults 0.05 and 3.
	QuestionsScore float64 `yaml:"questions_score"`
	Questions      int     `yaml:"questions"`
	// UnverifiedScore is added to an age cue when the app says the host's age
	// is not verified. Default 0.05.
	UnverifiedScore float64 `yaml:"unverified_score"`
}

func defaultAgeConfig() AgeConfig {
	return AgeConfig{
		Adult: 18, MinSignalScore: 0.7,
		MinorLabels:   []string{"minor", "age_under_18", "underage"},
		DeclaredScore: 0.9, TurningAdultScore: 0.35,
		TextScore: 0.6, RepeatedTextScore: 0.75, RepeatedTextCues: 3,
		QuestionsScore: 0.05, Questions: 3, UnverifiedScore: 0.05,
	}
}

func (c AgeConfig) validate(bad func(field, why string)) {
	if c.Adult < 1 || c.MinSignalScore <= 0 || c.MinSignalScore > 1 {
		bad("age", "adult >= 1 and min_signal_score in (0,1]")
	}
	if !unit(c.DeclaredScore) || !unit(c.TurningAdultScore) || !unit(c.TextScore) || !unit(c.RepeatedTextScore) ||
		!unit(c.QuestionsScore) || !unit(c.UnverifiedScore) || c.RepeatedTextCues < 1 || c.Questions < 1 {
		bad("age", "declared_score, turning_adult_score, text_score, repeated_text_score, questions_score and unverified_score in [0,1], repeated_text_cues and questions >= 1")
	}
}

// ageEvidence: the age the host declared, and which cue scored.
type ageEvidence struct {
	years  int
	source string // declared, text, classifier
}

var age = &familyOf[ageEvidence]{
	Name: DetAge,
	Role: roleMinor,
	Score: func(e *Engine, h *hostState, ev *ageEvidence, _ *hostEval) float64 {
		ac := e.cfg.Age
		s := 0.0
		if h.birthYear > 0 {
			years := e.now.Year() - h.birthYear
			ev.years = years
			switch {
			case years < ac.Adult:
				s, ev.source = ac.DeclaredScore, "declared"
			case years == ac.Adult:
				s, ev.source = ac.TurningAdultScore, "declared"
			}
		}
		if h.ageCues > 0 {
			c := ac.TextScore
			if int(h.ageCues) >= ac.RepeatedTextCues {
				c = ac.RepeatedTextScore
			}
			if c > s {
				s, ev.source = c, "text"
			}
		}
		if h.ageSignal >= ac.MinSignalScore && h.ageSignal > s {
			s, ev.source = h.ageSignal, "classifier"
		}
		if int(h.ageQuestion) >= ac.Questions && s > 0 {
			s += ac.QuestionsScore
		}
		if s > 0 && h.verified == 0 {
			s += ac.UnverifiedScore
		}
		if h.verified == 1 && ev.source == "declared" && ev.years >= ac.Adult {
			s = 0
		}
		return clamp01(s)
	},
	Explain: func(_ *Engine, h *hostState, ev *ageEvidence, n int, _ []*hostState) (string, map[string]any) {
		var s string
		switch ev.source {
		case "declared":
			s = fmt.Sprintf("%s declared a birth year that makes them about %d years old", who(n), ev.years)
		case "text":
			s = fmt.Sprintf("%s wrote that they are at school or under age", who(n))
		case "classifier":
			s = fmt.Sprintf("An external age estimate scored %s as a minor (%.2f)", strings.ToLower(who(n)), h.ageSignal)
		default:
			s = "Viewers repeatedly asked the host's age or school"
		}
		if h.verified == 0 {
			s += "; age not verified"
		}
		return s + ".", map[string]any{"age_years": ev.years, "source": ev.source, "verified": h.verified == 1}
	},
	Save: func(w *ckWriter, enc *snapshot.Enc, ev *ageEvidence) {
		enc.Varint(int64(ev.years))
		w.str(enc, ev.source)
	},
	Load: func(r *ckReader, d *snapshot.Dec, ev *ageEvidence) {
		ev.years = int(d.Varint())
		ev.source = r.str(d)
	},
}
