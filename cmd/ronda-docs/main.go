// Command ronda-docs writes the generated references of docs/: the
// configuration of `ronda serve` and of the analyzer from their Go source
// (each field's comment is its user documentation, each default the value
// the program really uses) and the metrics of a running service. It reads
// source and writes files; it must not be imported or run as part of Ronda.
//
// Run it with `go generate ./...`; its test fails when docs/ is stale.
package main

//go:generate go run . -root ../..

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/serve"
)

func main() {
	root := flag.String("root", ".", "the repository's root (docs/ is written under it)")
	flag.Parse()
	files, err := generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ronda-docs:", err)
		os.Exit(1)
	}
	for _, name := range sortedNames(files) {
		path := filepath.Join(*root, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "ronda-docs:", err)
			os.Exit(1)
		}
	}
}

// sourceDirs are the packages whose configuration types the references
// document: serve's and analyzer's, and those their sections embed.
var sourceDirs = []string{"sidecar/serve", "sidecar/hub", "sidecar/enforce", "sidecar/outbound", "analyzer",
	"sidecar/media/hashlist", "sidecar/media/keyframes", "sidecar/media/classify", "sidecar/media/janus", "sidecar/media/whep"}

// generate returns every generated file by its path under root.
func generate(root string) (map[string][]byte, error) {
	src, err := parseSource(root, sourceDirs...)
	if err != nil {
		return nil, err
	}
	scrub := hostScrub()
	files := map[string][]byte{}

	def, err := encodeDefaults(serve.DefaultConfig())
	if err != nil {
		return nil, err
	}
	secs, err := src.reference("serve", "Config", def, scrub)
	if err != nil {
		return nil, err
	}
	files["docs/config-serve.md"] = render("Configuration of `ronda serve`",
		"The keys of `--config serve.yaml` (example: `deploy/serve.yaml`), from the comments on\n"+
			"`sidecar/serve`'s `Config`. Unknown keys are errors; environment variables (`RONDA_*`,\n"+
			"README \"Operations\") and then flags override the file. Check a file with\n"+
			"`ronda check-config --serve FILE`. A default is the value `ronda serve` applies to an\n"+
			"empty file; keys of list elements have their defaults in the text.\n", secs)

	def, err = encodeDefaults(analyzer.DefaultConfig())
	if err != nil {
		return nil, err
	}
	secs, err = src.reference("analyzer", "Config", def, scrub)
	if err != nil {
		return nil, err
	}
	files["docs/config-analyzer.md"] = render("Configuration of the analyzer",
		"The detector thresholds (`serve.yaml`'s `analyzer:` file, `ronda replay --config`;\n"+
			"example: `deploy/ronda.yaml`), from the comments on `analyzer`'s `Config`. Unknown keys\n"+
			"are errors; durations are Go durations (`36h`, `15m`). `ronda config defaults` prints\n"+
			"the defaults; `ronda check-config FILE` checks a file. Reloaded on SIGHUP by `ronda serve`.\n", secs)

	m, err := metricsReference()
	if err != nil {
		return nil, err
	}
	files["docs/metrics.md"] = m
	return files, nil
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
