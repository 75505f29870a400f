package analyzer

import (
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// DetAccountAge: the account was days old when it began broadcasting.
const DetAccountAge = "account_age"

// AccountAgeConfig: hosts whose accounts are days old when broadcasting begins.
type AccountAgeConfig struct {
	// NewAccount is the account age at first broadcast below which a host is new.
	// Default 30 days.
	NewAccount time.Duration `yaml:"new_account"`
}

func defaultAccountAgeConfig() AccountAgeConfig {
	return AccountAgeConfig{NewAccount: 30 * 24 * time.Hour}
}

func (c AccountAgeConfig) validate(bad func(field, why string)) {
	if c.NewAccount <= 0 {
		bad("account_age.new_account", "must be positive")
	}
}

// accountAgeEvidence: the account's age in days at its first broadcast.
type accountAgeEvidence struct {
	days float64
}

var accountAge = &familyOf[accountAgeEvidence]{
	Name: DetAccountAge,
	Role: roleFresh,
	Score: func(e *Engine, h *hostState, ev *accountAgeEvidence, _ *hostEval) float64 {
		if h.created.IsZero() || h.firstStream.IsZero() {
			return 0
		}
		age := h.firstStream.Sub(h.created)
		ev.days = age.Hours() / 24
		if age < 0 || age >= e.cfg.AccountAge.NewAccount {
			return 0
		}
		return 1 - float64(age)/float64(e.cfg.AccountAge.NewAccount)
	},
	Explain: func(_ *Engine, _ *hostState, ev *accountAgeEvidence, n int, _ []*hostState) (string, map[string]any) {
		if n > 1 {
			return fmt.Sprintf("%d hosts began broadcasting within days of creating their accounts (the newest after %.0f days).", n, ev.days),
				map[string]any{"account_days": round3(ev.days), "hosts": n}
		}
		return fmt.Sprintf("The host began broadcasting %.0f days after the account was created.", ev.days),
			map[string]any{"account_days": round3(ev.days)}
	},
	Save: func(_ *ckWriter, enc *snapshot.Enc, ev *accountAgeEvidence) { enc.F64(ev.days) },
	Load: func(_ *ckReader, d *snapshot.Dec, ev *accountAgeEvidence) { ev.days = d.F64() },
}
