package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// What Reload (SIGHUP) changes in a running service, all or nothing: the
// analyzer thresholds, the intake keys, the moderators' tokens (inline and
// tokens_file), the webhook secrets and the TLS certificate. Everything is
// read and checked first; then each part is swapped, and if one refuses, the
// parts already swapped are put back. Anything else in the configuration
// needs a restart, and a reload that changes it is refused whole.

// secretSet is the part of the configuration a reload may change, resolved:
// every secret read, the tokens file parsed. It is never logged.
type secretSet struct {
	keys    map[string][]byte   // intake, by key id
	tokens  []hub.Token         // inline, then the tokens file; nil for an edge
	livekit map[string]string   // API key -> secret; nil when LiveKit is off
	servers map[string][]string // "srs", "ome", "nginx_rtmp" -> secrets, for those configured
}

// serverRefs are the webhooks authenticated by one shared secret, by adapter name.
func serverRefs(a AdaptersConfig) map[string]SecretRef {
	return map[string]SecretRef{"srs": a.SRS, "ome": a.OME, "nginx_rtmp": a.NginxRTMP}
}

// resolveSecrets reads what cfg names. The errors name keys, files and
// variables, never values.
func (s *Service) resolveSecrets(cfg Config) (secretSet, error) {
	var set secretSet
	var err error
	if set.keys, err = cfg.intakeKeys(s.opts.Getenv); err != nil {
		return secretSet{}, err
	}
	if cfg.Role != RoleEdge {
		if set.tokens, err = s.moderatorTokens(cfg.Moderators); err != nil {
			return secretSet{}, err
		}
	}
	if len(cfg.Adapters.LiveKit) > 0 {
		set.livekit = map[string]string{}
		for _, k := range cfg.Adapters.LiveKit {
			v, err := k.Secret(s.opts.Getenv)
			if err != nil {
				return secretSet{}, fmt.Errorf("adapters.livekit: %w", err)
			}
			if _, dup := set.livekit[k.ID]; dup {
				return secretSet{}, fmt.Errorf("adapters.livekit: API key %q twice", k.ID)
			}
			set.livekit[k.ID] = string(v)
		}
	}
	set.servers = map[string][]string{}
	for name, ref := range serverRefs(cfg.Adapters) {
		if !ref.set() {
			continue
		}
		v, err := ref.Secret(s.opts.Getenv)
		if err != nil {
			return secretSet{}, fmt.Errorf("adapters.%s: %w", name, err)
		}
		set.servers[name] = []string{string(v)}
	}
	return set, nil
}

// moderatorTokens are the inline tokens and those of the tokens file. The
// example token of deploy/serve.yaml is refused unless AllowExampleToken
// (--demo): its secret is public.
func (s *Service) moderatorTokens(m ModeratorsConfig) ([]hub.Token, error) {
	tokens := slices.Clone(m.Tokens)
	if m.TokensFile != "" {
		more, err := readTokens(m.TokensFile)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, more...)
	}
	for _, t := range tokens {
		if !isExampleToken(t) {
			continue
		}
		if !s.opts.AllowExampleToken {
			return nil, fmt.Errorf("moderators: token %q is the example from deploy/serve.yaml (the SHA-256 of \"change-me\"), which anyone can read: "+
				"give it a token of your own (printf %%s \"$TOKEN\" | sha256sum), or try Ronda with ronda serve --demo", t.Name)
		}
		s.log.Warn("a moderator token is the example from deploy/serve.yaml, which anyone can read: replace it",
			"name", t.Name, "role", t.Role)
	}
	return tokens, nil
}

// isExampleToken says whether t is the example token of deploy/serve.yaml.
func isExampleToken(t hub.Token) bool { return hub.IsExampleToken(t) }

// restartNeeded refuses a new configuration that changes anything a reload
// cannot: it names every such key.
func restartNeeded(old, cur Config) error {
	var why []string
	// Serving an intake or a webhook that was off, or stopping one, changes
	// the routes: a restart.
	if (len(old.Intake.Keys) > 0) != (len(cur.Intake.Keys) > 0) {
		why = append(why, "intake.keys (intake turned on or off)")
	}
	if (len(old.Adapters.LiveKit) > 0) != (len(cur.Adapters.LiveKit) > 0) {
		why = append(why, "adapters.livekit (turned on or off)")
	}
	for name, ref := range serverRefs(old.Adapters) {
		if ref.set() != serverRefs(cur.Adapters)[name].set() {
			why = append(why, "adapters."+name+" (turned on or off)")
		}
	}
	blank := func(c Config) Config {
		c.Analyzer = ""
		c.Intake.Keys = nil
		c.Moderators.Tokens, c.Moderators.TokensFile = nil, ""
		c.Adapters.LiveKit, c.Adapters.SRS, c.Adapters.OME, c.Adapters.NginxRTMP = nil, SecretRef{}, SecretRef{}, SecretRef{}
		return c
	}
	diffFields("", reflect.ValueOf(blank(old)), reflect.ValueOf(blank(cur)), &why)
	if len(why) == 0 {
		return nil
	}
	slices.Sort(why)
	return fmt.Errorf("%s changed: a restart is needed for that; nothing was reloaded", strings.Join(why, ", "))
}

