package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/keyframes"
)

// validateKeyframes checks the media section's sampler and hash lists.
func (c MediaConfig) validateKeyframes() []error {
	var errs []error
	if len(c.HashLists) == 0 {
		return nil
	}
	if err := c.Keyframes.WithDefaults().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("media.keyframes: %w", err))
	}
	names := map[string]bool{}
	for i, l := range c.HashLists {
		if err := l.WithDefaults().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("media.hash_lists[%d]: %w", i, err))
		}
		if names[l.Name] {
			errs = append(errs, fmt.Errorf("media.hash_lists[%d].name: %q named twice", i, l.Name))
		}
		names[l.Name] = true
	}
	return errs
}

// keyframeWire is the sampler and the hash lists it matches against.
type keyframeWire struct {
	sampler *keyframes.Sampler
	lists   []*hashlist.Watcher
}

// openKeyframes loads the hash lists, starts their reload polling and the
// sampler whose signals go to sink; nil when no list is configured.
func (s *Service) openKeyframes(sink intake.Sink) (*keyframeWire, error) {
	c := s.cfg.Media
	if len(c.HashLists) == 0 {
		return nil, nil
	}
	kw := &keyframeWire{}
	var lists []keyframes.List
	for _, lc := range c.HashLists {
		w, err := hashlist.NewWatcher(lc, s.log.With("component", "hashlist"), s.reg)
		if err != nil {
			kw.close()
			return nil, fmt.Errorf("hash list %s: %w", lc.Name, err)
		}
		w.Start(context.Background())
		kw.lists = append(kw.lists, w)
		lists = append(lists, w)
	}
	sp, err := keyframes.New(keyframes.Options{Config: c.Keyframes, Lists: lists,
		Sink: keyframes.Sink(sink), Logger: s.log.With("component", "keyframes"), Registerer: s.reg})
	if err != nil {
		kw.close()
		return nil, err
	}
	kw.sampler = sp
	return kw, nil
}

// close stops the sampler (after the tap: no more frames come) and the
// lists' polling. Safe on nil.
func (k *keyframeWire) close() {
	if k == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k.sampler.Stop(ctx)
	for _, w := range k.lists {
		w.Stop()
	}
}
