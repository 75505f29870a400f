package adapters

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// LiveKit receives LiveKit webhooks
// (https://docs.livekit.io/home/server/webhooks/).
//
// Authentication: the Authorization header is a JWT (HS256) whose iss is an
// API key and which is signed with that key's secret; its sha256 claim is the
// base64 SHA-256 of the body. Missing: 401. Unknown key, bad signature,
// expired token, a token without exp or valid longer than MaxTokenLifetime,
// or a body that does not match the hash: 403. Secrets shorter than
// LiveKitMinSecretBytes are refused by NewLiveKit.
//
// Mapping. LiveKit has no single "broadcast" notion: a room holds
// participants, and any of them may publish. Ronda's stream is one broadcaster
// in one room, stream_id "<room name>/<participant identity>", host_id the
// participant identity (the account the platform minted the token for):
//   - track_published -> stream.start. The first track a participant publishes
//     is when it begins broadcasting; its second track (audio after video) has
//     the same event id, so the receiver drops it as a duplicate.
//   - participant_left and participant_connection_aborted -> stream.end. A
//     participant that never published gives an end for a stream that never
//     started, which the receiver ignores.
//   - track_unpublished is not an end (a broadcaster switching camera
//     unpublishes and republishes), room_started / room_finished carry no
//     broadcaster, and ingress_started / ingress_ended are already seen as the
//     ingress participant's track_published / participant_left.
//   - Participants of kind EGRESS or AGENT (recorders, AI agents) are not
//     broadcasters and are ignored.
//
// The event id hashes the type, room sid and participant sid, so a retried
// webhook and the second track of the same session give the same id, and a
// new session (a new participant sid) a new one.
//
// LiveKit webhooks are notifications, not admission: LiveKit lets a
// participant publish without waiting for them, and retries one that is not
// answered 2xx. So unlike the admission hooks this handler does refuse what
// it cannot take, and a refusal stops no broadcast: 401 without a token, 403
// for a token that does not verify, 400 for a malformed body, 405 for a
// method other than POST, 413 over MaxBody, 408 for a body not read by the
// deadline, and 503 when the Sink fails or overruns, so that LiveKit retries
// the same webhook, which is then a duplicate at worst. It answers within
// Options.SinkTimeout of the call (see the package comment).
type LiveKit struct {
	*base
	keys        atomic.Pointer[map[string]string]
	maxLifetime time.Duration
}

var _ http.Handler = (*LiveKit)(nil)

// NewLiveKit returns the LiveKit handler. keys maps API keys to their secrets,
// as in LiveKit's own keys configuration; several may be live at once.
func NewLiveKit(o Options, keys map[string]string) (*LiveKit, error) {
	life, err := maxTokenLifetime(o)
	if err != nil {
		return nil, err
	}
	b, err := newBase("livekit", o)
	if err != nil {
		return nil, err
	}
	l := &LiveKit{base: b, maxLifetime: life}
	if err := l.SetKeys(keys); err != nil {
		return nil, err
	}
	return l, nil
}

// SetKeys replaces the API keys and their secrets, validated as by
// NewLiveKit (secrets of at least LiveKitMinSecretBytes), while requests are
// served: each request checks against one whole map, the old or the new. On
// error the keys in use stay.
func (l *LiveKit) SetKeys(keys map[string]string) error {
	if err := checkLiveKitKeys(keys); err != nil {
		return err
	}
	c := maps.Clone(keys)
	l.keys.Store(&c)
	return nil
}

