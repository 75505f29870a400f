package adapters

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// ServerOptions configure the adapters of servers that authenticate with a
// shared secret (SRS, nginx-rtmp) or an HMAC key (OvenMediaEngine).
type ServerOptions struct {
	// Secrets are the accepted secrets (HMAC keys for OvenMediaEngine). Several
	// may be live while one is rotated. Required, each at least 16 bytes.
	// SetSecrets replaces them later.
	Secrets []string
	// HostParam names the query parameter of the broadcaster's publish URL
	// that carries its account id (rtmp://ingest/live/KEY?host=alice with
	// HostParam "host"). Empty, or absent from the URL: the stream name is the
	// host id, as it is for servers whose stream name is the account.
	HostParam string
}

func (s ServerOptions) validate() error { return validateSecrets(s.Secrets) }

func validateSecrets(secrets []string) error {
	if len(secrets) == 0 {
		return errors.New("adapters: at least one secret is required")
	}
	for _, k := range secrets {
		if len(k) < 16 {
			return errors.New("adapters: a secret shorter than 16 bytes is guessable")
		}
	}
	return nil
}

// SecretHeader carries the shared secret for SRS and nginx-rtmp when a proxy
// in front of Ronda can add it; otherwise it is the secret query parameter of
// the callback URL configured in the media server.
const SecretHeader = "X-Ronda-Secret"

// sharedSecret checks the secret of a callback from a server that cannot sign
// (SRS, nginx-rtmp). It is read from the callback URL as configured in the
// server (on_publish http://ronda/hooks/srs?secret=...) or from SecretHeader,
// never from the body: the body holds the broadcaster's own URL parameters,
// which the broadcaster controls.
func sharedSecret(r *http.Request, secrets []string) error {
	got := r.Header.Get(SecretHeader)
	if got == "" {
		got = r.URL.Query().Get("secret")
	}
	if got == "" {
		return errNoAuth
	}
	if !secretsMatch(got, secrets) {
		return errBadAuth
	}
	return nil
}

// hostFrom returns the host id: the HostParam of the publish URL's query when
// set and present, else the stream name.
func hostFrom(query, param, stream string) string {
	if param == "" {
		return stream
	}
	// ParseQuery keeps the pairs it could read: a bad pair elsewhere in the
	// query does not hide the parameter.
	q, _ := url.ParseQuery(strings.TrimPrefix(query, "?"))
	if v := q.Get(param); v != "" {
		return v
	}
	return stream
}

// streamKey is the stream id for servers that name streams app/stream: the
// vhost is prefixed when it is not the default one.
func streamKey(vhost, app, stream string) string {
	k := app + "/" + stream
	if vhost != "" && vhost != "__defaultVhost__" {
		k = vhost + "/" + k
	}
	return k
}
