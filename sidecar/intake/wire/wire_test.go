package wire

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// TestSignatureFormat pins the signature on the wire: a change here breaks
// every sender and receiver already deployed. The values are openssl's:
//
//	printf '1800000000.{"id":"e1"}\n' | openssl dgst -sha256 -hmac 0123456789abcdef-key-one
func TestSignatureFormat(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest(http.MethodPost, "http://hub"+Path, nil)
	Sign(req, "k1", []byte("0123456789abcdef-key-one"), []byte("{\"id\":\"e1\"}\n"), time.Unix(1_800_000_000, 0))
	want := map[string]string{
		HeaderKey:       "k1",
		HeaderTimestamp: "1800000000",
		HeaderSignature: "sha256=e212eb3ae550cf1187cc956516aece8c6e1cf3c54e38e2954d3f81315949457d",
	}
	for h, v := range want {
		if got := req.Header.Get(h); got != v {
			t.Errorf("%s: %q, want %q", h, got, v)
		}
	}
	h := http.Header{}
	uri := WSPath + "?nonce=n1&sender=edge-1&session=s1"
	SignHandshake(h, "k1", []byte("0123456789abcdef-key-one"), uri, time.Unix(1_800_000_000, 0))
	if got := h.Get(HeaderSignature); got != "sha256=f027de12ba8b5a7b7be8aedde1e9ebdf9912adae06b2f93b8d89922a5c543b3a" {
		t.Errorf("handshake signature %q", got)
	}
}

// TestMessagesParse: every message the server writes is read back by the
// client's parser with the same fields, so the two sets of JSON tags agree.
func TestMessagesParse(t *testing.T) {
	t.Parallel()
	ans := Answer{Accepted: 2, Duplicates: []string{"d1"}, Rejected: []Rejected{{Line: 3, ID: "x", Field: "at", Reason: "bad time"}}, Unknown: 1}
	cases := []struct {
		msg  any
		want ServerMsg
	}{
		{Hello{Type: MsgHello, Session: "s1", Acked: 7, MaxBatchBytes: 1 << 20, MaxLines: 500, RateEvents: 10, RateBurst: 20, PingIntervalMS: 20_000},
			ServerMsg{Type: MsgHello, Session: "s1", Acked: 7, MaxBatchBytes: 1 << 20, MaxLines: 500, RateEvents: 10, RateBurst: 20, PingIntervalMS: 20_000}},
		{Ack{Type: MsgAck, Seq: 8, Already: true, Answer: ans},
			ServerMsg{Type: MsgAck, Seq: 8, Already: true, Accepted: 2, Duplicates: ans.Duplicates, Rejected: ans.Rejected, Unknown: 1}},
		{Busy{Type: MsgBusy, Seq: 9, RetryAfterMS: 1000, Reason: "sink_busy"},
			ServerMsg{Type: MsgBusy, Seq: 9, RetryAfterMS: 1000, Reason: "sink_busy"}},
		{Refused{Type: MsgRefused, Seq: 10, Status: 413, Error: "too large"},
			ServerMsg{Type: MsgRefused, Seq: 10, Status: 413, Error: "too large"}},
		{Error{Type: MsgError, Error: "seq gap"}, ServerMsg{Type: MsgError, Error: "seq gap"}},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseServerMsg(b)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, %v\nwant %+v", b, got, err, c.want)
		}
	}
}

func TestBatchHeader(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]uint64{`{"seq":1}`: 1, `{"seq":42,"later":true}` + "\n": 42} {
		if seq, err := ParseBatchHeader([]byte(line)); err != nil || seq != want {
			t.Errorf("%q: %d, %v", line, seq, err)
		}
	}
	for _, line := range []string{`{"seq":0}`, `{}`, `{"seq":-1}`, `seq=1`, ``} {
		if _, err := ParseBatchHeader([]byte(line)); err == nil {
			t.Errorf("%q passed", line)
		}
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	a, b := NewID(), NewID()
	if a == b || !ValidID(a) || len(a) != 32 {
		t.Errorf("ids %q %q", a, b)
	}
	for _, bad := range []string{"", "a b", "a/b", "é", string(make([]byte, MaxWSParamBytes+1))} {
		if ValidID(bad) {
			t.Errorf("%q valid", bad)
		}
	}
}