// diffFields appends the yaml path of every field that differs between a and b.
func diffFields(prefix string, a, b reflect.Value, out *[]string) {
	if a.Kind() == reflect.Struct && a.Type() != reflect.TypeFor[SecretRef]() {
		for i := range a.NumField() {
			f := a.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() {
				continue
			}
			if name == "" && f.Anonymous { // inline: its keys are the parent's
				diffFields(prefix, a.Field(i), b.Field(i), out)
				continue
			}
			if name == "" {
				continue
			}
			if prefix != "" {
				name = prefix + "." + name
			}
			diffFields(name, a.Field(i), b.Field(i), out)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, prefix)
	}
}

// The setters of the parts a reload swaps. A part whose setter is missing
// cannot be reloaded; a reload that changes it is refused.
type (
	intakeKeySetter interface {
		SetKeys(map[string][]byte) error
	}
	tokenSetter  interface{ SetTokens([]hub.Token) error }
	secretSetter interface {
		SetSecrets([]string) error
	}
	liveKitKeySetter interface {
		SetKeys(map[string]string) error
	}
)

// reloadStep is one part of a reload: apply swaps it in, undo puts the old
// value back when a later part refuses.
type reloadStep struct {
	part        string
	apply, undo func() error
}

// Reload re-reads the configuration (Options.Reread; without it the start
// configuration, whose files are read again) and swaps in what changed, all or
// nothing (see the top of this file). A refused reload changes nothing and
// says why; every reload is counted in ronda_config_reloads_total{result},
// and an applied one is audited in the actions table (moderator "system",
// action "config_reloaded", what changed as counts, never secrets).
func (s *Service) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	summary, err := s.reload(ctx)
	if err != nil {
		s.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload: %w", err)
	}
	s.reloads.WithLabelValues("ok").Inc()
	var id [8]byte
	_, _ = rand.Read(id[:])
	s.writer.Action(store.ActionRow{At: s.opts.Now(), ActionID: "config-" + hex.EncodeToString(id[:]),
		Moderator: "system", Action: "config_reloaded", Note: summary})
	s.log.Info("configuration reloaded", "changes", summary)
	return nil
}

