package janus

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ronda-watch/ronda/sidecar/media/whep"
)

// TestDocumentedConfig decodes docs/media-paths.md's example strictly (as
// ronda serve decodes its file): every key exists, durations parse.
func TestDocumentedConfig(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../../docs/media-paths.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml example in docs/media-paths.md")
	}
	var doc struct {
		Media struct {
			Janus Config        `yaml:"janus"`
			WHEP  []whep.Config `yaml:"whep"`
		} `yaml:"media"`
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(example)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode the documented example: %v", err)
	}
	j := doc.Media.Janus
	if j.PollInterval != 2*time.Second || j.MaxSubscriptions != 16 || len(j.Rooms) != 1 || j.Mapping.DisplayPattern == "" {
		t.Errorf("janus: %+v", j)
	}
	if err := j.withDefaults().validate(); err != nil {
		t.Errorf("janus example invalid: %v", err)
	}
	if len(doc.Media.WHEP) != 1 || doc.Media.WHEP[0].StreamID != "s1" || doc.Media.WHEP[0].TokenEnv == "" {
		t.Errorf("whep: %+v", doc.Media.WHEP)
	}
}
