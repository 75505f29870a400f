package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeNamesEveryFuzzTarget fails when a fuzz target exists that the
// README's fuzzing table does not name, or when the table's count is wrong:
// the table is how an operator finds the decoders of outside input to fuzz.
func TestReadmeNamesEveryFuzzTarget(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // "./pkg/" -> its table row
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `./") {
			pkg := line[3 : strings.Index(line[3:], "`")+3]
			rows[pkg] = line
		}
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	total := 0
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "../.." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", filepath.Dir(path))
		pkg := "./" + filepath.ToSlash(rel) + "/"
		for _, m := range fuzzFunc.FindAllStringSubmatch(string(src), -1) {
			total++
			if !strings.Contains(rows[pkg], "`"+m[1]+"`") {
				t.Errorf("README's fuzzing table does not name %s in %s", m[1], pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "has a target (" + strconv.Itoa(total) + " in all)"; !strings.Contains(string(readme), want) {
		t.Errorf("README's fuzzing paragraph should say %q", want)
	}
}
