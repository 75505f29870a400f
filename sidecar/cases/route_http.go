package cases

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// HTTPRoute posts a case as JSON to a hotline's report API (CyberTipline
// style): Content-Type application/json, Idempotency-Key (the case id and
// version: a receiver that keeps keys never files one twice),
// X-Ronda-Timestamp (Unix seconds) and X-Ronda-Signature:
// sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body)), the scheme of
// Ronda's own intake. A 2xx answer delivered it; its body may carry a receipt
// ({"receipt": "..."}, DecodeReceipt). 408, 429 and 5xx are retried; any
// other answer is a refusal for good.
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

// Sign is the X-Ronda-Signature value of body at ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// MaxReceiptBytes bounds what is read of a receiver's answer.
const MaxReceiptBytes = 64 << 10

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
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(d.Body))
	if err != nil {
		return "", &PermanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.Key)
	req.Header.Set("X-Ronda-Timestamp", ts)
	req.Header.Set("X-Ronda-Signature", Sign(r.Secret, ts, d.Body))
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("post case: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxReceiptBytes+1))
	switch c := resp.StatusCode; {
	case c/100 == 2:
		receipt, err := DecodeReceipt(b)
		if err != nil {
			// It took the case: a receipt we cannot read does not undo that.
			return "unreadable receipt: " + err.Error(), nil
		}
		return receipt, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c/100 == 5:
		return "", fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return "", &PermanentError{fmt.Errorf("receiver refused the case: %s", resp.Status)}
	}
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
