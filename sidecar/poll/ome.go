package poll

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// OME reads OvenMediaEngine's REST API
// (https://airensoft.gitbook.io/ovenmediaengine/rest-api): the streams of
// each application, GET /v1/vhosts/{vhost}/apps/{app}/streams
// ({"statusCode": 200, "response": ["stream", ...]}), then each stream's
// current statistics, GET /v1/stats/current/vhosts/{vhost}/apps/{app}/streams/{stream}
// ({"response": {"createdTime", "totalConnections", ...}}). Without Apps the
// applications are listed first, GET /v1/vhosts/{vhost}/apps. Authentication
// is HTTP Basic with the API's <AccessToken>, base64-encoded as it is.
//
// Stream ids are "<app>/<stream>", as the OME adapter names them. The session
// is the stream's createdTime (a stream published again is created again);
// viewers are totalConnections; the start is createdTime. A stream that ends
// between the list and its statistics (404) is left out; any other failure
// fails the poll. The API gives neither the publisher's address nor its query.
type OME struct {
	// URL is the API's base, http://127.0.0.1:8081.
	URL string
	// Token is the API's <AccessToken>.
	Token string
	// Vhost is the virtual host's name. Default "default".
	Vhost string
	// Apps are the applications to read; empty: every application of Vhost.
	Apps []string
}

var _ Source = OME{}

// Server implements Source.
func (OME) Server() string { return "ome" }

// Poll implements Source.
func (o OME) Poll(ctx context.Context, get GetFunc, limit int) ([]Stream, int, error) {
	base := strings.TrimRight(o.URL, "/")
	vhost := o.Vhost
	if vhost == "" {
		vhost = "default"
	}
	h := http.Header{}
	if o.Token != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.Token)))
	}
	vpath := base + "/v1/vhosts/" + url.PathEscape(vhost)
	apps := o.Apps
	if len(apps) == 0 {
		b, err := get(ctx, vpath+"/apps", h)
		if err != nil {
			return nil, 0, err
		}
		if apps, err = DecodeOMEList(b); err != nil {
			return nil, 0, fmt.Errorf("ome apps %s: %w", redact(base), err)
		}
	}
	var out []Stream
	over := 0
	for _, app := range apps {
		b, err := get(ctx, vpath+"/apps/"+url.PathEscape(app)+"/streams", h)
		if err != nil {
			return nil, 0, err
		}
		names, err := DecodeOMEList(b)
		if err != nil {
			return nil, 0, fmt.Errorf("ome streams %s: %w", redact(base), err)
		}
		for _, name := range names {
			if len(out) >= limit {
				over++
				continue
			}
			sb, err := get(ctx, base+"/v1/stats/current/vhosts/"+url.PathEscape(vhost)+"/apps/"+
				url.PathEscape(app)+"/streams/"+url.PathEscape(name), h)
			if se, ok := errors.AsType[*StatusError](err); ok && se.Code == http.StatusNotFound {
				continue // ended since the list
			}
			if err != nil {
				return nil, 0, err
			}
			st, err := DecodeOMEStats(sb)
			if err != nil {
				return nil, 0, fmt.Errorf("ome stats %s: %w", redact(base), err)
			}
			st.ID, st.Name = app+"/"+name, name
			out = append(out, st)
		}
	}
	return out, over, nil
}

// DecodeOMEList decodes an answer whose response is a list of names (the
// applications of a vhost, the streams of an application).
func DecodeOMEList(body []byte) ([]string, error) {
	var v struct {
		StatusCode int      `json:"statusCode"`
		Response   []string `json:"response"`
	}
	if err := decodeJSON(body, &v); err != nil {
		return nil, err
	}
	if v.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("statusCode %d", v.StatusCode)
	}
	return v.Response, nil
}

// DecodeOMEStats decodes a stream's current statistics into its session
// (createdTime), start and viewers.
func DecodeOMEStats(body []byte) (Stream, error) {
	var v struct {
		StatusCode int `json:"statusCode"`
		Response   *struct {
			CreatedTime      string `json:"createdTime"`
			TotalConnections int64  `json:"totalConnections"`
		} `json:"response"`
	}
	if err := decodeJSON(body, &v); err != nil {
		return Stream{}, err
	}
	if v.StatusCode != http.StatusOK || v.Response == nil {
		return Stream{}, fmt.Errorf("statusCode %d", v.StatusCode)
	}
	st := Stream{Session: v.Response.CreatedTime, Viewers: int(min(max(v.Response.TotalConnections, 0), 1<<31-1))}
	if t, err := time.Parse(time.RFC3339Nano, v.Response.CreatedTime); err == nil {
		st.Since = t
	}
	return st, nil
}
