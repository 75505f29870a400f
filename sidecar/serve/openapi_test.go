package serve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/media"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// specPath is the API description the live service must keep to.
const specPath = "../../docs/openapi.yaml"

func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", decodeNDJSON)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// decodeNDJSON reads an NDJSON request body, gzip-compressed when its
// Content-Encoding says so, as an array of its lines' JSON values.
func decodeNDJSON(body io.Reader, h http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	if ce := h.Get("Content-Encoding"); ce == "gzip" || ce == "x-gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, fmt.Errorf("ndjson: gzip: %w", err)
		}
		defer zr.Close()
		body = zr
	}
	lines := []any{}
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("ndjson: line %d: %w", n, err)
		}
		lines = append(lines, v)
	}
	return lines, sc.Err()
}

// exchange is one real request to the service and its answer.
type exchange struct {
	name    string
	req     *http.Request
	reqBody []byte
	status  int
	header  http.Header
	body    []byte
}

// send sends req with body to the running service and records the exchange.
func send(t *testing.T, name string, req *http.Request, body []byte) exchange {
	t.Helper()
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return exchange{name: name, req: req, reqBody: body, status: resp.StatusCode, header: resp.Header, body: b}
}

func newRequest(t *testing.T, method, url, ctype string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

// loadSpec loads and validates the OpenAPI file at path.
func loadSpec(t *testing.T, path string) *openapi3.T {
	t.Helper()
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", path, err)
	}
	return doc
}

