package adapters

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// LiveKitMinSecretBytes is the shortest LiveKit API secret taken: LiveKit's
// own server refuses keys whose secret is shorter, and an HS256 secret
// shorter than its 32-byte hash can be brute-forced offline from a single
// captured webhook.
const LiveKitMinSecretBytes = 32

// DefaultMaxTokenLifetime is the default Options.MaxTokenLifetime. LiveKit's
// notifier signs each webhook with a token valid for five minutes.
const DefaultMaxTokenLifetime = 10 * time.Minute

// checkLiveKitKeys refuses an empty key set, empty API keys and secrets
// shorter than LiveKitMinSecretBytes. The error names the API key, never the
// secret.
func checkLiveKitKeys(keys map[string]string) error {
	if len(keys) == 0 {
		return errors.New("adapters: LiveKit needs at least one API key")
	}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		if id == "" {
			errs = append(errs, errors.New("adapters: LiveKit API key with an empty id"))
		}
		if n := len(keys[id]); n < LiveKitMinSecretBytes {
			errs = append(errs, fmt.Errorf("adapters: LiveKit secret of API key %q is %d bytes; at least %d are needed (LiveKit's own minimum)",
				id, n, LiveKitMinSecretBytes))
		}
	}
	return errors.Join(errs...)
}

// maxTokenLifetime is o.MaxTokenLifetime with its default, or an error.
func maxTokenLifetime(o Options) (time.Duration, error) {
	switch d := o.MaxTokenLifetime; {
	case d < 0:
		return 0, errors.New("adapters: MaxTokenLifetime must not be negative")
	case d == 0:
		return DefaultMaxTokenLifetime, nil
	default:
		return d, nil
	}
}

// checkLifetime refuses a token that lives longer than max: from the earlier
// of now and its start (nbf, else iat) to its exp. A token without exp never
// gets here (ParseWithClaims requires it). A long-lived token is a replayable
// one: whoever captures a webhook could resend it until it expires.
func checkLifetime(c *livekitClaims, now time.Time, max time.Duration) error {
	if c.ExpiresAt == nil {
		return errors.New("token has no exp")
	}
	start := now
	switch {
	case c.NotBefore != nil:
		start = c.NotBefore.Time
	case c.IssuedAt != nil:
		start = c.IssuedAt.Time
	}
	if now.Before(start) {
		start = now
	}
	if d := c.ExpiresAt.Sub(start); d > max {
		return fmt.Errorf("token valid for %s, over the %s maximum", d.Round(time.Second), max)
	}
	return nil
}
