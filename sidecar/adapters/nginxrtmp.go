package adapters

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// NginxRTMP receives nginx-rtmp-module notifications on_publish and
// on_publish_done (https://github.com/arut/nginx-rtmp-module/wiki/Directives#on_publish):
// a form post (application/x-www-form-urlencoded) with call, addr, clientid,
// app, name, type, flashver, swfurl, tcurl, pageurl, followed by the
// publisher's own URL arguments.
//
// Authentication: nginx-rtmp cannot sign, so the notify URL in nginx.conf
// carries the shared secret (on_publish http://ronda:8080/hooks/nginx-rtmp?secret=...),
// or a proxy adds SecretHeader. Only the URL's query is read for it, never
// the form: the form holds the publisher's arguments, which the publisher
// writes.
//
// Mapping: call=publish -> stream.start, call=publish_done -> stream.end,
// other calls are answered and ignored. stream_id is "<app>/<name>", host_id
// the stream name or the publisher argument ServerOptions.HostParam, ip addr.
// nginx-rtmp sends no time, so at is Options.Now. The event id hashes node,
// call, clientid (one per connection), addr, app and name.
//
// Only POST, nginx-rtmp's default notify_method, is read: with notify_method
// get the publisher's arguments would share the URL's query with the secret.
//
// Fail open: nginx-rtmp refuses the publish (and, for on_update, cuts it)
// unless the answer is 2xx, so the answer is always 200 with an empty body:
// to a missing or wrong secret, a malformed or oversized body, a GET, a body
// that trickles, a Sink that fails or overruns. A request that fails the
// secret or cannot be read records nothing; it is counted and logged. The
// answer comes within Options.SinkTimeout of the call (default 1s; see the
// package comment), so that a publish waits at most that long on Ronda.
type NginxRTMP struct {
	*base
	secrets   secretSet
	hostParam string
}

var _ http.Handler = (*NginxRTMP)(nil)

// NewNginxRTMP returns the nginx-rtmp notification handler.
func NewNginxRTMP(o Options, s ServerOptions) (*NginxRTMP, error) {
	b, err := newBase("nginx_rtmp", o)
	if err != nil {
		return nil, err
	}
	n := &NginxRTMP{base: b, hostParam: s.HostParam}
	if err := n.secrets.set(s.Secrets); err != nil {
		return nil, err
	}
	return n, nil
}

// SetSecrets replaces the accepted secrets, validated as by NewNginxRTMP,
// while requests are served: each request checks against one whole set, the
// old or the new. On error the secrets in use stay.
func (n *NginxRTMP) SetSecrets(secrets []string) error { return n.secrets.set(secrets) }

// ServeHTTP implements http.Handler. It always answers 200, within
// Options.SinkTimeout.
func (n *NginxRTMP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.admit(w, r, n.handle, nginxAnswer)
}

func (n *NginxRTMP) handle(r *http.Request, body []byte) (mapped, error) {
	if err := sharedSecret(r, n.secrets.get()); err != nil {
		return mapped{}, err
	}
	f, err := parseNginxRTMP(body)
	if err != nil {
		return mapped{}, err
	}
	evs, mapErr := mapNginxRTMP(f, n.hostParam, n.node(""), n.opts.Now())
	return mapped{evs: evs, err: mapErr}, nil
}

// nginxAnswer writes d as nginx-rtmp reads it: any 2xx allows, anything
// else refuses.
func nginxAnswer(w http.ResponseWriter, d decision, _ bool) {
	if d.deny {
		http.Error(w, "publish refused", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func parseNginxRTMP(body []byte) (url.Values, error) {
	f, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if f.Get("call") == "" {
		return nil, fmt.Errorf("%w: no call", errMalformed)
	}
	return f, nil
}

func mapNginxRTMP(f url.Values, hostParam, node string, now time.Time) ([]event.Event, error) {
	var t event.Type
	switch f.Get("call") {
	case "publish":
		t = event.TypeStreamStart
	case "publish_done":
		t = event.TypeStreamEnd
	default:
		return nil, nil
	}
	app, name := f.Get("app"), f.Get("name")
	if err := checkID("name", name); err != nil {
		return nil, err
	}
	host := name
	if hostParam != "" {
		if v := f.Get(hostParam); v != "" {
			host = v
		}
	}
	id := eventID("nginx_rtmp", node, f.Get("call"), f.Get("clientid"), f.Get("addr"), app, name)
	ev, err := newStreamEvent(t, id, node, app+"/"+name, host, f.Get("addr"), now)
	if err != nil {
		return nil, err
	}
	return []event.Event{ev}, nil
}