// ServeHTTP implements http.Handler.
func (l *LiveKit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	deadline := time.Now().Add(l.opts.SinkTimeout)
	body, err := l.readBody(w, r, deadline)
	var wh *livekitWebhook
	if err == nil {
		err = l.verify(r.Header.Get("Authorization"), body)
	}
	if err == nil {
		wh, err = parseLiveKit(body)
	}
	if err != nil {
		status := livekitStatus(err)
		l.refused(r, err, strconv.Itoa(status))
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	evs, mapErr := mapLiveKit(wh, l.node(""), l.opts.Now())
	if err := l.emit(r.Context(), deadline, evs, mapErr); err != nil {
		http.Error(w, "events not taken, retry", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// livekitStatus maps a refusal to the status LiveKit is answered.
func livekitStatus(err error) int {
	switch {
	case errors.Is(err, errNoAuth):
		return http.StatusUnauthorized
	case errors.Is(err, errBadAuth):
		return http.StatusForbidden
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errSlowBody):
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

type livekitClaims struct {
	SHA256 string `json:"sha256"`
	jwt.RegisteredClaims
}

// verify checks the token and that it hashes this body.
func (l *LiveKit) verify(header string, body []byte) error {
	tok := strings.TrimSpace(header)
	// LiveKit sends the bare token; accept the Bearer form some proxies write.
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return errNoAuth
	}
	var claims livekitClaims
	keys := l.keys.Load()
	_, err := jwt.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		iss, err := t.Claims.GetIssuer()
		if err != nil {
			return nil, err
		}
		secret, ok := (*keys)[iss]
		if !ok {
			return nil, errors.New("unknown api key")
		}
		return []byte(secret), nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Name}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(l.opts.Now),
	)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadAuth, err)
	}
	if err := checkLifetime(&claims, l.opts.Now(), l.maxLifetime); err != nil {
		return fmt.Errorf("%w: %w", errBadAuth, err)
	}
	sum := sha256.Sum256(body)
	want := base64.StdEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(claims.SHA256), []byte(want)) != 1 {
		return fmt.Errorf("%w: body does not match the token's sha256", errBadAuth)
	}
	return nil
}

// livekitWebhook is the part of livekit.WebhookEvent Ronda reads. LiveKit
// writes it with protojson: lowerCamelCase names and 64-bit integers as
// strings. Proto names (snake_case) and plain numbers are taken too, as
// protojson itself takes them.
type livekitWebhook struct {
	Event       string              `json:"event"`
	ID          string              `json:"id"`
	CreatedAt   flexInt             `json:"createdAt"`
	CreatedAtPN flexInt             `json:"created_at"`
	Room        *livekitRoom        `json:"room"`
	Participant *livekitParticipant `json:"participant"`
}

type livekitRoom struct {
	SID  string `json:"sid"`
	Name string `json:"name"`
}

type livekitParticipant struct {
	SID      string `json:"sid"`
	Identity string `json:"identity"`
	Kind     any    `json:"kind"` // enum name, or its number from a proto-names encoder
}

// flexInt is a protojson int64: a JSON string or number.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if string(b) == "null" || len(b) == 0 {
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

func parseLiveKit(body []byte) (*livekitWebhook, error) {
	var wh livekitWebhook
	if err := json.Unmarshal(body, &wh); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if wh.Event == "" {
		return nil, fmt.Errorf("%w: no event", errMalformed)
	}
	return &wh, nil
}

// mapLiveKit maps one webhook to at most one event; nil when it is not a
// broadcast start or end.
func mapLiveKit(wh *livekitWebhook, node string, now time.Time) ([]event.Event, error) {
	var t event.Type
	switch wh.Event {
	case "track_published":
		t = event.TypeStreamStart
	case "participant_left", "participant_connection_aborted":
		t = event.TypeStreamEnd
	default:
		return nil, nil
	}
	p, room := wh.Participant, wh.Room
	if p == nil || room == nil {
		return nil, errors.New("no room or participant")
	}
	switch fmt.Sprint(p.Kind) {
	case "EGRESS", "AGENT", "2", "4":
		return nil, nil
	}
	if err := checkID("participant identity", p.Identity); err != nil {
		return nil, err
	}
	sec := int64(wh.CreatedAt)
	if sec == 0 {
		sec = int64(wh.CreatedAtPN)
	}
	at := now                          // older servers send no created_at
	if sec > 0 && sec < 253402300800 { // before year 10000, as RFC 3339 needs
		at = time.Unix(sec, 0)
	}
	id := eventID("livekit", t.String(), room.SID, room.Name, p.SID, p.Identity)
	ev, err := newStreamEvent(t, id, node, room.Name+"/"+p.Identity, p.Identity, "", at)
	if err != nil {
		return nil, err
	}
	return []event.Event{ev}, nil
}
