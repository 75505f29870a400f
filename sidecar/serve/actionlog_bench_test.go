package serve

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/hub"
)

// BenchmarkModeratorAction: one moderator's claim, sent and answered over a
// real websocket to a real service, with the intake log off (the action kept
// in memory only) and on (appended and fsynced before the answer).
//
//	go test -run '^$' -bench ModeratorAction -benchtime 300x -count 5 ./sidecar/serve/
func BenchmarkModeratorAction(b *testing.B) {
	evs, _ := world(b, 21, 40, 5, 3)
	for _, on := range []bool{false, true} {
		b.Run("log="+strconv.FormatBool(on), func(b *testing.B) {
			cfg := baseConfig(b)
			cfg.State.Log = &on
			r := startService(b, cfg)
			var id string
			for i := 0; id == "" && i*2000 < len(evs); i++ {
				postOK(b, r.addr, ndjson(b, evs[i*2000:min((i+1)*2000, len(evs))]))
				waitFor(b, 20*time.Second, "analysed", func() bool { return r.svc.pipe.queued.Load() == 0 })
				if as := r.svc.hub.State().Alerts; len(as) > 0 {
					id = as[0].Alert.ID
				}
			}
			if id == "" {
				b.Fatal("no alert")
			}
			conn, _, err := websocket.DefaultDialer.Dial("ws://"+r.addr+hub.Path, http.Header{"Authorization": {"Bearer " + tokModA}})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rid := "r" + strconv.Itoa(i)
				if err := conn.WriteJSON(map[string]any{"type": "action", "request_id": rid, "alert_id": id, "action": hub.ActClaim}); err != nil {
					b.Fatal(err)
				}
				for {
					var m struct {
						Type      string `json:"type"`
						RequestID string `json:"request_id"`
						Code      string `json:"code"`
					}
					if err := conn.ReadJSON(&m); err != nil {
						b.Fatal(err)
					}
					if m.RequestID == rid {
						if m.Type != "ack" {
							b.Fatalf("claim: %s %s", m.Type, m.Code)
						}
						break
					}
				}
			}
		})
	}
}
