package janus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrSessionGone is returned when Janus no longer knows the session: it
// restarted, or timed the session out. The client then creates a new one.
var ErrSessionGone = errors.New("janus session gone")

// errDecode marks an answer that could not be decoded.
var errDecode = errors.New("undecodable answer")

// api is Janus's REST API (https://janus.conf.meetecho.com/docs/rest.html):
// POST to /janus, /janus/SESSION and /janus/SESSION/HANDLE, long poll GET
// /janus/SESSION.
type api struct {
	base     string
	secret   string
	hc       *http.Client
	timeout  time.Duration // per request, the long poll excepted
	maxBody  int64
	txn      atomic.Uint64
	decodeFn func() // counts an undecodable answer
}

func (a *api) path(ids ...uint64) string {
	p := a.base
	for _, id := range ids {
		p += "/" + strconv.FormatUint(id, 10)
	}
	return p
}

// post sends one request and decodes the answer; a Janus error becomes an
// *apiError, or ErrSessionGone.
func (a *api) post(ctx context.Context, op string, body map[string]any, ids ...uint64) (message, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	body["transaction"] = "r" + strconv.FormatUint(a.txn.Add(1), 36)
	if a.secret != "" {
		body["apisecret"] = a.secret
	}
	b, err := json.Marshal(body)
	if err != nil {
		return message{}, fmt.Errorf("%s: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.path(ids...), bytes.NewReader(b))
	if err != nil {
		return message{}, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	raw, err := a.do(req)
	if err != nil {
		return message{}, fmt.Errorf("%s: %w", op, err)
	}
	m, err := decodeMessage(raw)
	if err != nil {
		a.decodeFn()
		return message{}, fmt.Errorf("%s: %w", op, err)
	}
	if m.Janus == "error" || m.Error != nil {
		if m.Error == nil {
			m.Error = &apiError{Reason: "error without details"}
		}
		if m.Error.Code == codeSessionNotFound {
			return m, fmt.Errorf("%s: %w (%v)", op, ErrSessionGone, m.Error)
		}
		return m, fmt.Errorf("%s: %w", op, m.Error)
	}
	return m, nil
}

// do runs a request and reads at most maxBody bytes of a 200 answer.
func (a *api) do(req *http.Request) ([]byte, error) {
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, redact(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, a.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > a.maxBody {
		return nil, fmt.Errorf("answer over %d bytes", a.maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("http %s", resp.Status)
	}
	return raw, nil
}

// createSession creates a Janus session.
func (a *api) createSession(ctx context.Context) (uint64, error) {
	m, err := a.post(ctx, "create session", map[string]any{"janus": "create"})
	if err != nil {
		return 0, err
	}
	if m.Janus != "success" || m.Data == nil || m.Data.ID == 0 {
		return 0, fmt.Errorf("create session: janus %q without an id", m.Janus)
	}
	return m.Data.ID, nil
}

// attach attaches a VideoRoom handle to the session.
func (a *api) attach(ctx context.Context, session uint64) (uint64, error) {
	m, err := a.post(ctx, "attach", map[string]any{"janus": "attach", "plugin": pluginVideoRoom}, session)
	if err != nil {
		return 0, err
	}
	if m.Janus != "success" || m.Data == nil || m.Data.ID == 0 {
		return 0, fmt.Errorf("attach: janus %q without an id", m.Janus)
	}
	return m.Data.ID, nil
}

// request sends a synchronous VideoRoom request (list, listparticipants)
// and returns the plugin's data.
func (a *api) request(ctx context.Context, session, handle uint64, body map[string]any) ([]byte, error) {
	op, _ := body["request"].(string)
	m, err := a.post(ctx, op, map[string]any{"janus": "message", "body": body}, session, handle)
	if err != nil {
		return nil, err
	}
	if m.Janus != "success" || m.Plugindata == nil {
		return nil, fmt.Errorf("%s: janus %q without plugin data", op, m.Janus)
	}
	return m.Plugindata.Data, nil
}

// message sends an asynchronous VideoRoom request (join, start, leave),
// optionally with a session description; the plugin answers in an event.
func (a *api) message(ctx context.Context, session, handle uint64, body map[string]any, sd *jsep) error {
	op, _ := body["request"].(string)
	req := map[string]any{"janus": "message", "body": body}
	if sd != nil {
		req["jsep"] = sd
	}
	m, err := a.post(ctx, op, req, session, handle)
	if err != nil {
		return err
	}
	if m.Janus != "ack" && m.Janus != "success" {
		return fmt.Errorf("%s: janus %q", op, m.Janus)
	}
	return nil
}

// simple sends keepalive, detach or destroy.
func (a *api) simple(ctx context.Context, kind string, ids ...uint64) error {
	_, err := a.post(ctx, kind, map[string]any{"janus": kind}, ids...)
	return err
}

// poll long-polls the session's events (Janus holds the request up to 30 s
// and then answers a keepalive).
func (a *api) poll(ctx context.Context, session uint64, maxev int) ([]message, error) {
	ctx, cancel := context.WithTimeout(ctx, longPollTimeout)
	defer cancel()
	q := url.Values{"maxev": {strconv.Itoa(maxev)}, "rid": {strconv.FormatInt(time.Now().UnixMilli(), 10)}}
	if a.secret != "" {
		q.Set("apisecret", a.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.path(session)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	raw, err := a.do(req)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	evs, err := decodeEvents(raw)
	if err != nil {
		a.decodeFn()
		return nil, fmt.Errorf("poll: %w: %w", errDecode, err)
	}
	for _, m := range evs {
		if m.Janus == "error" && m.Error != nil && m.Error.Code == codeSessionNotFound {
			return nil, fmt.Errorf("poll: %w (%v)", ErrSessionGone, m.Error)
		}
	}
	return evs, nil
}

const (
	pluginVideoRoom = "janus.plugin.videoroom"
	// longPollTimeout bounds a long poll: Janus answers within 30 s.
	longPollTimeout = 45 * time.Second
)

// redact takes the API secret out of a request error's URL (the long poll
// carries it in the query), so errors can be logged.
func redact(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		ue.URL = "(unparsable url)"
		return err
	}
	if q := u.Query(); q.Has("apisecret") {
		q.Set("apisecret", "REDACTED")
		u.RawQuery = q.Encode()
		ue.URL = u.String()
	}
	return err
}