// validate checks one exchange, request and answer, against doc.
func validate(doc *openapi3.T, x exchange) error {
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	// The router matches the request as the client sent it.
	req := x.req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
	route, params, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("route %s %s: %w", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	ctx := context.Background()
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.status,
		Header: x.header, Body: io.NopCloser(bytes.NewReader(x.body)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("answer %d %q: %w", x.status, x.body, err)
	}
	return nil
}

// TestOpenAPIMatchesTheService: real requests to a running service and its
// real answers — events good, gzipped, duplicate, rejected and unknown lines,
// bad signature, too large; webhooks with good and bad secrets; whoami;
// healthz, readyz, metrics — validate against docs/openapi.yaml, and a copy of
// the file with one answer's schema changed no longer passes them, so the
// description cannot drift from the handlers.
func TestOpenAPIMatchesTheService(t *testing.T) {
	testEnv["RONDA_TEST_RTMP"] = "rtmp-secret-0123456789"
	testEnv["RONDA_TEST_SRS"] = "srs-secret-0123456789"
	testEnv["RONDA_TEST_OME"] = "ome-secret-0123456789"
	testEnv["RONDA_TEST_LK"] = "livekit-secret-0123456789abcdef-0123"
	cfg := baseConfig(t)
	cfg.Intake.MaxBodyBytes = 64 << 10
	cfg.Adapters = AdaptersConfig{NginxRTMP: SecretRef{ID: "rtmp", Env: "RONDA_TEST_RTMP"},
		SRS: SecretRef{ID: "srs", Env: "RONDA_TEST_SRS"}, OME: SecretRef{ID: "ome", Env: "RONDA_TEST_OME"},
		LiveKit: []SecretRef{{ID: "APIkey", Env: "RONDA_TEST_LK"}}, HostParam: "host"}
	cfg.Enforcement.DenyPublish = true
	cfg.Media = mediaConfig(t).Media
	// WHIP's bodies are SDP text: read as strings.
	openapi3filter.RegisterBodyDecoder("application/sdp", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/trickle-ice-sdpfrag", openapi3filter.FileBodyDecoder)
	r := startService(t, cfg)
	base := "http://" + r.addr
	at := time.Now().UTC().Format(time.RFC3339)
	whip := func(name, method, path, ctype, token string, body []byte) exchange {
		t.Helper()
		req := newRequest(t, method, base+path, ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return send(t, name, req, body)
	}
	pub := mediatest.NewPublisher(t, loopbackAPI(t), webrtc.MimeTypeVP8)
	defer pub.PC.Close()
	created := whip("whip created", http.MethodPost, media.WHIPPath+"s-openapi", "application/sdp", tokPublisher, []byte(pub.Offer(t)))
	if created.status == http.StatusCreated {
		pub.Answer(t, string(created.body))
	}
	av1 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:45 AV1/90000\r\n"

	signed := func(name string, body []byte, secret string, gz bool) exchange {
		t.Helper()
		req := newRequest(t, http.MethodPost, base+intake.Path, "application/x-ndjson")
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(body)
			zw.Close()
			body = b.Bytes()
			req.Header.Set("Content-Encoding", "gzip")
		}
		wire.Sign(req, keyID, []byte(secret), body, time.Now())
		return send(t, name, req, body)
	}
	chat := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"type":"chat","at":%q,"stream_id":"s1","sender_id":"v1","text":"halo"}`+"\n", id, at)
	}
	good := []byte(chat("e1") + chat("e2"))
	mixed := []byte(chat("e1") + chat("e3") +
		fmt.Sprintf(`{"id":"g1","type":"gift","at":%q,"stream_id":"s1","sender_id":"v1","coins":-5}`+"\n", at) +
		fmt.Sprintf(`{"id":"f1","type":"not_a_type_yet","at":%q}`+"\n", at))
	large := bytes.Repeat([]byte(chat("big")), (64<<10)/len(chat("big"))+1)

	hook := func(name, path, ctype, fixture string) exchange {
		t.Helper()
		b, err := os.ReadFile("../adapters/testdata/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		return send(t, name, newRequest(t, http.MethodPost, base+path, ctype), b)
	}
	// OvenMediaEngine signs the body with HMAC-SHA1, base64url.
	ome := func(name, fixture, secret string) exchange {
		t.Helper()
		b, err := os.ReadFile("../adapters/testdata/ome/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha1.New, []byte(secret))
		m.Write(b)
		req := newRequest(t, http.MethodPost, base+"/hooks/ome", "application/json")
		req.Header.Set("X-OME-Signature", base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
		return send(t, name, req, b)
	}
	// LiveKit signs a JWT, issued by its API key, with the body's SHA-256.
	livekit := func(name, fixture, secret string) exchange {
		t.Helper()
		b, err := os.ReadFile("../adapters/testdata/livekit/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		now := time.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "APIkey",
			"nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"sha256": base64.StdEncoding.EncodeToString(sum[:])}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		req := newRequest(t, http.MethodPost, base+"/hooks/livekit", "application/webhook+json")
		req.Header.Set("Authorization", tok)
		return send(t, name, req, b)
	}
	bearer := func(name, tok string) exchange {
		t.Helper()
		req := newRequest(t, http.MethodGet, base+hub.WhoAmIPath, "")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return send(t, name, req, nil)
	}
	get := func(path string) exchange {
		t.Helper()
		return send(t, path, newRequest(t, http.MethodGet, base+path, ""), nil)
	}
	const form = "application/x-www-form-urlencoded"
	lever := func(name, tok, path, body string) exchange {
		t.Helper()
		req := newRequest(t, http.MethodPost, base+path, "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return send(t, name, req, []byte(body))
	}
	deny := `{"kind":"deny_publish","case_id":"case-1","reason":"ring","entities":[{"kind":"host","id":"host-under-case"}]}`
	approved := lever("lever approve", tokLead, "/v1/levers", deny)
	var lv struct{ ID string }
	_ = json.Unmarshal(approved.body, &lv)
	denied := send(t, "nginx-rtmp denied by a lever", newRequest(t, http.MethodPost,
		base+"/hooks/nginx-rtmp?secret=rtmp-secret-0123456789", form),
		[]byte("call=publish&app=live&name=studio&clientid=9&addr=192.0.2.1&host=host-under-case"))
	listed := func() exchange {
		req := newRequest(t, http.MethodGet, base+"/v1/levers", "")
		req.Header.Set("Authorization", "Bearer "+tokViewer)
		return send(t, "levers list", req, nil)
	}()
	listedCase := func() exchange {
		req := newRequest(t, http.MethodGet, base+"/v1/levers?case_id=case-1", "")
		req.Header.Set("Authorization", "Bearer "+tokViewer)
		return send(t, "levers of a case", req, nil)
	}()

	xs := []struct {
		x    exchange
		want int
	}{
		{signed("events good", good, keySecret, false), 200},
		{signed("events duplicate, rejected and unknown lines", mixed, keySecret, false), 200},
		{signed("events gzip", []byte(chat("e4")), keySecret, true), 200},
		{signed("events bad signature", good, "not-the-secret-0123456789", false), 401},
		{signed("events too large", large, keySecret, false), 413},
		{hook("nginx-rtmp good secret", "/hooks/nginx-rtmp?secret=rtmp-secret-0123456789", form, "nginx-rtmp/publish.form"), 200},
		{hook("nginx-rtmp bad secret", "/hooks/nginx-rtmp?secret=wrong", form, "nginx-rtmp/publish.form"), 200},
		{hook("srs good secret", "/hooks/srs?secret=srs-secret-0123456789", "application/json", "srs/on_publish.json"), 200},
		{hook("srs bad secret", "/hooks/srs?secret=wrong", "application/json", "srs/on_unpublish.json"), 200},
		{bearer("whoami", tokLead), 200},
		{ome("ome good signature", "incoming_opening.json", "ome-secret-0123456789"), 200},
		{ome("ome bad signature", "incoming_opening.json", "wrong"), 200},
		{ome("ome closing", "incoming_closing.json", "ome-secret-0123456789"), 200},
		{livekit("livekit good signature", "participant_joined.json", "livekit-secret-0123456789abcdef-0123"), 200},
		{livekit("livekit bad signature", "participant_joined.json", "wrong-secret-0123456789abcdef-0123"), 403},
		{bearer("whoami bad token", "not-a-token"), 401},
		{send(t, "livekit no token", newRequest(t, http.MethodPost, base+"/hooks/livekit", "application/webhook+json"), []byte(`{"event":"room_started"}`)), 401},
		{approved, 201},
		{denied, 403},
		{listed, 200},
		{listedCase, 200},
		{lever("lever by a moderator", tokModA, "/v1/levers", deny), 403},
		{lever("lever on an account", tokLead, "/v1/levers",
			`{"kind":"deny_publish","case_id":"c","reason":"r","entities":[{"kind":"account","id":"a"}]}`), 400},
		{lever("lever payout hold not configured", tokLead, "/v1/levers",
			`{"kind":"payout_hold","case_id":"c","reason":"r","entities":[{"kind":"account","id":"a"}]}`), 409},
		{lever("lever lift", tokLead, "/v1/levers/"+lv.ID+"/lift", `{"reason":"closed"}`), 200},
		{lever("lever lift unknown", tokLead, "/v1/levers/lv-none/lift", `{}`), 404},
		{created, 201},
		{whip("whip delete", http.MethodDelete, created.header.Get("Location"), "", tokPublisher, nil), 200},
		{whip("whip malformed", http.MethodPost, media.WHIPPath+"s1", "application/sdp", tokPublisher, []byte("not sdp")), 400},
		{whip("whip no token", http.MethodPost, media.WHIPPath+"s1", "application/sdp", "", []byte(av1)), 401},
		{whip("whip only AV1", http.MethodPost, media.WHIPPath+"s1", "application/sdp", tokPublisher, []byte(av1)), 422},
		{whip("whip trickle", http.MethodPatch, media.WHIPPath+"s1/x", "application/trickle-ice-sdpfrag", tokPublisher, []byte("a=ice-ufrag:x")), 405},
		{whip("whip unknown session", http.MethodDelete, media.WHIPPath+"s1/x", "", tokPublisher, nil), 404},
		{get("/healthz"), 200},
		{get("/readyz"), 200},
		{get("/metrics"), 200},
	}
	var ans intake.Answer
	if err := json.Unmarshal(xs[1].x.body, &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Accepted != 1 || len(ans.Duplicates) != 1 || len(ans.Rejected) != 1 || ans.Unknown != 1 {
		t.Errorf("mixed batch answered %s, want 1 accepted, 1 duplicate, 1 rejected, 1 unknown", xs[1].x.body)
	}

	doc := loadSpec(t, specPath)
	for _, c := range xs {
		if c.x.status != c.want {
			t.Errorf("%s: status %d %q, want %d", c.x.name, c.x.status, c.x.body, c.want)
		}
		if err := validate(doc, c.x); err != nil {
			t.Errorf("%s: %v", c.x.name, err)
		}
	}

	// Drift: the same exchanges against a copy of the file with one schema
	// changed must fail, each at the exchange the change is about.
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		old, new string
		exchange string
	}{
		{"accepted: {type: integer, minimum: 0, description: Events taken.}",
			"accepted: {type: string, description: Events taken.}", "events good"},
		{"required: [line, reason]", "required: [line, reason, detail]", "events duplicate, rejected and unknown lines"},
		{"      required: [ready, role, clickhouse, spooled_batches]",
			"      required: [ready, role, clickhouse, spooled]", "/readyz"},
		{"role: {type: string, enum: [moderator, lead, viewer]}",
			"role: {type: string, enum: [moderator, viewer]}", "whoami"},
		{"allowed: {type: boolean}", "allowed: {type: string}", "ome good signature"},
		{`schema: {type: string, const: "0"}`, `schema: {type: string, const: "1"}`, "srs good secret"},
		{"approved_by: {type: string}", "approved_by: {type: integer}", "lever approve"},
		{`supported: {type: array, items: {type: string}`, `supported: {type: array, items: {type: integer}`, "whip only AV1"},
	} {
		if !bytes.Contains(spec, []byte(d.old)) {
			t.Fatalf("drift case: %q is not in %s", d.old, specPath)
		}
		p := filepath.Join(t.TempDir(), "openapi.yaml")
		if err := os.WriteFile(p, bytes.Replace(spec, []byte(d.old), []byte(d.new), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		var x exchange
		for _, c := range xs {
			if c.x.name == d.exchange {
				x = c.x
			}
		}
		if x.req == nil {
			t.Fatalf("drift case: no exchange %q", d.exchange)
		}
		if err := validate(loadSpec(t, p), x); err == nil {
			t.Errorf("%s validated against a spec changed to %q", x.name, d.new)
		}
	}
}

// checkMessage validates one websocket message, as JSON, against the named
// schema of doc.
func checkMessage(doc *openapi3.T, schema string, msg []byte) error {
	s, ok := doc.Components.Schemas[schema]
	if !ok {
		return fmt.Errorf("no schema %s", schema)
	}
	var v any
	if err := json.Unmarshal(msg, &v); err != nil {
		return fmt.Errorf("%s: %w", schema, err)
	}
	if err := s.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s %s: %w", schema, msg, err)
	}
	return nil
}

// TestOpenAPIWebSocketMessages: the messages of both websockets, read from a
// live service (the intake's hello and ack, the hub's snapshot and error) and
// an alert as the hub sends it, validate against the schemas in
// docs/openapi.yaml; a message that breaks its schema does not.
func TestOpenAPIWebSocketMessages(t *testing.T) {
	r := startService(t, baseConfig(t))
	doc := loadSpec(t, specPath)
	at := time.Now().UTC().Format(time.RFC3339)

	// Intake: a signed handshake, then one batch.
	uri := intake.WSPath + "?nonce=n1&sender=edge-1&session=s1"
	h := http.Header{}
	wire.SignHandshake(h, keyID, []byte(keySecret), uri, time.Now())
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+r.addr+uri, h)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("intake dial: %v (HTTP %d)", err, code)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := func() []byte {
		t.Helper()
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hello := read()
	batch := fmt.Sprintf("{\"seq\":1}\n"+`{"id":"w1","type":"chat","at":%q,"stream_id":"s1","sender_id":"v1","text":"halo"}`+"\n"+
		`{"id":"w2","type":"gift","at":%q,"stream_id":"s1","sender_id":"v1","coins":-5}`+"\n", at, at)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(batch)); err != nil {
		t.Fatal(err)
	}
	ack := read()
	for _, m := range [][]byte{hello, ack} {
		if err := checkMessage(doc, "IntakeWSServerMessage", m); err != nil {
			t.Error(err)
		}
	}
	if !bytes.Contains(ack, []byte(`"type":"ack"`)) || !bytes.Contains(ack, []byte(`"rejected":[{"line":2`)) {
		t.Errorf("ack %s, want an ack with line 2 rejected", ack)
	}

	// Hub: the snapshot, and the error answering an action on no alert.
	m := dialModerator(t, r.addr, tokLead)
	snap := m.find(10*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	action := map[string]any{"type": "action", "request_id": "r1", "alert_id": "no-such-alert", "action": "claim"}
	m.send(action)
	errMsg := m.find(10*time.Second, "error", func(msg map[string]any) bool { return msg["type"] == "error" })
	// A case message, as the hub sends it when a case changes.
	r.svc.hub.PublishCase(hub.CaseUpdate{CaseID: cases.ID("a1"), AlertID: "a1", Change: "approve", Status: cases.StatusApproved,
		Version: 2, By: "lead", At: time.Now().UTC()})
	caseMsg := m.find(10*time.Second, "case", func(msg map[string]any) bool { return msg["type"] == "case" })
	// A lever's step on a case, as auditLever tells the consoles.
	r.svc.hub.PublishCase(hub.CaseUpdate{CaseID: cases.ID("a1"), AlertID: "a1", Change: "lever_approve", LeverID: "lv-0123456789abcdef",
		By: "lead", At: time.Now().UTC()})
	leverMsg := m.find(10*time.Second, "lever case", func(msg map[string]any) bool {
		c, _ := msg["case"].(map[string]any)
		return msg["type"] == "case" && c["lever_id"] != nil
	})
	for _, c := range []struct {
		schema string
		v      any
	}{
		{"HubServerMessage", snap},
		{"HubServerMessage", errMsg},
		{"HubServerMessage", caseMsg},
		{"HubServerMessage", leverMsg},
		{"HubClientMessage", action},
	} {
		b, _ := json.Marshal(c.v)
		if err := checkMessage(doc, c.schema, b); err != nil {
			t.Error(err)
		}
	}

	// An alert as the hub sends it: every field of analyzer.Alert, with
	// Ronda's extensions, must be one the schema knows.
	a := analyzer.Alert{ID: "a1", At: time.Now().UTC(), Severity: analyzer.SeverityHigh, Score: 0.8,
		Subject:  analyzer.EntityRef{Kind: "alert", ID: "a0"},
		Entities: []analyzer.EntityRef{{Kind: "host", ID: "h1"}, {Kind: "network", ID: "203.0.113.0/24"}},
		Reasons:  []analyzer.Reason{{Detector: "ring", Score: 0.8, Summary: "s", Evidence: map[string]any{"n": 3}}},
		Updates:  2, MergedInto: "a0"}
	msg, err := json.Marshal(map[string]any{"type": "alert", "seq": 7, "alert": a, "state": map[string]any{"status": "open"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMessage(doc, "HubServerMessage", msg); err != nil {
		t.Error(err)
	}
	// The schemas are strict enough to catch a renamed field.
	bad := bytes.Replace(msg, []byte(`"severity"`), []byte(`"sev"`), 1)
	if err := checkMessage(doc, "HubServerMessage", bad); err == nil {
		t.Errorf("an alert without severity validated: %s", bad)
	}
	bad = bytes.Replace(msg, []byte(`"updates"`), []byte(`"new_field":1,"updates"`), 1)
	if err := checkMessage(doc, "HubServerMessage", bad); err == nil {
		t.Errorf("an alert with a field the file does not know validated: %s", bad)
	}
	bad = bytes.Replace(ack, []byte(`"accepted"`), []byte(`"accepted":"1","x"`), 1)
	if err := checkMessage(doc, "IntakeWSServerMessage", bad); err == nil {
		t.Errorf("an ack with a string count validated: %s", bad)
	}
}

// TestOpenAPIRateLimited: a key over its request rate gets the 429 the file
// describes, Retry-After included.
func TestOpenAPIRateLimited(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Intake.RateRequests, cfg.Intake.RequestBurst = 0.01, 1
	r := startService(t, cfg)
	doc := loadSpec(t, specPath)
	body := []byte(`{"id":"r1","type":"chat","at":"` + time.Now().UTC().Format(time.RFC3339) +
		`","stream_id":"s1","sender_id":"v1","text":"halo"}` + "\n")
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		req := newRequest(t, http.MethodPost, "http://"+r.addr+intake.Path, "application/x-ndjson")
		wire.Sign(req, keyID, []byte(keySecret), body, time.Now())
		x := send(t, fmt.Sprintf("request %d", i+1), req, body)
		if x.status != want {
			t.Fatalf("%s: status %d %q, want %d", x.name, x.status, x.body, want)
		}
		if err := validate(doc, x); err != nil {
			t.Errorf("%s: %v", x.name, err)
		}
		if want == http.StatusTooManyRequests {
			x.header.Del("Retry-After")
			if err := validate(doc, x); err == nil {
				t.Errorf("a 429 without Retry-After validated")
			}
		}
	}
}
