package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// row is one key of a configuration reference.
type row struct {
	key, typ, def, doc string
}

// section is one table: a top-level key's struct, or the top-level scalars.
type section struct {
	name string
	doc  string
	rows []row
}

// source is the parsed Go source of the packages a configuration's types live
// in, by package name.
type source struct {
	types map[string]map[string]*doc.Type // package name -> type name -> type
}

// parseSource reads the non-test Go files of dirs (relative to root).
func parseSource(root string, dirs ...string) (*source, error) {
	s := &source{types: map[string]map[string]*doc.Type{}}
	for _, dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, filepath.Join(root, dir), func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", dir, err)
		}
		for name, pkg := range pkgs {
			d := doc.New(pkg, dir, doc.AllDecls)
			m := map[string]*doc.Type{}
			for _, t := range d.Types {
				m[t.Name] = t
			}
			s.types[name] = m
		}
	}
	return s, nil
}

// structOf returns the struct type named name in package pkg, or nil.
func (s *source) structOf(pkg, name string) (*ast.StructType, *doc.Type) {
	t := s.types[pkg][name]
	if t == nil {
		return nil, nil
	}
	for _, sp := range t.Decl.Specs {
		ts, ok := sp.(*ast.TypeSpec)
		if !ok || ts.Name.Name != name {
			continue
		}
		if st, ok := ts.Type.(*ast.StructType); ok {
			return st, t
		}
	}
	return nil, t
}

// reference builds the sections of the configuration whose root type is
// pkg.root, with defaults looked up in def (the default configuration,
// encoded to YAML and decoded into maps).
func (s *source) reference(pkg, root string, def map[string]any, scrub func(string) string) ([]section, error) {
	st, _ := s.structOf(pkg, root)
	if st == nil {
		return nil, fmt.Errorf("config reference: no struct %s.%s", pkg, root)
	}
	top := section{name: "top level"}
	var secs []section
	for _, f := range st.Fields.List {
		key, inline := yamlKey(f)
		if key == "-" {
			continue
		}
		if sub, subDoc, ok := s.nested(pkg, f.Type); ok && !inline && !isList(f.Type) {
			sec := section{name: key, doc: subDoc}
			s.walk(&sec.rows, pkg, sub, subDoc, key, def, false, scrub)
			secs = append(secs, sec)
			continue
		}
		s.field(&top.rows, 0, pkg, f, "", "", def, false, scrub)
	}
	return append([]section{top}, secs...), nil
}

// walk adds a row for every key under prefix.
func (s *source) walk(rows *[]row, pkg string, st *ast.StructType, structDoc, prefix string, def map[string]any, inList bool, scrub func(string) string) {
	start := len(*rows)
	for _, f := range st.Fields.List {
		s.field(rows, start, pkg, f, structDoc, prefix, def, inList, scrub)
	}
}

// shared documents a field declared without a comment: by the comment of an
// earlier field that names it (RateEvents and RateBurst), or by its struct's
// comment when that names it (SecretRef's Env and File).
func shared(rows []row, name, structDoc string) string {
	for i := len(rows) - 1; i >= 0; i-- {
		if strings.HasPrefix(rows[i].doc, "see ") {
			continue
		}
		if containsWord(rows[i].doc, name) {
			return "see `" + rows[i].key + "`"
		}
	}
	if containsWord(structDoc, name) {
		return clean(structDoc)
	}
	return ""
}

func containsWord(text, word string) bool {
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}) {
		if w == word {
			return true
		}
	}
	return false
}

// field adds the rows of one struct field: itself, or the keys of its struct.
func (s *source) field(rows *[]row, start int, pkg string, f *ast.Field, structDoc, prefix string, def map[string]any, inList bool, scrub func(string) string) {
	key, inline := yamlKey(f)
	if key == "-" {
		return
	}
	path := key
	if prefix != "" && !inline {
		path = prefix + "." + key
	} else if inline {
		path = prefix
	}
	text := clean(f.Doc.Text())
	if text == "" && len(f.Names) > 0 {
		text = shared((*rows)[start:], f.Names[0].Name, structDoc)
	}
	if sub, subDoc, ok := s.nested(pkg, f.Type); ok {
		if text == "" {
			text = clean(subDoc)
		}
		list := isList(f.Type)
		p := path
		if list {
			p += "[]"
			*rows = append(*rows, row{key: path, typ: "list", def: defaultOf(def, path, inList, scrub), doc: text})
		} else if !inline && text != "" {
			// The struct's own comment heads its keys.
			*rows = append(*rows, row{key: path, typ: "map", doc: text})
		}
		spkg, _ := typeName(pkg, f.Type)
		s.walk(rows, spkg, sub, subDoc, p, def, inList || list, scrub)
		return
	}
	d := defaultOf(def, path, inList, scrub)
	if (d == "`0`" || d == "`0s`") && strings.Contains(text, "Default") {
		// Zero in the configuration, filled in by the component it configures
		// (the hub's claim_ttl): the text gives the value.
		d = "(see text)"
	}
	*rows = append(*rows, row{key: path, typ: typeString(f.Type), def: d, doc: text})
}

