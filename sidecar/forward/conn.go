package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// Run connects, sends and reconnects (jittered backoff between MinBackoff
// and MaxBackoff, each handshake signed afresh) until ctx ends or Close. It
// returns ctx.Err() or, after Close, nil. One Run at a time.
func (f *Forwarder) Run(ctx context.Context) error {
	f.mu.Lock()
	switch {
	case f.closing:
		f.mu.Unlock()
		return ErrClosed
	case f.running:
		f.mu.Unlock()
		return errors.New("forwarder already running")
	}
	f.running = true
	done := make(chan struct{})
	f.runDone = done
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running = false
		f.mu.Unlock()
		close(done)
	}()

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	attempt := 0
	for {
		conn, hello, err := f.connect(ctx)
		if err == nil {
			again, progress := f.serve(ctx, conn, hello)
			if progress {
				attempt = 0
			}
			if again && ctx.Err() == nil {
				continue // a new session: connect at once
			}
		} else if ctx.Err() == nil {
			f.mu.Lock()
			f.st.ConnectFails++
			f.mu.Unlock()
			lvl := slog.LevelWarn
			if attempt == 0 {
				lvl = slog.LevelInfo
			}
			f.log.Log(ctx, lvl, "forwarder connect failed", "url", f.base.Redacted(), "attempt", attempt+1, "err", err)
		}
		if ctx.Err() != nil {
			if outer.Err() != nil {
				return outer.Err()
			}
			return nil
		}
		t := time.NewTimer(backoff(attempt, f.opts.MinBackoff, f.opts.MaxBackoff))
		attempt++
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// backoff is the wait before attempt n (from 0): MinBackoff doubled n
// times, at most MaxBackoff, then uniformly in its upper half.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 40 && lo<<n < hi && lo<<n > 0 {
		d = lo << n
	}
	return d/2 + mrand.N(d/2+1)
}

// HandshakeError is a handshake the server refused with an HTTP answer.
type HandshakeError struct {
	Status int
	Msg    string // the server's error message
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("handshake refused: %d %s", e.Status, e.Msg)
}

// connect dials, signs and reads the hello.
func (f *Forwarder) connect(ctx context.Context) (*websocket.Conn, wire.ServerMsg, error) {
	f.mu.Lock()
	session := f.session
	f.mu.Unlock()
	u := *f.base
	if u.Path = trimSlash(u.Path); !strings.HasSuffix(u.Path, wire.WSPath) {
		u.Path += wire.WSPath // a base URL; the full one is taken as it is
	}
	u.RawPath = ""
	u.RawQuery = url.Values{"sender": {f.opts.Sender}, "session": {session}, "nonce": {wire.NewID()}}.Encode()
	h := http.Header{}
	wire.SignHandshake(h, f.opts.KeyID, f.opts.Secret, u.RequestURI(), time.Now())
	ctx, cancel := context.WithTimeout(ctx, f.opts.HandshakeTimeout)
	defer cancel()
	conn, resp, err := f.dialer.DialContext(ctx, u.String(), h)
	if err != nil {
		f.m.connects.WithLabelValues("failed").Inc()
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			var body wire.ErrorBody
			if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Error == "" {
				body.Error = http.StatusText(resp.StatusCode)
			}
			return nil, wire.ServerMsg{}, &HandshakeError{Status: resp.StatusCode, Msg: body.Error}
		}
		return nil, wire.ServerMsg{}, err
	}
	conn.SetReadLimit(MaxAnswerBytes)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	_, data, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		f.m.connects.WithLabelValues("failed").Inc()
		return nil, wire.ServerMsg{}, fmt.Errorf("read hello: %w", err)
	}
	msg, err := wire.ParseServerMsg(data)
	if err == nil && msg.Type != wire.MsgHello {
		err = fmt.Errorf("first message is %q, not hello", msg.Type)
	}
	if err != nil {
		conn.Close()
		f.m.connects.WithLabelValues("failed").Inc()
		return nil, wire.ServerMsg{}, fmt.Errorf("hello: %w", err)
	}
	f.m.connects.WithLabelValues("ok").Inc()
	return conn, msg, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// outEntry is a batch message written and not yet answered. epoch tells the
// answers to copies sent before a busy rewind, already scheduled again.
type outEntry struct {
	seq   uint64
	epoch int
}

