package janus

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"
)

// Config is the Janus subscription client's configuration (the `media.janus`
// section of `ronda serve`). The zero value of a field means its default.
type Config struct {
	// URL is Janus's REST API, as http://127.0.0.1:8088/janus (the HTTP
	// transport's base_path). Required. Prefer a loopback or private
	// address: the API secret travels in every request.
	URL string `yaml:"url"`
	// Rooms are the VideoRoom rooms whose publishers are subscribed. Empty:
	// every room the VideoRoom's list request shows (private rooms need
	// AdminKey). Numeric room ids only (no string_ids).
	Rooms []uint64 `yaml:"rooms"`
	// APISecretEnv and APISecretFile name Janus's api_secret (janus.jcfg,
	// general.api_secret): the environment variable is read first, then the
	// file (trailing newline removed). Neither: no secret is sent. The
	// secret is read once at start and never logged. Janus's admin_secret is
	// not needed: the client uses the Janus API, not the Admin API.
	APISecretEnv  string `yaml:"api_secret_env"`
	APISecretFile string `yaml:"api_secret_file"`
	// AdminKeyEnv and AdminKeyFile name the VideoRoom's admin_key
	// (janus.plugin.videoroom.jcfg), sent with list requests so private
	// rooms are listed too. Optional.
	AdminKeyEnv  string `yaml:"admin_key_env"`
	AdminKeyFile string `yaml:"admin_key_file"`
	// MaxSubscriptions bounds the publishers subscribed at once (each is a
	// PeerConnection receiving the publisher's audio and video). Publishers
	// past it are not subscribed until a place frees, and are counted in
	// ronda_media_janus_feeds_skipped_total{reason="limit"}. Default 16.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// PollInterval is how often the rooms' participants are listed to find
	// publishers that joined or left. Polling keeps Ronda invisible in the
	// rooms (joining one to get its events would show Ronda to every
	// participant). Default 2s, at least 100ms.
	PollInterval time.Duration `yaml:"poll_interval"`
	// RequestTimeout bounds each API request but the long poll. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// KeepaliveInterval is how often the session is kept alive; below
	// Janus's session_timeout (default 60s). Default 25s.
	KeepaliveInterval time.Duration `yaml:"keepalive_interval"`
	// BackoffMin and BackoffMax bound the wait, doubling with jitter, before
	// a new session after Janus failed or restarted, and before a feed the
	// media tap refused (media.max_sessions) is joined again; the feed's
	// wait starts over when one of the client's subscriptions ends. Default
	// 500ms and 30s.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// NegotiationTimeout bounds a subscription's setup, from join to the
	// answer sent (ICE gathering included). Default 15s.
	NegotiationTimeout time.Duration `yaml:"negotiation_timeout"`
	// MaxBodyBytes bounds one answer of Janus; a larger one is an error.
	// Default 1 MiB (an SDP offer is a few KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Mapping says which Ronda stream and host a publisher is.
	Mapping Mapping `yaml:"mapping"`
}

// Mapping turns a Janus publisher into Ronda's stream_id and host (the
// fields of EVENTS.md that the tap's wire facts carry).
//
// Without DisplayPattern, the stream_id is "janus-ROOM-ID" (the room and the
// publisher's feed id, unique while the publisher stays) and the host is the
// publisher's display name, or the stream_id when the display is empty.
// Platforms that put their own ids in the display name (janus.js's
// `display` in the join request) set DisplayPattern to take them out.
type Mapping struct {
	// DisplayPattern is a regular expression (RE2) over the display name
	// with named groups `host` and/or `stream`, as
	// `^(?P<host>[a-z0-9_-]+)/(?P<stream>[a-z0-9_-]+)$`. A group that
	// matches sets that field (the other keeps its default). When set, a
	// publisher whose display does not match is not subscribed (counted in
	// ronda_media_janus_feeds_skipped_total{reason="unmatched"}): the pattern
	// then also says which publishers are broadcasts.
	DisplayPattern string `yaml:"display_pattern"`
	// StreamPrefix replaces "janus" in the default stream_id, to tell two
	// Janus servers apart. Default "janus".
	StreamPrefix string `yaml:"stream_prefix"`
}

