package shared

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReferenceDataInRepository: with no environment variable set, every
// folder the tests read lies inside the repository, exists, and is not
// empty, so a clone with nothing beside it passes its tests.
func TestReferenceDataInRepository(t *testing.T) {
	t.Setenv(EnvGolden, "")
	t.Setenv(EnvTestImages, "")
	root := Root(t)
	for name, dirs := range map[string][]string{"golden": GoldenDirs(t), "testimages": TestImageDirs(t)} {
		if len(dirs) != 1 {
			t.Fatalf("%s: %v, want only the repository's folder", name, dirs)
		}
		rel, err := filepath.Rel(root, dirs[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("%s folder %s is outside the repository %s", name, dirs[0], root)
		}
		if entries, err := os.ReadDir(dirs[0]); err != nil || len(entries) == 0 {
			t.Errorf("%s folder %s: %v (%d entries)", name, dirs[0], err, len(entries))
		}
	}
	for _, pattern := range []string{"schedulers/*.json", "tokenizer/*.json"} {
		if len(GoldenFiles(t, pattern)) == 0 {
			t.Errorf("no golden %s in the repository", pattern)
		}
	}
	if _, err := os.Stat(filepath.Join(root, testdata, "clip", "README.md")); err != nil {
		t.Errorf("the CLIP vocabulary's licence note: %v", err)
	}
}

// TestExtraFolders: the environment variables add a folder after the
// repository's own; a relative one is taken from the repository root.
func TestExtraFolders(t *testing.T) {
	extra := t.TempDir()
	t.Setenv(EnvGolden, extra)
	if d := GoldenDirs(t); len(d) != 2 || d[0] != Golden(t) || d[1] != extra {
		t.Errorf("GoldenDirs = %v, want [%s %s]", d, Golden(t), extra)
	}
	t.Setenv(EnvTestImages, filepath.Join(testdata, "testimages"))
	if d := TestImageDirs(t); len(d) != 1 {
		t.Errorf("TestImageDirs = %v: the repository's folder named again must not be read twice", d)
	}
}

// TestManifestCoversEveryPhoto: each test photo is listed in MANIFEST.tsv
// with its source and licence, and every listed file is there.
func TestManifestCoversEveryPhoto(t *testing.T) {
	dir := TestImages(t)
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	var header []string
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		if row["source"] == "" || row["license"] == "" {
			t.Errorf("%s: no source or licence in MANIFEST.tsv", row["file"])
		}
		listed[row["file"]] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "MANIFEST.tsv" && !listed[e.Name()] {
			t.Errorf("%s is not in MANIFEST.tsv", e.Name())
		}
		delete(listed, e.Name())
	}
	for name := range listed {
		t.Errorf("MANIFEST.tsv lists %s, which is missing", name)
	}
}

// TestNoTestReadsBesideTheRepository: no Go test names a folder outside the
// repository (../shared, /work/shared); they go through this package.
func TestNoTestReadsBesideTheRepository(t *testing.T) {
	root := Root(t)
	outside := regexp.MustCompile(`/work/shared|\.\./shared/(golden|testimages)|"shared", "(golden|testimages)"`)
	self, _ := os.Getwd()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "bin" || p == self) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if loc := outside.FindIndex(b); loc != nil {
			rel, _ := filepath.Rel(root, p)
			t.Errorf("%s reads reference data from beside the repository (%q); use likeness/internal/shared", rel, b[loc[0]:loc[1]])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
