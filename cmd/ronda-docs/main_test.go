package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDocsFresh regenerates docs/ in memory and fails when a committed file
// differs: a config field or metric changed without `go generate ./...`.
func TestDocsFresh(t *testing.T) {
	files, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedNames(files) {
		old, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Errorf("%s is missing: run go generate ./... (%v)", name, err)
			continue
		}
		if !bytes.Equal(old, files[name]) {
			t.Errorf("%s is stale: run go generate ./...\n%s", name, firstDiff(old, files[name]))
		}
	}
}

// firstDiff names the first line that differs, for the failure message.
func firstDiff(old, new []byte) string {
	a, b := strings.Split(string(old), "\n"), strings.Split(string(new), "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  committed: " + x + "\n  generated: " + y
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestEveryKeyDocumented fails when a configuration key has no comment (of its
// own, of a field that names it, or of its struct naming it): the comment is
// the key's only user documentation.
func TestEveryKeyDocumented(t *testing.T) {
	src, err := parseSource("../..", sourceDirs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"serve", "analyzer"} {
		secs, err := src.reference(pkg, "Config", map[string]any{}, func(s string) string { return s })
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, sec := range secs {
			for _, r := range sec.rows {
				n++
				if r.doc == "" {
					t.Errorf("%s config key %s has no comment", pkg, r.key)
				}
			}
		}
		if n < 20 {
			t.Errorf("%s: only %d keys found; the source walk is broken", pkg, n)
		}
	}
}
