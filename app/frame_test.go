package app

import (
	"bufio"
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"likeness/engine"
	"likeness/models/synth"
)

// The starter packs' face_box (models/train/likeness_train/render.py FACE_BOX).
var starterBox = [4]float64{0.265, 0.323, 0.735, 0.732}

func framingPack(t *testing.T, o synth.Options) *engine.Engine {
	t.Helper()
	a, err := New(Options{Provider: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.Store.Root = t.TempDir()
	o.Resolution = 64
	if _, err := synth.Write(filepath.Join(a.Store.Root, "p"), o); err != nil {
		t.Fatal(err)
	}
	e, err := a.LoadPack(context.Background(), "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// readFaces reads engine/face/testdata/photos.tsv: the hand-drawn face
// boxes (brows to chin) of the repository's test photos.
func readFaces(t *testing.T) (dir string, faces map[string]image.Rectangle) {
	dir = filepath.Join("..", "engine", "face", "testdata")
	f, err := os.Open(filepath.Join(dir, "photos.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	faces = map[string]image.Rectangle{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		var v [4]int
		for i := range v {
			v[i], _ = strconv.Atoi(p[1+i])
		}
		faces[p[0]] = image.Rect(v[0], v[1], v[2], v[3])
	}
	return dir, faces
}

func TestAutoFramePhotos(t *testing.T) {
	e := framingPack(t, synth.Options{FaceBox: &starterBox})
	dir, faces := readFaces(t)
	cases := []struct {
		file string
		tol  float64 // of the face's width
	}{
		{"portrait_astronaut_eileen_collins.png", 0.10},
		{"tricky_hopper.bmp", 0.10},
		// The head is turned: the cascade centres on the eyes and nose, which
		// sit 0.105 face widths from the outline's centre (engine/face).
		{"portrait_biden_970x2204.jpg", 0.12},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			doc, err := OpenPhoto(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			fr, err := doc.ApplyCrop(context.Background(), e, CropAuto)
			if err != nil {
				t.Fatal(err)
			}
			if fr.By != FoundByPhotoDetector || doc.Crop() != fr.Crop {
				t.Fatalf("found by %q, crop %v (doc %v)", fr.By, fr.Crop, doc.Crop())
			}
			face := faces[c.file]
			s := float64(fr.Crop.Dx())
			cx := (float64(face.Min.X+face.Max.X)/2 - float64(fr.Crop.Min.X)) / s
			cy := (float64(face.Min.Y+face.Max.Y)/2 - float64(fr.Crop.Min.Y)) / s
			off := math.Hypot(cx-(starterBox[0]+starterBox[2])/2, cy-(starterBox[1]+starterBox[3])/2) * s / float64(face.Dx())
			// Off is what the photo's edges cost (the crop stays inside the
			// photo); the rest is the detector's error.
			if off > c.tol+fr.Off {
				t.Errorf("the face's centre lands %.3f face widths from the face box's (tolerance %.2f + %.3f at the photo's edge); crop %v", off, c.tol, fr.Off, fr.Crop)
			}
			if fr.Scale == 1 {
				got := float64(face.Dx()) / s
				if want := starterBox[2] - starterBox[0]; math.Abs(got-want) > 0.15*want {
					t.Errorf("the face is %.3f of the crop wide, the box %.3f", got, want)
				}
			}
			if g := FaceGuide(e, fr.Crop); !g.In(fr.Crop) || g.Empty() {
				t.Errorf("face guide %v not inside the crop %v", g, fr.Crop)
			}
		})
	}
}

func TestAutoFrameFallbacks(t *testing.T) {
	ctx := context.Background()
	white := func(w, h int, dark image.Rectangle) *image.NRGBA {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA{250, 250, 250, 255}
				if image.Pt(x, y).In(dark) {
					c = color.NRGBA{30, 30, 30, 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		return img
	}
	t.Run("no face_box", func(t *testing.T) {
		e := framingPack(t, synth.Options{})
		fr, err := AutoFrame(ctx, e, white(300, 600, image.Rectangle{}))
		if err != nil {
			t.Fatal(err)
		}
		if fr.Crop != image.Rect(0, 15, 300, 315) || !strings.Contains(fr.Note, "no face_box") || !FaceGuide(e, fr.Crop).Empty() {
			t.Errorf("got crop %v note %q", fr.Crop, fr.Note)
		}
	})
	t.Run("no face found", func(t *testing.T) {
		e := framingPack(t, synth.Options{FaceBox: &starterBox})
		fr, err := AutoFrame(ctx, e, white(300, 600, image.Rectangle{}))
		if err != nil {
			t.Fatal(err)
		}
		if fr.Crop != image.Rect(0, 15, 300, 315) || !strings.Contains(fr.Note, "no face found") || fr.By != "" {
			t.Errorf("got crop %v by %q note %q", fr.Crop, fr.By, fr.Note)
		}
	})
	t.Run("the pack's locator", func(t *testing.T) {
		e := framingPack(t, synth.Options{FaceBox: &starterBox, FaceLocator: true})
		face := image.Rect(500, 200, 580, 290)
		fr, err := AutoFrame(ctx, e, white(900, 700, face))
		if err != nil {
			t.Fatal(err)
		}
		if fr.By != FoundByPackLocator {
			t.Fatalf("found by %q, want the pack's locator (note %q)", fr.By, fr.Note)
		}
		g := FaceGuide(e, fr.Crop)
		d := math.Hypot(float64(g.Min.X+g.Max.X-face.Min.X-face.Max.X)/2, float64(g.Min.Y+g.Max.Y-face.Min.Y-face.Max.Y)/2)
		if d > 0.1*float64(face.Dx()) {
			t.Errorf("guide %v, face %v: centres %.1f px apart", g, face, d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		e := framingPack(t, synth.Options{FaceBox: &starterBox})
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := AutoFrame(c, e, white(300, 300, image.Rectangle{})); err == nil {
			t.Error("a cancelled context: no error")
		}
	})
}
