package analyzer

import (
	"os"
	"reflect"
	"testing"
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
