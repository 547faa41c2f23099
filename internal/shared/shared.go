// Package shared locates the project's shared reference data (golden cases,
// test photos) for tests: an environment variable names the folder, else it
// is ../shared/<sub> beside the repository root, as in CI.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns $env when set (a relative value is taken from the repository
// root, where make runs), else <repo root>/../shared/<sub>.
func Dir(t testing.TB, env, sub string) string {
	t.Helper()
	d := os.Getenv(env)
	if filepath.IsAbs(d) {
		return d
	}
	root := Root(t)
	if d != "" {
		return filepath.Join(root, d)
	}
	return filepath.Join(root, "..", "shared", sub)
}

// Root is the repository root: the first folder above the working directory
// holding go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// TestImages is $LIKENESS_TESTIMAGES or ../shared/testimages.
func TestImages(t testing.TB) string { return Dir(t, "LIKENESS_TESTIMAGES", "testimages") }

// Golden is $LIKENESS_GOLDEN or ../shared/golden.
func Golden(t testing.TB) string { return Dir(t, "LIKENESS_GOLDEN", "golden") }
