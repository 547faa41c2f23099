package photo

import (
	"image"

	"github.com/disintegration/imaging"
)

// applyOrientation returns src transformed so that it displays upright for
// the given EXIF orientation (1..8); src is returned as is for 1 or invalid.
// imaging rotates counter-clockwise.
func applyOrientation(src *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2: // mirrored horizontally
		return imaging.FlipH(src)
	case 3: // rotated 180
		return imaging.Rotate180(src)
	case 4: // mirrored vertically
		return imaging.FlipV(src)
	case 5: // transposed
		return imaging.Transpose(src)
	case 6: // stored rotated 90 CCW, shown rotated 90 CW
		return imaging.Rotate270(src)
	case 7: // transversed
		return imaging.Transverse(src)
	case 8: // stored rotated 90 CW, shown rotated 90 CCW
		return imaging.Rotate90(src)
	}
	return src
}
