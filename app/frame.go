package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"sync"

	"likeness/engine"
	"likeness/engine/face"
	"likeness/engine/photo"
)

// Crop modes of the CLI and the app: where the model's square goes.
const (
	CropAuto   = "auto"   // find the face and put it where the pack's face_box says
	CropCentre = "centre" // photo.PortraitSquare, the rule before face_box
)

// Ways a face was found (Framing.By).
const (
	FoundByPhotoDetector = "photo face detector"
	FoundByPackLocator   = "the pack's face locator"
)

// Framing is what AutoFrame did: the crop it chose and why.
type Framing struct {
	Crop image.Rectangle
	// Face is the face found (photo pixels, brows to chin), empty when none.
	Face image.Rectangle
	By   string // FoundByPhotoDetector, FoundByPackLocator, or "" when no face was found
	// Guide is where the pack wants the face inside Crop (photo pixels); empty
	// when the pack declares no face_box.
	Guide image.Rectangle
	photo.Framing
	// Note says, in a sentence for the status bar, what happened when it was
	// not simply "face found and framed" (no face_box, no face, photo too tight).
	Note string
}

var (
	haarOnce sync.Once
	haar     *face.Haar
	haarErr  error
)

// photoDetector is the photo face detector, built once: its cascade is
// embedded, so it can only fail if the binary is broken.
func photoDetector() (*face.Haar, error) {
	haarOnce.Do(func() { haar, haarErr = face.NewHaar() })
	return haar, haarErr
}

// FindFace looks for the main face in img. The photo face detector (a Haar
// cascade: photos, and drawings close to them) goes first; when the pack
// has a face locator (learned from cartoons), it refines what the cascade
// found, or looks on its own when the cascade found nothing. Measured on
// the 24 openclipart faces (testdata/external/openclipart): the cascade
// fires on 13, its centre 0.02-0.28 face widths off; the locator alone is
// 0.04-0.11 off on the heads and busts but lost on full-body figures,
// where a refinement seeded by the cascade is not. It returns the face
// brows to chin and who found it, or an empty rectangle when none did.
func FindFace(ctx context.Context, e *engine.Engine, img *image.NRGBA) (image.Rectangle, string, error) {
	var haarBox image.Rectangle
	if det, err := photoDetector(); err == nil {
		boxes, err := det.Detect(ctx, img)
		if err != nil {
			return image.Rectangle{}, "", err
		}
		if len(boxes) > 0 {
			haarBox = face.BrowsToChin(boxes[0].Rect).Intersect(img.Rect)
		}
	}
	hasLoc := e != nil && e.HasFaceLocator()
	if !haarBox.Empty() {
		if hasLoc {
			f, err := e.RefineFace(ctx, img, haarBox)
			if err != nil {
				return image.Rectangle{}, "", err
			}
			c1, c2 := centre(f.Rect), centre(haarBox)
			if f.Confidence >= 0.5 && !f.Rect.Empty() && math.Hypot(c1[0]-c2[0], c1[1]-c2[1]) < 0.5*float64(haarBox.Dx()) {
				return f.Rect, FoundByPhotoDetector + " and " + FoundByPackLocator, nil
			}
		}
		return haarBox, FoundByPhotoDetector, nil
	}
	if hasLoc {
		f, err := e.LocateFace(ctx, img)
		if err != nil {
			return image.Rectangle{}, "", err
		}
		if f.Confidence >= 0.5 && f.Rect.Dx() >= 8 && f.Rect.Dy() >= 8 {
			return f.Rect, FoundByPackLocator, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return image.Rectangle{}, "", err
	}
	return image.Rectangle{}, "", nil
}

func centre(r image.Rectangle) [2]float64 {
	return [2]float64{float64(r.Min.X+r.Max.X) / 2, float64(r.Min.Y+r.Max.Y) / 2}
}

// AutoFrame finds the face in the photo and proposes the crop that puts it
// where the pack's face_box says its training put faces. Without a
// face_box, or when no face is found, the crop is photo.PortraitSquare and
// Note says why.
func AutoFrame(ctx context.Context, e *engine.Engine, img *image.NRGBA) (Framing, error) {
	b := img.Bounds()
	fr := Framing{Crop: photo.PortraitSquare(b), Framing: photo.Framing{Scale: 1}}
	fb := e.Manifest().FaceBox
	if fb == nil {
		fr.Note = fmt.Sprintf("pack %s does not say where it wants the face (no face_box): framed by the centre rule", e.Pack.Name)
		return fr, nil
	}
	r, by, err := FindFace(ctx, e, img)
	if err != nil {
		return fr, err
	}
	if r.Empty() {
		fr.Note = "no face found: framed by the centre rule; move the crop frame onto the face"
		fr.Guide = guideIn(fr.Crop, *fb)
		return fr, nil
	}
	fr.Face, fr.By = r, by
	fr.Framing = photo.FaceSquare(r, *fb, b)
	fr.Crop = fr.Framing.Crop
	fr.Guide = guideIn(fr.Crop, *fb)
	if fr.Scale > 1.05 {
		fr.Note = fmt.Sprintf("face found by %s; the photo is tight around it, so the face is %.0f%% larger than the pack wants", by, (fr.Scale-1)*100)
	} else if fr.Off > 0.1 {
		fr.Note = fmt.Sprintf("face found by %s; it is near the photo's edge, %.0f%% of its width from where the pack wants it", by, fr.Off*100)
	}
	return fr, nil
}

// guideIn is the face box as photo pixels inside crop.
func guideIn(crop image.Rectangle, fb [4]float64) image.Rectangle {
	s := float64(crop.Dx())
	return image.Rect(crop.Min.X+int(fb[0]*s+0.5), crop.Min.Y+int(fb[1]*s+0.5),
		crop.Min.X+int(fb[2]*s+0.5), crop.Min.Y+int(fb[3]*s+0.5))
}

// FaceGuide is where the pack wants the face inside crop, in photo pixels;
// empty when the pack declares no face_box.
func FaceGuide(e *engine.Engine, crop image.Rectangle) image.Rectangle {
	if e == nil || e.Manifest().FaceBox == nil {
		return image.Rectangle{}
	}
	return guideIn(crop, *e.Manifest().FaceBox)
}

// ApplyCrop frames d by mode: CropAuto (AutoFrame), CropCentre, or "" for
// the crop d already has. It returns what AutoFrame found (zero otherwise).
func (d *Doc) ApplyCrop(ctx context.Context, e *engine.Engine, mode string) (Framing, error) {
	switch mode {
	case "":
		return Framing{Crop: d.Crop()}, nil
	case CropCentre:
		c := photo.PortraitSquare(d.Photo.Image.Bounds())
		return Framing{Crop: c, Guide: FaceGuide(e, c)}, d.SetCrop(c)
	case CropAuto:
		fr, err := AutoFrame(ctx, e, d.Photo.Image)
		if err != nil {
			return fr, err
		}
		return fr, d.SetCrop(fr.Crop)
	}
	return Framing{}, errors.New("crop mode " + mode + ": want auto, centre or x,y,w,h")
}
