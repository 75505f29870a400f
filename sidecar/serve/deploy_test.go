package serve

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestDeployServeYAML: deploy/serve.yaml names every key of Config (set, or
// commented out with its default), and what it sets is serve's default, except
// the entries marked EXAMPLE (an intake key and a moderator token).
func TestDeployServeYAML(t *testing.T) {
	const path = "../../deploy/serve.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(c.Intake.Keys) != 1 || len(c.Moderators.Tokens) != 1 {
		t.Fatalf("%s: want one EXAMPLE intake key and one EXAMPLE token", path)
	}
	c.Intake.Keys, c.Moderators.Tokens = nil, nil
	// Where serve leaves a value zero, the component's default applies
	// (intake's rate_events, the hub's claim_ttl, ...): the file shows that
	// default, which only the component knows.
	var differ []string
	var cmp func(prefix string, file, def reflect.Value)
	cmp = func(prefix string, file, def reflect.Value) {
		if file.Kind() == reflect.Struct && file.Type() != reflect.TypeFor[SecretRef]() {
			for i := range file.NumField() {
				name, _, _ := strings.Cut(file.Type().Field(i).Tag.Get("yaml"), ",")
				cmp(prefix+name+".", file.Field(i), def.Field(i))
			}
			return
		}
		zero := def.IsZero() || (def.Kind() == reflect.Slice && def.Len() == 0)
		if !zero && !reflect.DeepEqual(file.Interface(), def.Interface()) {
			differ = append(differ, strings.TrimSuffix(prefix, "."))
		}
	}
	cmp("", reflect.ValueOf(c), reflect.ValueOf(DefaultConfig()))
	if len(differ) > 0 {
		t.Errorf("%s sets values other than the defaults: %v", path, differ)
	}
	text := string(b)
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" {
				continue
			}
			if !regexp.MustCompile(`(?m)^[\s#]*(- )?` + regexp.QuoteMeta(name) + `:|[{,]\s*` + regexp.QuoteMeta(name) + `:`).MatchString(text) {
				t.Errorf("%s does not document %s%s", path, prefix, name)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[SecretRef]() {
				walk(prefix+name+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
}

// TestOpsConfigValidation: the operations keys are checked at load, each
// problem named.
func TestOpsConfigValidation(t *testing.T) {
	const base = "intake: {keys: [{id: a, env: A}]}\nmoderators: {tokens: [{name: m, role: lead, sha256: ab}]}\n"
	for _, tc := range []struct {
		yaml string
		says string // "" when it must be accepted
	}{
		{"trusted_proxies: [10.0.0.0/8, 192.0.2.10, '::1', 'fd00::/8']\n", ""},
		{"trusted_proxies: [10.0.0.1/8]\n", "host bits"},
		{"trusted_proxies: [proxy.example.org]\n", "neither a CIDR"},
		{"tls: {cert_file: /etc/c.pem}\n", "cert_file and key_file go together"},
		{"admin_listen: 127.0.0.1:8080\n", "admin_listen"},
		{"admin_listen: 127.0.0.1:9090\n", ""},
		{"adapters: {livekit_max_token_lifetime: -1m}\n", "livekit_max_token_lifetime"},
	} {
		c, err := ParseConfig([]byte(base + tc.yaml))
		if err == nil {
			err = c.Finish()
		}
		switch {
		case tc.says == "" && err != nil:
			t.Errorf("%q refused: %v", tc.yaml, err)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%q: %v, want an error saying %q", tc.yaml, err, tc.says)
		}
	}
	c, _ := ParseConfig([]byte(base + "trusted_proxies: ['::ffff:10.1.2.3']\n"))
	if p, err := c.trustedProxies(); err != nil || len(p) != 1 || p[0].String() != "10.1.2.3/32" {
		t.Errorf("an IPv4-mapped address: %v %v, want 10.1.2.3/32 (peers are compared unmapped)", p, err)
	}
}
