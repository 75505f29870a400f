package serve

import (
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/janus"
	"github.com/ronda-watch/ronda/sidecar/media/whep"
)

// TestMediaSourcesConfig: media.classifier, media.janus and media.whep are
// validated with the key that is wrong; set while media is off, they are
// refused rather than ignored; janus or whep alone need no WHIP token.
func TestMediaSourcesConfig(t *testing.T) {
	errsOf := func(c MediaConfig) string {
		var got []string
		for _, err := range c.validate() {
			got = append(got, err.Error())
		}
		return strings.Join(got, "\n")
	}
	c := mediaConfig(t).Media
	c.Classifier = ClassifierConfig{Config: classify.Config{URL: "http://127.0.0.1:1/x", JPEGQuality: 101}}
	c.Janus = janus.Config{URL: "janus:8088", PollInterval: 10 * time.Millisecond}
	c.WHEP = []whep.Config{{URL: "http://m/a/whep", StreamID: "s1"}, {URL: "http://m/b/whep", StreamID: "s1"}, {URL: "http://m/c/whep"}}
	c.Keyframes.Workers = 65
	all := errsOf(c)
	for _, want := range []string{
		"media.classifier: jpeg_quality must be between 1 and 100",
		`media.janus: url "janus:8088": want http(s)://host:port/janus`,
		"media.janus: poll_interval 10ms: want at least 100ms",
		`media.whep[1].stream_id: "s1" is pulled by media.whep[0] too`,
		"media.whep[2]: stream_id: required",
		"media.keyframes: keyframes: workers must be at most 64", // the sampler runs for the classifier alone
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}

	off := MediaConfig{Classifier: ClassifierConfig{Config: classify.Config{URL: "http://c/x"}},
		Janus: janus.Config{URL: "http://j/janus"}, WHEP: []whep.Config{{URL: "http://m/a/whep", StreamID: "s1"}}}
	all = errsOf(off)
	for _, key := range []string{"classifier", "janus", "whep"} {
		if !strings.Contains(all, "media."+key+": set, but media.enabled is false") {
			t.Errorf("media.%s accepted while media is off:\n%s", key, all)
		}
	}

	only := MediaConfig{Enabled: true, Janus: janus.Config{URL: "http://127.0.0.1:8088/janus"}}
	if all := errsOf(only); all != "" {
		t.Errorf("janus alone refused: %s", all)
	}
	only = MediaConfig{Enabled: true, WHEP: []whep.Config{{URL: "http://m/a/whep", StreamID: "s1"}}}
	if all := errsOf(only); all != "" {
		t.Errorf("whep alone refused: %s", all)
	}
	if all := errsOf(MediaConfig{Enabled: true}); !strings.Contains(all, "media.whip_tokens") {
		t.Errorf("media on without any source accepted: %q", all)
	}
	tok := mediaConfig(t).Media
	tok.Classifier = ClassifierConfig{TokenEnv: "X"}
	if all := errsOf(tok); !strings.Contains(all, "token_env or token_file set without a url") {
		t.Errorf("a classifier token without a url accepted: %q", all)
	}
}
