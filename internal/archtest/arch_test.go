package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"likeness/internal/shared"
)

// goFile is one non-test Go file of the module.
type goFile struct {
	rel  string // slash-separated, from the repository root
	pkg  string // import path of its package
	file *ast.File
	src  []byte
}

func sources(t *testing.T) []goFile {
	t.Helper()
	root := shared.Root(t)
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "bin", "train", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		pkg := "likeness"
		if dir := filepath.ToSlash(filepath.Dir(rel)); dir != "." {
			pkg += "/" + dir
		}
		out = append(out, goFile{rel: rel, pkg: pkg, file: f, src: src})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d Go files under %s", len(out), root)
	}
	return out
}

func within(pkg, tree string) bool { return pkg == tree || strings.HasPrefix(pkg, tree+"/") }

// TestImportsRunOneWay: the ONNX Runtime adapter sits below both the engine
// and the model packs; models never import the engine, and the engine never
// imports the front ends.
func TestImportsRunOneWay(t *testing.T) {
	rules := []struct {
		from      string
		forbidden []string
		why       string
	}{
		{"likeness/ort", []string{"likeness/engine", "likeness/models", "likeness/app", "likeness/ui", "likeness/cli", "likeness/eval"},
			"ort is the runtime adapter below engine and models"},
		{"likeness/models", []string{"likeness/engine", "likeness/app", "likeness/ui", "likeness/cli", "likeness/eval"},
			"engine imports models, so models must not import engine"},
		{"likeness/engine", []string{"likeness/app", "likeness/ui", "likeness/cli", "likeness/eval"},
			"the engine knows nothing of the front ends"},
	}
	for _, f := range sources(t) {
		for _, imp := range f.file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, r := range rules {
				if !within(f.pkg, r.from) {
					continue
				}
				for _, bad := range r.forbidden {
					if within(path, bad) {
						t.Errorf("%s imports %s: %s", f.rel, path, r.why)
					}
				}
			}
		}
	}
}

// TestNoCatchAllFiles: files are named for what they hold (STYLE.md).
func TestNoCatchAllFiles(t *testing.T) {
	for _, f := range sources(t) {
		switch filepath.Base(f.rel) {
		case "common.go", "util.go", "utils.go", "helpers.go", "misc.go":
			t.Errorf("%s: a catch-all file; split it by concern", f.rel)
		}
	}
}

// TestOneDefinition: float16 conversion lives only in internal/float16 and
// the byte-size formatter only in internal/bytesize.
func TestOneDefinition(t *testing.T) {
	checks := []struct {
		home string
		what string
		re   *regexp.Regexp
	}{
		{"likeness/internal/float16", "a float16 conversion", regexp.MustCompile(`(?i)^(float32to(float)?16|(float)?16tofloat32|f32tof16|f16tof32)$`)},
		{"likeness/internal/bytesize", "a byte-size formatter", regexp.MustCompile(`(?i)^(human(bytes|size)|size(text|string)|format(bytes|size))$`)},
	}
	units := regexp.MustCompile(`"%\.1f (MiB|GiB)"`)
	for _, f := range sources(t) {
		for _, d := range f.file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			for _, c := range checks {
				if f.pkg != c.home && c.re.MatchString(fn.Name.Name) {
					t.Errorf("%s: %s defines %s; use %s", f.rel, fn.Name.Name, c.what, c.home)
				}
			}
		}
		if f.pkg != "likeness/internal/bytesize" && units.Match(f.src) {
			t.Errorf("%s formats byte sizes itself; use likeness/internal/bytesize", f.rel)
		}
	}
}
