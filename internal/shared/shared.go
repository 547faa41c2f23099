// Package shared locates the reference data the tests read: golden cases and
// test photos. Both ship in the repository's testdata/ folder, so a plain
// clone passes its tests; an environment variable adds cases from another
// folder (LIKENESS_GOLDEN, LIKENESS_TESTIMAGES) on top of them.
package shared

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// testdata is the repository's folder of reference data, relative to its root.
const testdata = "testdata"

// Environment variables that add a folder of extra cases.
const (
	EnvGolden     = "LIKENESS_GOLDEN"
	EnvTestImages = "LIKENESS_TESTIMAGES"
)

// TestImages is the repository's testdata/testimages: photos with a
// MANIFEST.tsv that gives each one's size, expectation and licence.
func TestImages(t testing.TB) string { return filepath.Join(Root(t), testdata, "testimages") }

// Golden is the repository's testdata/golden (format: its README.md).
func Golden(t testing.TB) string { return filepath.Join(Root(t), testdata, "golden") }

// TestImageDirs is TestImages followed by $LIKENESS_TESTIMAGES when it is set
// and names another folder.
func TestImageDirs(t testing.TB) []string { return dirs(t, TestImages(t), EnvTestImages) }

// GoldenDirs is Golden followed by $LIKENESS_GOLDEN when it is set and names
// another folder.
func GoldenDirs(t testing.TB) []string { return dirs(t, Golden(t), EnvGolden) }

// GoldenFiles lists the files matching pattern (relative to a golden folder,
// e.g. "schedulers/*.json") in every golden folder, the repository's first.
func GoldenFiles(t testing.TB, pattern string) []string {
	t.Helper()
	var out []string
	for _, d := range GoldenDirs(t) {
		m, err := filepath.Glob(filepath.Join(d, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

func dirs(t testing.TB, repo, env string) []string {
	t.Helper()
	out := []string{repo}
	d := os.Getenv(env)
	if d == "" {
		return out
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join(Root(t), d) // relative to the root, where make runs
	}
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Fatalf("$%s=%s: not a folder", env, os.Getenv(env))
	}
	if !slices.Contains(out, filepath.Clean(d)) {
		out = append(out, filepath.Clean(d))
	}
	return out
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
