package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"likeness/engine/photo"
	"likeness/internal/shared"
)

// TestEditTestImages runs every photo of testdata/testimages (and of
// $LIKENESS_TESTIMAGES) through
// `likeness edit`: ok rows give an image of the photo's displayed size, error
// rows exit 1 with a message naming the file; nothing panics.
func TestEditTestImages(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	for _, dir := range shared.TestImageDirs(t) {
		editTestImages(t, pack, dir)
	}
}

// editTestImages runs the photos of dir's MANIFEST.tsv.
func editTestImages(t *testing.T, pack, dir string) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("test images: %v", err)
	}
	defer f.Close()
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
				c := photo.PortraitSquare(image.Rect(0, 0, w, h))
				if want := [4]int{c.Min.X, c.Min.Y, c.Dx(), c.Dy()}; rec.Crop != want {
					t.Errorf("crop %v, want the default square %v of the %dx%d photo as displayed", rec.Crop, want, w, h)
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
