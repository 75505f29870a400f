package forward

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoServerImport keeps the client apart from the server: forward and
// everything it imports from this module reach the protocol through
// sidecar/intake/wire only, never sidecar/intake itself.
func TestNoServerImport(t *testing.T) {
	t.Parallel()
	const module = "github.com/ronda-watch/ronda/"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(path, dir string, via []string)
	walk = func(path, dir string, via []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if path == module+"sidecar/intake" {
			t.Fatalf("sidecar/forward imports sidecar/intake through %s", strings.Join(via, " -> "))
		}
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				walk(imp, filepath.Join(root, rel), append(via, imp))
			}
		}
	}
	walk(module+"sidecar/forward", ".", []string{"sidecar/forward"})
	if !seen[module+"sidecar/intake/wire"] {
		t.Fatal("sidecar/forward no longer imports sidecar/intake/wire: is the walk reading the sources?")
	}
}
