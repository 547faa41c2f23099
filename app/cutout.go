package app

import (
	"context"
	"image"
	"math"

	"likeness/engine/face"
	"likeness/engine/matte"
)

// LooksLikePhoto tells a photo from a drawing by its texture: drawings
// (cartoons, clip art, the renderer's portraits) are mostly flat areas of
// exactly one colour, photos have grain everywhere. A picture is a photo
// when under half of it is flat (flatShare). Measured on the repository's
// pictures at 512 px (TestLooksLikePhoto): photos 0.08-0.40, the cartoon
// samples and openclipart heads 0.87-0.92; drawings on a textured background, though,
// go as low as 0.15, so this only words a note: photoFace decides.
func LooksLikePhoto(img *image.NRGBA) bool {
	return flatShare(img, 256) < 0.5
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// flatShare is the share of samples, on a grid of about n x n over img,
// whose right and lower neighbours (the next pixels) are within one level
// of them in every channel: drawings are flat areas of exactly one colour,
// photos have sensor noise and compression grain even where smooth.
func flatShare(img *image.NRGBA, n int) float64 {
	b := img.Rect
	step := max(1, max(b.Dx(), b.Dy())/n)
	var flat, all int
	for y := b.Min.Y; y+1 < b.Max.Y; y += step {
		for x := b.Min.X; x+1 < b.Max.X; x += step {
			o := img.PixOffset(x, y)
			r, d := img.PixOffset(x+1, y), img.PixOffset(x, y+1)
			diff := 0
			for c := range 3 {
				diff = max(diff, absInt(int(img.Pix[o+c])-int(img.Pix[r+c])), absInt(int(img.Pix[o+c])-int(img.Pix[d+c])))
			}
			if diff <= 1 {
				flat++
			}
			all++
		}
	}
	if all == 0 {
		return 1
	}
	return float64(flat) / float64(all)
}

// PhotoFace is the face of work when work is a photo of a person: the
// photo detector's face whose skin has a photo's grain (a drawing's face
// is flat even on a textured background, which would make the whole
// picture look like a photo). Empty when there is none.
func PhotoFace(ctx context.Context, work *image.NRGBA) (image.Rectangle, error) {
	det, err := photoDetector()
	if err != nil {
		return image.Rectangle{}, err
	}
	boxes, err := det.Detect(ctx, work)
	if err != nil || len(boxes) == 0 {
		return image.Rectangle{}, err
	}
	f := face.BrowsToChin(boxes[0].Rect).Intersect(work.Rect)
	// Measured: the inner face is 0.000-0.020 flat on the test photos,
	// 0.47-0.89 on openclipart faces and the cartoon samples.
	inner := f.Inset(f.Dx() / 5)
	if inner.Empty() || flatShare(work.SubImage(inner).(*image.NRGBA), 48) > 0.25 {
		return image.Rectangle{}, nil
	}
	return f, nil
}

// photoCutout cuts the person out of a photo without a learned matting
// model: the face f seeds a trimap (face and neck sure, head with its hair
// and the torso below widening to the shoulders probable, the top and side
// borders sure background), and GrabCut finds the outline by colour and
// edges. A photo without a face found gets none: cutting around the middle
// instead was tried and lost the man of the cameraman photo (in profile,
// on the left) to the grass and the tripod.
func photoCutout(work *image.NRGBA, f image.Rectangle) *image.Alpha {
	return matte.GrabCut(work, personTrimap(work.Rect, f), 5)
}

// personTrimap is the GrabCut trimap of a head-and-shoulders portrait
// whose face (brows to chin) is f, in a picture of bounds b.
func personTrimap(b image.Rectangle, f image.Rectangle) []uint8 {
	w, h := b.Dx(), b.Dy()
	tri := make([]uint8, w*h)
	fw, fh := float64(f.Dx()), float64(f.Dy())
	cx := float64(f.Min.X+f.Max.X)/2 - float64(b.Min.X)
	top, chin := float64(f.Min.Y-b.Min.Y), float64(f.Max.Y-b.Min.Y)
	cy := (top + chin) / 2
	border := math.Max(2, 0.02*float64(max(w, h)))
	for y := range h {
		fy := float64(y) + 0.5
		for x := range w {
			fx := float64(x) + 0.5
			dx := fx - cx
			l := matte.ProbablyBackground
			// head with hair: an ellipse from above the brows to the chin
			hx, hy := dx/(0.9*fw), (fy-(top+0.3*fh))/(1.05*fh)
			// torso: from the chin down, widening to the shoulders
			half := 0.7*fw + 1.1*(fy-chin)
			switch {
			case math.Hypot(dx/(0.35*fw), (fy-cy)/(0.42*fh)) < 1,
				fy > chin+0.3*fh && fy < chin+1.3*fh && math.Abs(dx) < 0.45*fw:
				l = matte.SureForeground
			case hx*hx+hy*hy < 1, fy > chin && math.Abs(dx) < half:
				l = matte.ProbablyForeground
			case fx < border || fx > float64(w)-border || fy < border,
				math.Abs(dx) > 2.4*fw && fy < chin:
				l = matte.SureBackground
			}
			tri[y*w+x] = l
		}
	}
	return tri
}
