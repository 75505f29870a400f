package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"
)

// Config holds every threshold of every detector. The comment on each field is
// its user documentation; defaults come from ../shared/DOMAIN.md, each with its
// reason. Durations are Go durations in YAML ("36h", "15m").
type Config struct {
	// DefaultTZ is the IANA zone used for a host's local time when stream.start
	// carries no tz. Indonesia's most populous zone, where the reference case is.
	DefaultTZ string `yaml:"default_tz"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		DefaultTZ: "Asia/Jakarta",
	}
}

// ParseConfig reads YAML over the defaults. Unknown keys are an error, so a typo
// never silently leaves a default in force.
func ParseConfig(b []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every field and reports all problems at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(c.DefaultTZ); err != nil {
		errs = append(errs, fmt.Errorf("default_tz: %w", err))
	}
	return errors.Join(errs...)
}
