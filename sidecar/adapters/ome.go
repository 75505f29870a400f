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
// the <AdmissionWebhooks><SecretKey>, one of ServerOptions.Secrets.
//
// Mapping: direction incoming (a publisher) with status opening ->
// stream.start, closing -> stream.end; outgoing (players) are answered and
// ignored. stream_id is "<app>/<stream>" from request.url (for SRT, from its
// streamid), host_id the stream name or ServerOptions.HostParam from the URL's
// query, ip client.real_ip (the address behind a proxy) or else
// client.address, at request.time. The event id hashes status, url, client
// address and port and time: one per admission request.
//
// Fail open: OvenMediaEngine refuses the publish unless the answer allows
// it, so the answer is always 200 with {"allowed":true}, or {} when the body
// says request.status closing (the form OvenMediaEngine expects then): to a
// missing or wrong signature, a malformed or oversized body, a GET, a body
// that trickles, a Sink that fails or overruns. The status of a body that
// fails the signature is still read, only to pick that form; a body whose
// status cannot be read (malformed, too large, too slow) is answered
// {"allowed":true}, which lets an opening through and which
// OvenMediaEngine ignores for a closing. A request that fails the signature
// or cannot be read records nothing; it is counted and logged. The answer
// comes within Options.SinkTimeout of the call (default 1s; see the package
// comment), under OvenMediaEngine's default <Timeout> of 3000 ms.
type OME struct {
	*base
	secrets   secretSet
	hostParam string
}

var _ http.Handler = (*OME)(nil)

// NewOME returns the OvenMediaEngine admission handler.
func NewOME(o Options, s ServerOptions) (*OME, error) {
	b, err := newBase("ome", o)
	if err != nil {
		return nil, err
	}
	x := &OME{base: b, hostParam: s.HostParam}
	if err := x.secrets.set(s.Secrets); err != nil {
		return nil, err
	}
	return x, nil
}

// SetSecrets replaces the accepted HMAC keys, validated as by NewOME, while
// requests are served: each request checks against one whole set, the old
// or the new. On error the keys in use stay.
func (o *OME) SetSecrets(secrets []string) error { return o.secrets.set(secrets) }

// ServeHTTP implements http.Handler. It always answers 200 with
// {"allowed":true} or, for a closing, {}, within Options.SinkTimeout.
func (o *OME) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.admit(w, r, o.handle, omeAnswer)
}

func (o *OME) handle(r *http.Request, body []byte) (mapped, error) {
	if err := omeVerify(r.Header.Get("X-OME-Signature"), body, o.secrets.get()); err != nil {
		return mapped{closing: omeClosing(body)}, err
	}
	adm, err := parseOME(body)
	if err != nil {
		return mapped{closing: omeClosing(body)}, err
	}
	evs, mapErr := mapOME(adm, o.hostParam, o.node(""))
	return mapped{evs: evs, err: mapErr, closing: adm.Request.Status == "closing"}, nil
}

// omeClosing reports whether body, read leniently, is a closing request.
func omeClosing(body []byte) bool {
	var a struct {
		Request struct {
			Status string `json:"status"`
		} `json:"request"`
	}
	return json.Unmarshal(body, &a) == nil && a.Request.Status == "closing"
}

// omeAnswer writes d as OvenMediaEngine reads it: {"allowed":true} lets an
// opening through, {} answers a closing.
func omeAnswer(w http.ResponseWriter, d decision, closing bool) {
	switch {
	case closing:
		writeJSON(w, `{}`)
	case d.deny:
		writeJSON(w, `{"allowed":false,"reason":"refused by Ronda"}`)
	default:
		writeJSON(w, `{"allowed":true}`)
	}
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
