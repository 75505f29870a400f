// Package poll reads which streams are live from the read-only statistics of
// media servers, on an interval, and turns what it sees into Ronda's contract
// events (../../../shared/spec/EVENTS.md): a stream.heartbeat for every live
// stream at every poll and, when Options.Sessions is set, stream.start when a
// stream appears and stream.end when it is gone. One file per server:
// nginx-rtmp's `rtmp_stat all;` page (NginxStat), SRS's HTTP API (SRS) and
// OvenMediaEngine's REST API (OME).
//
// Why polling: the callbacks these servers offer gate the broadcast (a failed
// nginx-rtmp on_update cuts a live publisher; SRS on_publish and OME admission
// webhooks refuse a publish when the answer does not come), so a monitoring
// sidecar that is restarting or down would take ingest with it. A statistics
// page cannot cut anything: when Ronda is away, nobody reads it.
//
// What it must not do: end a stream because a poll failed (only a successful
// poll that no longer lists the stream ends it), grow without bound (bodies,
// streams per poll and request time are bounded, and what goes past a bound is
// counted), write to a media server, or log secrets or stream names. It starts
// no goroutine of its own beyond Run's caller.
package poll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Sink takes the events of one poll, the same shape as intake.Sink. An error
// (a full queue) drops the poll's heartbeats, counted; starts and ends are
// sent again at the next poll, under the same ids.
type Sink func(ctx context.Context, evs []event.Event) error

// Stream is one live publishing stream as a server reports it.
type Stream struct {
	// ID is the stream id, spelled as the webhook adapters spell it, so that
	// a start from a webhook and a heartbeat from a poll name one stream.
	ID string
	// Name is the stream name, the host id unless HostParam finds one in Args.
	Name string
	// Session is the server's own identity of this publishing session (a
	// client id, a connection id, a creation time): a new session of the same
	// stream id is a new broadcast.
	Session string
	// Viewers is the server's count of players.
	Viewers int
	// IP is the publisher's address when the server gives it.
	IP string
	// Args is the publisher URL's query when the server gives it.
	Args string
	// Since is when the session began, when the server says so (zero
	// otherwise); Age is how long it has been live, for servers that give an
	// age instead. The start event is dated from either.
	Since time.Time
	Age   time.Duration
}

// Source reads the live streams of one media server.
type Source interface {
	// Server names the server type in metrics: nginx_rtmp, srs or ome.
	Server() string
	// Poll returns at most limit live streams and how many more there were.
	Poll(ctx context.Context, get GetFunc, limit int) (streams []Stream, over int, err error)
}

// GetFunc fetches one URL with the poller's bounds: a body over the limit or a
// status other than 200 is an error (*StatusError for the latter).
type GetFunc func(ctx context.Context, url string, header http.Header) ([]byte, error)

// StatusError is an answer other than 200 OK.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("answered HTTP %d", e.Code) }

// ErrTooLarge is a response body over Options.MaxBodyBytes.
var ErrTooLarge = errors.New("response body over the limit")

// get is the poller's GetFunc.
func (p *Poller) get(ctx context.Context, u string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", redact(u), err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		// The client's error repeats the URL; a URL may carry credentials.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("get %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("get %s: %w", redact(u), &StatusError{Code: resp.StatusCode})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", redact(u), err)
	}
	if int64(len(body)) > p.opts.MaxBodyBytes {
		return nil, fmt.Errorf("get %s: %w (%d bytes)", redact(u), ErrTooLarge, p.opts.MaxBodyBytes)
	}
	return body, nil
}

// redact drops user info and query from a URL for logs, and a stream's
// name from an API path (.../streams/NAME becomes .../streams/-), which may be a stream key.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.RawFragment, u.Fragment = nil, "", "", ""
	if i := strings.Index(u.Path, "/streams/"); i >= 0 && len(u.Path) > i+len("/streams/") {
		u.Path, u.RawPath = u.Path[:i]+"/streams/-", ""
	}
	return u.String()
}

// validID reports whether s can be an id of the contract.
func validID(s string) bool {
	return s != "" && len(s) <= event.MaxIDBytes && utf8.ValidString(s)
}

// cleanIP returns s when it is an IP address, else "": the field is optional
// and a receiver rejects the whole event for a bad one.
func cleanIP(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// hostFrom returns the host id: the HostParam of the publish URL's query when
// set and present, else the stream name (as the webhook adapters do).
func hostFrom(args, param, name string) string {
	if param == "" || args == "" {
		return name
	}
	q, _ := url.ParseQuery(strings.TrimPrefix(args, "?"))
	if v := q.Get(param); validID(v) {
		return v
	}
	return name
}
