package intake

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// keySet is the live set of intake keys with each key's limits. It is never
// changed once published: SetKeys builds a new one and swaps it in.
type keySet struct {
	keys map[string]*liveKey
}

// liveKey is one key and what is counted against it. The limiters and the
// replay share move over to the next keySet when the key is kept, so that a
// reload neither refills a bucket nor forgets a signature.
type liveKey struct {
	id       string
	secret   []byte
	events   *rate.Limiter // nil when unlimited
	requests *rate.Limiter // nil when unlimited
}

// validateKeys checks keys as NewHandler and SetKeys take them.
func validateKeys(keys map[string][]byte) error {
	if len(keys) == 0 {
		return errors.New("no keys")
	}
	for id, k := range keys {
		if id == "" || len(id) > event.MaxIDBytes {
			return fmt.Errorf("key id %.32q: must be 1 to %d bytes", id, event.MaxIDBytes)
		}
		if len(k) < wire.MinKeyBytes {
			return fmt.Errorf("key %q: secret shorter than %d bytes", id, wire.MinKeyBytes)
		}
	}
	return nil
}

// newKeySet builds the set for keys, keeping the limiters of keys in old
// whose secret is unchanged. A key whose secret changed is a new key.
func (h *Handler) newKeySet(keys map[string][]byte, old *keySet) *keySet {
	ks := &keySet{keys: make(map[string]*liveKey, len(keys))}
	for id, secret := range keys {
		if prev := old.get(id); prev != nil && bytes.Equal(prev.secret, secret) {
			ks.keys[id] = prev
			continue
		}
		k := &liveKey{id: id, secret: bytes.Clone(secret)} // the caller's map may change later
		if h.opts.RateEvents > 0 {
			k.events = rate.NewLimiter(rate.Limit(h.opts.RateEvents), h.opts.RateBurst)
		}
		if h.opts.RateRequests > 0 {
			k.requests = rate.NewLimiter(rate.Limit(h.opts.RateRequests), h.opts.RequestBurst)
		}
		ks.keys[id] = k
	}
	return ks
}

func (ks *keySet) get(id string) *liveKey {
	if ks == nil {
		return nil
	}
	return ks.keys[id]
}

// has says whether k is still live: same id, same secret.
func (ks *keySet) has(k *liveKey) bool { return ks.get(k.id) == k }

// unknownKey is what a request naming an unknown key id is verified
// against: a random secret, so that it takes the path and the time of a
// bad signature and its answer says nothing about which ids exist.
var unknownKey = func() *liveKey {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	return &liveKey{id: "", secret: secret}
}()

// lookup returns the key named id, or unknownKey.
func (h *Handler) lookup(id string) *liveKey {
	if k := h.keys.Load().get(id); k != nil {
		return k
	}
	return unknownKey
}

// SetKeys replaces the intake keys, all or nothing: keys are validated as
// NewHandler validates Options.Keys, and on error nothing changes. Kept keys
// (same id and secret) keep their rate limits and remembered signatures; a
// request with a kept key is never refused because of the swap. Once SetKeys
// returns, no request signed with a removed key (or the old secret of a
// rotated one) is accepted, even one that was being read or decoded, and
// every websocket authenticated with such a key is being closed with 1008.
func (h *Handler) SetKeys(keys map[string][]byte) error {
	if err := validateKeys(keys); err != nil {
		return fmt.Errorf("intake keys: %w", err)
	}
	// The write lock waits for every request between its final key check and
	// the end of its Sink call, so that none accepts with a removed key after
	// this returns.
	h.keyMu.Lock()
	old := h.keys.Load()
	ks := h.newKeySet(keys, old)
	h.keys.Store(ks)
	h.keyMu.Unlock()

	removed := 0
	for _, k := range old.keys {
		if !ks.has(k) {
			removed++
		}
	}
	h.replay.setShare(len(ks.keys))
	h.m.keyReloads.Inc()
	h.m.keys.Set(float64(len(ks.keys)))
	if removed > 0 {
		h.ws.kickKeys(ks)
	}
	h.opts.Logger.Info("intake keys reloaded", "keys", len(ks.keys), "removed", removed)
	return nil
}

// accept runs fn (dedup and the Sink) only while k is live, so that SetKeys
// cannot remove k between the check and the taking.
func (h *Handler) accept(k *liveKey, fn func() *refusal) *refusal {
	h.keyMu.RLock()
	defer h.keyMu.RUnlock()
	if !h.keys.Load().has(k) {
		return h.badSignature()
	}
	return fn()
}

// kickKeys closes the sockets whose key is no longer in ks.
func (s *wsState) kickKeys(ks *keySet) {
	s.mu.Lock()
	var gone []*wsConn
	for c := range s.conns {
		if !ks.has(c.key) {
			gone = append(gone, c)
		}
	}
	s.mu.Unlock()
	for _, c := range gone {
		c.kick(websocket.ClosePolicyViolation, "intake key revoked", "key_revoked")
	}
}
