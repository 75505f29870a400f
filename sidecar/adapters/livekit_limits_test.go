package adapters

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// TestLiveKitShortSecretRefused: a secret under 32 bytes is refused when the
// handler is built, with an error naming the API key and not the secret.
func TestLiveKitShortSecretRefused(t *testing.T) {
	t.Parallel()
	short := "only-31-bytes-of-secret-0123456"
	if len(short) != 31 {
		t.Fatalf("fixture is %d bytes", len(short))
	}
	_, err := NewLiveKit(testOptions(&recorder{}, nil), map[string]string{lkKey: lkSecret, "APIshort": short})
	if err == nil || !strings.Contains(err.Error(), `"APIshort"`) || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short secret: %v, want an error naming APIshort and the minimum", err)
	}
	if strings.Contains(err.Error(), short) {
		t.Error("the error holds the secret")
	}
	if _, err := NewLiveKit(testOptions(&recorder{}, nil), map[string]string{lkKey: lkSecret}); err != nil {
		t.Errorf("a 35-byte secret: %v", err)
	}
	o := testOptions(&recorder{}, nil)
	o.MaxTokenLifetime = -time.Second
	if _, err := NewLiveKit(o, map[string]string{lkKey: lkSecret}); err == nil {
		t.Error("negative MaxTokenLifetime accepted")
	}
}

// TestLiveKitTokenLifetime: real HS256 tokens whose validity (exp minus nbf,
// or iat, or now) exceeds the maximum are refused and counted as
// unauthorized; LiveKit's own five-minute tokens pass.
func TestLiveKitTokenLifetime(t *testing.T) {
	t.Parallel()
	tok := func(claims jwt.MapClaims, body []byte) string {
		sum := sha256.Sum256(body)
		claims["iss"] = lkKey
		claims["sha256"] = base64.StdEncoding.EncodeToString(sum[:])
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(lkSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		max    time.Duration
		status int
	}{
		{"LiveKit's 5 minutes", jwt.MapClaims{"nbf": at(0), "exp": at(5 * time.Minute)}, 0, 200},
		{"nbf to exp an hour", jwt.MapClaims{"nbf": at(-time.Minute), "exp": at(59 * time.Minute)}, 0, 403},
		{"iat to exp a day", jwt.MapClaims{"iat": at(-time.Minute), "exp": at(24 * time.Hour)}, 0, 403},
		{"exp only, near", jwt.MapClaims{"exp": at(5 * time.Minute)}, 0, 200},
		{"exp only, a year away", jwt.MapClaims{"exp": at(365 * 24 * time.Hour)}, 0, 403},
		{"nbf in the past, exp far", jwt.MapClaims{"nbf": at(-time.Hour), "exp": at(time.Minute)}, 0, 403},
		{"no exp", jwt.MapClaims{"nbf": at(0)}, 0, 403},
		{"an hour under a 2h maximum", jwt.MapClaims{"nbf": at(0), "exp": at(time.Hour)}, 2 * time.Hour, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			o := testOptions(&recorder{}, reg)
			o.MaxTokenLifetime = tc.max
			h, err := NewLiveKit(o, map[string]string{lkKey: lkSecret})
			if err != nil {
				t.Fatal(err)
			}
			w := post(h, fixture(t, "livekit/track_published.json"), func(r *http.Request, body []byte) {
				r.Header.Set("Authorization", tok(tc.claims, body))
			})
			if w.Code != tc.status {
				t.Fatalf("answer %d %q, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status == 403 {
				wantCount(t, reg, "livekit", resultUnauthorized, 1)
			}
		})
	}
}
