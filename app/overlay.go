package app

import (
	"image"

	"likeness/engine/compose"
)

// MaskOverlay tints the cells of mask (mw x mh, row-major) on img with
// MaskColour at opacity: the comparison's mask panel. img may be of any
// size; the mask is scaled to it.
func MaskOverlay(img *image.NRGBA, mask []bool, mw, mh int, opacity float64) *image.NRGBA {
	return compose.Overlay(img, mask, mw, mh, MaskColour, opacity)
}

// MaskLayer is the same tint as a layer of its own, at the mask's
// resolution: MaskColour at opacity on the mask's cells, transparent
// elsewhere, for drawing over a photo. It is MaskOverlay over a clear image
// whose masked cells already hold the colour, so a cell comes out as the
// tint itself at the given alpha, and the editor's overlay and the
// comparison's mask panel show the same colour. Nil for a mask of the
// wrong length.
func MaskLayer(mask []bool, mw, mh int, opacity float64) *image.NRGBA {
	if mw <= 0 || mh <= 0 || len(mask) != mw*mh {
		return nil
	}
	clear := image.NewNRGBA(image.Rect(0, 0, mw, mh))
	c := MaskColour
	for i, on := range mask {
		if on {
			clear.Pix[4*i], clear.Pix[4*i+1], clear.Pix[4*i+2] = c.R, c.G, c.B
		}
	}
	return MaskOverlay(clear, mask, mw, mh, opacity)
}
