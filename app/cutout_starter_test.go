package app

import (
	"bufio"
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"likeness/engine/matte"
)

// The starter packs' foreground model on drawings nobody here drew: the
// openclipart faces of the external set (never trained on), composited on
// a flat colour, a gradient and stripes, cut out as stickers are. A
// regression guard: the closing figures come from `likeness eval --matte`
// on the larger matte set (README).
func TestStarterForegroundOnOpenclipart(t *testing.T) {
	const images = "/usr/share/openclipart/png"
	if _, err := os.Stat(images); err != nil {
		t.Fatalf("needs Debian's openclipart-png (make test installs it): %v", err)
	}
	a, err := New(Options{Provider: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	// Both packs ship the same segmenter: checked once, on the expressions
	// pack, after making sure the costumes pack's is the same file.
	packs := map[string]string{}
	for _, name := range []string{"cartoon-expressions", "cartoon-costumes"} {
		p, err := a.FindPack(filepath.Join("..", "models", "starter", "packs", name))
		if err != nil {
			t.Fatal(err)
		}
		packs[name] = p.Manifest.Files["foreground/model.onnx"].SHA256
	}
	if packs["cartoon-expressions"] == "" || packs["cartoon-expressions"] != packs["cartoon-costumes"] {
		t.Fatalf("the starter packs' foreground models differ or are missing: %v", packs)
	}
	for _, name := range []string{"cartoon-expressions"} {
		t.Run(name, func(t *testing.T) {
			p, err := a.FindPack(filepath.Join("..", "models", "starter", "packs", name))
			if err != nil {
				t.Fatal(err)
			}
			e, err := a.Engine(context.Background(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !e.HasForeground() {
				t.Fatalf("%s ships no foreground model", name)
			}
			f, err := os.Open(filepath.Join("..", "testdata", "external", "openclipart", "faces.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Scan()
			var sum float64
			var n int
			for sc.Scan() {
				rel := strings.Split(sc.Text(), "\t")[0]
				if rel == "" || n >= 3*8 { // the first 8 faces keep the test short
					continue
				}
				doc, err := OpenPhoto(filepath.Join(images, rel))
				if err != nil {
					t.Fatal(err)
				}
				src := doc.Photo.Image
				side := 384
				fg := image.NewNRGBA(image.Rect(0, 0, side, side))
				draw.CatmullRom.Scale(fg, fitSquare(src.Rect, side), src, src.Rect, draw.Over, nil)
				truth := image.NewAlpha(fg.Rect)
				for i := range truth.Pix {
					truth.Pix[i] = fg.Pix[4*i+3]
				}
				for k, bg := range []func(x, y int) [3]float64{
					func(x, y int) [3]float64 { return [3]float64{70, 150, 210} },
					func(x, y int) [3]float64 {
						t := float64(x+y) / float64(2*side)
						return [3]float64{250 * t, 90, 250 * (1 - t)}
					},
					func(x, y int) [3]float64 {
						if (x/12)%2 == 0 {
							return [3]float64{240, 220, 90}
						}
						return [3]float64{120, 200, 120}
					},
				} {
					pic := image.NewNRGBA(fg.Rect)
					for y := range side {
						for x := range side {
							o := fg.PixOffset(x, y)
							al := float64(fg.Pix[o+3]) / 255
							b := bg(x, y)
							for c := range 3 {
								pic.Pix[o+c] = uint8(math.Round(float64(fg.Pix[o+c])*al + b[c]*(1-al)))
							}
							pic.Pix[o+3] = 255
						}
					}
					got, src, _, err := Cutout(context.Background(), e, pic, pic, image.Rectangle{}, false)
					if err != nil || src != CutoutModel {
						t.Fatalf("%s: %v (%s)", rel, err, src)
					}
					iou := matte.IoU(truth, got)
					sum += iou
					n++
					if iou < 0.6 {
						t.Errorf("%s on background %d: IoU %.3f", rel, k, iou)
					}
				}
			}
			mean := sum / float64(n)
			t.Logf("%d composites: mean IoU %.3f", n, mean)
			if mean < 0.88 {
				t.Errorf("mean IoU %.3f over %d composites, want >= 0.88", mean, n)
			}
		})
	}
}

// fitSquare centres r's aspect ratio in a side x side square.
func fitSquare(r image.Rectangle, side int) image.Rectangle {
	w, h := r.Dx(), r.Dy()
	if w >= h {
		nh := side * h / w
		return image.Rect(0, (side-nh)/2, side, (side-nh)/2+nh)
	}
	nw := side * w / h
	return image.Rect((side-nw)/2, 0, (side-nw)/2+nw, side)
}
