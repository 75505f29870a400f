package janustest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// Publisher is a pion peer publishing synthetic VP8 and Opus into a
// VideoRoom through Janus's REST API, as a browser running janus.js would:
// create a session, attach the VideoRoom, join as publisher, publish with a
// JSEP offer and take Janus's answer.
type Publisher struct {
	// ID is the publisher's feed id in the room.
	ID uint64

	r       rest
	session uint64
	pc      *webrtc.PeerConnection
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// Publish joins room as a publisher named display and starts sending media.
// Close it (it is also closed when the test ends).
func (s *Server) Publish(ctx context.Context, room uint64, display string) (*Publisher, error) {
	api, err := mediatest.LoopbackAPI(Interface)
	if err != nil {
		return nil, err
	}
	p := &Publisher{r: rest{base: s.URL(), secret: s.o.APISecret, c: &http.Client{}}}
	s.t.Cleanup(p.Close)
	if err := p.start(ctx, api, room, display); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Publisher) start(ctx context.Context, api *webrtc.API, room uint64, display string) error {
	var created struct{ Data struct{ ID uint64 } }
	if err := p.r.post(ctx, "", map[string]any{"janus": "create"}, &created); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	p.session = created.Data.ID
	var attached struct{ Data struct{ ID uint64 } }
	if err := p.r.post(ctx, p.sessionPath(), map[string]any{"janus": "attach", "plugin": "janus.plugin.videoroom"}, &attached); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	handle := p.sessionPath() + "/" + strconv.FormatUint(attached.Data.ID, 10)
	join := map[string]any{"request": "join", "ptype": "publisher", "room": room, "display": display}
	if err := p.r.post(ctx, handle, map[string]any{"janus": "message", "body": join}, nil); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	ev, err := p.r.waitEvent(ctx, p.sessionPath(), func(e event) bool { return e.Plugindata.Data.Videoroom == "joined" })
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	p.ID = ev.Plugindata.Data.ID

	p.pc, err = api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	tracks, err := mediatest.AddTracks(p.pc)
	if err != nil {
		return err
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	publish := map[string]any{"janus": "message", "body": map[string]any{"request": "publish", "audio": true, "video": true},
		"jsep": map[string]any{"type": "offer", "sdp": p.pc.LocalDescription().SDP, "trickle": false}}
	if err := p.r.post(ctx, handle, publish, nil); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	ev, err = p.r.waitEvent(ctx, p.sessionPath(), func(e event) bool { return e.Jsep != nil })
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := p.pc.SetRemoteDescription(*ev.Jsep); err != nil {
		return fmt.Errorf("publish: janus's answer: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go func() { defer p.wg.Done(); _ = mediatest.Send(sctx, tracks) }()
	go func() { defer p.wg.Done(); p.r.drain(sctx, p.sessionPath()) }()
	return nil
}

func (p *Publisher) sessionPath() string { return "/" + strconv.FormatUint(p.session, 10) }

// Close leaves the room (destroying the session, as a closing browser tab
// does after its keepalives stop) and closes the peer; safe twice.
func (p *Publisher) Close() {
	p.once.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
		if p.session != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = p.r.post(ctx, p.sessionPath(), map[string]any{"janus": "destroy"}, nil)
			cancel()
		}
		if p.pc != nil {
			_ = p.pc.Close()
		}
		p.r.c.CloseIdleConnections()
	})
}

// rest is the few calls of Janus's REST API a publisher needs.
type rest struct {
	base, secret string
	c            *http.Client
}

type event struct {
	Janus string
	Error *struct {
		Code   int
		Reason string
	}
	Plugindata struct {
		Data struct {
			Videoroom string
			ID        uint64
			Error     string
		}
	}
	Jsep *webrtc.SessionDescription
}

var txn struct {
	sync.Mutex
	n int
}

func (r rest) post(ctx context.Context, path string, body map[string]any, out any) error {
	txn.Lock()
	txn.n++
	body["transaction"] = "t" + strconv.Itoa(txn.n)
	txn.Unlock()
	if r.secret != "" {
		body["apisecret"] = r.secret
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := r.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("decode %s: %w", raw, err)
	}
	if e.Error != nil {
		return fmt.Errorf("janus error %d: %s", e.Error.Code, e.Error.Reason)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (r rest) poll(ctx context.Context, path string) (event, error) {
	url := r.base + path + "?maxev=1"
	if r.secret != "" {
		url += "&apisecret=" + r.secret
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return event{}, err
	}
	resp, err := r.c.Do(req)
	if err != nil {
		return event{}, err
	}
	defer resp.Body.Close()
	var e event
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return event{}, err
	}
	return e, nil
}

// waitEvent long-polls the session until an event satisfies want or reports
// a plugin error.
func (r rest) waitEvent(ctx context.Context, path string, want func(event) bool) (event, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		e, err := r.poll(ctx, path)
		if err != nil {
			return e, err
		}
		if e.Plugindata.Data.Error != "" {
			return e, errors.New(e.Plugindata.Data.Error)
		}
		if want(e) {
			return e, nil
		}
	}
}

// drain long-polls until ctx ends, which keeps the session alive.
func (r rest) drain(ctx context.Context, path string) {
	for ctx.Err() == nil {
		if _, err := r.poll(ctx, path); err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}
