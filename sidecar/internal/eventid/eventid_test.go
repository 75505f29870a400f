package eventid

import "testing"

// The expected ids were computed apart from this code (Python hashlib over
// the same length-prefixed parts) and are the ids Ronda has always given:
// this test fails if the scheme moves.
func TestHashIsStable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		prefix string
		parts  []string
		want   string
	}{
		{"media", "media", []string{"cam1", "list-a", "1700000000"}, "media-03d85b7b8fbfeb88bd979052ef0dcbcc"},
		{"adapter", "srs", []string{"srs", "on_publish", "live/room", "c1"}, "srs-66dc2d7ee96202dea02c97e83e233fdd"},
		{"no parts", "poll", nil, "poll-e3b0c44298fc1c149afbf4c8996fb924"},
		{"split ab|c", "media", []string{"ab", "c"}, "media-601d5476e2ccfe2c87a2bba7a3226597"},
		{"split a|bc", "media", []string{"a", "bc"}, "media-3fafa1cf2f19a7c1129beb20cf0983f7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Hash(tc.prefix, tc.parts...); got != tc.want {
				t.Fatalf("Hash(%q, %q) = %s, want %s", tc.prefix, tc.parts, got, tc.want)
			}
		})
	}
}
