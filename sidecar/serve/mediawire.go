package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/keyframes"
)

// validateKeyframes checks the media section's sampler and hash lists.
func (c MediaConfig) validateKeyframes() []error {
	var errs []error
	if len(c.HashLists) == 0 && c.Classifier.URL == "" {
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

// keyframeWire is the sampler, the hash lists it matches against and the
// classifier it offers the decoded frames to.
type keyframeWire struct {
	sampler    *keyframes.Sampler
	lists      []*hashlist.Watcher
	classifier *classify.Client
}

// openKeyframes loads the hash lists, starts their reload polling, the
// classifier client and the sampler, whose signals (hash matches and the
// classifier's answers) go to sink; nil when neither a list nor a
// classifier is configured.
func (s *Service) openKeyframes(sink intake.Sink) (*keyframeWire, error) {
	c := s.cfg.Media
	if len(c.HashLists) == 0 && c.Classifier.URL == "" {
		return nil, nil
	}
	kw := &keyframeWire{}
	cl, err := s.openClassifier(sink)
	if err != nil {
		return nil, fmt.Errorf("media.classifier: %w", err)
	}
	kw.classifier = cl
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
	opts := keyframes.Options{Config: c.Keyframes, Lists: lists,
		Sink: keyframes.Sink(sink), Logger: s.log.With("component", "keyframes"), Registerer: s.reg}
	if cl != nil {
		opts.Classifier = cl // a nil *classify.Client is not a nil Classifier
	}
	sp, err := keyframes.New(opts)
	if err != nil {
		kw.close()
		return nil, err
	}
	kw.sampler = sp
	return kw, nil
}

// close stops the sampler (after the tap: no more frames come), then the
// classifier (no more frames are offered; its requests in flight end within
// its timeout) and the lists' polling. Safe on nil.
func (k *keyframeWire) close() {
	if k == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k.sampler.Stop(ctx)
	k.classifier.Close()
	for _, w := range k.lists {
		w.Stop()
	}
}
