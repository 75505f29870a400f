package serve

import (
	"reflect"
	"strings"
	"testing"
)

// TestIntakeConfigDefaults: deploy/serve.yaml's intake section is the
// defaults, and a burst below max_lines is refused with a clear message.
func TestIntakeConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("../../deploy/serve.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatalf("deploy/serve.yaml: %v", err)
	}
	got, want := c.Intake, DefaultConfig().Intake
	got.Keys = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deploy/serve.yaml intake:\n%+v\ndefaults:\n%+v", got, want)
	}
	if want.RateBurst < want.MaxLines {
		t.Errorf("default rate_burst %d below max_lines %d", want.RateBurst, want.MaxLines)
	}

	c.Intake.RateBurst, c.Intake.MaxLines = 40_000, 50_000
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "intake.rate_burst: 40000 is below intake.max_lines 50000") {
		t.Errorf("burst below max lines: %v", err)
	}
	c.Intake.RateEvents = -1 // unlimited: any burst will do
	if err := c.Validate(); err != nil {
		t.Errorf("unlimited rate: %v", err)
	}
}
