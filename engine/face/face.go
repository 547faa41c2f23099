// Package face finds faces in photos with a Viola-Jones Haar cascade, in
// pure Go, and converts its boxes to the project's face box convention.
package face

import (
	"context"
	"image"
	"math"
)

// Box is a face found in an image, in that image's pixel coordinates.
type Box struct {
	// Rect is the detector's own box; for Haar it runs from about the
	// hairline to the chin (see BrowsToChin).
	Rect image.Rectangle
	// Score is how strongly the detector believes in the face; for Haar,
	// the number of raw window hits grouped into it (above MinNeighbors).
	Score float64
}

// Detector finds faces. Detect returns them most confident first, and an
// error wrapping ctx.Err() if the context ends first.
type Detector interface {
	Detect(ctx context.Context, img image.Image) ([]Box, error)
}

// BrowsToChin converts a Haar frontal-face box, which runs from the upper
// forehead to below the mouth and spans the cheeks plus some background, to
// the project's face box: top of the eyebrows to the chin, cheek to cheek.
//
// The fractions were measured on the photos in testdata/photos.tsv, hand
// annotated, against the embedded alt2 cascade's boxes (side W, all square):
//
//	photo       W    brows below top  chin below bottom  width   centre x
//	astronaut   96   0.229 W          0.219 W            0.896 W +0.01 W
//	biden      313   0.243 W          0.198 W            0.895 W -0.09 W
//	hopper      56   0.321 W          0.000 W            0.839 W +0.01 W
//
// Each fraction is the median of the three, rounded: the top moves down by
// 0.24 W, the bottom by 0.20 W, and the width shrinks to 0.89 W about the
// same centre. Hopper (128 px, a cap with a dark brim) is the outlier the
// median leaves out; Biden's head is turned, so the cascade, centred on eyes
// and nose, sits to one side of his outline and no fixed shift fixes that.
//
// The result can reach past the image's edges (the chin of a face at the
// bottom); intersect it with the bounds where that matters.
func BrowsToChin(r image.Rectangle) image.Rectangle {
	w := float64(r.Dx())
	cx := float64(r.Min.X+r.Max.X) / 2
	half := 0.89 * w / 2
	return image.Rect(
		int(math.Round(cx-half)), r.Min.Y+int(math.Round(0.24*w)),
		int(math.Round(cx+half)), r.Max.Y+int(math.Round(0.20*w)),
	)
}
