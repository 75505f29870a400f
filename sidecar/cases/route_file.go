package cases

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ronda-watch/ronda/sidecar/internal/atomicfile"
)

// FileRoute drops the case JSON into a directory another system collects
// from: <dir>/<key>.json, written to a temporary file, synced and renamed, so
// a reader never sees half a file. A key already there was delivered.
type FileRoute struct {
	RouteName string
	Dir       string
}

// Name is the route's name.
func (r *FileRoute) Name() string { return r.RouteName }

// Kind is "file".
func (r *FileRoute) Kind() string { return "file" }

// Send writes d once.
func (r *FileRoute) Send(_ context.Context, d Delivery) (string, error) {
	name := filepath.Join(r.Dir, d.Key+".json")
	return name, writeOnce(name, d.Body)
}

// writeOnce writes b as name atomically (a reader never sees half a file).
// An existing name is left as it is (delivered before).
func writeOnce(name string, b []byte) error {
	if _, err := os.Stat(name); err == nil {
		return nil
	}
	if err := atomicfile.WriteBytes(name, b); err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	return nil
}
