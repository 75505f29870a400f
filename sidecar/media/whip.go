package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// WHIPPath is where the WHIP endpoint is served (RFC 9725): POST
// WHIPPath+"{stream_id}" with an SDP offer creates a session, whose URL
// (Location) takes DELETE to end it.
const WHIPPath = "/v1/whip/"

// Results of ronda_media_whip_requests_total.
const (
	whipCreated        = "created"
	whipDeleted        = "deleted"
	whipUnauthorized   = "unauthorized"
	whipRateLimited    = "rate_limited"
	whipBusy           = "busy"
	whipBadType        = "bad_content_type"
	whipTooLarge       = "too_large"
	whipMalformed      = "malformed"
	whipUnsupported    = "unsupported_codec"
	whipNotFound       = "not_found"
	whipNotAllowed     = "method_not_allowed"
	whipNegotiationErr = "negotiation_failed"
)

// WHIPOptions configure a WHIP endpoint.
type WHIPOptions struct {
	// Tap reads every session. Required.
	Tap *Tap
	// API makes the peer connections (NewAPI). Required.
	API *webrtc.API
	// Authorize says whether a bearer token may publish, and names its
	// holder for the logs. Required: WHIP without a token is refused.
	Authorize func(token string) (name string, ok bool)
	// MaxOfferBytes bounds an offer. Default 64 KiB (a browser's offer with
	// every codec and candidate is 5-10 KiB).
	MaxOfferBytes int64
	// OffersPerSecond and OfferBurst bound the offers taken, all publishers
	// together (each costs a peer connection and ICE gathering); past them
	// 429 with Retry-After. Defaults 10 and 20.
	OffersPerSecond float64
	OfferBurst      int
	// ConnectTimeout ends a session whose connection has not carried a
	// packet in this time. Default 30s.
	ConnectTimeout time.Duration
	// GatherTimeout bounds the gathering of the answer's candidates.
	// Default 5s.
	GatherTimeout time.Duration
	Registerer    prometheus.Registerer
	Logger        *slog.Logger
}

// WHIP is the WHIP endpoint: publishers (a phone app, OBS, a browser) send
// their broadcast to Ronda itself, which reads it with the tap.
//
// ICE is not trickled: the answer carries every candidate Ronda has, so PATCH
// is answered 405 (RFC 9725 section 4.3.1 allows it), and a client sends its
// candidates in the offer (OBS and browsers' WHIP clients wait for gathering).
type WHIP struct {
	o       WHIPOptions
	limiter *rate.Limiter
	reqs    *prometheus.CounterVec

	mu       sync.Mutex
	sessions map[string]*whipSession
	closed   bool
	wg       sync.WaitGroup
}

type whipSession struct {
	id, streamID string
	s            *Session
	pc           *webrtc.PeerConnection
}

// NewWHIP builds the endpoint; Close ends its sessions.
func NewWHIP(o WHIPOptions) (*WHIP, error) {
	if o.Tap == nil || o.API == nil || o.Authorize == nil {
		return nil, errors.New("whip: Tap, API and Authorize are required")
	}
	if o.MaxOfferBytes <= 0 {
		o.MaxOfferBytes = 64 << 10
	}
	if o.OffersPerSecond <= 0 {
		o.OffersPerSecond = 10
	}
	if o.OfferBurst <= 0 {
		o.OfferBurst = 20
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.GatherTimeout <= 0 {
		o.GatherTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &WHIP{o: o, limiter: rate.NewLimiter(rate.Limit(o.OffersPerSecond), o.OfferBurst), sessions: map[string]*whipSession{},
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_whip_requests_total",
			Help: "WHIP requests by method and result (created, deleted, unauthorized, rate_limited, busy, bad_content_type, too_large, malformed, unsupported_codec, not_found, method_not_allowed, negotiation_failed)."},
			[]string{"method", "result"})}
	if o.Registerer != nil {
		if err := o.Registerer.Register(h.reqs); err != nil {
			return nil, fmt.Errorf("whip metrics: %w", err)
		}
	}
	return h, nil
}