func (s *Service) reload(ctx context.Context) (string, error) {
	cfg := s.cfg
	if s.opts.Reread != nil {
		var err error
		if cfg, err = s.opts.Reread(); err != nil {
			return "", err
		}
	}
	if err := restartNeeded(s.cfg, cfg); err != nil {
		return "", err
	}
	next, err := s.resolveSecrets(cfg)
	if err != nil {
		return "", err
	}
	var notes []string
	var steps []reloadStep

	if s.pipe != nil {
		acfg := analyzer.DefaultConfig()
		if cfg.Analyzer != "" {
			if acfg, err = analyzer.LoadConfig(cfg.Analyzer); err != nil {
				return "", err
			}
		}
		old, err := s.AnalyzerConfig(ctx)
		if err != nil {
			return "", err
		}
		if reflect.DeepEqual(old, acfg) {
			notes = append(notes, "analyzer thresholds unchanged")
		} else {
			notes = append(notes, "analyzer thresholds changed")
		}
		set := func(c analyzer.Config) func() error {
			return func() error {
				var setErr error
				err := s.pipe.do(ctx, func(e *analyzer.Engine) { setErr = e.SetConfig(c) })
				return errors.Join(err, setErr)
			}
		}
		// First: the analyzer refuses what needs a restart (its window),
		// and before anything else is swapped.
		steps = append(steps, reloadStep{"analyzer thresholds", set(acfg), set(old)})
	}

	cur := s.live
	if c := diffMap(cur.keys, next.keys, func(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }); c.any() {
		ks, ok := any(s.intake).(intakeKeySetter)
		if !ok {
			return "", errors.New("intake.keys changed, but this build cannot swap intake keys in place: restart to apply")
		}
		notes = append(notes, c.note("intake keys"))
		steps = append(steps, reloadStep{"intake keys", func() error { return ks.SetKeys(next.keys) }, func() error { return ks.SetKeys(cur.keys) }})
	}
	if c := diffMap(cur.livekit, next.livekit, func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }); c.any() {
		ls, ok := s.hooks["livekit"].(liveKitKeySetter)
		if !ok {
			return "", errors.New("adapters.livekit changed, but this build cannot swap LiveKit keys in place: restart to apply")
		}
		notes = append(notes, c.note("livekit keys"))
		steps = append(steps, reloadStep{"livekit keys", func() error { return ls.SetKeys(next.livekit) }, func() error { return ls.SetKeys(cur.livekit) }})
	}
	for _, name := range slices.Sorted(maps.Keys(next.servers)) {
		if slices.Equal(cur.servers[name], next.servers[name]) {
			continue
		}
		ss, ok := s.hooks[name].(secretSetter)
		if !ok {
			return "", fmt.Errorf("adapters.%s changed, but this build cannot swap its secret in place: restart to apply", name)
		}
		notes = append(notes, name+" webhook secret rotated")
		old, nw := cur.servers[name], next.servers[name]
		steps = append(steps, reloadStep{name + " webhook secret", func() error { return ss.SetSecrets(nw) }, func() error { return ss.SetSecrets(old) }})
	}
	// Last of the parts that can refuse: swapping tokens closes sockets,
	// which a put-back cannot reopen.
	if c := diffTokens(cur.tokens, next.tokens); c.any() {
		ts, ok := any(s.hub).(tokenSetter)
		if !ok {
			return "", errors.New("moderators.tokens changed, but this build cannot swap tokens in place: restart to apply")
		}
		notes = append(notes, c.note("moderator tokens"))
		steps = append(steps, reloadStep{"moderator tokens", func() error { return ts.SetTokens(next.tokens) }, func() error { return ts.SetTokens(cur.tokens) }})
	}
	if s.certs != nil {
		cert, st, err := s.certs.prepare()
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		notes = append(notes, "TLS certificate read again")
		steps = append(steps, reloadStep{"TLS certificate", func() error { s.certs.install(cert, st); return nil }, func() error { return nil }})
	}

	for i, st := range steps {
		if err := st.apply(); err != nil {
			for j := i - 1; j >= 0; j-- {
				if uerr := steps[j].undo(); uerr != nil {
					s.log.Error("reload: could not put back the previous value", "part", steps[j].part, "err", uerr)
				}
			}
			return "", fmt.Errorf("%s: %w", st.part, err)
		}
	}
	s.live = next
	return strings.Join(notes, "; "), nil
}

// change counts what a reload changes in one set of credentials.
type change struct{ live, added, removed, changed int }

func (c change) any() bool { return c.added+c.removed+c.changed > 0 }

func (c change) note(what string) string {
	return fmt.Sprintf("%s: %d live, %d added, %d removed, %d rotated", what, c.live, c.added, c.removed, c.changed)
}

func diffMap[V any](old, cur map[string]V, eq func(a, b V) bool) change {
	c := change{live: len(cur)}
	for k, v := range cur {
		switch o, ok := old[k]; {
		case !ok:
			c.added++
		case !eq(o, v):
			c.changed++
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			c.removed++
		}
	}
	return c
}

// diffTokens compares tokens by name: a new hash or role is a change.
func diffTokens(old, cur []hub.Token) change {
	byName := func(ts []hub.Token) map[string]hub.Token {
		m := map[string]hub.Token{}
		for _, t := range ts {
			t.SHA256 = strings.ToLower(t.SHA256)
			m[t.Name] = t
		}
		return m
	}
	c := diffMap(byName(old), byName(cur), func(a, b hub.Token) bool { return a == b })
	if len(old) != len(cur) && !c.any() {
		c.changed++ // a name repeated: let the hub say what is wrong
	}
	return c
}

// newReloadCounter is ronda_config_reloads_total for a role without an
// analyzer (the pipeline registers it where there is one).
func newReloadCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_config_reloads_total",
		Help: "Configuration reloads (SIGHUP) by result: ok, or error (nothing changed)."}, []string{"result"})
	for _, r := range []string{"ok", "error"} {
		c.WithLabelValues(r)
	}
	reg.MustRegister(c)
	return c
}
