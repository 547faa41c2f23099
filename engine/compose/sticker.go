package compose

import (
	"image"

	"golang.org/x/image/draw"
)

// Sticker makes a size x size sticker (size <= 0 means 512) from img,
// fitted keeping its aspect ratio. With alpha (the input photo's
// transparency, at img's size) the background stays transparent and a
// white outline of outline px is painted under the opaque shape, as sticker
// apps recommend; the shape is fitted outline px inside the edge so the
// outline is never clipped. Without alpha the sticker is opaque, letterboxed
// on white. nil img gives nil; an alpha of another size is ignored.
func Sticker(img *image.NRGBA, alpha *image.Alpha, size, outline int) *image.NRGBA {
	return StickerMargin(img, alpha, size, outline, 0)
}

// StickerMargin is Sticker with margin px of clear border all round (a
// transparent sticker's shape and outline stay inside it; WhatsApp asks for
// 16): the opaque sticker is unaffected.
func StickerMargin(img *image.NRGBA, alpha *image.Alpha, size, outline, margin int) *image.NRGBA {
	if img == nil || img.Rect.Empty() {
		return nil
	}
	if size <= 0 {
		size = 512
	}
	size = min(size, 1<<13)
	if alpha != nil && (alpha.Rect.Dx() != img.Rect.Dx() || alpha.Rect.Dy() != img.Rect.Dy()) {
		alpha = nil
	}
	// The canvas stays premultiplied RGBA with x/image/draw: the outline is
	// composited under the shape in place, premultiplied, and imaging works
	// only in straight alpha (NRGBA).
	canvas := image.NewRGBA(image.Rect(0, 0, size, size))
	if alpha == nil {
		draw.Draw(canvas, canvas.Rect, image.White, image.Point{}, draw.Src)
		draw.CatmullRom.Scale(canvas, fit(img.Rect, canvas.Rect), img, img.Rect, draw.Src, nil)
		return toNRGBA(canvas)
	}

	outline = max(0, min(outline, size/4))
	margin = max(0, min(margin, size/4))
	// Merge colour and alpha so the resampling happens premultiplied and
	// transparent pixels' colour cannot fringe the edge.
	src := image.NewNRGBA(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
	for y := range src.Rect.Dy() {
		copy(src.Pix[y*src.Stride:(y+1)*src.Stride], img.Pix[y*img.Stride:])
		arow := alpha.Pix[y*alpha.Stride:]
		for x := range src.Rect.Dx() {
			src.Pix[y*src.Stride+4*x+3] = arow[x]
		}
	}
	box := canvas.Rect.Inset(outline + margin)
	draw.CatmullRom.Scale(canvas, fit(src.Rect, box), src, src.Rect, draw.Src, nil)
	if outline == 0 {
		return toNRGBA(canvas)
	}

	// White under the image, as opaque as the shape dilated by a disc.
	a := make([]uint8, size*size)
	for i := range a {
		a[i] = canvas.Pix[4*i+3]
	}
	halo := dilate(a, size, size, outline)
	for i, h := range halo {
		p := canvas.Pix[4*i : 4*i+4 : 4*i+4]
		if h == 0 || p[3] == 255 {
			continue
		}
		// premultiplied "image over white": out = img + white*(1-img.a)
		k := uint32(h) * uint32(255-p[3]) / 255
		for c := range 4 {
			p[c] = uint8(min(uint32(p[c])+k, 255))
		}
	}
	return toNRGBA(canvas)
}

// dilate is a grey-level dilation by a disc of radius r: each output is the
// maximum input within r pixels. Per row offset the disc is a horizontal
// span, so it takes a sliding-window maximum per span width.
func dilate(a []uint8, w, h, r int) []uint8 {
	out := make([]uint8, len(a))
	rowMax := make([][]uint8, r+1) // rowMax[hw] for the current source row
	for i := range rowMax {
		rowMax[i] = make([]uint8, w)
	}
	spans := make([]int, r+1)
	for dy := 0; dy <= r; dy++ {
		for spans[dy]*spans[dy]+dy*dy <= r*r {
			spans[dy]++
		}
		spans[dy]--
	}
	for sy := range h {
		src := a[sy*w : (sy+1)*w]
		if allZeroU8(src) {
			continue
		}
		for hw := range rowMax {
			windowMax(rowMax[hw], src, hw)
		}
		for dy := -r; dy <= r; dy++ {
			y := sy + dy
			if y < 0 || y >= h {
				continue
			}
			m := rowMax[spans[abs(dy)]]
			dst := out[y*w : (y+1)*w]
			for x, v := range m {
				dst[x] = max(dst[x], v)
			}
		}
	}
	return out
}

// windowMax sets dst[x] to the maximum of src over [x-hw, x+hw].
func windowMax(dst, src []uint8, hw int) {
	for x := range src {
		var m uint8
		for i := max(0, x-hw); i <= min(len(src)-1, x+hw); i++ {
			m = max(m, src[i])
		}
		dst[x] = m
	}
}

func allZeroU8(s []uint8) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// OnChecker composites pic through alpha (nil: opaque) over a grey
// checkerboard, as image editors show transparency.
func OnChecker(pic *image.NRGBA, alpha *image.Alpha) *image.NRGBA {
	out := image.NewNRGBA(pic.Rect)
	cell := max(8, pic.Rect.Dx()/32)
	for y := range pic.Rect.Dy() {
		for x := range pic.Rect.Dx() {
			bg := 204.0
			if (x/cell+y/cell)%2 == 1 {
				bg = 153
			}
			a := 1.0
			if alpha != nil {
				a = float64(alpha.Pix[y*alpha.Stride+x]) / 255
			}
			o := pic.PixOffset(pic.Rect.Min.X+x, pic.Rect.Min.Y+y)
			d := out.PixOffset(x, y)
			for c := range 3 {
				out.Pix[d+c] = uint8(a*float64(pic.Pix[o+c]) + (1-a)*bg + 0.5)
			}
			out.Pix[d+3] = 255
		}
	}
	return out
}
