package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testImagesDir is $LIKENESS_TESTIMAGES, or shared/testimages beside the
// repository root (the folder holding go.mod).
func testImagesDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LIKENESS_TESTIMAGES"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for !exists(filepath.Join(dir, "go.mod")) {
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder; set LIKENESS_TESTIMAGES")
		}
		dir = parent
	}
	return filepath.Join(filepath.Dir(dir), "shared", "testimages")
}

// TestEditTestImages runs every photo of the shared test set through
// `likeness edit`: ok rows give an image of the photo's displayed size, error
// rows exit 1 with a message naming the file; nothing panics.
func TestEditTestImages(t *testing.T) {
	dir := testImagesDir(t)
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("the shared test images (set LIKENESS_TESTIMAGES to their folder): %v", err)
	}
	defer f.Close()
	pack := sharedPack(t, "mcdm")
	out := t.TempDir()
	sc := bufio.NewScanner(f)
	var header []string
	rows := 0
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = fields
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(fields) {
				row[h] = fields[i]
			}
		}
		name := row["file"]
		if name == "" {
			continue
		}
		rows++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Large photos are written at model resolution: encoding
			// megapixel PNGs under -race takes most of a minute. The crop
			// in the record still shows the photo's displayed size.
			w, h := atoi(row["width"]), atoi(row["height"])
			if strings.Contains(row["note"], "displays 1200x1800") {
				w, h = 1200, 1800
			}
			full := w*h <= 200*200
			dst := filepath.Join(out, name+".edit.png")
			args := []string{"edit", "--pack", pack, "--input", filepath.Join(dir, name), "--out", dst, "--steps", "2", "--mask-seeds", "1", "--json"}
			if !full {
				args = append(args, "--model-res")
			}
			r := likeness(t, context.Background(), args...)
			switch row["expected"] {
			case "ok":
				if r.code != ExitOK {
					t.Fatalf("want exit 0: %v", r)
				}
				ow, oh := 64, 64
				if full {
					ow, oh = w, h
				}
				if b := readPNG(t, dst).Bounds(); b.Dx() != ow || b.Dy() != oh {
					t.Errorf("output is %dx%d, want %dx%d", b.Dx(), b.Dy(), ow, oh)
				}
				var rec struct{ Crop [4]int }
				if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
					t.Fatalf("--json: %v\n%s", err, r.stdout)
				}
				side := min(w, h)
				if want := [4]int{(w - side) / 2, (h - side) / 2, side, side}; rec.Crop != want {
					t.Errorf("crop %v, want the centred square %v of the %dx%d photo as displayed", rec.Crop, want, w, h)
				}
			case "error":
				if r.code != ExitFailed || !strings.Contains(r.stderr, name) {
					t.Errorf("want exit 1 naming %s: %v", name, r)
				}
				if exists(dst) {
					t.Errorf("%s written for a broken photo", dst)
				}
			default:
				t.Fatalf("unknown expectation %q", row["expected"])
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Fatal("MANIFEST.tsv lists no photos")
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