// Defaults of Config.
const (
	DefaultMaxSubscriptions   = 16
	DefaultPollInterval       = 2 * time.Second
	DefaultRequestTimeout     = 10 * time.Second
	DefaultKeepaliveInterval  = 25 * time.Second
	DefaultBackoffMin         = 500 * time.Millisecond
	DefaultBackoffMax         = 30 * time.Second
	DefaultNegotiationTimeout = 15 * time.Second
	DefaultMaxBodyBytes       = 1 << 20
)

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	set(&c.PollInterval, DefaultPollInterval)
	set(&c.RequestTimeout, DefaultRequestTimeout)
	set(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	set(&c.BackoffMin, DefaultBackoffMin)
	set(&c.BackoffMax, DefaultBackoffMax)
	set(&c.NegotiationTimeout, DefaultNegotiationTimeout)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Mapping.StreamPrefix == "" {
		c.Mapping.StreamPrefix = "janus"
	}
	return c
}

// Validate reports every problem of cfg with its defaults applied, as New
// would (secrets are not read).
func (c Config) Validate() error { return c.withDefaults().validate() }

// validate reports every problem of a defaulted config.
func (c Config) validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want http(s)://host:port/janus", c.URL))
	}
	if c.MaxSubscriptions < 0 {
		errs = append(errs, fmt.Errorf("max_subscriptions %d: want at least 1", c.MaxSubscriptions))
	}
	if c.PollInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("poll_interval %s: want at least 100ms", c.PollInterval))
	}
	for name, d := range map[string]time.Duration{"request_timeout": c.RequestTimeout, "keepalive_interval": c.KeepaliveInterval,
		"backoff_min": c.BackoffMin, "backoff_max": c.BackoffMax, "negotiation_timeout": c.NegotiationTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration", name, d))
		}
	}
	if c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("backoff_max %s below backoff_min %s", c.BackoffMax, c.BackoffMin))
	}
	if c.MaxBodyBytes < 4096 {
		errs = append(errs, fmt.Errorf("max_body_bytes %d: want at least 4096", c.MaxBodyBytes))
	}
	if _, err := c.Mapping.compile(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readSecret reads a secret from env (first) or file; "" when neither is
// named. Errors name the variable or file, never the value.
func readSecret(what, env, file string, getenv func(string) string) (string, error) {
	if env != "" {
		if v := getenv(env); v != "" {
			return v, nil
		}
		if file == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty", what, env)
		}
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return "", fmt.Errorf("%s: file %s is empty", what, file)
	}
	return string(b), nil
}

// mapper is a compiled Mapping.
type mapper struct {
	re     *regexp.Regexp
	host   int // submatch index of group host, -1 without
	stream int
	prefix string
}

func (m Mapping) compile() (mapper, error) {
	out := mapper{host: -1, stream: -1, prefix: m.StreamPrefix}
	if m.DisplayPattern == "" {
		return out, nil
	}
	re, err := regexp.Compile(m.DisplayPattern)
	if err != nil {
		return out, fmt.Errorf("mapping.display_pattern: %w", err)
	}
	out.re, out.host, out.stream = re, re.SubexpIndex("host"), re.SubexpIndex("stream")
	if out.host < 0 && out.stream < 0 {
		return out, errors.New("mapping.display_pattern: no group named host or stream")
	}
	return out, nil
}

// feed maps a publisher of room to a Feed; false when DisplayPattern is set
// and the display does not match.
func (m mapper) feed(room uint64, p publisher) (Feed, bool) {
	f := Feed{Room: room, ID: p.ID, Display: p.Display}
	f.StreamID = fmt.Sprintf("%s-%d-%d", m.prefix, room, p.ID)
	f.Host = p.Display
	if m.re != nil {
		sub := m.re.FindStringSubmatch(p.Display)
		if sub == nil {
			return Feed{}, false
		}
		if m.host >= 0 && sub[m.host] != "" {
			f.Host = sub[m.host]
		}
		if m.stream >= 0 && sub[m.stream] != "" {
			f.StreamID = sub[m.stream]
		}
	}
	if f.Host == "" {
		f.Host = f.StreamID
	}
	return f, true
}
