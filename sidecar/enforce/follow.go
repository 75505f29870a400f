package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// An edge runs the admission hooks, but leads approve levers at the hub. An
// edge's Board follows the hub's: it reads GET /v1/levers every Every with a
// viewer token and keeps the deny_publish levers it finds, in its own state
// file, so an edge that restarts while the hub is away still refuses what
// the hub last said. A failed read changes nothing; levers end by their
// time on the edge too.

// Follower is where an edge reads the hub's levers.
type Follower struct {
	// URL is the hub's levers API, https://hub:8443/v1/levers.
	URL string
	// Token is a hub bearer token (role viewer is enough).
	Token string
	// Every is the read interval; default 30s.
	Every time.Duration
	// Client is the HTTP client; default one with a 10s timeout.
	Client *http.Client
}

// maxFollowBytes bounds the hub's answer.
const maxFollowBytes = 16 << 20

// Follow reads the hub's levers until ctx ends.
func (b *Board) Follow(ctx context.Context, f Follower) {
	if f.Every <= 0 {
		f.Every = 30 * time.Second
	}
	if f.Client == nil {
		f.Client = &http.Client{Timeout: 10 * time.Second}
	}
	t := time.NewTicker(f.Every)
	defer t.Stop()
	for {
		result := "ok"
		if err := b.followOnce(ctx, f); err != nil {
			result = "error"
			if ctx.Err() == nil {
				b.o.Logger.Warn("enforcement levers: reading the hub's levers failed; keeping the last ones", "err", err)
			}
		}
		b.m.follow.WithLabelValues(result).Inc()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Board) followOnce(ctx context.Context, f Follower) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+f.Token)
	resp, err := f.Client.Do(req)
	if err != nil {
		return stripURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hub answered %d", resp.StatusCode)
	}
	levers, err := DecodeList(io.LimitReader(resp.Body, maxFollowBytes+1))
	if err != nil {
		return err
	}
	return b.mirror(levers)
}

// DecodeList reads the hub's GET /v1/levers answer: {"levers":[…]}, at most
// maxFollowBytes, each lever with an id and a known kind.
func DecodeList(r io.Reader) ([]Lever, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > maxFollowBytes {
		return nil, fmt.Errorf("levers list larger than %d bytes", maxFollowBytes)
	}
	var v struct {
		Levers []Lever `json:"levers"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("levers list: %w", err)
	}
	if v.Levers == nil {
		return nil, errors.New("levers list: no levers field")
	}
	seen := map[string]bool{}
	for i, l := range v.Levers {
		if l.ID == "" || seen[l.ID] || (l.Kind != KindDenyPublish && l.Kind != KindPayoutHold) {
			return nil, fmt.Errorf("levers list: lever %d has a missing or repeated id or an unknown kind", i)
		}
		seen[l.ID] = true
	}
	return v.Levers, nil
}

// mirror replaces the board's levers with the deny_publish levers of a
// hub, saved before they act.
func (b *Board) mirror(levers []Lever) error {
	next := map[string]*Lever{}
	for i := range levers {
		if levers[i].Kind == KindDenyPublish && len(next) < b.o.Config.MaxActive {
			next[levers[i].ID] = &levers[i]
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	prev := b.lev
	b.lev = next
	if err := b.saveLocked(); err != nil {
		b.lev = prev
		return err
	}
	b.reindexLocked()
	return nil
}

func stripURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}
