package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
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
		{"likeness/cli", []string{"likeness/ui", "fyne.io", "github.com/go-gl"},
			"the command line is headless: main opens the window (cli.OpensWindow)"},
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

// TestCommandLineLinksNoUI: nothing package cli imports, directly or through
// other packages of the module, imports the UI, Fyne or GL, so the headless
// command line does not link them. (Sources of every platform count.)
func TestCommandLineLinksNoUI(t *testing.T) {
	imports := map[string]map[string]bool{} // package → what its files import
	for _, f := range sources(t) {
		if imports[f.pkg] == nil {
			imports[f.pkg] = map[string]bool{}
		}
		for _, imp := range f.file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			imports[f.pkg][path] = true
		}
	}
	forbidden := []string{"likeness/ui", "fyne.io", "github.com/go-gl"}
	via := map[string]string{"likeness/cli": ""} // package → the one that brought it in
	queue := []string{"likeness/cli"}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for path := range imports[pkg] {
			for _, bad := range forbidden {
				if within(path, bad) {
					chain := path
					for p := pkg; p != ""; p = via[p] {
						chain = p + " → " + chain
					}
					t.Errorf("the command line links %s: %s", bad, chain)
				}
			}
			if _, seen := via[path]; !seen && within(path, "likeness") {
				via[path] = pkg
				queue = append(queue, path)
			}
		}
	}
	if len(via) < 5 {
		t.Fatalf("walked only %d packages from likeness/cli", len(via))
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

// TestFilesByConcern: the manifest's types and its strict parser, and the
// install transaction, its sources, the unpacking and the progress
// reports, each have a file of their own in package models.
func TestFilesByConcern(t *testing.T) {
	home := map[string]string{ // declaration (a method as Type.Name) → its file
		"Manifest":            "models/manifest.go",
		"Defaults":            "models/manifest.go",
		"NewManifest":         "models/manifest.go",
		"Manifest.Direction":  "models/manifest.go",
		"ParseManifest":       "models/manifestparser.go",
		"mparser":             "models/manifestparser.go",
		"mparser.manifest":    "models/manifestparser.go",
		"mparser.defaults":    "models/manifestparser.go",
		"checkRelPath":        "models/manifestparser.go",
		"Store.Install":       "models/install.go",
		"Store.InstallFS":     "models/install.go",
		"InstallOptions":      "models/install.go",
		"commit":              "models/install.go",
		"entry":               "models/installsource.go",
		"scanZip":             "models/installsource.go",
		"scanDir":             "models/installsource.go",
		"scanFS":              "models/installsource.go",
		"openEntry":           "models/installsource.go",
		"unpack":              "models/unpack.go",
		"unpackFile":          "models/unpack.go",
		"copyChunks":          "models/unpack.go",
		"Progress":            "models/progress.go",
		"reporter":            "models/progress.go",
		"reporter.emit":       "models/progress.go",
		"ManifestError.Error": "models/manifest.go",
	}
	found := map[string]string{}
	for _, f := range sources(t) {
		if f.pkg != "likeness/models" {
			continue
		}
		for _, d := range f.file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) == 1 {
					typ := d.Recv.List[0].Type
					if star, ok := typ.(*ast.StarExpr); ok {
						typ = star.X
					}
					if id, ok := typ.(*ast.Ident); ok {
						name = id.Name + "." + name
					}
				}
				found[name] = f.rel
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						found[ts.Name.Name] = f.rel
					}
				}
			}
		}
	}
	for name, want := range home {
		switch got := found[name]; got {
		case want:
		case "":
			t.Errorf("%s is declared nowhere in package models (want %s)", name, want)
		default:
			t.Errorf("%s is declared in %s; it belongs in %s", name, got, want)
		}
	}
}

// TestSettingsFieldsDefinedOnce: the settings a pack gives defaults for (s1,
// s2, s3, λ, steps, …) are declared once, as models.Defaults; other types
// embed it. models/synth keeps its own copy: it writes the manifest's wire
// form and leaves keys out (omitempty) to test the parser's defaults.
func TestSettingsFieldsDefinedOnce(t *testing.T) {
	keys := map[string]bool{"s1": true, "s2": true, "s3": true, "lambda": true, "steps": true, "scheduler": true,
		"mask_seeds": true, "mask_noise_steps": true, "blur_kernel": true, "mask_normalize": true, "mask_guidance": true}
	homes := map[string]bool{"likeness/models": true, "likeness/models/synth": true}
	found := 0
	for _, f := range sources(t) {
		ast.Inspect(f.file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			n2 := 0
			for _, fl := range st.Fields.List {
				if fl.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(fl.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				if keys[name] {
					n2++
				}
			}
			if n2 >= 6 {
				found++
				if !homes[f.pkg] {
					t.Errorf("%s: %s declares %d of the settings fields; embed models.Defaults", f.rel, ts.Name.Name, n2)
				}
			}
			return true
		})
	}
	if found == 0 {
		t.Fatal("found no declaration of the settings fields at all (models.Defaults)")
	}
}
