package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/ronda-watch/ronda/sidecar/outbound"
)

// HTTPRoute posts a case as JSON to a hotline's report API (CyberTipline
// style) with sidecar/outbound's one signed attempt: Idempotency-Key (the
// case id and version: a receiver that keeps keys never files one twice),
// X-Ronda-Timestamp and X-Ronda-Signature (the scheme of Ronda's own intake;
// outbound.Verify checks it). A 2xx answer delivered it; its body may carry a
// receipt ({"receipt": "..."}, DecodeReceipt). 408, 429 and 5xx are retried;
// any other answer is a refusal for good.
type HTTPRoute struct {
	RouteName string
	URL       string
	Secret    []byte
	Client    *http.Client
	Now       func() time.Time
}

// Name is the route's name in config, records and metrics.
func (r *HTTPRoute) Name() string { return r.RouteName }

// Kind is "http".
func (r *HTTPRoute) Kind() string { return "http" }

// MaxReceiptBytes bounds what is read of a receiver's answer.
const MaxReceiptBytes = outbound.MaxAnswerBytes

// Send posts d once.
func (r *HTTPRoute) Send(ctx context.Context, d Delivery) (string, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	_, answer, err := outbound.Post(ctx, client, r.URL, r.Secret, d.Key, d.Body, now())
	switch {
	case errors.Is(err, outbound.ErrRefused):
		return "", &PermanentError{fmt.Errorf("the case was refused: %w", err)}
	case err != nil:
		return "", fmt.Errorf("post case: %w", err)
	}
	receipt, err := DecodeReceipt(answer)
	if err != nil {
		// It took the case: a receipt we cannot read does not undo that.
		return "unreadable receipt: " + err.Error(), nil
	}
	return receipt, nil
}

// DecodeReceipt reads a receiver's answer: empty, or a JSON object whose
// "receipt" (or "id") string names the report on the receiver's side, at most
// 256 bytes of UTF-8. Anything else is an error.
func DecodeReceipt(b []byte) (string, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "", nil
	}
	if len(b) > MaxReceiptBytes {
		return "", errors.New("receipt over 64 KiB")
	}
	var v struct {
		Receipt *string `json:"receipt"`
		ID      *string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("receipt: %w", err)
	}
	out := ""
	switch {
	case v.Receipt != nil:
		out = *v.Receipt
	case v.ID != nil:
		out = *v.ID
	}
	if len(out) > 256 || !utf8.ValidString(out) {
		return "", errors.New("receipt: not a name of at most 256 bytes of UTF-8")
	}
	return out, nil
}
