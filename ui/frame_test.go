package ui

import (
	"math"
	"path/filepath"
	"testing"

	"likeness/app"
	"likeness/engine/photo"
	"likeness/models/synth"
)

// A pack with a face_box frames the photo's face where the pack wants it
// on open, draws its face guide inside the crop frame, and Frame the face
// does it again after the user moved the crop.
func TestOpenFramesTheFace(t *testing.T) {
	h := newHarness(t)
	s := h.s
	box := [4]float64{0.265, 0.323, 0.735, 0.732}
	if _, err := synth.Write(filepath.Join(s.a.Store.Root, "framed"), synth.Options{Kind: "mcdm", Resolution: 128, Name: "Framed", FaceBox: &box}); err != nil {
		t.Fatal(err)
	}
	s.refreshPacks(nil)
	h.idle()
	for _, p := range s.packs {
		if p.Name == "Framed" {
			s.LoadPack(p)
		}
	}
	h.idle()
	if s.eng == nil || s.eng.Manifest().FaceBox == nil {
		t.Fatalf("the framed pack did not load: %v", rec(s).lastErr)
	}
	h.open(astronaut)
	crop := s.doc.Crop()
	if crop == photo.PortraitSquare(s.doc.Photo.Image.Bounds()) || s.doc.Framing.By != app.FoundByPhotoDetector {
		t.Fatalf("crop %v found by %q: not framed by the face", crop, s.doc.Framing.By)
	}
	// The astronaut's face, brows to chin (engine/face/testdata/photos.tsv).
	fx, fy := (182.0+268)/2, (87.0+182)/2
	gx := float64(crop.Min.X) + float64(crop.Dx())*(box[0]+box[2])/2
	gy := float64(crop.Min.Y) + float64(crop.Dx())*(box[1]+box[3])/2
	if d := math.Hypot(fx-gx, fy-gy); d > 0.1*86 {
		t.Errorf("the face's centre is %.1f px from the face box's centre in the crop %v", d, crop)
	}
	v := s.w.ed.view
	if v.guide.Hidden || v.guide.Size().Width <= 0 || v.guide.Size().Width >= v.frame.Size().Width {
		t.Errorf("face guide hidden %v, size %v inside a frame of %v", v.guide.Hidden, v.guide.Size(), v.frame.Size())
	}
	// Moved by hand, then framed again.
	moved := crop.Add(crop.Min.Mul(-1))
	if err := s.SetCrop(moved); err != nil {
		t.Fatal(err)
	}
	s.FrameFace()
	h.idle()
	if s.doc.Crop() != crop {
		t.Errorf("Frame the face: crop %v, want %v", s.doc.Crop(), crop)
	}
}
