package serve

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/media/classify"
)

// ClassifierConfig is the classifier hook (sidecar/media/classify): where
// the sampled key frames go, the bounds on what is sent, and the bearer
// token the classifier wants.
type ClassifierConfig struct {
	classify.Config `yaml:",inline"`
	// TokenEnv and TokenFile name the classifier's bearer token, sent as
	// Authorization: Bearer: the environment variable is read first, then
	// the file (trailing newline removed). Neither: no Authorization
	// header. Read once at start; never logged.
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
}

func (c ClassifierConfig) validate() []error {
	if c.URL == "" {
		if c.TokenEnv != "" || c.TokenFile != "" {
			return []error{errors.New("media.classifier: token_env or token_file set without a url")}
		}
		return nil
	}
	if err := c.WithDefaults().Validate(); err != nil {
		return []error{fmt.Errorf("media.%w", err)}
	}
	return nil
}

// openClassifier is the classifier client whose signals go to sink; nil
// when no url is configured.
func (s *Service) openClassifier(sink intake.Sink) (*classify.Client, error) {
	c := s.cfg.Media.Classifier
	if c.URL == "" {
		return nil, nil
	}
	// A redirect is not followed (the answer counts as a failed request):
	// the bearer transport would send the token, and a 307 or 308 the
	// frame's JPEG, to whatever host the classifier names.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if c.TokenEnv != "" || c.TokenFile != "" {
		tok, err := SecretRef{ID: "classifier token", Env: c.TokenEnv, File: c.TokenFile}.Secret(s.opts.Getenv)
		if err != nil {
			return nil, err
		}
		hc.Transport = bearer{token: "Bearer " + string(tok), next: http.DefaultTransport}
	}
	return classify.New(classify.Options{Config: c.Config, Sink: classify.Sink(sink), HTTPClient: hc,
		Logger: s.log.With("component", "classifier"), Registerer: s.reg, Now: s.opts.Now})
}

// bearer adds the classifier's token to every request. The token is in no
// error: the client's errors name the operation, not the request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.token)
	return b.next.RoundTrip(r)
}
