package photo

import (
	"image"
	"math"

	"golang.org/x/image/draw"
)

// Framing is a crop proposed from a face, and how well it could honour the
// pack's face box.
type Framing struct {
	Crop image.Rectangle // the square the model sees, inside the photo
	// Off is how far the face's centre lands from the face box's centre, in
	// face widths, once the crop had to fit inside the photo (0 when it fits).
	Off float64
	// Scale is the face's width in the crop over the face box's width: 1 when
	// the crop could be as large as wanted, above 1 when the photo was too
	// small around the face and the face came out larger than the pack wants.
	Scale float64
}

// FaceSquare is the crop that puts face (photo pixels, brows to chin and
// cheek to cheek) where box (fractions of the model square) says the pack
// was trained to see it. The square's side follows the face's width (a
// photo's face is taller for its width than a cartoon's, brows to chin, so
// matching heights too would shrink photographed faces); then it shrinks
// to the photo's shorter side if it must and moves inside the photo, and
// Framing says how far from the box the face ended up.
func FaceSquare(face image.Rectangle, box [4]float64, bounds image.Rectangle) Framing {
	bw, bh := box[2]-box[0], box[3]-box[1]
	fw, fh := float64(face.Dx()), float64(face.Dy())
	if face.Empty() || !(bw > 0 && bh > 0) || bounds.Empty() {
		return Framing{Crop: PortraitSquare(bounds), Scale: 1}
	}
	side := fw / bw
	maxSide := float64(min(bounds.Dx(), bounds.Dy()))
	scale := 1.0
	if side > maxSide {
		scale = side / maxSide
		side = maxSide
	}
	s := int(math.Round(side))
	s = max(1, min(s, int(maxSide)))
	side = float64(s)
	// The face's centre goes to the box's centre.
	fcx := float64(face.Min.X) + fw/2
	fcy := float64(face.Min.Y) + fh/2
	x := fcx - side*(box[0]+box[2])/2
	y := fcy - side*(box[1]+box[3])/2
	x0 := int(math.Round(x))
	y0 := int(math.Round(y))
	x0 = max(bounds.Min.X, min(x0, bounds.Max.X-s))
	y0 = max(bounds.Min.Y, min(y0, bounds.Max.Y-s))
	crop := image.Rect(x0, y0, x0+s, y0+s)
	// Where the face's centre is now, in the crop's fractions, against the box.
	dx := (fcx-float64(x0))/side - (box[0]+box[2])/2
	dy := (fcy-float64(y0))/side - (box[1]+box[3])/2
	off := math.Hypot(dx, dy) * side / fw
	return Framing{Crop: crop, Off: off, Scale: scale}
}

// SquareInput resamples the square sq of img (which may reach outside the
// image: outside is white, as transparency is) to s x s and returns CHW
// floats in [0, 1] on white: the input of a pack's face locator.
func SquareInput(img *image.NRGBA, sq image.Rectangle, s int) []float32 {
	dst := image.NewRGBA(image.Rect(0, 0, s, s))
	in := sq.Intersect(img.Rect)
	if !in.Empty() && sq.Dx() > 0 && sq.Dy() > 0 {
		fx := float64(s) / float64(sq.Dx())
		fy := float64(s) / float64(sq.Dy())
		dr := image.Rect(
			int(math.Round(float64(in.Min.X-sq.Min.X)*fx)), int(math.Round(float64(in.Min.Y-sq.Min.Y)*fy)),
			int(math.Round(float64(in.Max.X-sq.Min.X)*fx)), int(math.Round(float64(in.Max.Y-sq.Min.Y)*fy)))
		if !dr.Empty() {
			draw.CatmullRom.Scale(dst, dr, img, in, draw.Src, nil)
		}
	}
	return planar(dst, dst.Rect, func(v float32, _ int) float32 { return v / 255 })
}