// serve runs one connection until it fails or ctx ends. again says to
// reconnect at once (a new session); progress that the server took batches.
func (f *Forwarder) serve(ctx context.Context, conn *websocket.Conn, hello wire.ServerMsg) (again, progress bool) {
	defer conn.Close()
	f.mu.Lock()
	reset, resent := f.resumeLocked(hello)
	session, acked := f.session, f.acked
	f.st.Connects++
	f.mu.Unlock()
	if reset {
		f.m.sessionResets.Inc()
		f.log.Warn("forwarder session forgotten by the server, starting a new one",
			"url", f.base.Redacted(), "server_acked", hello.Acked, "unacked_batches", resent)
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "new session"), time.Now().Add(time.Second))
		return true, false
	}
	f.log.Info("forwarder connected", "url", f.base.Redacted(), "session", session,
		"acked", acked, "unacked_batches", resent)

	readTimeout := 2*time.Duration(hello.PingIntervalMS)*time.Millisecond + f.opts.WriteTimeout
	if hello.PingIntervalMS <= 0 {
		readTimeout = 2*wire.DefaultPingInterval + f.opts.WriteTimeout
	}
	answers := make(chan wire.ServerMsg, f.opts.Window+1)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(f.opts.WriteTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	go func() {
		for {
			_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
			_, data, err := conn.ReadMessage()
			if err == nil {
				var msg wire.ServerMsg
				if msg, err = wire.ParseServerMsg(data); err == nil {
					if msg.Type == wire.MsgError {
						err = fmt.Errorf("server: %s", msg.Error)
					} else {
						select {
						case answers <- msg:
							continue
						case <-quit:
							return
						}
					}
				}
			}
			readErr <- err
			return
		}
	}()

	var (
		out        []outEntry
		epoch      int
		next       = acked + 1
		pauseUntil time.Time
		timer      = time.NewTimer(time.Hour)
		hdr        []byte
	)
	defer timer.Stop()
	for {
		// Send what the window allows.
		now := time.Now()
		for len(out) < f.opts.Window && !now.Before(pauseUntil) {
			b, err := f.nextBatch(next, now)
			if err != nil {
				f.log.Error("forwarder spool read failed, retrying in a second", "err", err)
				pauseUntil = now.Add(time.Second)
				break
			}
			if b == nil {
				break
			}
			hdr = strconv.AppendUint(append(hdr[:0], `{"seq":`...), b.seq, 10)
			hdr = append(hdr, "}\n"...)
			if err := f.writeBatch(conn, hdr, b.body); err != nil {
				f.log.Warn("forwarder connection lost", "url", f.base.Redacted(), "err", err)
				return false, progress
			}
			f.mu.Lock()
			f.st.Sent++
			if b.sent > 0 {
				f.st.Resent++
				f.m.batches.WithLabelValues("resent").Inc()
			}
			b.sent++
			f.mu.Unlock()
			f.m.batches.WithLabelValues("sent").Inc()
			out = append(out, outEntry{seq: b.seq, epoch: epoch})
			next++
		}
		wait := f.nextWake(now, len(out) < f.opts.Window, pauseUntil)
		timer.Reset(wait)

		select {
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "forwarder stopping"), time.Now().Add(time.Second))
			return false, progress
		case err := <-readErr:
			f.log.Warn("forwarder connection lost", "url", f.base.Redacted(), "err", err)
			return false, progress
		case <-f.wake:
		case <-timer.C:
		case msg := <-answers:
			if len(out) == 0 || msg.Seq != out[0].seq {
				f.log.Warn("forwarder: answer out of order, reconnecting", "seq", msg.Seq, "type", msg.Type)
				return false, progress
			}
			e := out[0]
			out = out[1:]
			switch msg.Type {
			case wire.MsgAck, wire.MsgRefused:
				progress = true
				f.answered(msg)
			case wire.MsgBusy:
				f.mu.Lock()
				f.st.Busy++
				f.mu.Unlock()
				f.m.batches.WithLabelValues("busy").Inc()
				if e.epoch == epoch { // not a copy already scheduled again
					epoch++
					next = msg.Seq
					retry := time.Duration(min(msg.RetryAfterMS, 60_000)) * time.Millisecond
					pauseUntil = time.Now().Add(retry)
				}
			}
		}
	}
}

// nextWake is how long the run loop may sleep: until a partial batch is due,
// or a busy pause ends.
func (f *Forwarder) nextWake(now time.Time, room bool, pauseUntil time.Time) time.Duration {
	wait := time.Hour
	if now.Before(pauseUntil) {
		return pauseUntil.Sub(now)
	}
	if room {
		f.mu.Lock()
		if f.cur.n > 0 {
			wait = max(f.cur.since.Add(f.opts.FlushInterval).Sub(now), time.Millisecond)
		}
		f.mu.Unlock()
	}
	return wait
}

func (f *Forwarder) writeBatch(conn *websocket.Conn, hdr, body []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(f.opts.WriteTimeout))
	w, err := conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}
