package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// maxAnswerBytes bounds what is read of an answer: a batch's duplicate ids
// and rejected lines fit many times over.
const maxAnswerBytes = 4 << 20

// rejectedLogged is how many rejected lines a run logs; the rest are counted.
const rejectedLogged = 5

// RefusedError is a refusal that a retry cannot cure: a 4xx other than 429,
// such as an unknown key or a wrong secret (401), a clock outside the
// intake's replay window (401) or a batch over its limits (413). The feed
// stops with it.
type RefusedError struct {
	Status  int    // HTTP status
	Message string // the intake's own words: the "error" of its JSON answer
	KeyID   string
	URL     string // where the batch went
}

func (e *RefusedError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("intake refused the key %q: %s", e.KeyID, e.Message)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Sprintf("intake refused the batch (%d %s): %s (is there a Ronda intake at %s?)",
			e.Status, http.StatusText(e.Status), e.Message, e.URL)
	}
	return fmt.Sprintf("intake refused the batch (%d %s): %s", e.Status, http.StatusText(e.Status), e.Message)
}

// outage tracks trouble across attempts, so that the log says when it began
// and when it ended, not every attempt.
type outage struct {
	down      bool // unreachable or failing (5xx) since since
	since     time.Time
	attempts  int
	fails     int // consecutive failures of the batch in hand, for the backoff
	busySaid  bool
	limitSaid bool
	dupSaid   bool
	rejSaid   int
}

// post sends one batch until the intake answers 200, and returns the answer.
// Each attempt is signed anew, with a timestamp later than the last attempt's:
// a signature is accepted once, and the same body signed in the same second
// would be refused as replayed if the earlier attempt had got through.
func (r *run) post(body []byte) (*intake.Answer, error) {
	ctx, o := r.ctx, r.o
	var lastTS int64
	replays := 0
	r.out.fails = 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.st.Retries++
		}
		now := o.Now()
		if attempt > 0 && now.Unix() <= lastTS {
			if err := o.Sleep(ctx, time.Unix(lastTS+1, 0).Sub(now)); err != nil {
				return nil, err
			}
			now = o.Now()
		}
		lastTS = now.Unix()
		status, hdr, data, err := r.attempt(ctx, body, now)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := r.failed(fmt.Sprint(err)); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case status == http.StatusOK:
			r.recovered()
			var ans intake.Answer
			if err := json.Unmarshal(data, &ans); err != nil {
				// The batch was taken: resending it cannot help.
				return nil, fmt.Errorf("feed: intake answer: %w: %.200q", err, data)
			}
			return &ans, nil
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			r.recovered()
			if err := r.refusedForNow(status, hdr, data); err != nil {
				return nil, err
			}
		case status >= 500:
			if err := r.failed(fmt.Sprintf("%d %s: %s", status, http.StatusText(status), errorText(data))); err != nil {
				return nil, err
			}
		case status == http.StatusUnauthorized && replays < maxReplays && isReplayRefusal(data):
			// Another sender with this key (an earlier run of the same world,
			// say) signed the same body in the same second. Signed in a later
			// second it is a new request; its events count as duplicates.
			r.recovered()
			replays++
			r.o.Logger.Debug("intake took the signature for a replay; signing again", "key", o.KeyID)
		default:
			r.recovered()
			return nil, &RefusedError{Status: status, Message: errorText(data), KeyID: o.KeyID, URL: r.f.shown}
		}
	}
}

// maxReplays bounds the re-signing of a batch refused as a replay.
const maxReplays = 3

// isReplayRefusal reports whether a 401's body is the intake's refusal of a
// signature it has seen, which a signature of a later second cures, rather
// than of the key. It reads the intake's message: the status is the same.
func isReplayRefusal(data []byte) bool {
	return strings.Contains(errorText(data), "signature was already used")
}

// attempt makes one request; err is a failure to get an answer at all.
func (r *run) attempt(ctx context.Context, body []byte, now time.Time) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.f.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if r.o.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	wire.Sign(req, r.o.KeyID, r.o.Secret, body, now)
	r.st.Requests++
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// failed logs the start of an outage, then waits the backoff.
func (r *run) failed(why string) error {
	now := r.o.Now()
	if !r.out.down {
		r.out.down, r.out.since, r.out.attempts = true, now, 0
		r.o.Logger.Warn("intake unreachable or failing; retrying until it answers (Ctrl-C stops)",
			"url", r.f.shown, "err", why)
	}
	r.out.attempts++
	r.out.fails++
	d := minBackoff << min(r.out.fails-1, 10)
	return r.o.Sleep(r.ctx, jitter(min(d, maxBackoff)))
}

// recovered logs the end of an outage.
func (r *run) recovered() {
	if !r.out.down {
		return
	}
	r.out.down = false
	r.o.Logger.Info("intake answering again", "url", r.f.shown,
		"failed_attempts", r.out.attempts, "after", r.o.Now().Sub(r.out.since).Round(time.Millisecond))
}

// refusedForNow waits as a 429 or 503 asks.
func (r *run) refusedForNow(status int, hdr http.Header, data []byte) error {
	d, ok := retryAfter(hdr.Get("Retry-After"), r.o.Now())
	if !ok {
		r.out.fails++
		d = minBackoff << min(r.out.fails-1, 10)
	}
	d = min(d, maxRetryAfter)
	said := &r.out.busySaid
	what := "intake busy; resending each refused batch after the wait it asks (counted in retries)"
	if status == http.StatusTooManyRequests {
		said = &r.out.limitSaid
		what = "intake rate-limits this key; the feed goes at its pace (counted in retries)"
	}
	lvl := slog.LevelDebug
	if !*said {
		*said, lvl = true, slog.LevelInfo
	}
	r.o.Logger.Log(r.ctx, lvl, what, "status", status, "retry_after", d, "err", errorText(data))
	return r.o.Sleep(r.ctx, jitter(d))
}

// retryAfter reads a Retry-After of seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// jitter adds up to a fifth to d, so that feeders refused together do not
// come back together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/5+1)
}

// errorText is the intake's error message, or the start of a foreign body.
func errorText(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "(no message)"
	}
	return s
}

// noteAnswer logs what should not happen: rejected lines (the first few)
// and duplicates (once).
func (r *run) noteAnswer(ans *intake.Answer) {
	for _, rj := range ans.Rejected {
		if r.out.rejSaid >= rejectedLogged {
			break
		}
		r.out.rejSaid++
		r.o.Logger.Warn("intake rejected an event: the generator and the contract disagree",
			"id", rj.ID, "line", rj.Line, "field", rj.Field, "reason", rj.Reason)
	}
	if len(ans.Duplicates) > 0 && !r.out.dupSaid {
		r.out.dupSaid = true
		r.o.Logger.Warn("intake already has some of these events (the same world fed before?); counted in duplicates",
			"first", ans.Duplicates[0], "in_batch", len(ans.Duplicates))
	}
}
