package poll

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// SRS reads SRS's HTTP API (https://ossrs.io/lts/en-us/docs/v5/doc/http-api):
// GET /api/v1/vhosts/ for the vhosts' names and GET /api/v1/streams/ for the
// streams, {code, server, streams: [{id, name, vhost, app, tcUrl, clients,
// publish: {active, cid}, ...}]}. A stream's vhost is the vhost's id, hence
// the first request. Before SRS 5 the ids are numbers, since strings
// ("vid-..."); both are read.
//
// Only streams with publish.active are live. Stream ids are "<app>/<stream>"
// prefixed with the vhost when it is not __defaultVhost__, as the SRS adapter
// names them. The session is the server id and publish.cid (the publishing
// connection); viewers are clients less the publisher; the publisher's query,
// for HostParam, is the query of tcUrl when the client put it there. The API
// gives neither the publisher's address nor the start.
type SRS struct {
	// URL is the HTTP API's base, http://127.0.0.1:1985.
	URL string
}

var _ Source = SRS{}

// Server implements Source.
func (SRS) Server() string { return "srs" }

// Poll implements Source.
func (s SRS) Poll(ctx context.Context, get GetFunc, limit int) ([]Stream, int, error) {
	base := strings.TrimRight(s.URL, "/")
	vb, err := get(ctx, base+"/api/v1/vhosts/", nil)
	if err != nil {
		return nil, 0, err
	}
	vhosts, err := DecodeSRSVhosts(vb)
	if err != nil {
		return nil, 0, fmt.Errorf("srs vhosts %s: %w", redact(base), err)
	}
	// SRS lists 10 streams unless asked for more; one more than limit tells
	// that there were more.
	sb, err := get(ctx, base+"/api/v1/streams/?count="+strconv.Itoa(limit+1), nil)
	if err != nil {
		return nil, 0, err
	}
	streams, over, err := DecodeSRSStreams(sb, vhosts, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("srs streams %s: %w", redact(base), err)
	}
	return streams, over, nil
}

// srsID is an id that SRS writes as a number (before 5) or a string.
type srsID string

func (f *srsID) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = srsID(s)
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		// Some builds put an object here; it identifies nothing Ronda uses.
		*f = ""
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = srsID(n.String())
	}
	return nil
}

type srsAnswer struct {
	Code   *int64 `json:"code"`
	Server srsID  `json:"server"`
}

func (a srsAnswer) check() error {
	if a.Code == nil {
		return fmt.Errorf("no code")
	}
	if *a.Code != 0 {
		return fmt.Errorf("code %d", *a.Code)
	}
	return nil
}

// DecodeSRSVhosts decodes GET /api/v1/vhosts/ into the vhosts' names by id.
func DecodeSRSVhosts(body []byte) (map[string]string, error) {
	var v struct {
		srsAnswer
		Vhosts []struct {
			ID   srsID  `json:"id"`
			Name string `json:"name"`
		} `json:"vhosts"`
	}
	if err := decodeJSON(body, &v); err != nil {
		return nil, err
	}
	if err := v.check(); err != nil {
		return nil, err
	}
	names := make(map[string]string, len(v.Vhosts))
	for _, h := range v.Vhosts {
		names[string(h.ID)] = h.Name
	}
	return names, nil
}

// DecodeSRSStreams decodes GET /api/v1/streams/ into its live publishing
// streams: at most limit, and how many more there were. vhosts names the
// vhost ids (DecodeSRSVhosts); a stream of an unknown vhost id is taken as
// the default vhost's.
func DecodeSRSStreams(body []byte, vhosts map[string]string, limit int) ([]Stream, int, error) {
	var v struct {
		srsAnswer
		Streams []struct {
			Name    string `json:"name"`
			Vhost   srsID  `json:"vhost"`
			App     string `json:"app"`
			TCURL   string `json:"tcUrl"`
			Clients int64  `json:"clients"`
			Publish struct {
				Active bool  `json:"active"`
				CID    srsID `json:"cid"`
			} `json:"publish"`
		} `json:"streams"`
	}
	if err := decodeJSON(body, &v); err != nil {
		return nil, 0, err
	}
	if err := v.check(); err != nil {
		return nil, 0, err
	}
	var out []Stream
	over := 0
	for _, s := range v.Streams {
		if !s.Publish.Active {
			continue // SRS keeps a stream's statistics a while after it ends
		}
		if len(out) >= limit {
			over++
			continue
		}
		key := s.App + "/" + s.Name
		if h := vhosts[string(s.Vhost)]; h != "" && h != "__defaultVhost__" {
			key = h + "/" + key
		}
		st := Stream{ID: key, Name: s.Name, Session: string(v.Server) + "/" + string(s.Publish.CID),
			Viewers: int(min(max(s.Clients-1, 0), 1<<31-1))}
		if u, err := url.Parse(s.TCURL); err == nil {
			st.Args = u.RawQuery
		}
		out = append(out, st)
	}
	return out, over, nil
}

// decodeJSON decodes one JSON value and nothing after it.
func decodeJSON(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	if d.More() {
		return fmt.Errorf("decode JSON: data after the value")
	}
	return nil
}
