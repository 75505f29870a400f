package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/serve"
)

func cmdCheckConfig(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "check-config", "FILE | --defaults | --serve FILE", `
Check a configuration file, of either kind: unknown keys and invalid values are
errors, every one of them reported. An analyzer configuration (deploy/ronda.yaml):
on success print "ok" and the effective configuration (the file over the defaults)
as YAML. A 'ronda serve' configuration (deploy/serve.yaml; told apart by its keys,
or forced with --serve): checked as the service reads it at start (the file, then
the RONDA_* environment over it), and the analyzer file its 'analyzer' key names
checked too; "ok" on success.`, `
  ronda check-config ronda.yaml
  ronda check-config serve.yaml
  ronda check-config --defaults > ronda.yaml
  ronda check-config --serve serve.yaml`)
	defaults := fs.Bool("defaults", false, "print the default configuration instead of checking a file")
	serveFile := fs.Bool("serve", false, "FILE is a 'ronda serve' configuration")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *serveFile {
		if *defaults || fs.NArg() != 1 {
			return usagef("--serve wants one configuration file")
		}
		return checkServeConfig(e, fs.Arg(0))
	}
	if *defaults {
		if fs.NArg() > 0 {
			return usagef("--defaults takes no file")
		}
		return writeConfig(e.stdout, analyzer.DefaultConfig(), "Ronda analyzer configuration: the defaults.")
	}
	if fs.NArg() != 1 {
		return usagef("want one configuration file, got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if isServeConfig(b) {
		return checkServeConfig(e, path)
	}
	cfg, err := analyzer.ParseConfig(b)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: not ok\n", path)
		for _, line := range errorLines(err) {
			fmt.Fprintf(e.stderr, "  %s\n", line)
		}
		return errReported
	}
	fmt.Fprintln(e.stdout, "ok")
	return writeConfig(e.stdout, cfg, "Effective configuration of "+path+" (the file over the defaults).")
}

func cmdConfig(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "config", "defaults", `
Print configuration. 'ronda config defaults' prints the default analyzer configuration
as YAML, a starting point for a configuration file.`, `
  ronda config defaults > ronda.yaml`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "defaults" {
		return usagef("want 'ronda config defaults'")
	}
	return writeConfig(e.stdout, analyzer.DefaultConfig(), "Ronda analyzer configuration: the defaults.")
}

// writeConfig prints cfg as YAML that check-config accepts back, indented as
// deploy/ronda.yaml is.
func writeConfig(w io.Writer, cfg analyzer.Config, title string) error {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	fmt.Fprintf(w, "# %s\n# deploy/ronda.yaml is the same configuration with every setting documented.\n%s", title, b.Bytes())
	return nil
}

// errorLines splits a joined error into one line per problem.
func errorLines(err error) []string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// isServeConfig tells a 'ronda serve' configuration from an analyzer one: a
// top-level key that only the serve configuration has. A file that is not a
// YAML mapping is left to the analyzer's parser, which reports it.
func isServeConfig(b []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return false
	}
	analyzerKeys := yamlKeys(reflect.TypeFor[analyzer.Config]())
	for k := range top {
		if !analyzerKeys[k] && yamlKeys(reflect.TypeFor[serve.Config]())[k] {
			return true
		}
	}
	return false
}

// yamlKeys is the set of top-level YAML keys of a struct type.
func yamlKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// checkServeConfig checks a 'ronda serve' configuration file as cmdServe
// loads it, secrets aside (they are read at start), and the analyzer file
// it names.
func checkServeConfig(e *env, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfg, err := serve.ParseConfig(b)
	if err == nil {
		cfg.ApplyEnv(os.Getenv)
		err = cfg.Finish()
	}
	if err == nil && cfg.Analyzer != "" {
		_, err = analyzer.LoadConfig(cfg.Analyzer)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: not ok\n", path)
		for _, line := range errorLines(err) {
			fmt.Fprintf(e.stderr, "  %s\n", line)
		}
		return errReported
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}
