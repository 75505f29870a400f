package cases

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeNote: any body is a note within its bounds or a clear error,
// never a panic.
func FuzzDecodeNote(f *testing.F) {
	for _, s := range []string{`{"note":"payout account matches"}`, `{"note":""}`, `{"note":"a","x":1}`, `{"note":"a"} {}`,
		`{"note":"line\nbreak\ttab"}`, `{"note":"\u0000"}`, `null`, `[]`, `{"note":5}`, `{"note":"` + strings.Repeat("é", 3000) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNote(b)
		if err != nil {
			if n != "" {
				t.Fatalf("error %v with a note %q", err, n)
			}
			return
		}
		if n == "" || len(n) > MaxNoteBytes || !utf8.ValidString(n) {
			t.Fatalf("accepted note %q", n)
		}
	})
}

// FuzzDecodeApproval: a version in range, or an error.
func FuzzDecodeApproval(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"version":3}`, `{"version":-1}`, `{"version":1e20}`, `{"version":"3"}`, `{"v":1}`, `{"version":2}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeApproval(b)
		if err == nil && (v < 0 || v > 1<<30) {
			t.Fatalf("accepted version %d", v)
		}
	})
}

// FuzzDecodeReceipt: a receiver's answer is a bounded receipt or an error.
func FuzzDecodeReceipt(f *testing.F) {
	for _, s := range []string{``, ` `, `{"receipt":"CT-1"}`, `{"id":"42"}`, `{"receipt":null}`, `not json`, `{"receipt":"` + strings.Repeat("x", 300) + `"}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceipt(b)
		if err == nil && (len(r) > 256 || !utf8.ValidString(r)) {
			t.Fatalf("accepted receipt %q", r)
		}
	})
}
