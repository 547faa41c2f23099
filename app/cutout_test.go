package app

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"
)

// LooksLikePhoto on the repository's pictures at the size stickers cut
// out at: the photos are photos, the sample cartoons and the openclipart
// heads are drawings. (A smooth photo at full size can read as a drawing:
// exif_orientation_1 is 0.63 flat at 1200 px, 0.40 at 512.)
func TestLooksLikePhoto(t *testing.T) {
	for _, tc := range []struct {
		path  string
		photo bool
	}{
		{filepath.Join(testImages(t), "portrait_astronaut_eileen_collins.png"), true},
		{filepath.Join(testImages(t), "portrait_biden_970x2204.jpg"), true},
		{filepath.Join(testImages(t), "portrait_cameraman_gray.png"), true},
		{filepath.Join(testImages(t), "tricky_hopper.bmp"), true},
		{filepath.Join(testImages(t), "exif_orientation_1.jpg"), true},
		{filepath.Join(testImages(t), "cartoon_head11_rgba.png"), false},
		{filepath.Join("..", "assets", "samples", "cartoon-1.png"), false},
		{filepath.Join("..", "assets", "samples", "cartoon-3.png"), false},
		{filepath.Join("..", "assets", "samples", "openclipart-signorina.png"), false},
		{filepath.Join("..", "assets", "samples", "openclipart-bad-guy.png"), false},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			doc, err := OpenPhoto(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			img := CutoutPicture(imaging.Crop(doc.Photo.Image, doc.Crop())) // as Cutout sees it
			g := flatShare(img, 256)
			t.Logf("flat %.3f", g)
			if LooksLikePhoto(img) != tc.photo {
				t.Errorf("LooksLikePhoto = %v (flat %.3f), want %v", !tc.photo, g, tc.photo)
			}
		})
	}
}

// photoCutout on the test photos with a frontal face: the face stays,
// the top corners (background) go, and much of the square is cleared.
func TestPhotoCutout(t *testing.T) {
	for _, name := range []string{"portrait_astronaut_eileen_collins.png", "portrait_biden_970x2204.jpg", "tricky_hopper.bmp"} {
		t.Run(name, func(t *testing.T) {
			doc, err := OpenPhoto(filepath.Join(testImages(t), name))
			if err != nil {
				t.Fatal(err)
			}
			work := CutoutPicture(imaging.Crop(doc.Photo.Image, doc.Crop()))
			f, err := PhotoFace(context.Background(), work)
			if err != nil || f.Empty() {
				t.Fatalf("photoFace: %v, %v", f, err)
			}
			a := photoCutout(work, f)
			at := func(x, y int) uint8 { return a.Pix[y*a.Stride+x] }
			cx, cy := (f.Min.X+f.Max.X)/2, (f.Min.Y+f.Max.Y)/2
			if at(cx, cy) < 250 {
				t.Errorf("the face centre has alpha %d, want kept", at(cx, cy))
			}
			w := a.Rect.Dx()
			if at(2, 2) != 0 || at(w-3, 2) != 0 {
				t.Errorf("top corners alpha %d, %d: want cleared", at(2, 2), at(w-3, 2))
			}
			var sum float64
			for _, v := range a.Pix {
				sum += float64(v)
			}
			mean := sum / 255 / float64(len(a.Pix))
			t.Logf("alpha mean %.3f", mean)
			if mean < 0.25 || mean > 0.8 {
				t.Errorf("alpha mean %.3f: want a person on a cleared background", mean)
			}
		})
	}
}

// A drawing's face is flat, whatever its background: photoFace must not
// take a cartoon for a photo (which would cut it out as a person).
func TestPhotoFaceSkipsDrawings(t *testing.T) {
	for _, name := range []string{"cartoon-1.png", "cartoon-2.png", "cartoon-3.png", "cartoon-4.png", "openclipart-signorina.png", "openclipart-bad-guy.png"} {
		doc, err := OpenPhoto(filepath.Join("..", "assets", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		work := CutoutPicture(imaging.Crop(doc.Photo.Image, doc.Crop()))
		if f, err := PhotoFace(context.Background(), work); err != nil || !f.Empty() {
			t.Errorf("%s: photoFace = %v, %v; want none (a drawing)", name, f, err)
		}
	}
}
