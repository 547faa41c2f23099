package cli

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnePackPreamble: the commands start the app and load their pack only
// through openPack (session.go), so the progress bar, the default pack and
// the clean-up on error are written once. bench times the load itself with
// no progress bar, and models install and check run no pack; they start
// the app themselves.
func TestOnePackPreamble(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]map[string]bool{
		"session.go": {"app.New": true, "loadPack": true, "progressBar": true},
		"bench.go":   {"app.New": true},
		"models.go":  {"app.New": true},
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			var what string
			switch n := n.(type) {
			case *ast.CallExpr:
				switch fn := n.Fun.(type) {
				case *ast.SelectorExpr:
					if x, ok := fn.X.(*ast.Ident); ok && x.Name == "app" && fn.Sel.Name == "New" {
						what = "app.New"
					}
				case *ast.Ident:
					if fn.Name == "loadPack" {
						what = "loadPack"
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "progressBar" {
					what = "progressBar"
				}
			}
			if what != "" && !allowed[name][what] {
				t.Errorf("%s: %s: use openPack (session.go) instead of %s", name, fset.Position(n.Pos()), what)
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
}

// TestCropErrorNamesTheCrop: every photo command opens the photo and its
// crop the same way, and a crop outside the photo names the file and the
// crop given.
func TestCropErrorNamesTheCrop(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	photo := filepath.Join(t.TempDir(), "face.png")
	writePhoto(t, photo, 80, 80)
	dir := t.TempDir()
	const crop = "60,60,50,50"
	for _, args := range [][]string{
		{"edit", "--out", filepath.Join(dir, "edit.png")},
		{"mask", "--out", filepath.Join(dir, "mask.png")},
		{"stickers", "--out", filepath.Join(dir, "stickers")},
		{"compare", "--out", filepath.Join(dir, "compare.png")},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := likeness(t, context.Background(), append(args, "--pack", pack, "--input", photo, "--crop", crop)...)
			if r.code != ExitFailed {
				t.Fatalf("want exit %d, got %v", ExitFailed, r)
			}
			if want := photo + ": --crop " + crop + ":"; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q: %v", want, r)
			}
			if exists(args[2]) {
				t.Errorf("%s was written", args[2])
			}
		})
	}
}