func (h *WHIP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, WHIPPath)
	if !ok {
		h.fail(w, r, http.StatusNotFound, whipNotFound, "not a WHIP path", nil)
		return
	}
	streamID, sessionID, _ := strings.Cut(rest, "/")
	switch {
	case r.Method == http.MethodPost && sessionID == "":
		h.post(w, r, streamID)
	case r.Method == http.MethodDelete && sessionID != "":
		h.delete(w, r, streamID, sessionID)
	case r.Method == http.MethodOptions:
		w.Header().Set("Allow", "POST, DELETE, OPTIONS")
		w.Header().Set("Accept-Post", "application/sdp")
		w.WriteHeader(http.StatusNoContent)
	default:
		// PATCH included: no trickle ICE (see WHIP).
		allow := "POST, OPTIONS"
		if sessionID != "" {
			allow = "DELETE"
		}
		w.Header().Set("Allow", allow)
		h.fail(w, r, http.StatusMethodNotAllowed, whipNotAllowed, "method not allowed here: "+allow+
			" (trickle ICE is not supported: send every candidate in the offer)", nil)
	}
}

// whipError is the JSON body of every refusal.
type whipError struct {
	Error     string   `json:"error"`
	Offered   []string `json:"offered,omitempty"`
	Supported []string `json:"supported,omitempty"`
}

func (h *WHIP) fail(w http.ResponseWriter, r *http.Request, code int, result, msg string, body *whipError) {
	h.reqs.WithLabelValues(r.Method, result).Inc()
	if body == nil {
		body = &whipError{}
	}
	body.Error = msg
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

func (h *WHIP) authorized(w http.ResponseWriter, r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		if name, ok := h.o.Authorize(strings.TrimSpace(a[7:])); ok {
			return name, true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="ronda", error="invalid_token"`)
		h.fail(w, r, http.StatusUnauthorized, whipUnauthorized, "invalid token", nil)
		return "", false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ronda"`)
	h.fail(w, r, http.StatusUnauthorized, whipUnauthorized, "missing bearer token", nil)
	return "", false
}

// validStreamID is a stream id as the event contract takes it (at most 128
// bytes), of URL-safe characters.
func validStreamID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:~", c)) {
			return false
		}
	}
	return true
}

func (h *WHIP) post(w http.ResponseWriter, r *http.Request, streamID string) {
	// The rate limit comes first: a flood of offers, signed or not, costs
	// only this.
	if res := h.limiter.Reserve(); !res.OK() || res.Delay() > 0 {
		wait := time.Second
		if res.OK() {
			wait = res.Delay()
			res.Cancel()
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		h.fail(w, r, http.StatusTooManyRequests, whipRateLimited, "too many offers, retry later", nil)
		return
	}
	who, ok := h.authorized(w, r)
	if !ok {
		return
	}
	if !validStreamID(streamID) {
		h.fail(w, r, http.StatusBadRequest, whipMalformed, "stream id: 1 to 128 characters of A-Z a-z 0-9 - _ . : ~", nil)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		w.Header().Set("Accept-Post", "application/sdp")
		h.fail(w, r, http.StatusUnsupportedMediaType, whipBadType, "the offer must be Content-Type: application/sdp", nil)
		return
	}
	if h.o.Tap.Sessions() >= h.o.Tap.cfg.MaxSessions {
		h.busy(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxOfferBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, whipTooLarge, fmt.Sprintf("offer over %d bytes", h.o.MaxOfferBytes), nil)
			return
		}
		h.fail(w, r, http.StatusBadRequest, whipMalformed, "reading the offer failed", nil)
		return
	}
	if code, result, msg, eb := checkOffer(body); code != 0 {
		h.fail(w, r, code, result, msg, eb)
		return
	}
	answer, loc, err := h.negotiate(r.Context(), streamID, string(body))
	switch {
	case errors.Is(err, ErrTooManySessions), errors.Is(err, ErrClosed):
		h.busy(w, r)
		return
	case err != nil:
		h.o.Logger.Info("whip offer refused", "err", err, "token", who)
		h.fail(w, r, http.StatusUnprocessableEntity, whipNegotiationErr, "negotiation failed: "+err.Error(), nil)
		return
	}
	h.reqs.WithLabelValues(r.Method, whipCreated).Inc()
	h.o.Logger.Debug("whip session", "token", who, "session", loc)
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
}

func (h *WHIP) busy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "10")
	h.fail(w, r, http.StatusServiceUnavailable, whipBusy, "too many sessions, retry later", nil)
}

