// Package compose turns the engine's latent-resolution masks and model-
// resolution edits into pixels: feathered blend weights, compositing back
// into the full photo, previews, contact sheets and stickers.
//
// Functions never panic on inconsistent sizes: mask and weight producers
// return nil, and compositors return an unmodified copy of the base image,
// so a caller bug can only lose an edit, never damage the photo.
package compose

import (
	"image"
	"math"
)

// validSize reports whether w x h is a usable image size whose pixel count
// fits comfortably in an int32 (the summed-area tables below).
func validSize(w, h int) bool {
	return w > 0 && h > 0 && w <= 1<<20 && h <= 1<<20 && int64(w)*int64(h) < 1<<31
}

// cellIndex maps pixel i of n to the cell of m containing its centre:
// floor((i+0.5)*m/n), exact in integers.
func cellIndex(i, n, m int) int {
	return min(int((int64(2*i+1)*int64(m))/int64(2*n)), m-1)
}

// UpsampleMask scales a latent-resolution mask (row-major, mw*mh) to w x h
// pixels, nearest neighbour by pixel centre, so 64->512 gives exact 8x8
// blocks and non-integer ratios split cells as evenly as possible. It
// returns nil when the sizes do not match the mask.
func UpsampleMask(mask []bool, mw, mh, w, h int) []bool {
	if !validSize(mw, mh) || !validSize(w, h) || len(mask) != mw*mh {
		return nil
	}
	cols := make([]int, w)
	for x := range cols {
		cols[x] = cellIndex(x, w, mw)
	}
	out := make([]bool, w*h)
	for y := range h {
		src := mask[cellIndex(y, h, mh)*mw:]
		row := out[y*w : (y+1)*w]
		for x, c := range cols {
			row[x] = src[c]
		}
	}
	return out
}

// summedArea returns the (w+1) x (h+1) integral image of in.
func summedArea(in []bool, w, h int) []int32 {
	s := make([]int32, (w+1)*(h+1))
	for y := range h {
		var run int32
		row := in[y*w : (y+1)*w]
		prev := s[y*(w+1):]
		cur := s[(y+1)*(w+1):]
		for x, v := range row {
			if v {
				run++
			}
			cur[x+1] = prev[x+1] + run
		}
	}
	return s
}

// boxCount is the number of true pixels of the integral image s (width w)
// in the window centred at (x, y) with half-size r, clipped to the image.
func boxCount(s []int32, w, h, x, y, r int) int32 {
	x0, y0 := max(x-r, 0), max(y-r, 0)
	x1, y1 := min(x+r+1, w), min(y+r+1, h)
	W := w + 1
	return s[y1*W+x1] - s[y0*W+x1] - s[y1*W+x0] + s[y0*W+x0]
}

// Feather turns a binary pixel mask into blend weights in [0,1]. Weights
// are exactly 0 outside the mask, so blended pixels there stay bit-identical
// to the original, and rise monotonically to exactly 1 at radius pixels
// inside its edge. It erodes by e = radius - radius/2 and box-blurs by
// b = radius/2 <= e (square windows): the blur cannot reach past what
// erosion removed, so its support stays inside the mask. Pixels beyond the image border count as outside the mask, so an
// edit reaching the crop border still fades out instead of leaving a seam.
// radius <= 0 gives the hard mask. nil when len(mask) != w*h.
func Feather(mask []bool, w, h, radius int) []float32 {
	if !validSize(w, h) || len(mask) != w*h {
		return nil
	}
	out := make([]float32, w*h)
	if radius <= 0 {
		for i, v := range mask {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	b := radius / 2
	e := radius - b
	eSide := int32(2*e + 1)

	s := summedArea(mask, w, h)
	eroded := make([]bool, w*h)
	for y := range h {
		for x := range w {
			// A window reaching past the border is never full: the border
			// counts as outside.
			if x >= e && y >= e && x+e < w && y+e < h && mask[y*w+x] {
				eroded[y*w+x] = boxCount(s, w, h, x, y, e) == eSide*eSide
			}
		}
	}
	side := 2*b + 1
	full := int32(side * side)
	s = summedArea(eroded, w, h)
	inv := 1 / float32(full)
	for y := range h {
		for x := range w {
			switch n := boxCount(s, w, h, x, y, b); n {
			case 0:
			case full:
				out[y*w+x] = 1
			default:
				out[y*w+x] = float32(n) * inv
			}
		}
	}
	return out
}

// BorderFeather returns weights that are 1 inside a w x h rectangle and
// fall linearly to 0 over radius pixels at its edges (for the baseline,
// which has no mask, so the whole crop is blended in softly): the outermost
// pixels are 0, so the crop meets the untouched photo without a seam.
// radius <= 0 gives all ones.
func BorderFeather(w, h, radius int) []float32 {
	if !validSize(w, h) {
		return nil
	}
	ramp := func(d int) float32 {
		if radius <= 0 || d >= radius {
			return 1
		}
		return float32(d) / float32(radius)
	}
	rows := make([]float32, h)
	for y := range h {
		rows[y] = ramp(min(y, h-1-y))
	}
	out := make([]float32, w*h)
	for x := range w {
		cx := ramp(min(x, w-1-x))
		for y := range h {
			out[y*w+x] = min(cx, rows[y])
		}
	}
	return out
}

// MaskImage renders a binary mask as 8-bit gray (255 = edit). With w or h
// <= 0 it is drawn at mw x mh, else scaled to w x h (nearest). nil when the
// sizes do not match.
func MaskImage(mask []bool, mw, mh, w, h int) *image.Gray {
	if w <= 0 || h <= 0 {
		w, h = mw, mh
	}
	up := UpsampleMask(mask, mw, mh, w, h)
	if up == nil {
		return nil
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range up {
		if v {
			img.Pix[i] = 255
		}
	}
	return img
}

// SoftMapImage renders a soft map n (values in [0,1], mw x mh) as 8-bit
// gray scaled to w x h (nearest); values are clamped and NaN draws black.
// w or h <= 0 draws at mw x mh. nil when the sizes do not match.
func SoftMapImage(n []float32, mw, mh, w, h int) *image.Gray {
	if w <= 0 || h <= 0 {
		w, h = mw, mh
	}
	if !validSize(mw, mh) || !validSize(w, h) || len(n) != mw*mh {
		return nil
	}
	levels := make([]uint8, len(n))
	for i, v := range n {
		if v > 0 { // false for NaN
			levels[i] = uint8(math.Round(float64(min(v, 1)) * 255))
		}
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		src := levels[cellIndex(y, h, mh)*mw:]
		for x := range w {
			img.Pix[y*img.Stride+x] = src[cellIndex(x, w, mw)]
		}
	}
	return img
}
