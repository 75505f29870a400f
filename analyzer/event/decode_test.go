package event

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation(time.RFC3339Nano, s, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func boolPtr(b bool) *bool { return &b }

// eventsEqual compares events field by field, times by instant and offset
// (two parses of "+07:00" give equal but distinct *time.Location values).
func eventsEqual(a, b *Event) bool {
	if !sameTime(a.At, b.At) {
		return false
	}
	if (a.Host == nil) != (b.Host == nil) {
		return false
	}
	ac, bc := *a, *b
	ac.At, bc.At = time.Time{}, time.Time{}
	if a.Host != nil {
		if !sameTime(a.Host.CreatedAt, b.Host.CreatedAt) {
			return false
		}
		ah, bh := *a.Host, *b.Host
		ah.CreatedAt, bh.CreatedAt = time.Time{}, time.Time{}
		ac.Host, bc.Host = &ah, &bh
	}
	return reflect.DeepEqual(ac, bc)
}

func sameTime(a, b time.Time) bool {
	_, ao := a.Zone()
	_, bo := b.Zone()
	return a.Equal(b) && ao == bo
}

// Real lines from ../shared/scenarios/public-*/events.ndjson.gz, one per type,
// and lines for what the scenarios do not hold (signal, tags, links).
func TestDecodeValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want Event
	}{
		{
			name: "stream.start with host facts",
			line: `{"type":"stream.start","stream_id":"s0035388ba7","host_id":"h003536f2b3","title":"masak-masak","category":"cooking","node":"ingest-1","device_id":"d0035373d77","ip":"36.126.129.10","tz":"Asia/Jayapura","host":{"created_at":"2023-04-07T00:00:00Z","birth_year":1989,"age_verified":true},"id":"e101-12176","at":"2025-06-01T17:56:00Z"}`,
			want: Event{
				Type: TypeStreamStart, TypeName: "stream.start", ID: "e101-12176",
				At: mustTime(t, "2025-06-01T17:56:00Z"), Node: "ingest-1",
				StreamID: "s0035388ba7", HostID: "h003536f2b3", Title: "masak-masak",
				Category: "cooking", DeviceID: "d0035373d77", IP: "36.126.129.10", TZ: "Asia/Jayapura",
				Host: &HostFacts{CreatedAt: mustTime(t, "2023-04-07T00:00:00Z"), BirthYear: 1989, AgeVerified: boolPtr(true)},
			},
		},
		{
			name: "stream.start with geo",
			line: `{"type":"stream.start","stream_id":"s00344142a6","host_id":"h0034391423","title":"masak-masak","category":"cooking","node":"ingest-1","device_id":"d0034403b5c","ip":"114.6.3.156","geo":{"lat":-2.497286,"lon":140.743906,"accuracy_m":10},"tz":"Asia/Jayapura","host":{"created_at":"2025-04-06T00:00:00Z","birth_year":1980,"age_verified":false},"id":"e101-2265","at":"2025-06-01T18:07:00Z"}`,
			want: Event{
				Type: TypeStreamStart, TypeName: "stream.start", ID: "e101-2265",
				At: mustTime(t, "2025-06-01T18:07:00Z"), Node: "ingest-1",
				StreamID: "s00344142a6", HostID: "h0034391423", Title: "masak-masak",
				Category: "cooking", DeviceID: "d0034403b5c", IP: "114.6.3.156", TZ: "Asia/Jayapura",
				Geo:  &Geo{Lat: -2.497286, Lon: 140.743906, AccuracyM: 10},
				Host: &HostFacts{CreatedAt: mustTime(t, "2025-04-06T00:00:00Z"), BirthYear: 1980, AgeVerified: boolPtr(false)},
			},
		},
		{
			name: "stream.start with tags and agency",
			line: `{"type":"stream.start","id":"x1","at":"2025-06-01T18:07:00+07:00","stream_id":"s1","host_id":"h1","tags":["cantik","malam"],"agency_id":"a1"}`,
			want: Event{
				Type: TypeStreamStart, TypeName: "stream.start", ID: "x1",
				At: mustTime(t, "2025-06-01T18:07:00+07:00"), StreamID: "s1", HostID: "h1",
				Tags: []string{"cantik", "malam"}, AgencyID: "a1",
			},
		},
		{
			name: "stream.heartbeat",
			line: `{"type":"stream.heartbeat","stream_id":"s0035388ba7","viewers":300,"id":"e101-12177","at":"2025-06-01T18:01:00Z"}`,
			want: Event{
				Type: TypeStreamHeartbeat, TypeName: "stream.heartbeat", ID: "e101-12177",
				At: mustTime(t, "2025-06-01T18:01:00Z"), StreamID: "s0035388ba7", Viewers: 300,
			},
		},
		{
			name: "stream.heartbeat private",
			line: `{"type":"stream.heartbeat","stream_id":"s1","viewers":0,"private":true,"id":"x2","at":"2025-06-01T18:01:00Z"}`,
			want: Event{
				Type: TypeStreamHeartbeat, TypeName: "stream.heartbeat", ID: "x2",
				At: mustTime(t, "2025-06-01T18:01:00Z"), StreamID: "s1", Private: true,
			},
		},
		{
			name: "stream.end",
			line: `{"type":"stream.end","stream_id":"s0035388ba7","id":"e101-12262","at":"2025-06-01T19:15:00Z"}`,
			want: Event{
				Type: TypeStreamEnd, TypeName: "stream.end", ID: "e101-12262",
				At: mustTime(t, "2025-06-01T19:15:00Z"), StreamID: "s0035388ba7",
			},
		},
		{
			name: "gift",
			line: `{"type":"gift","stream_id":"s0035388ba7","host_id":"h003536f2b3","sender_id":"v00003388dd","coins":30,"gift":"bunga","sender_country":"ID","id":"e101-12193","at":"2025-06-01T17:57:22Z"}`,
			want: Event{
				Type: TypeGift, TypeName: "gift", ID: "e101-12193", At: mustTime(t, "2025-06-01T17:57:22Z"),
				StreamID: "s0035388ba7", HostID: "h003536f2b3", SenderID: "v00003388dd",
				Coins: 30, Gift: "bunga", SenderCountry: "ID",
			},
		},
		{
			name: "gift with sender_tz (extension)",
			line: `{"type":"gift","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":30,"sender_country":"US","sender_tz":"America/Los_Angeles","id":"g2","at":"2025-06-01T17:57:22Z"}`,
			want: Event{
				Type: TypeGift, TypeName: "gift", ID: "g2", At: mustTime(t, "2025-06-01T17:57:22Z"),
				StreamID: "s1", HostID: "h1", SenderID: "v1", Coins: 30, SenderCountry: "US", SenderTZ: "America/Los_Angeles",
			},
		},
		{
			name: "chat",
			line: `{"type":"chat","stream_id":"s0035388ba7","sender_id":"v00177464c6","text":"jam berapa live lagi?","id":"e101-12241","at":"2025-06-01T18:03:47Z"}`,
			want: Event{
				Type: TypeChat, TypeName: "chat", ID: "e101-12241", At: mustTime(t, "2025-06-01T18:03:47Z"),
				StreamID: "s0035388ba7", SenderID: "v00177464c6", Text: "jam berapa live lagi?",
			},
		},
		{
			name: "chat with escapes and emoji",
			line: `{"type":"chat","stream_id":"s1","sender_id":"v1","text":"a\"b\\c\/d\n\u00e9\ud83d\ude00 😀","id":"x3","at":"2025-06-01T18:03:47.123Z"}`,
			want: Event{
				Type: TypeChat, TypeName: "chat", ID: "x3", At: mustTime(t, "2025-06-01T18:03:47.123Z"),
				StreamID: "s1", SenderID: "v1", Text: "a\"b\\c/d\né😀 😀",
			},
		},
		{
			name: "post",
			line: `{"type":"post","account_id":"a004338427f","kind":"ad","text":"Dibutuhkan penjaga toko, perempuan muda, tidak perlu ijazah, gaji 2jt, kos disediakan. Chat WA 083054637738","id":"e101-85215","at":"2025-05-24T01:20:00Z"}`,
			want: Event{
				Type: TypePost, TypeName: "post", ID: "e101-85215", At: mustTime(t, "2025-05-24T01:20:00Z"),
				AccountID: "a004338427f", Kind: "ad",
				Text: "Dibutuhkan penjaga toko, perempuan muda, tidak perlu ijazah, gaji 2jt, kos disediakan. Chat WA 083054637738",
			},
		},
		{
			name: "post dm with links",
			line: `{"type":"post","account_id":"a1","kind":"dm","text":"cek","to_id":"h1","links":["https://x.test/a","wa.me/62"],"id":"x4","at":"2025-05-24T01:20:00Z"}`,
			want: Event{
				Type: TypePost, TypeName: "post", ID: "x4", At: mustTime(t, "2025-05-24T01:20:00Z"),
				AccountID: "a1", Kind: "dm", Text: "cek", ToID: "h1", Links: []string{"https://x.test/a", "wa.me/62"},
			},
		},
		{
			name: "link",
			line: `{"type":"link","from_id":"h004326905a","to_id":"a004267d5ca","rel":"agency","id":"e101-84897","at":"2024-08-29T00:00:00Z"}`,
			want: Event{
				Type: TypeLink, TypeName: "link", ID: "e101-84897", At: mustTime(t, "2024-08-29T00:00:00Z"),
				FromID: "h004326905a", ToID: "a004267d5ca", Rel: "agency",
			},
		},
		{
			name: "link with a rel this version does not know",
			line: `{"type":"link","from_id":"a","to_id":"b","rel":"cousin","id":"x5","at":"2024-08-29T00:00:00Z"}`,
			want: Event{
				Type: TypeLink, TypeName: "link", ID: "x5", At: mustTime(t, "2024-08-29T00:00:00Z"),
				FromID: "a", ToID: "b", Rel: "cousin",
			},
		},
		{
			name: "payout",
			line: `{"type":"payout","account_id":"h004326905a","to_account":"a004267d5ca","coins":2838,"amount":25542.0,"currency":"IDR","method":"bank","id":"e101-84896","at":"2025-06-05T01:01:00Z"}`,
			want: Event{
				Type: TypePayout, TypeName: "payout", ID: "e101-84896", At: mustTime(t, "2025-06-05T01:01:00Z"),
				AccountID: "h004326905a", ToAccount: "a004267d5ca", Coins: 2838, Amount: 25542,
				Currency: "IDR", Method: "bank",
			},
		},
		{
			name: "signal",
			line: `{"type":"signal","stream_id":"s1","source":"nsfw-v2","label":"nudity","score":0.93,"id":"x6","at":"2025-06-05T01:01:00Z"}`,
			want: Event{
				Type: TypeSignal, TypeName: "signal", ID: "x6", At: mustTime(t, "2025-06-05T01:01:00Z"),
				StreamID: "s1", Source: "nsfw-v2", Label: "nudity", Score: 0.93,
			},
		},
		{
			name: "signal about an account, score 1",
			line: `{"type":"signal","account_id":"a1","source":"age","label":"minor","score":1,"id":"x7","at":"2025-06-05T01:01:00Z"}`,
			want: Event{
				Type: TypeSignal, TypeName: "signal", ID: "x7", At: mustTime(t, "2025-06-05T01:01:00Z"),
				AccountID: "a1", Source: "age", Label: "minor", Score: 1,
			},
		},
		{
			name: "unknown fields, nulls, whitespace and CRLF",
			line: " { \"id\" : \"x8\" , \"type\":\"gift\",\"at\":\"2025-06-01T17:57:22Z\",\"future\":{\"a\":[1,2,{\"b\":null}]},\"gift\":null,\"stream_id\":\"s\",\"host_id\":\"h\",\"sender_id\":\"v\",\"coins\":1 }\r\n",
			want: Event{
				Type: TypeGift, TypeName: "gift", ID: "x8", At: mustTime(t, "2025-06-01T17:57:22Z"),
				StreamID: "s", HostID: "h", SenderID: "v", Coins: 1,
			},
		},
		{
			name: "fields of another type are ignored",
			line: `{"type":"chat","stream_id":"s","sender_id":"v","text":"hi","coins":"lots","geo":7,"id":"x9","at":"2025-06-01T18:03:47Z"}`,
			want: Event{
				Type: TypeChat, TypeName: "chat", ID: "x9", At: mustTime(t, "2025-06-01T18:03:47Z"),
				StreamID: "s", SenderID: "v", Text: "hi",
			},
		},
		{
			name: "escaped key",
			line: `{"\u0069d":"x10","type":"stream.end","stream_id":"s","at":"2025-06-01T18:03:47Z"}`,
			want: Event{
				Type: TypeStreamEnd, TypeName: "stream.end", ID: "x10", At: mustTime(t, "2025-06-01T18:03:47Z"), StreamID: "s",
			},
		},
		{
			name: "empty text and empty tags",
			line: `{"type":"chat","stream_id":"s","sender_id":"v","text":"","id":"x11","at":"2025-06-01T18:03:47Z"}`,
			want: Event{
				Type: TypeChat, TypeName: "chat", ID: "x11", At: mustTime(t, "2025-06-01T18:03:47Z"), StreamID: "s", SenderID: "v",
			},
		},
		{
			name: "id and text at their limits",
			line: `{"type":"chat","stream_id":"s","sender_id":"v","text":"` + strings.Repeat("t", MaxTextBytes) + `","id":"` + strings.Repeat("i", MaxIDBytes) + `","at":"2025-06-01T18:03:47Z"}`,
			want: Event{
				Type: TypeChat, TypeName: "chat", ID: strings.Repeat("i", MaxIDBytes), At: mustTime(t, "2025-06-01T18:03:47Z"),
				StreamID: "s", SenderID: "v", Text: strings.Repeat("t", MaxTextBytes),
			},
		},
		{
			name: "text limit counts decoded bytes",
			line: `{"type":"chat","stream_id":"s","sender_id":"v","text":"` + strings.Repeat(`\n`, MaxTextBytes) + `","id":"x12","at":"2025-06-01T18:03:47Z"}`,
			want: Event{
				Type: TypeChat, TypeName: "chat", ID: "x12", At: mustTime(t, "2025-06-01T18:03:47Z"),
				StreamID: "s", SenderID: "v", Text: strings.Repeat("\n", MaxTextBytes),
			},
		},
	}
	var d Decoder
	for _, tt := range tests {
		var ev Event
		if err := d.Decode([]byte(tt.line), &ev); err != nil {
			t.Errorf("%s: Decode: %v", tt.name, err)
			continue
		}
		if !eventsEqual(&ev, &tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, ev, tt.want)
		}
	}
}

