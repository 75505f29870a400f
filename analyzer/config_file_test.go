package analyzer

import (
	"os"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// The documented configuration file is the defaults, so the docs cannot drift.
func TestDeployConfigIsDefaults(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../deploy/ronda.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(c, want) {
		t.Errorf("deploy/ronda.yaml differs from DefaultConfig():\n got %+v\nwant %+v", c, want)
	}
}

func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("../deploy/ronda.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("window: 2h\n"))
	f.Add([]byte("scoring: {weights: {money: 2}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("ParseConfig accepted a config that does not validate: %v", err)
			}
			if _, err := New(c); err != nil {
				t.Fatalf("New refused a parsed config: %v", err)
			}
		}
	})
}

// TestShippedConfigNamesEveryKey: deploy/ronda.yaml documents every key,
// those moved out of the code included, not only the values it changes.
func TestShippedConfigNamesEveryKey(t *testing.T) {
	b, err := os.ReadFile("../deploy/ronda.yaml")
	if err != nil {
		t.Skipf("deploy/ronda.yaml not beside the package: %v", err)
	}
	var file map[string]any
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	def, err := yaml.Marshal(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(def, &want); err != nil {
		t.Fatal(err)
	}
	var missing func(prefix string, want, got map[string]any)
	missing = func(prefix string, want, got map[string]any) {
		for k, v := range want {
			g, ok := got[k]
			if !ok {
				t.Errorf("deploy/ronda.yaml lacks %s%s", prefix, k)
				continue
			}
			if wm, ok := v.(map[string]any); ok && prefix+k != "scoring.weights" {
				gm, _ := g.(map[string]any)
				missing(prefix+k+".", wm, gm)
			}
		}
	}
	missing("", want, file)
}
