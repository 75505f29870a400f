package adapters

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// OME receives OvenMediaEngine admission webhooks
// (https://airensoft.gitbook.io/ovenmediaengine/access-control/admission-webhooks):
// a JSON body {client: {address, port, real_ip, user_agent}, request:
// {direction, protocol, status, url, new_url, time}}.
//
// Authentication: X-OME-Signature is the base64url HMAC-SHA1 of the body with
// the <AdmissionWebhooks><SecretKey>, one of ServerOptions.Secrets. Missing:
// 401; wrong: 403.
//
// Mapping: direction incoming (a publisher) with status opening ->
// stream.start, closing -> stream.end; outgoing (players) are answered and
// ignored. stream_id is "<app>/<stream>" from request.url (for SRT, from its
// streamid), host_id the stream name or ServerOptions.HostParam from the URL's
// query, ip client.real_ip (the address behind a proxy) or else
// client.address, at request.time. The event id hashes status, url, client
// address and port and time: one per admission request.
//
// OvenMediaEngine refuses the publish unless the answer is {"allowed": true}
// (opening) or {} (closing); Ronda answers that even when the Sink fails, since
// Ronda must not break publishing.
type OME struct {
	base
	srv ServerOptions
}

var _ http.Handler = (*OME)(nil)

// NewOME returns the OvenMediaEngine admission handler.
func NewOME(o Options, s ServerOptions) (*OME, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	b, err := newBase("ome", o)
	if err != nil {
		return nil, err
	}
	return &OME{base: b, srv: s}, nil
}

// ServeHTTP implements http.Handler.
func (o *OME) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := o.readBody(w, r)
	if !ok {
		return
	}
	if err := omeVerify(r.Header.Get("X-OME-Signature"), body, o.srv.Secrets); err != nil {
		o.fail(w, r, err)
		return
	}
	adm, err := parseOME(body)
	if err != nil {
		o.fail(w, r, err)
		return
	}
	evs, mapErr := mapOME(adm, o.srv.HostParam, o.node(""))
	_ = o.emit(r.Context(), evs, mapErr) // counted and logged; the publish goes on
	if adm.Request.Status == "closing" {
		writeJSON(w, `{}`)
		return
	}
	writeJSON(w, `{"allowed":true}`)
}

// omeVerify checks the signature; OvenMediaEngine writes base64url, and both
// the padded and unpadded forms are taken.
func omeVerify(sig string, body []byte, secrets []string) error {
	if sig == "" {
		return errNoAuth
	}
	got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sig, "="))
	if err != nil {
		return fmt.Errorf("%w: signature not base64url", errBadAuth)
	}
	ok := false
	for _, k := range secrets {
		m := hmac.New(sha1.New, []byte(k))
		m.Write(body)
		ok = hmac.Equal(got, m.Sum(nil)) || ok
	}
	if !ok {
		return errBadAuth
	}
	return nil
}

// omeAdmission is the part of an admission request Ronda reads.
type omeAdmission struct {
	Client struct {
		Address string `json:"address"`
		Port    int    `json:"port"`
		RealIP  string `json:"real_ip"`
	} `json:"client"`
	Request struct {
		Direction string `json:"direction"`
		Protocol  string `json:"protocol"`
		Status    string `json:"status"`
		URL       string `json:"url"`
		Time      string `json:"time"`
	} `json:"request"`
}

func parseOME(body []byte) (*omeAdmission, error) {
	var a omeAdmission
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	switch a.Request.Status {
	case "opening", "closing":
	default:
		return nil, fmt.Errorf("%w: request.status neither opening nor closing", errMalformed)
	}
	if a.Request.URL == "" {
		return nil, fmt.Errorf("%w: no request.url", errMalformed)
	}
	return &a, nil
}

func mapOME(a *omeAdmission, hostParam, node string) ([]event.Event, error) {
	if a.Request.Direction != "incoming" {
		return nil, nil
	}
	t := event.TypeStreamStart
	if a.Request.Status == "closing" {
		t = event.TypeStreamEnd
	}
	app, stream, query, err := omeStream(a.Request.URL)
	if err != nil {
		return nil, err
	}
	if err := checkID("stream", stream); err != nil {
		return nil, err
	}
	at, err := time.Parse(time.RFC3339Nano, a.Request.Time)
	if err != nil {
		return nil, fmt.Errorf("request.time: %w", err)
	}
	ip := a.Client.RealIP
	if cleanIP(ip) == "" {
		ip = a.Client.Address
	}
	id := eventID("ome", a.Request.Status, a.Request.URL, a.Client.Address, fmt.Sprint(a.Client.Port), a.Request.Time)
	ev, err := newStreamEvent(t, id, node, app+"/"+stream, hostFrom(query, hostParam, stream), ip, at)
	if err != nil {
		return nil, err
	}
	return []event.Event{ev}, nil
}

// omeStream finds app and stream in a request URL: scheme://host[:port]/app/stream[/file][?query],
// or for SRT the same URL percent-encoded in the streamid parameter.
func omeStream(raw string) (app, stream, query string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("request.url: %w", err)
	}
	if sid := u.Query().Get("streamid"); strings.Trim(u.Path, "/") == "" && sid != "" {
		if u, err = url.Parse(sid); err != nil {
			return "", "", "", fmt.Errorf("request.url streamid: %w", err)
		}
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", "", "", errors.New("request.url has no app/stream")
	}
	return parts[0], parts[1], u.RawQuery, nil
}
