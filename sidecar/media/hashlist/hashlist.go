// Package hashlist holds lists of known PDQ hashes (the hash-sharing format
// of Meta's Hasher-Matcher-Actioner and StopNCII exports) and answers whether
// a frame's hash is within a Hamming distance of one of them.
//
// A list is read from a file by Decode (strict, every error with its line
// number), indexed for matching (Index: brute force over packed words, or
// multi-index hashing on 16-bit chunks), and kept fresh by a Watcher that
// polls the file and swaps a new index in atomically; a bad file keeps the
// list in service, counted and logged.
//
// It never logs a hash of the list with the frame it matched: a match is
// reported to the caller, who turns it into an event.
package hashlist

import (
	"errors"
	"time"
)

// Defaults.
const (
	// DefaultThreshold is the distance at or below which two PDQ hashes
	// match: 31 bits, HMA's and the PDQ reference's recommended start.
	DefaultThreshold = 31
	// DefaultMaxEntries bounds a list: about 150 bytes a hash in service
	// (the entry 56 B, packed words 32 B, the multi-index 64 B), so 4M
	// hashes take about 600 MB, twice that while a reload builds the next.
	DefaultMaxEntries = 4_000_000
	// DefaultPollInterval is how often the Watcher looks at the file.
	DefaultPollInterval = 10 * time.Second
	// DefaultLabel is the signal label of a match: the label the analyzer
	// treats as decisive on its own (analyzer SignalConfig.DecisiveLabels).
	DefaultLabel = "csam_hash_match"
)

// Config is one hash list, as `ronda serve`'s media section names it.
type Config struct {
	// Name identifies the list in metrics (the `list` label) and logs.
	// Required; a few distinct lists per process.
	Name string `yaml:"name"`
	// Path is the list file: one hash per line (README, "Keyframe hash
	// matching", for the format). Required.
	Path string `yaml:"path"`
	// Label is the signal label a match raises. Default csam_hash_match,
	// which the analyzer treats as decisive: use another label for lists
	// that should only weigh in (e.g. known non-consensual imagery).
	Label string `yaml:"label"`
	// Threshold is the largest Hamming distance (bits of 256) that counts as
	// a match. Default 31; at most 63 (the multi-index's bound, and well
	// past where unrelated images start to match).
	Threshold int `yaml:"threshold"`
	// MinQuality is the least quality a list entry needs to be kept (entries
	// without a quality are kept). Default 0: the list's curator decides.
	MinQuality int `yaml:"min_quality"`
	// MaxEntries bounds the list: a file with more hashes is refused whole
	// (and the list in service kept). Default 4,000,000.
	MaxEntries int `yaml:"max_entries"`
	// PollInterval is how often the file's size and modification time are
	// checked for a reload. Default 10s.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.Label == "" {
		c.Label = DefaultLabel
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	return c
}

// Validate reports the first problem of a defaulted Config.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("hash list: name is required")
	case c.Path == "":
		return errors.New("hash list " + c.Name + ": path is required")
	case c.Threshold < 0 || c.Threshold > MaxThreshold:
		return errors.New("hash list " + c.Name + ": threshold must be between 0 and 63")
	case c.MinQuality < 0 || c.MinQuality > 100:
		return errors.New("hash list " + c.Name + ": min_quality must be between 0 and 100")
	case c.MaxEntries < 1:
		return errors.New("hash list " + c.Name + ": max_entries must be positive")
	case c.PollInterval < 100*time.Millisecond:
		return errors.New("hash list " + c.Name + ": poll_interval must be at least 100ms")
	}
	return nil
}