// nested returns the struct a field's type (or its list's element) names,
// when the source has it.
func (s *source) nested(pkg string, e ast.Expr) (*ast.StructType, string, bool) {
	p, n := typeName(pkg, e)
	if n == "" {
		return nil, "", false
	}
	st, t := s.structOf(p, n)
	if st == nil {
		return nil, "", false
	}
	return st, t.Doc, true
}

// typeName returns the package and name of a named type, through a slice or
// pointer; "" when the type is not named.
func typeName(pkg string, e ast.Expr) (string, string) {
	switch t := e.(type) {
	case *ast.Ident:
		return pkg, t.Name
	case *ast.StarExpr:
		return typeName(pkg, t.X)
	case *ast.ArrayType:
		return typeName(pkg, t.Elt)
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok {
			return x.Name, t.Sel.Name
		}
	}
	return "", ""
}

func isList(e ast.Expr) bool {
	_, ok := e.(*ast.ArrayType)
	return ok
}

// typeString names a leaf type the way the YAML file spells its values.
func typeString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return typeString(t.X)
	case *ast.ArrayType:
		return "list of " + typeString(t.Elt)
	case *ast.MapType:
		return "map of " + typeString(t.Key) + " to " + typeString(t.Value)
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok && x.Name == "time" && t.Sel.Name == "Duration" {
			return "duration"
		}
		return t.Sel.Name
	case *ast.Ident:
		switch t.Name {
		case "int", "int64", "int32", "uint", "uint64":
			return "integer"
		case "float64", "float32":
			return "number"
		case "bool":
			return "boolean"
		}
		return t.Name
	}
	return fmt.Sprintf("%T", e)
}

// yamlKey returns a field's YAML key and whether it is inlined.
func yamlKey(f *ast.Field) (string, bool) {
	tag := ""
	if f.Tag != nil {
		tag = reflect.StructTag(strings.Trim(f.Tag.Value, "`")).Get("yaml")
	}
	name, opts, _ := strings.Cut(tag, ",")
	inline := strings.Contains(opts, "inline")
	if name == "" && !inline && len(f.Names) > 0 {
		name = strings.ToLower(f.Names[0].Name) // yaml.v3's default
	}
	return name, inline
}

// defaultOf returns the default of path as YAML text; "" inside lists (their
// elements have no default configuration) and for empty values.
func defaultOf(def map[string]any, path string, inList bool, scrub func(string) string) string {
	if inList {
		return ""
	}
	var v any = def
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if x == "" {
			return ""
		}
		return "`" + scrub(x) + "`"
	case []any:
		if len(x) == 0 {
			return ""
		}
	case map[string]any:
		return ""
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return "`" + scrub(strings.TrimSpace(string(b))) + "`"
}

// encodeDefaults turns a default configuration into the maps its YAML file
// would decode to, so each default is the value the program really uses.
func encodeDefaults(cfg any) (map[string]any, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode defaults: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode defaults: %w", err)
	}
	return m, nil
}

// clean joins a comment's lines into one table cell.
func clean(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// render writes a reference as Markdown.
func render(title, intro string, secs []section) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n<!-- Generated by cmd/ronda-docs (go generate ./...); do not edit. -->\n\n%s\n", title, intro)
	for _, sec := range secs {
		fmt.Fprintf(&b, "\n## %s\n\n", sec.name)
		if sec.doc != "" {
			fmt.Fprintf(&b, "%s\n\n", clean(sec.doc))
		}
		b.WriteString("| key | type | default | what |\n|---|---|---|---|\n")
		for _, r := range sec.rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.key, r.typ, r.def, r.doc)
		}
	}
	return b.Bytes()
}

// hostScrub replaces what differs between machines in a default (the host
// name, the user's cache directory) by its description.
func hostScrub() func(string) string {
	host, _ := os.Hostname()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return func(s string) string {
		if host != "" && s == host {
			return "<host name>"
		}
		if strings.HasPrefix(s, cache+string(filepath.Separator)) {
			return "<user cache dir>/" + filepath.ToSlash(strings.TrimPrefix(s, cache+string(filepath.Separator)))
		}
		return s
	}
}
