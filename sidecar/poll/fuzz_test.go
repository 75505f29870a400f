package poll

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkStreams holds for whatever a decoder returns: never more than the
// limit, the over count not negative, viewers not negative.
func checkStreams(t *testing.T, streams []Stream, over, limit int) {
	t.Helper()
	if len(streams) > limit || over < 0 {
		t.Fatalf("%d streams over limit %d (over %d)", len(streams), limit, over)
	}
	for _, s := range streams {
		if s.Viewers < 0 || s.Age < 0 {
			t.Fatalf("negative viewers or age: %+v", s)
		}
	}
}

func FuzzNginxStat(f *testing.F) {
	for _, name := range []string{"nginx-stat-one-stream.xml", "nginx-stat-two-streams.xml"} {
		f.Add(fixture(f, name), "")
		f.Add(fixture(f, name), "live")
	}
	f.Add([]byte(`<rtmp><server><application><name>a</name><live><stream><name></name><publishing/><client><publishing/></client></stream></live></application></server></rtmp>`), "a")
	f.Fuzz(func(t *testing.T, body []byte, app string) {
		streams, over, err := DecodeNginxStat(body, app, 3)
		if err != nil {
			return
		}
		checkStreams(t, streams, over, 3)
		for _, s := range streams {
			if app != "" && !strings.HasPrefix(s.ID, app+"/") {
				t.Fatalf("stream %q outside app %q", s.ID, app)
			}
		}
	})
}

func FuzzSRSStreams(f *testing.F) {
	f.Add(fixture(f, "srs-v5-vhosts.json"), fixture(f, "srs-v5-streams.json"))
	f.Add(fixture(f, "srs-v4-vhosts.json"), fixture(f, "srs-v4-streams.json"))
	f.Add([]byte(`{"code":0,"vhosts":[{"id":{},"name":""}]}`), []byte(`{"code":0,"server":{"pid":1},"streams":[{"publish":{"active":true,"cid":null}}]}`))
	f.Fuzz(func(t *testing.T, vhosts, streams []byte) {
		vh, err := DecodeSRSVhosts(vhosts)
		if err != nil {
			vh = nil
		}
		got, over, err := DecodeSRSStreams(streams, vh, 3)
		if err != nil {
			return
		}
		checkStreams(t, got, over, 3)
	})
}

func FuzzOMEStreams(f *testing.F) {
	for _, name := range []string{"ome-apps.json", "ome-streams-app.json", "ome-streams-show.json", "ome-stats-stream.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"statusCode":200,"response":{"createdTime":"9999-12-31T23:59:59Z","totalConnections":-5}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if names, err := DecodeOMEList(body); err == nil {
			for _, n := range names {
				if !utf8.ValidString(n) {
					// encoding/json replaces invalid UTF-8; a name is always valid.
					t.Fatalf("invalid UTF-8 name %q", n)
				}
			}
		}
		if st, err := DecodeOMEStats(body); err == nil && st.Viewers < 0 {
			t.Fatalf("negative viewers: %+v", st)
		}
	})
}

// BenchmarkPollNginxStat decodes a stat page of 100 live streams, each with a
// publisher and three players: the cost of one poll of a busy ingest node.
func BenchmarkPollNginxStat(b *testing.B) {
	page := nginxPage(100, 3)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		streams, _, err := DecodeNginxStat(page, "", 10_000)
		if err != nil || len(streams) != 100 {
			b.Fatalf("%d streams, %v", len(streams), err)
		}
	}
}

// nginxPage builds a stat page in the captured page's shape.
func nginxPage(streams, players int) []byte {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="utf-8" ?>
<rtmp>
<nginx_version>1.22.1</nginx_version>
<nginx_rtmp_version>1.1.4</nginx_rtmp_version>
<pid>11647</pid>
<uptime>5</uptime>
<server>
<application>
<name>live</name>
<live>
`)
	id := 1
	for i := range streams {
		fmt.Fprintf(&sb, "<stream>\n<name>stream%04d</name>\n<time>3723</time><bw_in>0</bw_in>\n<bytes_in>85689</bytes_in>\n<bw_out>0</bw_out>\n<bytes_out>39782</bytes_out>\n<bw_audio>0</bw_audio>\n<bw_video>0</bw_video>\n", i)
		for range players {
			fmt.Fprintf(&sb, "<client><id>%d</id><address>10.0.0.%d</address><time>2453</time><flashver>LNX 9,0,124,2</flashver><dropped>0</dropped><avsync>3413</avsync><timestamp>3413</timestamp><active/></client>\n", id, i%250)
			id++
		}
		fmt.Fprintf(&sb, "<client><id>%d</id><address>10.1.0.%d</address><time>3903</time><flashver>FMLE/3.0 (compatible; Lavf59.27</flashver><dropped>0</dropped><avsync>-10</avsync><timestamp>3423</timestamp><publishing/><active/></client>\n", id, i%250)
		id++
		sb.WriteString("<meta><video><width>320</width><height>240</height><frame_rate>15</frame_rate><codec>H264</codec><profile></profile><compat>0</compat><level>1.2</level></video><audio><codec>AAC</codec><profile>LC</profile><channels>1</channels><sample_rate>44100</sample_rate></audio></meta>\n")
		fmt.Fprintf(&sb, "<nclients>%d</nclients>\n<publishing/>\n<active/>\n</stream>\n", players+1)
	}
	sb.WriteString("</live>\n</application>\n</server>\n</rtmp>\n")
	return []byte(sb.String())
}

// BenchmarkPollNginxStatTokens is the reference beside BenchmarkPollNginxStat:
// only tokenizing the same page with encoding/xml, the floor of any decoder
// built on it.
func BenchmarkPollNginxStatTokens(b *testing.B) {
	page := nginxPage(100, 3)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		d := xml.NewDecoder(bytes.NewReader(page))
		for {
			if _, err := d.Token(); err != nil {
				break
			}
		}
	}
}
