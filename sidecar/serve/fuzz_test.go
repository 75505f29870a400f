package serve

import (
	"os"
	"testing"
)

// FuzzParseConfig: any file is parsed or refused with an error, never a panic;
// what parses can be finished (defaults, validation) without a panic, and a
// configuration that validates has the bounds New relies on.
func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("../../deploy/serve.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("role: edge\nedge: {hub: ws://h:1, key: {id: e1, env: K}}\nnode: e1\n"))
	f.Add([]byte("intake: {keys: [{id: a, env: A}]}\nmoderators: {tokens: [{name: m, role: lead, sha256: ab}]}\n"))
	f.Add([]byte("clickhouse: {batch_rows: -1}\npipeline: {queue_events: 5}\n"))
	f.Add([]byte("admin_listen: 127.0.0.1:9090\ntrusted_proxies: [10.0.0.0/8, 192.0.2.1, '::1']\ntls: {cert_file: c, key_file: k}\n"))
	f.Add([]byte("trusted_proxies: [10.0.0.1/8, x]\ntls: {key_file: k}\nadapters: {livekit_max_token_lifetime: -5m}\n"))
	f.Add([]byte("cases: {hold_days: 30, routes: [{name: ct, kind: http, url: 'https://h.example/r', secret: {env: S}}, {name: d, kind: file, dir: /var/x}, {name: e, kind: email, dir: /o, to: a@b.example, from: c@d.example}]}\n"))
	f.Add([]byte("cases: {hold_days: -1, attempts: 0, routes: [{name: '', kind: smtp}, {name: x, kind: email, dir: rel, to: nobody}]}\n"))
	f.Add([]byte("unknown_key: 1\n"))
	f.Add([]byte("role: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		c.ApplyEnv(func(string) string { return "" })
		if err := c.Finish(); err != nil {
			return
		}
		if _, err := c.trustedProxies(); err != nil {
			t.Fatalf("validated trusted_proxies that do not parse: %v", err)
		}
		if c.TLS.enabled() && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") || c.Adapters.LiveKitMaxTokenLifetime <= 0 {
			t.Fatalf("validated tls %+v, livekit lifetime %v", c.TLS, c.Adapters.LiveKitMaxTokenLifetime)
		}
		if c.Cases.HoldDays < 1 || c.Cases.Attempts < 1 {
			t.Fatalf("validated cases %+v", c.Cases)
		}
		if c.Pipeline.QueueEvents < 1000 || c.ClickHouse.BatchRows < 100 {
			t.Fatalf("validated a config outside its bounds: queue %d, batch rows %d", c.Pipeline.QueueEvents, c.ClickHouse.BatchRows)
		}
	})
}
