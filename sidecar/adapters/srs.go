package adapters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// SRS receives SRS HTTP callbacks on_publish and on_unpublish
// (https://ossrs.io/lts/en-us/docs/v5/doc/http-callback): a JSON body with
// action, client_id, ip, vhost, app, stream, param and, from SRS 4, server_id.
//
// Authentication: SRS cannot sign its callbacks, so the callback URL in
// srs.conf carries the shared secret (on_publish
// http://ronda:8080/hooks/srs?secret=...), or a proxy adds SecretHeader. The
// secret is never taken from param: that is the broadcaster's own query
// string, which the broadcaster writes.
//
// Mapping: on_publish -> stream.start, on_unpublish -> stream.end, anything
// else (on_connect, on_play, on_dvr ...) is answered and ignored. stream_id
// is "<app>/<stream>" (prefixed with the vhost when it is not the default),
// host_id the stream name or ServerOptions.HostParam from param, ip the
// publisher's address, node Options.Node or else server_id. SRS sends no time,
// so at is Options.Now. The event id hashes the action, server_id, client_id
// (one per publishing connection), vhost, app and stream: a retried callback
// is a duplicate, the next session of the same stream a new event.
//
// Fail open: SRS refuses the publish unless the answer is HTTP 200 with 0 (or
// {"code":0}), so the answer is always HTTP 200 with the body 0: to a
// missing or wrong secret, a malformed or oversized body, a GET, a body that
// trickles, a Sink that fails or overruns. A request that fails the secret or
// cannot be read records nothing; it is counted and logged. The answer comes
// within Options.SinkTimeout of the call (default 1s; see the package
// comment): SRS holds the publisher for as long as its callback takes.
type SRS struct {
	*base
	secrets   secretSet
	hostParam string
}

var _ http.Handler = (*SRS)(nil)

// NewSRS returns the SRS callback handler.
func NewSRS(o Options, s ServerOptions) (*SRS, error) {
	b, err := newBase("srs", o)
	if err != nil {
		return nil, err
	}
	x := &SRS{base: b, hostParam: s.HostParam}
	if err := x.secrets.set(s.Secrets); err != nil {
		return nil, err
	}
	return x, nil
}

// SetSecrets replaces the accepted secrets, validated as by NewSRS, while
// requests are served: each request checks against one whole set, the old
// or the new. On error the secrets in use stay.
func (s *SRS) SetSecrets(secrets []string) error { return s.secrets.set(secrets) }

// ServeHTTP implements http.Handler. It always answers HTTP 200 with 0,
// within Options.SinkTimeout.
func (s *SRS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.admit(w, r, s.handle, srsAnswer)
}

func (s *SRS) handle(r *http.Request, body []byte) (mapped, error) {
	if err := sharedSecret(r, s.secrets.get()); err != nil {
		return mapped{}, err
	}
	cb, err := parseSRS(body)
	if err != nil {
		return mapped{}, err
	}
	evs, mapErr := mapSRS(cb, s.hostParam, s.node(cb.ServerID.String()), s.opts.Now())
	return mapped{evs: evs, err: mapErr}, nil
}

// srsAnswer writes d as SRS reads it: HTTP 200 with 0 allows, anything else
// refuses.
func srsAnswer(w http.ResponseWriter, d decision, _ bool) {
	if d.deny {
		http.Error(w, "publish refused", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "0")
}

// srsCallback is the part of an SRS callback Ronda reads.
type srsCallback struct {
	Action   string     `json:"action"`
	ClientID flexString `json:"client_id"` // a number before SRS 5, a string since
	IP       string     `json:"ip"`
	Vhost    string     `json:"vhost"`
	App      string     `json:"app"`
	Stream   string     `json:"stream"`
	Param    string     `json:"param"`
	ServerID flexString `json:"server_id"`
}

// flexString is a JSON string or number, kept as text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

func (f flexString) String() string { return string(f) }

func parseSRS(body []byte) (*srsCallback, error) {
	var cb srsCallback
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&cb); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: data after the object", errMalformed)
	}
	if cb.Action == "" {
		return nil, fmt.Errorf("%w: no action", errMalformed)
	}
	return &cb, nil
}

func mapSRS(cb *srsCallback, hostParam, node string, now time.Time) ([]event.Event, error) {
	var t event.Type
	switch cb.Action {
	case "on_publish":
		t = event.TypeStreamStart
	case "on_unpublish":
		t = event.TypeStreamEnd
	default:
		return nil, nil
	}
	if err := checkID("stream", cb.Stream); err != nil {
		return nil, err
	}
	id := eventID("srs", cb.Action, cb.ServerID.String(), cb.ClientID.String(), cb.Vhost, cb.App, cb.Stream)
	host := hostFrom(cb.Param, hostParam, cb.Stream)
	ev, err := newStreamEvent(t, id, node, streamKey(cb.Vhost, cb.App, cb.Stream), host, cb.IP, now)
	if err != nil {
		return nil, err
	}
	return []event.Event{ev}, nil
}