type rejectCase struct {
	name   string
	line   string
	field  string
	reason string // a part of the reason
}

// rejectCases are lines that Decode must reject, one rule each.
func rejectCases() []rejectCase {
	const (
		at   = `"at":"2025-06-01T18:00:00Z"`
		chat = `"type":"chat","stream_id":"s","sender_id":"v","text":"x",` + at
		gift = `"type":"gift","stream_id":"s","host_id":"h","sender_id":"v",` + at
	)
	long := strings.Repeat("x", MaxIDBytes+1)
	return []rejectCase{
		// The line as a whole.
		{"not JSON", `hello`, "", "invalid JSON: unexpected 'h' at byte 0"},
		{"truncated", `{"id":"x",`, "", "invalid JSON: unexpected end in object"},
		{"trailing garbage", `{"id":"x"} x`, "", "invalid JSON: unexpected 'x' after the value"},
		{"two objects", `{"id":"x"}{"id":"y"}`, "", "invalid JSON"},
		{"array", `[1,2]`, "", "an event must be a JSON object"},
		{"string", `"event"`, "", "an event must be a JSON object"},
		{"empty", ``, "", "invalid JSON: empty line"},
		{"NaN", `{"id":"x","junk":NaN}`, "", "invalid JSON: unexpected 'N'"},
		{"leading plus", `{"id":"x","junk":+1}`, "", "invalid JSON"},
		{"leading zero", `{"id":"x","junk":01}`, "", "invalid JSON"},
		{"bare fraction", `{"id":"x","junk":1.}`, "", "invalid JSON: malformed number"},
		{"single quotes", `{'id':'x'}`, "", "invalid JSON"},
		{"trailing comma", `{"id":"x",}`, "", "invalid JSON"},
		{"bad escape", `{"id":"x\q"}`, "", `invalid JSON: invalid escape 'q'`},
		{"short unicode escape", `{"id":"\u12"}`, "", `invalid JSON: invalid \u escape`},
		{"raw control character", "{\"id\":\"a\tb\"}", "", "invalid JSON: control character 0x9 in string"},
		{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "", "nested deeper than 64 levels"},
		{"line too long", `{"id":"` + strings.Repeat("x", MaxEventBytes) + `"}`, "", "line longer than 65536 bytes"},

		// Text encoding, named by field where it can be.
		{"invalid UTF-8 in text", "{\"type\":\"chat\",\"text\":\"caf\xe9\"}", "text", "invalid UTF-8 at byte 26"},
		{"invalid UTF-8 in geo", "{\"geo\":{\"lat\":\"\xff\"}}", "geo.lat", "invalid UTF-8"},
		{"invalid UTF-8 in tags", "{\"tags\":[\"ok\",\"\xc0\xaf\"]}", "tags", "invalid UTF-8"},
		{"invalid UTF-8 in an unknown field", "{\"other\":\"\xff\"}", "other", "invalid UTF-8"},
		{"invalid UTF-8 in a key", "{\"\xff\":1}", "", "invalid UTF-8"},
		{"UTF-8 encoded surrogate", "{\"text\":\"\xed\xa0\x80\"}", "text", "invalid UTF-8"},
		{"lone high surrogate", `{"text":"\ud83d"}`, "text", "lone UTF-16 surrogate escape"},
		{"lone low surrogate", `{"text":"\ude00x"}`, "text", "lone UTF-16 surrogate escape"},
		{"high surrogate then non-surrogate", `{"text":"\ud83d\u0041"}`, "text", "lone UTF-16 surrogate escape"},

		// Common fields, in order.
		{"id missing", `{` + chat + `}`, "id", "required"},
		{"id null", `{"id":null,` + chat + `}`, "id", "required"},
		{"id empty", `{"id":"",` + chat + `}`, "id", "must not be empty"},
		{"id number", `{"id":12,` + chat + `}`, "id", "must be a string"},
		{"id too long", `{"id":"` + long + `",` + chat + `}`, "id", "must be at most 128 bytes"},
		{"id twice", `{"id":"a","id":"b",` + chat + `}`, "id", "appears more than once"},
		{"id before type", `{"type":7}`, "id", "required"},
		{"type missing", `{"id":"x",` + at + `}`, "type", "required"},
		{"type number", `{"id":"x","type":3,` + at + `}`, "type", "must be a string"},
		{"type empty", `{"id":"x","type":"",` + at + `}`, "type", "must not be empty"},
		{"type before at", `{"id":"x","at":"yesterday"}`, "type", "required"},
		{"at missing", `{"id":"x","type":"stream.end","stream_id":"s"}`, "at", "required"},
		{"at without offset", `{"id":"x","type":"stream.end","stream_id":"s","at":"2025-06-01T18:00:00"}`, "at", "RFC 3339"},
		{"at date only", `{"id":"x","type":"stream.end","stream_id":"s","at":"2025-06-01"}`, "at", "RFC 3339"},
		{"at space separated", `{"id":"x","type":"stream.end","stream_id":"s","at":"2025-06-01 18:00:00Z"}`, "at", "RFC 3339"},
		{"at day out of range", `{"id":"x","type":"stream.end","stream_id":"s","at":"2025-02-29T18:00:00Z"}`, "at", "RFC 3339"},
		{"at hour 24", `{"id":"x","type":"stream.end","stream_id":"s","at":"2025-06-01T24:00:00Z"}`, "at", "RFC 3339"},
		{"at number", `{"id":"x","type":"stream.end","stream_id":"s","at":1748800800}`, "at", "RFC 3339"},
		{"at before fields", `{"id":"x","type":"stream.end","at":"soon"}`, "at", "RFC 3339"},
		{"node number", `{"id":"x","type":"stream.end","stream_id":"s",` + at + `,"node":1}`, "node", "must be a string"},

		// Per type.
		{"stream.start host_id missing", `{"id":"x","type":"stream.start","stream_id":"s",` + at + `}`, "host_id", "required"},
		{"stream.start stream_id empty", `{"id":"x","type":"stream.start","stream_id":"","host_id":"h",` + at + `}`, "stream_id", "must not be empty"},
		{"stream.start device_id empty", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","device_id":"",` + at + `}`, "device_id", "must not be empty"},
		{"stream.start agency_id too long", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","agency_id":"` + long + `",` + at + `}`, "agency_id", "at most 128 bytes"},
		{"stream.start title number", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","title":5,` + at + `}`, "title", "must be a string"},
		{"stream.start tags not array", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","tags":"a,b",` + at + `}`, "tags", "array of strings"},
		{"stream.start tags of numbers", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","tags":["a",1],` + at + `}`, "tags", "array of strings"},
		{"stream.start geo not object", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":[1,2],` + at + `}`, "geo", "must be an object"},
		{"stream.start geo lat missing", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":{"lon":1},` + at + `}`, "geo.lat", "required"},
		{"stream.start geo lat out of range", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":{"lat":90.5,"lon":1},` + at + `}`, "geo.lat", "between -90 and 90"},
		{"stream.start geo lon out of range", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":{"lat":1,"lon":-181},` + at + `}`, "geo.lon", "between -180 and 180"},
		{"stream.start geo lon string", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":{"lat":1,"lon":"1"},` + at + `}`, "geo.lon", "between -180 and 180"},
		{"stream.start geo accuracy negative", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":{"lat":1,"lon":1,"accuracy_m":-1},` + at + `}`, "geo.accuracy_m", ">= 0"},
		{"stream.start geo lat twice", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","geo":{"lat":1,"lat":2,"lon":1},` + at + `}`, "geo.lat", "appears more than once"},
		{"stream.start host not object", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","host":"h",` + at + `}`, "host", "must be an object"},
		{"stream.start host created_at bad", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","host":{"created_at":"2023-04-07"},` + at + `}`, "host.created_at", "RFC 3339"},
		{"stream.start host birth_year fraction", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","host":{"birth_year":1990.5},` + at + `}`, "host.birth_year", "between 1900 and 2100"},
		{"stream.start host birth_year implausible", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","host":{"birth_year":1850},` + at + `}`, "host.birth_year", "between 1900 and 2100"},
		{"stream.start host age_verified string", `{"id":"x","type":"stream.start","stream_id":"s","host_id":"h","host":{"age_verified":"yes"},` + at + `}`, "host.age_verified", "true or false"},
		{"heartbeat stream_id missing", `{"id":"x","type":"stream.heartbeat",` + at + `}`, "stream_id", "required"},
		{"heartbeat viewers string", `{"id":"x","type":"stream.heartbeat","stream_id":"s","viewers":"12",` + at + `}`, "viewers", "must be an integer"},
		{"heartbeat viewers negative", `{"id":"x","type":"stream.heartbeat","stream_id":"s","viewers":-1,` + at + `}`, "viewers", ">= 0"},
		{"heartbeat viewers fraction", `{"id":"x","type":"stream.heartbeat","stream_id":"s","viewers":1.5,` + at + `}`, "viewers", "must be an integer"},
		{"heartbeat private number", `{"id":"x","type":"stream.heartbeat","stream_id":"s","private":1,` + at + `}`, "private", "true or false"},
		{"end reason number", `{"id":"x","type":"stream.end","stream_id":"s","reason":1,` + at + `}`, "reason", "must be a string"},
		{"gift coins missing", `{"id":"x",` + gift + `}`, "coins", "required"},
		{"gift coins zero", `{"id":"x",` + gift + `,"coins":0}`, "coins", "must be an integer > 0"},
		{"gift coins negative", `{"id":"x",` + gift + `,"coins":-5}`, "coins", "must be an integer > 0"},
		{"gift coins fraction", `{"id":"x",` + gift + `,"coins":1.5}`, "coins", "must be an integer > 0"},
		{"gift coins barely fractional", `{"id":"x",` + gift + `,"coins":1.0000000000000001}`, "coins", "must be an integer > 0"},
		{"gift coins string", `{"id":"x",` + gift + `,"coins":"5"}`, "coins", "must be an integer > 0"},
		{"gift coins overflow", `{"id":"x",` + gift + `,"coins":9223372036854775808}`, "coins", "must be an integer > 0"},
		{"gift coins twice", `{"id":"x",` + gift + `,"coins":5,"coins":6}`, "coins", "appears more than once"},
		{"gift coins twice, once null", `{"id":"x",` + gift + `,"coins":5,"coins":null}`, "coins", "appears more than once"},
		{"gift sender_id missing", `{"id":"x","type":"gift","stream_id":"s","host_id":"h","coins":1,` + at + `}`, "sender_id", "required"},
		{"gift sender_country number", `{"id":"x",` + gift + `,"coins":1,"sender_country":62}`, "sender_country", "must be a string"},
		{"gift sender_tz number", `{"id":"x",` + gift + `,"coins":1,"sender_tz":-8}`, "sender_tz", "must be a string"},
		{"chat text missing", `{"id":"x","type":"chat","stream_id":"s","sender_id":"v",` + at + `}`, "text", "required"},
		{"chat text too long", `{"id":"x","type":"chat","stream_id":"s","sender_id":"v","text":"` + strings.Repeat("t", MaxTextBytes+1) + `",` + at + `}`, "text", "at most 8192 bytes"},
		{"chat sender_id object", `{"id":"x","type":"chat","stream_id":"s","sender_id":{},"text":"t",` + at + `}`, "sender_id", "must be a string"},
		{"post kind missing", `{"id":"x","type":"post","account_id":"a","text":"t",` + at + `}`, "kind", "required"},
		{"post kind empty", `{"id":"x","type":"post","account_id":"a","kind":"","text":"t",` + at + `}`, "kind", "must not be empty"},
		{"post to_id empty", `{"id":"x","type":"post","account_id":"a","kind":"dm","text":"t","to_id":"",` + at + `}`, "to_id", "must not be empty"},
		{"post links of objects", `{"id":"x","type":"post","account_id":"a","kind":"dm","text":"t","links":[{}],` + at + `}`, "links", "array of strings"},
		{"link rel missing", `{"id":"x","type":"link","from_id":"a","to_id":"b",` + at + `}`, "rel", "required"},
		{"link from_id too long", `{"id":"x","type":"link","from_id":"` + long + `","to_id":"b","rel":"dm",` + at + `}`, "from_id", "at most 128 bytes"},
		{"payout to_account missing", `{"id":"x","type":"payout","account_id":"a","coins":5,` + at + `}`, "to_account", "required"},
		{"payout coins 3.5", `{"id":"x","type":"payout","account_id":"a","to_account":"a","coins":3.5,` + at + `}`, "coins", "must be an integer > 0"},
		{"payout amount string", `{"id":"x","type":"payout","account_id":"a","to_account":"a","coins":3,"amount":"9",` + at + `}`, "amount", "finite number"},
		{"payout amount overflow", `{"id":"x","type":"payout","account_id":"a","to_account":"a","coins":3,"amount":1e400,` + at + `}`, "amount", "finite number"},
		{"payout method number", `{"id":"x","type":"payout","account_id":"a","to_account":"a","coins":3,"method":2,` + at + `}`, "method", "must be a string"},
		{"signal about nothing", `{"id":"x","type":"signal","source":"s","label":"l","score":0.5,` + at + `}`, "stream_id", "one of stream_id, host_id or account_id"},
		{"signal host_id empty", `{"id":"x","type":"signal","host_id":"","source":"s","label":"l","score":0.5,` + at + `}`, "host_id", "must not be empty"},
		{"signal source missing", `{"id":"x","type":"signal","host_id":"h","label":"l","score":0.5,` + at + `}`, "source", "required"},
		{"signal score above 1", `{"id":"x","type":"signal","host_id":"h","source":"s","label":"l","score":1.01,` + at + `}`, "score", "between 0 and 1"},
		{"signal score negative", `{"id":"x","type":"signal","host_id":"h","source":"s","label":"l","score":-0.1,` + at + `}`, "score", "between 0 and 1"},
		{"signal score missing", `{"id":"x","type":"signal","host_id":"h","source":"s","label":"l",` + at + `}`, "score", "required"},

		// The first fault wins, in contract order.
		{"first of several faults", `{"id":"x","type":"gift","stream_id":"","host_id":5,"sender_id":"v","coins":0,` + at + `}`, "stream_id", "must not be empty"},
	}
}

func TestDecodeReject(t *testing.T) {
	t.Parallel()
	var d Decoder
	for _, tt := range rejectCases() {
		var ev Event
		err := d.Decode([]byte(tt.line), &ev)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want a *FieldError", tt.name, err)
			continue
		}
		if fe.Field != tt.field || !strings.Contains(fe.Reason, tt.reason) {
			t.Errorf("%s: got field %q reason %q, want field %q reason containing %q", tt.name, fe.Field, fe.Reason, tt.field, tt.reason)
		}
	}
}

func TestFieldErrorMessage(t *testing.T) {
	t.Parallel()
	var d Decoder
	var ev Event
	err := d.Decode([]byte(`{"id":"g1","type":"gift","stream_id":"s","host_id":"h","sender_id":"v","coins":0,"at":"2025-06-01T18:00:00Z"}`), &ev)
	if got, want := err.Error(), "field coins: must be an integer > 0"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if ev.ID != "g1" {
		t.Errorf("ID = %q after a field error, want it kept for the report", ev.ID)
	}
	err = d.Decode([]byte(`{"id":`), &ev)
	if got, want := err.Error(), "invalid JSON: unexpected end at byte 6"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	t.Parallel()
	var d Decoder
	var ev Event
	err := d.Decode([]byte(`{"id":"u1","type":"stream.pause","at":"2025-06-01T18:00:00+07:00","node":"n1","stream_id":"s"}`), &ev)
	if !errors.Is(err, ErrUnknownType) {
		t.Fatalf("err = %v, want ErrUnknownType", err)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		t.Errorf("an unknown type is not a rejection, got %v", fe)
	}
	if got, want := err.Error(), `unknown event type "stream.pause"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	want := Event{Type: TypeUnknown, TypeName: "stream.pause", ID: "u1", At: mustTime(t, "2025-06-01T18:00:00+07:00"), Node: "n1"}
	if !eventsEqual(&ev, &want) {
		t.Errorf("got %+v, want %+v", ev, want)
	}

	// What is not valid is left out, and the event is still only unknown.
	err = d.Decode([]byte(`{"id":"u2","type":"later","at":"soon"}`), &ev)
	if !errors.Is(err, ErrUnknownType) || ev.ID != "u2" || !ev.At.IsZero() {
		t.Errorf("got %v, %+v", err, ev)
	}
	// A bad id comes first.
	err = d.Decode([]byte(`{"id":"","type":"later"}`), &ev)
	if !errors.As(err, &fe) || fe.Field != "id" {
		t.Errorf("got %v, want a field error on id", err)
	}
}

// TestDecodeIntegers documents what an integer field takes: a JSON number whose
// value is whole, whatever its spelling.
func TestDecodeIntegers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		coins string
		want  int64 // 0: rejected
	}{
		{"1", 1},
		{"30", 30},
		{"3.0", 3},
		{"3.000", 3},
		{"1e3", 1000},
		{"1E+3", 1000},
		{"2.5e1", 25},
		{"2500e-2", 25},
		{"9223372036854775807", math.MaxInt64},
		{"9.223372036854775807e18", math.MaxInt64},
		{"0.0", 0},
		{"1.5", 0},
		{"1e-1", 0},
		{"25e-2", 0},
		{"9223372036854775808", 0},
		{"1e19", 0},
		{"1e999999999", 0},
		{"-1", 0},
	}
	var d Decoder
	for _, tt := range tests {
		line := `{"id":"x","type":"gift","stream_id":"s","host_id":"h","sender_id":"v","at":"2025-06-01T18:00:00Z","coins":` + tt.coins + `}`
		var ev Event
		err := d.Decode([]byte(line), &ev)
		switch {
		case tt.want == 0 && err == nil:
			t.Errorf("coins %s: accepted as %d, want rejected", tt.coins, ev.Coins)
		case tt.want != 0 && err != nil:
			t.Errorf("coins %s: %v", tt.coins, err)
		case tt.want != 0 && ev.Coins != tt.want:
			t.Errorf("coins %s = %d, want %d", tt.coins, ev.Coins, tt.want)
		}
	}
}

// TestParseInteger checks parseInteger against exact rational arithmetic.
func TestParseInteger(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"0", "-0", "7", "-7", "0.0", "-0.0e5", "1e0", "10e-1", "100e-2", "123.4500e2", "123.45e1",
		"9223372036854775807", "-9223372036854775808", "-9223372036854775809", "9223372036854775808",
		"922337203685477580.7e1", "-922337203685477580.8e1", "0.00000000000000000000001e23",
		"1e18", "1e19", "0e999999999", "5e-99999", "12345678901234567890e-2", "1.000000000000000000001",
	} {
		checkParseInteger(t, s)
	}
}

func checkParseInteger(t *testing.T, s string) {
	t.Helper()
	got, ok := parseInteger([]byte(s))
	r, rok := new(big.Rat).SetString(s)
	if !rok {
		t.Fatalf("big.Rat cannot read %q", s)
	}
	wantOK := r.IsInt() && r.Num().IsInt64()
	if ok != wantOK || ok && got != r.Num().Int64() {
		t.Errorf("parseInteger(%q) = %d, %v; want %s, %v", s, got, ok, r.RatString(), wantOK)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	jakarta := time.FixedZone("", 7*3600)
	tests := []struct {
		in   string
		want time.Time // zero: rejected
	}{
		{"2025-06-02T13:05:00Z", time.Date(2025, 6, 2, 13, 5, 0, 0, time.UTC)},
		{"2025-06-02T13:05:00.5Z", time.Date(2025, 6, 2, 13, 5, 0, 500e6, time.UTC)},
		{"2025-06-02T13:05:00.123456789123Z", time.Date(2025, 6, 2, 13, 5, 0, 123456789, time.UTC)},
		{"2025-06-02T20:05:00+07:00", time.Date(2025, 6, 2, 20, 5, 0, 0, jakarta)},
		{"2025-06-02T13:05:00+00:00", time.Date(2025, 6, 2, 13, 5, 0, 0, time.UTC)},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0000-01-01T00:00:00Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"9999-12-31T23:59:59-23:59", time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(23*3600+59*60)))},
		{"2025-06-02T13:05:00", time.Time{}},
		{"2025-06-02T13:05:00z", time.Time{}},
		{"2025-06-02t13:05:00Z", time.Time{}},
		{"2023-02-29T00:00:00Z", time.Time{}},
		{"2025-06-02T13:05:60Z", time.Time{}},
		{"2025-06-02T13:05:00+24:00", time.Time{}},
		{"2025-06-02T13:05:00+0700", time.Time{}},
		{"", time.Time{}},
	}
	var p timeParser
	for _, tt := range tests {
		got, ok := p.parse([]byte(tt.in))
		if ok != !tt.want.IsZero() || ok && !sameTime(got, tt.want) {
			t.Errorf("parse(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
		checkParseTime(t, &p, tt.in)
	}
}

// checkParseTime checks the fast path against the standard library: where it
// answers, it must answer the same.
func checkParseTime(t *testing.T, p *timeParser, s string) {
	t.Helper()
	want, wok := parseTimeStd([]byte(s))
	got, ok := p.fast([]byte(s))
	if !ok {
		return // the standard library decides
	}
	if !wok {
		t.Fatalf("fast path accepts %q, the standard library does not", s)
	}
	if want.Location() == time.UTC {
		if got != want { // same wall, ext and location: identical, not only equal
			t.Fatalf("fast(%q) = %#v, want %#v", s, got, want)
		}
		return
	}
	wn, wo := want.Zone()
	gn, gp := got.Zone()
	if !got.Equal(want) || wn != gn || wo != gp {
		t.Fatalf("fast(%q) = %v, want %v", s, got, want)
	}
}

func TestLookupField(t *testing.T) {
	t.Parallel()
	for f := fID; f < numFields; f++ {
		if got := lookupField([]byte(fieldNames[f])); got != f {
			t.Errorf("lookupField(%q) = %d, want %d", fieldNames[f], got, f)
		}
	}
	for _, k := range []string{"", "i", "ID", "idx", "coin", "host_ids", "geo.lat", "lat"} {
		if got := lookupField([]byte(k)); got != fNone {
			t.Errorf("lookupField(%q) = %q, want none", k, fieldNames[got])
		}
	}
}

// TestReasonsMatchLimits keeps the constant reasons in step with the limits.
func TestReasonsMatchLimits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ reason, want string }{
		{reasonIDLen, strconv.Itoa(MaxIDBytes)},
		{reasonTextLen, strconv.Itoa(MaxTextBytes)},
		{reasonLineLen, strconv.Itoa(MaxEventBytes)},
		{reasonBirthYear, strconv.Itoa(minBirthYear)},
		{reasonBirthYear, strconv.Itoa(maxBirthYear)},
	} {
		if !strings.Contains(c.reason, c.want) {
			t.Errorf("reason %q does not say %s", c.reason, c.want)
		}
	}
}

// TestRoundTrip decodes real lines, encodes the events with encoding/json (the
// Event's tags are the contract's names) and decodes again.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	var d Decoder
	for i, line := range realLines(t) {
		checkRoundTrip(t, &d, line, i+1)
	}
}

func checkRoundTrip(t *testing.T, d *Decoder, line []byte, n int) {
	t.Helper()
	var first, second Event
	if err := d.Decode(line, &first); err != nil {
		t.Fatalf("line %d: %v", n, err)
	}
	out, err := json.Marshal(&first)
	if err != nil {
		t.Fatalf("line %d: marshal %+v: %v", n, first, err)
	}
	if err := d.Decode(out, &second); err != nil {
		t.Fatalf("line %d: decode %s: %v", n, out, err)
	}
	if !eventsEqual(&first, &second) {
		t.Fatalf("line %d: round trip differs\nline %s\nout  %s\n 1st %+v\n 2nd %+v", n, line, out, first, second)
	}
}

// TestDecodeReuse checks that decoding into a reused Event leaves nothing of
// the previous one, and that a shallow copy shares nothing that changes.
func TestDecodeReuse(t *testing.T) {
	t.Parallel()
	var d Decoder
	var ev Event
	if err := d.Decode([]byte(`{"id":"a","type":"post","account_id":"x","kind":"dm","text":"t","links":["l1"],"at":"2025-06-01T18:00:00Z"}`), &ev); err != nil {
		t.Fatal(err)
	}
	kept := ev
	if err := d.Decode([]byte(`{"id":"b","type":"post","account_id":"y","kind":"ad","text":"u","links":["l2"],"at":"2025-06-01T18:00:01Z"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if kept.Links[0] != "l1" || kept.Text != "t" || kept.ID != "a" {
		t.Errorf("the copy changed: %+v", kept)
	}
	if err := d.Decode([]byte(`{"id":"c","type":"stream.end","stream_id":"s","at":"2025-06-01T18:00:02Z"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Links != nil || ev.Text != "" || ev.AccountID != "" {
		t.Errorf("left over from the previous event: %+v", ev)
	}
}

func TestDecodeAllocations(t *testing.T) {
	line := []byte(`{"type":"chat","stream_id":"s0035388ba7","sender_id":"v00177464c6","text":"jam berapa live lagi?","id":"e101-12241","at":"2025-06-01T18:03:47Z"}`)
	var d Decoder
	var ev Event
	allocs := testing.AllocsPerRun(100, func() {
		if err := d.Decode(line, &ev); err != nil {
			t.Fatal(err)
		}
	})
	// The id and the text; stream and sender ids come from the interner.
	if allocs > 2 {
		t.Errorf("Decode of a chat line: %v allocations, want at most 2", allocs)
	}
}

// TestMarshalRequiredZero checks that encoding keeps the required fields whose
// valid value is the zero one.
func TestMarshalRequiredZero(t *testing.T) {
	t.Parallel()
	var d Decoder
	for _, line := range []string{
		`{"type":"chat","id":"0","at":"2025-06-01T18:00:00Z","stream_id":"s","sender_id":"v","text":""}`,
		`{"type":"post","id":"0","at":"2025-06-01T18:00:00Z","account_id":"a","kind":"bio","text":""}`,
		`{"type":"signal","id":"0","at":"2025-06-01T18:00:00Z","host_id":"h","source":"s","label":"l","score":0}`,
	} {
		checkRoundTrip(t, &d, []byte(line), 1)
	}
	// Other types are written as the tags say.
	out, err := json.Marshal(Event{Type: TypeStreamEnd, TypeName: "stream.end", ID: "e", At: t0, StreamID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"stream.end","id":"e","at":"2025-06-01T18:00:00Z","stream_id":"s"}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
	// An event built in code with its Type only is written with its name.
	out2, err := json.Marshal(Event{Type: TypeStreamEnd, ID: "e", At: t0, StreamID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out2) != string(out) {
		t.Errorf("without TypeName: got %s, want %s", out2, out)
	}
}
