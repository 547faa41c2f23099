package engine

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"likeness/models"
	"likeness/models/synth"
	"likeness/ort"
)

func loadPack(t *testing.T, o synth.Options) *Engine {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := synth.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	p, err := models.OpenWith(dir, models.OpenOptions{Probe: models.UNetChannels})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Load(context.Background(), p, LoadOptions{Provider: ort.CPU})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// darkRect is a white w x h picture with a dark rectangle r: what the
// analytic locator finds.
func darkRect(w, h int, r image.Rectangle) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{250, 250, 250, 255}
			if image.Pt(x, y).In(r) {
				c = color.NRGBA{40, 30, 30, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestLocateFace(t *testing.T) {
	e := loadPack(t, synth.Options{Resolution: 64, FaceLocator: true})
	if !e.HasFaceLocator() {
		t.Fatal("HasFaceLocator false for a pack with face_locator/")
	}
	for _, c := range []struct {
		name string
		w, h int
		face image.Rectangle
	}{
		{"small face in a wide picture", 600, 300, image.Rect(400, 60, 460, 130)},
		{"large face", 256, 256, image.Rect(60, 50, 200, 210)},
		{"tall picture", 200, 500, image.Rect(50, 40, 150, 150)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := e.LocateFace(context.Background(), darkRect(c.w, c.h, c.face))
			if err != nil {
				t.Fatal(err)
			}
			if f.Confidence < 0.99 {
				t.Errorf("confidence %v, want 1", f.Confidence)
			}
			// The refining pass sees the face at about 32/2.2 px per face
			// width: a pixel of it is about 7% of the face's width.
			tol := 0.08 * float64(c.face.Dx())
			for i, d := range []int{f.Rect.Min.X - c.face.Min.X, f.Rect.Min.Y - c.face.Min.Y, f.Rect.Max.X - c.face.Max.X, f.Rect.Max.Y - c.face.Max.Y} {
				if math.Abs(float64(d)) > tol {
					t.Errorf("found %v, want %v (edge %d off by %d px, tolerance %.0f)", f.Rect, c.face, i, d, tol)
					break
				}
			}
		})
	}
	t.Run("nothing there", func(t *testing.T) {
		f, err := e.LocateFace(context.Background(), darkRect(100, 100, image.Rectangle{}))
		if err != nil {
			t.Fatal(err)
		}
		if f.Confidence > 0.01 {
			t.Errorf("a blank picture: confidence %v, want 0", f.Confidence)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := e.LocateFace(ctx, darkRect(100, 100, image.Rect(20, 20, 60, 60))); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: err %v, want context.Canceled", err)
		}
	})
}

func TestLocateFaceWithoutLocator(t *testing.T) {
	e := loadPack(t, synth.Options{Resolution: 64})
	if e.HasFaceLocator() {
		t.Fatal("HasFaceLocator true without face_locator/")
	}
	if _, err := e.LocateFace(context.Background(), darkRect(50, 50, image.Rect(10, 10, 30, 30))); !errors.Is(err, ErrNoLocator) {
		t.Errorf("err %v, want ErrNoLocator", err)
	}
}
