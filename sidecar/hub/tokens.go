package hub

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ExampleTokenSHA256 is the SHA-256 of "change-me", the example moderator
// token in deploy/serve.yaml: anyone can read it, so no real hub may take it.
const ExampleTokenSHA256 = "e2186dbdb1bb4193608605e84f33208765b5693b55edd4f730a719a100eeea6f"

// IsExampleToken says whether t is the example token of deploy/serve.yaml.
func IsExampleToken(t Token) bool {
	return strings.EqualFold(t.SHA256, ExampleTokenSHA256)
}

// Close codes of sockets whose token SetTokens took away or changed. The
// console tells a moderator the first and reconnects at once on the second.
const (
	// CloseTokenRemoved: the socket's token is no longer valid.
	CloseTokenRemoved = 4001
	// CloseTokenChanged: the token's name or role changed; reconnect to act
	// with the new one.
	CloseTokenChanged = 4002
)

// ActTokensReloaded is the action audited when SetTokens replaced the
// tokens. Its Note counts what changed; it names no token and no secret.
const ActTokensReloaded = "tokens_reloaded"

// tokenTable is the tokens a hub takes, by hash and by name. It is replaced
// whole, never changed.
type tokenTable struct {
	byHash map[string]Token // by lower-case hex sha256
	byName map[string]Token
}

func newTokenTable(tokens []Token) *tokenTable {
	t := &tokenTable{byHash: map[string]Token{}, byName: map[string]Token{}}
	for _, tok := range tokens {
		tok.SHA256 = lowerHex(tok.SHA256)
		t.byHash[tok.SHA256] = tok
		t.byName[tok.Name] = tok
	}
	return t
}

// validateTokens checks a token list: at least one, unique names and hashes,
// known roles, 64 hex digits.
func validateTokens(tokens []Token) error {
	if len(tokens) == 0 {
		return errors.New("no tokens")
	}
	names, hashes := map[string]bool{}, map[string]bool{}
	for i, t := range tokens {
		if t.Name == "" {
			return fmt.Errorf("token %d: no name", i)
		}
		if names[t.Name] {
			return fmt.Errorf("token %d: name %q repeated", i, t.Name)
		}
		names[t.Name] = true
		if roleRank(t.Role) == 0 {
			return fmt.Errorf("token %q: role %q (want viewer, moderator or lead)", t.Name, t.Role)
		}
		b, err := hex.DecodeString(t.SHA256)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("token %q: sha256 is not 64 hex digits", t.Name)
		}
		if hashes[hex.EncodeToString(b)] {
			return fmt.Errorf("token %q: the same sha256 as another token", t.Name)
		}
		hashes[hex.EncodeToString(b)] = true
	}
	return nil
}

// SetTokens replaces the tokens the hub takes, all or nothing: a list that
// does not validate changes nothing. Sockets whose token was removed are
// closed with CloseTokenRemoved, those whose token now has another name or
// role with CloseTokenChanged; the others stay. The reload is audited as
// ActTokensReloaded with counts, and logged, without any token.
func (h *Hub) SetTokens(tokens []Token) error {
	if err := validateTokens(tokens); err != nil {
		h.m.reloads.WithLabelValues("refused").Inc()
		return fmt.Errorf("hub tokens: %w", err)
	}
	next := newTokenTable(tokens)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		h.m.reloads.WithLabelValues("refused").Inc()
		return errors.New("hub tokens: the hub is closed")
	}
	h.m.reloads.WithLabelValues("ok").Inc()
	prev := h.tokens.Swap(next)
	var added, removed, rotated, changed int
	for name, t := range next.byName {
		switch old, ok := prev.byName[name]; {
		case !ok:
			added++
		case old.SHA256 != t.SHA256:
			rotated++
		case old.Role != t.Role:
			changed++
		}
	}
	for name := range prev.byName {
		if _, ok := next.byName[name]; !ok {
			removed++
		}
	}
	cut := 0
	for c := range h.clients {
		if code, reason := next.still(c); code != 0 {
			h.dropLocked(c, code, reason)
			cut++
		}
	}
	summary := fmt.Sprintf("%d tokens: %d added, %d removed, %d rotated, %d role changed; %d sockets closed",
		len(tokens), added, removed, rotated, changed, cut)
	if h.opts.Audit != nil {
		h.opts.Audit(ActionRecord{At: h.opts.Now(), ActionID: h.newActionIDLocked(), Action: ActTokensReloaded,
			Note: summary})
	}
	h.opts.Logger.Info("moderator tokens reloaded", "tokens", len(tokens), "added", added, "removed", removed,
		"rotated", rotated, "role_changed", changed, "sockets_closed", cut)
	return nil
}

// still says whether socket c may stay with the tokens of t: 0, or the close
// code and reason when its token is gone or is now another's or another role.
func (t *tokenTable) still(c *client) (code int, reason string) {
	tok, ok := t.byHash[c.hash]
	switch {
	case !ok:
		return CloseTokenRemoved, "token removed"
	case tok.Name != c.name || tok.Role != c.role:
		return CloseTokenChanged, "token changed: reconnect"
	}
	return 0, ""
}
