package poll

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NginxStat reads nginx-rtmp-module's statistics page, an http location with
// `rtmp_stat all;` (https://github.com/arut/nginx-rtmp-module/wiki/Directives#rtmp_stat):
// XML with, per application, the live streams, their clients and which client
// publishes.
//
// Stream ids are "<app>/<name>", as the nginx-rtmp adapter names them. The
// session is nginx's pid and the publishing client's id (ids restart with
// nginx); viewers are the stream's clients that do not publish; ip is the
// publisher's address; the start is the stream's age (<time>, in ms) before
// the poll. The page lists only the worker that answers it: run the RTMP
// ingest with `worker_processes 1;`, as nginx-rtmp's live streaming needs
// anyway without rtmp_auto_push.
type NginxStat struct {
	// URL of the stat location, http://127.0.0.1:8088/stat.
	URL string
	// App, when set, keeps only that application's streams.
	App string
}

var _ Source = NginxStat{}

// Server implements Source.
func (NginxStat) Server() string { return "nginx_rtmp" }

// Poll implements Source.
func (n NginxStat) Poll(ctx context.Context, get GetFunc, limit int) ([]Stream, int, error) {
	body, err := get(ctx, n.URL, nil)
	if err != nil {
		return nil, 0, err
	}
	streams, over, err := DecodeNginxStat(body, n.App, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("nginx-rtmp stat %s: %w", redact(n.URL), err)
	}
	return streams, over, nil
}

// nginxStat is the part of the stat page Ronda reads.
type nginxStat struct {
	XMLName xml.Name `xml:"rtmp"`
	PID     string   `xml:"pid"`
	Servers []struct {
		Apps []struct {
			Name    string `xml:"name"`
			Streams []struct {
				Name       string    `xml:"name"`
				Time       string    `xml:"time"`
				Publishing *struct{} `xml:"publishing"`
				Clients    []struct {
					ID         string    `xml:"id"`
					Address    string    `xml:"address"`
					Publishing *struct{} `xml:"publishing"`
				} `xml:"client"`
			} `xml:"live>stream"`
		} `xml:"application"`
	} `xml:"server"`
}

// maxAgeMS bounds a stream age taken from the page (a week): beyond it the
// start is the poll's time.
const maxAgeMS = 7 * 24 * 3600 * 1000

// DecodeNginxStat decodes a stat page into its live publishing streams (of
// app only, when app is set): at most limit, and how many more there were.
func DecodeNginxStat(body []byte, app string, limit int) ([]Stream, int, error) {
	var page nginxStat
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	if err := d.Decode(&page); err != nil {
		return nil, 0, fmt.Errorf("decode stat XML: %w", err)
	}
	pid := strings.TrimSpace(page.PID)
	var out []Stream
	over := 0
	for _, srv := range page.Servers {
		for _, a := range srv.Apps {
			if app != "" && a.Name != app {
				continue
			}
			for _, s := range a.Streams {
				if s.Publishing == nil {
					continue // players waiting for a stream nobody publishes
				}
				if len(out) >= limit {
					over++
					continue
				}
				st := Stream{ID: a.Name + "/" + s.Name, Name: s.Name}
				var pub string
				for _, c := range s.Clients {
					if c.Publishing != nil {
						pub = strings.TrimSpace(c.ID)
						st.IP = strings.TrimSpace(c.Address)
					} else {
						st.Viewers++
					}
				}
				st.Session = pid + "/" + pub
				if ms, err := strconv.ParseInt(strings.TrimSpace(s.Time), 10, 64); err == nil && ms > 0 && ms < maxAgeMS {
					st.Age = time.Duration(ms) * time.Millisecond
				}
				out = append(out, st)
			}
		}
	}
	return out, over, nil
}
