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
// or a proxy adds SecretHeader. Missing: 401; wrong: 403. Only the URL's query
// is read for it, never the form: the form holds the publisher's arguments,
// which the publisher writes.
//
// Mapping: call=publish -> stream.start, call=publish_done -> stream.end,
// other calls are answered and ignored. stream_id is "<app>/<name>", host_id
// the stream name or the publisher argument ServerOptions.HostParam, ip addr.
// nginx-rtmp sends no time, so at is Options.Now. The event id hashes node,
// call, clientid (one per connection), addr, app and name.
//
// Only POST, nginx-rtmp's default notify_method, is taken: with notify_method
// get the publisher's arguments would share the URL's query with the secret.
//
// nginx-rtmp refuses the publish unless the answer is 2xx; Ronda answers 200
// even when the Sink fails, since Ronda must not break publishing.
type NginxRTMP struct {
	base
	srv ServerOptions
}

var _ http.Handler = (*NginxRTMP)(nil)

// NewNginxRTMP returns the nginx-rtmp notification handler.
func NewNginxRTMP(o Options, s ServerOptions) (*NginxRTMP, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	b, err := newBase("nginx_rtmp", o)
	if err != nil {
		return nil, err
	}
	return &NginxRTMP{base: b, srv: s}, nil
}

// ServeHTTP implements http.Handler.
func (n *NginxRTMP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := n.readBody(w, r)
	if !ok {
		return
	}
	if err := sharedSecret(r, n.srv.Secrets); err != nil {
		n.fail(w, r, err)
		return
	}
	f, err := parseNginxRTMP(body)
	if err != nil {
		n.fail(w, r, err)
		return
	}
	evs, mapErr := mapNginxRTMP(f, n.srv.HostParam, n.node(""), n.opts.Now())
	_ = n.emit(r.Context(), evs, mapErr) // counted and logged; the publish goes on
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
