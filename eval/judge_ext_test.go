package eval

import (
	"bufio"
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/engine/photo"
	"likeness/models"
)

// TestJudgeExternalAccuracy measures the shipped judges on openclipart
// drawings whose content shows the class (expressions.tsv, costumes.tsv),
// seen as likeness eval sees them, and fails when a judge falls below the
// floor it was shipped at. `go test ./eval -run JudgeExternal -v` prints
// every verdict. The accuracy is what the report's "recognised" is worth.
func TestJudgeExternalAccuracy(t *testing.T) {
	dir := filepath.Join("..", "testdata", "external", "openclipart")
	for _, c := range []struct {
		file  string
		dirs  []string
		floor float64
	}{
		{"expressions.tsv", []string{"angry", "shocked", "laughing", "crying"}, 0.5},
		{"costumes.tsv", []string{"flower", "sheep", "santa", "royal"}, 0.45},
	} {
		t.Run(c.file, func(t *testing.T) {
			m := models.NewManifest(models.KindMCDM)
			for _, d := range c.dirs {
				m.Directions = append(m.Directions, models.Direction{ID: d})
			}
			j, err := JudgeFor(m)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			f, err := os.Open(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Scan() // header
			hits, n := 0, 0
			for sc.Scan() {
				p := strings.Split(sc.Text(), "\t")
				if len(p) < 2 {
					continue
				}
				ph, err := photo.Load(filepath.Join(DefaultExternalImages, p[0]))
				if err != nil {
					t.Fatalf("%v (the set needs Debian's openclipart-png; make test installs it)", err)
				}
				var face image.Rectangle
				if j.Input == "face" {
					if face, err = parseBox(p[2]); err != nil {
						t.Fatalf("%s: %v", p[0], err)
					}
				}
				b := ph.Image.Bounds()
				s := max(b.Dx(), b.Dy()) // the whole picture, padded to a square with white
				sq := image.Rect((b.Dx()-s)/2, (b.Dy()-s)/2, (b.Dx()-s)/2+s, (b.Dy()-s)/2+s)
				got, _, err := j.Classify(context.Background(), ph.Image, face, sq)
				if err != nil {
					t.Fatal(err)
				}
				n++
				if got == p[1] {
					hits++
				}
				t.Logf("%-50s %-9s judged %s", p[0], p[1], got)
			}
			acc := float64(hits) / float64(n)
			t.Logf("judge %s: %d/%d = %.2f on openclipart drawings", j.Task, hits, n, acc)
			if acc < c.floor {
				t.Errorf("judge %s: accuracy %.2f below its floor %.2f", j.Task, acc, c.floor)
			}
		})
	}
}