// checkOffer refuses, before any peer connection is made, an offer that is
// not SDP (400) or that offers no codec the tap reads (422, naming what was
// offered and what is read).
func checkOffer(b []byte) (code int, result, msg string, body *whipError) {
	var d sdp.SessionDescription
	if err := d.Unmarshal(b); err != nil {
		return http.StatusBadRequest, whipMalformed, "malformed SDP: " + err.Error(), nil
	}
	if len(d.MediaDescriptions) == 0 {
		return http.StatusBadRequest, whipMalformed, "the offer has no media section", nil
	}
	supported := map[string]bool{}
	for _, c := range SupportedCodecs() {
		_, sub, _ := strings.Cut(c, "/")
		supported[strings.ToLower(sub)] = true
	}
	var offered []string
	seen := map[string]bool{}
	for _, m := range d.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, _ := strings.Cut(a.Value, " ")
			name, _, _ := strings.Cut(enc, "/")
			if name == "" || seen[strings.ToLower(name)] {
				continue
			}
			seen[strings.ToLower(name)] = true
			offered = append(offered, m.MediaName.Media+"/"+name)
			if supported[strings.ToLower(name)] {
				return 0, "", "", nil
			}
		}
	}
	return http.StatusUnprocessableEntity, whipUnsupported, "no codec offered that Ronda reads",
		&whipError{Offered: offered, Supported: SupportedCodecs()}
}

// negotiate makes the peer connection, attaches the tap, and answers.
func (h *WHIP) negotiate(ctx context.Context, streamID, offer string) (answer, location string, err error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return "", "", ErrClosed
	}
	pc, err := h.o.API.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", "", fmt.Errorf("peer connection: %w", err)
	}
	s, err := h.o.Tap.Attach(pc, SessionInfo{StreamID: streamID, Kind: KindWHIP})
	if err != nil {
		pc.Close()
		return "", "", err
	}
	fail := func(err error) (string, string, error) {
		s.End()
		pc.Close()
		return "", "", err
	}
	// Receive only, whatever the offer's directions.
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("offer: %w", err))
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	timer := time.NewTimer(h.o.GatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C: // answer with the candidates gathered so far
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	var idb [16]byte
	rand.Read(idb[:])
	ws := &whipSession{id: hex.EncodeToString(idb[:]), streamID: streamID, s: s, pc: pc}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fail(ErrClosed)
	}
	h.sessions[ws.id] = ws
	h.wg.Add(1)
	h.mu.Unlock()
	go h.watch(ws)
	return pc.LocalDescription().SDP, WHIPPath + streamID + "/" + ws.id, nil
}

// watch closes the session's connection when the session ends (DELETE, a
// failed or closed connection, the tap's stop), or when it has carried no
// packet ConnectTimeout after the answer.
func (h *WHIP) watch(ws *whipSession) {
	defer h.wg.Done()
	timer := time.NewTimer(h.o.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-ws.s.Done():
	case <-ws.s.started:
		<-ws.s.Done()
	case <-timer.C:
		ws.s.End()
	}
	ws.pc.Close()
	h.mu.Lock()
	delete(h.sessions, ws.id)
	h.mu.Unlock()
}

func (h *WHIP) delete(w http.ResponseWriter, r *http.Request, streamID, id string) {
	if _, ok := h.authorized(w, r); !ok {
		return
	}
	h.mu.Lock()
	ws := h.sessions[id]
	if ws != nil && ws.streamID == streamID {
		delete(h.sessions, id) // now: a second DELETE is 404, not a race with watch
	}
	h.mu.Unlock()
	if ws == nil || ws.streamID != streamID {
		h.fail(w, r, http.StatusNotFound, whipNotFound, "no such session", nil)
		return
	}
	ws.s.End()
	h.reqs.WithLabelValues(r.Method, whipDeleted).Inc()
	w.WriteHeader(http.StatusOK)
}

// Close ends every WHIP session and closes its connection; new offers are
// answered 503. Safe twice.
func (h *WHIP) Close() {
	h.mu.Lock()
	h.closed = true
	ss := make([]*whipSession, 0, len(h.sessions))
	for _, ws := range h.sessions {
		ss = append(ss, ws)
	}
	h.mu.Unlock()
	for _, ws := range ss {
		ws.s.stop()
	}
	h.wg.Wait()
}
