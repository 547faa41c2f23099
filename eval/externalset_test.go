package eval

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// reserved are the openclipart files kept for review: never in the set.
var reserved = []string{"people/head*.png", "people/*face*.png", "people/*dirk_struve*"}

// TestExternalSetFiles checks the project's external set: every row names
// a picture of Debian's openclipart-png (which `make test` installs), with
// boxes inside it, and none of the files reserved for review.
func TestExternalSetFiles(t *testing.T) {
	dir := filepath.Join("..", "testdata", "external", "openclipart")
	if _, err := os.Stat(DefaultExternalImages); err != nil {
		t.Fatalf("the external set needs Debian's openclipart-png (apt-get install openclipart-png; make test installs it): %v", err)
	}
	items, err := ReadExternal(dir, DefaultExternalImages)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) < 16 {
		t.Errorf("%d faces, want at least 16", len(items))
	}
	names := map[string]bool{}
	for _, it := range items {
		rel := strings.TrimPrefix(it.File, DefaultExternalImages+"/")
		checkNotReserved(t, rel)
		if names[rel] {
			t.Errorf("%s listed twice", rel)
		}
		names[rel] = true
		if !it.Eyes.Overlaps(it.Face) || !it.Mouth.Overlaps(it.Face) || it.Eyes.Max.Y > it.Mouth.Max.Y {
			t.Errorf("%s (line %d): eyes %v and mouth %v do not sit in the face %v", rel, it.Line, it.Eyes, it.Mouth, it.Face)
		}
	}
	f, err := os.Open(filepath.Join(dir, "expressions.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	labels := map[string]int{}
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) < 3 {
			continue
		}
		checkNotReserved(t, p[0])
		if _, err := os.Stat(filepath.Join(DefaultExternalImages, p[0])); err != nil {
			t.Error(err)
		}
		if _, err := parseBox(p[2]); err != nil {
			t.Errorf("expressions.tsv %s: %v", p[0], err)
		}
		labels[p[1]]++
	}
	for _, l := range []string{"neutral", "angry", "shocked", "laughing", "crying"} {
		if labels[l] == 0 {
			t.Errorf("expressions.tsv has no %s drawing", l)
		}
	}
}

func checkNotReserved(t *testing.T, rel string) {
	t.Helper()
	for _, pat := range reserved {
		if ok, _ := path.Match(pat, rel); ok {
			t.Errorf("%s is reserved for review (%s) and must not be in the set", rel, pat)
		}
	}
}

func TestReadExternalErrors(t *testing.T) {
	for _, c := range []struct{ name, tsv, want string }{
		{"no mouth column", "file\tface\teyes\nx.png\t0,0,9,9\t0,0,9,4\n", `no "mouth" column`},
		{"bad box", "file\tface\teyes\tmouth\nx.png\t0,0,9\t0,0,9,4\t2,6,7,8\n", "faces.tsv:2: face"},
		{"inverted box", "file\tface\teyes\tmouth\nx.png\t9,0,0,9\t0,0,9,4\t2,6,7,8\n", "x0 < x1"},
		{"empty", "file\tface\teyes\tmouth\n", "no pictures"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ExternalFile), []byte(c.tsv), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadExternal(dir, dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}
