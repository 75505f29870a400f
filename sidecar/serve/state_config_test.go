package serve

import (
	"reflect"
	"strings"
	"testing"
)

// TestDeployStateDefaults: the state section of deploy/serve.yaml says the
// defaults, and bad values are refused with the key named.
func TestDeployStateDefaults(t *testing.T) {
	c, err := LoadConfig("../../deploy/serve.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig().State; !reflect.DeepEqual(c.State, want) {
		t.Errorf("deploy/serve.yaml state %+v, defaults %+v", c.State, want)
	}
	for _, tc := range []struct{ yaml, says string }{
		{"state: {keep: 0}\n", ""}, // 0 takes the default
		{"state: {keep: 101}\n", "state.keep"},
		{"state: {checkpoint_every: 10ms}\n", "state.checkpoint_every"},
		{"state: {log_max_bytes: 1000}\n", "state.log_max_bytes"},
	} {
		c, err := ParseConfig([]byte(tc.yaml + "intake: {keys: [{id: k, env: X}]}\nmoderators: {tokens: [{name: a, role: lead, sha256: x}]}\n"))
		if err == nil {
			err = c.Finish()
		}
		if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%q: %v, want an error naming %q", tc.yaml, err, tc.says)
		}
	}
}
