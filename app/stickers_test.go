package app

import (
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/engine/matte"
	"likeness/models/synth"
	"likeness/stickerpack"
)

// opaquePortrait writes a 256x256 opaque PNG: a dark figure (head disc on
// a body block) on white, and returns its path and true silhouette.
func opaquePortrait(t *testing.T) (string, *image.Alpha) {
	t.Helper()
	const n = 256
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	truth := image.NewAlpha(img.Rect)
	for y := range n {
		for x := range n {
			o := img.PixOffset(x, y)
			in := math.Hypot(float64(x)-128, float64(y)-100) < 60 || (y > 150 && x > 58 && x < 198)
			c := [3]uint8{255, 255, 255}
			if in {
				c = [3]uint8{90, 50, uint8(60 + x/4)}
				truth.Pix[y*n+x] = 255
			}
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = c[0], c[1], c[2], 255
		}
	}
	path := filepath.Join(t.TempDir(), "figure.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

func loadSynth(t *testing.T, a *App, name string, o synth.Options) *Engine {
	t.Helper()
	if _, err := synth.Write(filepath.Join(a.Store.Root, name), o); err != nil {
		t.Fatal(err)
	}
	e, err := a.LoadPack(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func alphaMean(img *image.NRGBA) float64 {
	var s float64
	for i := 3; i < len(img.Pix); i += 4 {
		s += float64(img.Pix[i])
	}
	return s / 255 / float64(len(img.Pix)/4)
}

func TestStickersCutOutOpaquePictures(t *testing.T) {
	a, _ := newTestApp(t, 128)
	e := loadSynth(t, a, "with-foreground", synth.Options{Resolution: 128, Foreground: true})
	path, truth := opaquePortrait(t)
	doc, err := OpenPhoto(path)
	if err != nil {
		t.Fatal(err)
	}
	doc.SetCrop(doc.Photo.Image.Rect) // the whole square, so the truth lines up
	set, err := StickersWith(context.Background(), e, doc, quick(e), StickerOptions{Directions: []string{"angry", "laughing"}, Seeds: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set.Cutout != CutoutModel || set.CutoutNote != "" {
		t.Fatalf("cut-out %q (%s), want from the pack's model", set.Cutout, set.CutoutNote)
	}
	if len(set.Results) != 4 || set.Settings[1].Seed != set.Settings[0].Seed+1 || set.Label(1) != set.Directions[1].Label+" (2)" {
		t.Fatalf("stickers %d, seeds %d/%d, label %q: want 2 directions x 2 seeds", len(set.Results), set.Settings[0].Seed, set.Settings[1].Seed, set.Label(1))
	}
	m := set.Matte(0)
	if iou := matte.IoU(truth, m); iou < 0.95 {
		t.Errorf("matte IoU against the true silhouette %.3f, want >= 0.95", iou)
	}
	st := set.Sticker(0)
	if st.Rect.Dx() != StickerSize || st.Pix[3] != 0 {
		t.Fatalf("sticker %v, corner alpha %d: want %d px with a clear corner", st.Rect, st.Pix[3], StickerSize)
	}
	if am := alphaMean(st); am > 0.8 || am < 0.2 {
		t.Errorf("sticker alpha mean %.2f, want a figure on a transparent background", am)
	}
	// Touch-up: clearing the matte's top half clears the sticker's.
	for y := range m.Rect.Dy() / 2 {
		for x := range m.Rect.Dx() {
			m.Pix[y*m.Stride+x] = 0
		}
	}
	if err := set.SetMatte(0, m); err != nil {
		t.Fatal(err)
	}
	if got := set.Sticker(0); got.Pix[got.PixOffset(256, 100)+3] != 0 {
		t.Errorf("after clearing the matte's top half the head still shows (alpha %d)", got.Pix[got.PixOffset(256, 100)+3])
	}
	if err := set.SetMatte(0, image.NewAlpha(image.Rect(0, 0, 3, 3))); err == nil {
		t.Error("SetMatte accepted a matte of the wrong size")
	}

	for _, format := range []string{"whatsapp", "telegram"} {
		dir := filepath.Join(t.TempDir(), "pack")
		if _, err := set.ExportPack(dir, PackOptions{Format: format, Name: "Figures", Author: "Tests"}); err != nil {
			t.Fatalf("%s pack: %v", format, err)
		}
		if err := stickerpack.Check(dir, stickerpack.Platforms[format]); err != nil {
			t.Errorf("%s pack fails its rules: %v", format, err)
		}
	}
}

func TestStickersWithoutForegroundStayOpaqueAndSaySo(t *testing.T) {
	_, e := newTestApp(t, 128) // the plain analytic pack: no foreground model
	path, _ := opaquePortrait(t)
	doc, err := OpenPhoto(path)
	if err != nil {
		t.Fatal(err)
	}
	set, err := StickersWith(context.Background(), e, doc, quick(e), StickerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set.Cutout != CutoutNone || !strings.Contains(set.CutoutNote, "no foreground model") {
		t.Fatalf("cut-out %q, note %q: want none, saying why", set.Cutout, set.CutoutNote)
	}
	if st := set.Sticker(0); st.Pix[3] != 255 {
		t.Errorf("opaque sticker has corner alpha %d", st.Pix[3])
	}
	dir := filepath.Join(t.TempDir(), "pack")
	_, err = set.ExportPack(dir, PackOptions{Format: "whatsapp"})
	if err == nil || !strings.Contains(err.Error(), "transparent") || !strings.Contains(err.Error(), "no foreground model") {
		t.Fatalf("WhatsApp pack of opaque stickers: %v, want a refusal saying why", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("refused pack left %s", dir)
	}
	if _, err := StickersWith(context.Background(), e, doc, quick(e), StickerOptions{Directions: []string{"pirate"}}, nil); err == nil || !strings.Contains(err.Error(), `no direction "pirate"`) {
		t.Errorf("unknown direction: %v", err)
	}
}

// Stickers from the test photos (opaque, with a frontal face) are cut out
// around the person even with a pack that has no foreground model.
func TestStickersFromPhotosAreCutOut(t *testing.T) {
	_, e := newTestApp(t, 128)
	for _, name := range []string{"portrait_astronaut_eileen_collins.png", "tricky_hopper.bmp"} {
		t.Run(name, func(t *testing.T) {
			doc, err := OpenPhoto(filepath.Join(testImages(t), name))
			if err != nil {
				t.Fatal(err)
			}
			set, err := StickersWith(context.Background(), e, doc, quick(e), StickerOptions{Directions: []string{"angry"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if set.Cutout != CutoutPhoto {
				t.Fatalf("cut-out %q (%s), want the photo cut-out", set.Cutout, set.CutoutNote)
			}
			st := set.Sticker(0)
			if am := alphaMean(st); am > 0.75 || st.Pix[3] != 0 {
				t.Errorf("sticker alpha mean %.2f, corner %d: want a transparent background", am, st.Pix[3])
			}
		})
	}
}
