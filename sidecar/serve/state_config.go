package serve

import (
	"fmt"
	"path/filepath"
	"time"
)

// StateConfig is what makes a restart forget nothing (roles all and hub):
// the intake log, in which every accepted batch is fsynced before its sender
// is answered, and the service checkpoints (analyzer, intake dedup memory,
// moderators' hub), after which the log is truncated. At start the newest
// good checkpoint is loaded and the log replayed after it, then intake opens.
// Role edge keeps the intake log too (no checkpoints): it is truncated up to
// what the hub has acknowledged and the edge's record has written, a position
// kept in dir/edge-acked, and replayed after it into the forwarder at start.
type StateConfig struct {
	// Dir holds the checkpoints and, in log/, the intake log. Keep it on a
	// local disk that survives a restart (a persistent volume). Made 0700
	// when missing; refused when another user owns it (or log/) or its group
	// or everyone may write it. Default <user cache dir>/ronda/state.
	Dir string `yaml:"dir"`
	// Log turns the intake log on. Off, a batch is answered as soon as it is
	// queued, and a crash loses what was accepted since the last checkpoint.
	// Default true.
	Log *bool `yaml:"log"`
	// LogMaxBytes bounds the intake log on disk; past it intake answers busy
	// (counted in ronda_wal_full_total) until a checkpoint truncates it (on
	// an edge: until the hub acknowledges). Default 2 GiB.
	LogMaxBytes int64 `yaml:"log_max_bytes"`
	// CheckpointEvery is how often a checkpoint is written; one is also
	// written at a graceful stop (after the drain) and on SIGUSR1. Default 5m.
	CheckpointEvery time.Duration `yaml:"checkpoint_every"`
	// Keep is how many checkpoints are kept: an older one is a fallback when
	// the newest cannot be read. Default 2.
	Keep int `yaml:"keep"`
}

func (c *StateConfig) applyDefaults(cache string) {
	if c.Dir == "" {
		c.Dir = filepath.Join(cache, "ronda", "state")
	}
	if c.Log == nil {
		v := true
		c.Log = &v
	}
	if c.LogMaxBytes == 0 {
		c.LogMaxBytes = 2 << 30
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 5 * time.Minute
	}
	if c.Keep == 0 {
		c.Keep = 2
	}
}

func (c StateConfig) validate() []error {
	var errs []error
	if c.LogMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("state.log_max_bytes: must be at least 1 MiB"))
	}
	if c.CheckpointEvery < time.Second {
		errs = append(errs, fmt.Errorf("state.checkpoint_every: must be at least 1s"))
	}
	if c.Keep < 1 || c.Keep > 100 {
		errs = append(errs, fmt.Errorf("state.keep: must be between 1 and 100"))
	}
	return errs
}
