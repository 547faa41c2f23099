package compose

import (
	"image"
	"image/color"
	"math"
	"sync"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var goRegular = sync.OnceValues(func() (*opentype.Font, error) {
	return opentype.Parse(goregular.TTF)
})

// labelFace returns Go Regular at size px, or the fixed 7x13 face if the
// embedded font cannot be used (it always can; this is not worth failing a
// sheet over). The caller closes the face.
func labelFace(size float64) font.Face {
	if f, err := goRegular(); err == nil {
		if face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull}); err == nil {
			return face
		}
	}
	return basicfont.Face7x13
}

// fit returns the largest rectangle with src's aspect ratio centred in box.
func fit(src, box image.Rectangle) image.Rectangle {
	sw, sh := src.Dx(), src.Dy()
	bw, bh := box.Dx(), box.Dy()
	if sw <= 0 || sh <= 0 || bw <= 0 || bh <= 0 {
		return image.Rectangle{}
	}
	w, h := bw, bh
	if sw*bh > sh*bw {
		h = max(1, int(math.Round(float64(sh)*float64(bw)/float64(sw))))
	} else {
		w = max(1, int(math.Round(float64(sw)*float64(bh)/float64(sh))))
	}
	x := box.Min.X + (bw-w)/2
	y := box.Min.Y + (bh-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// Sheet lays images out in a grid of cols columns (the 2x2 sticker sheet,
// the compare strip input | mask overlay | baseline | mask-guided | ...).
// Each image is fitted into a cellSize x cellSize square and its label is
// drawn centred under it in Go Regular at about cellSize/20 px, dark on a
// light bg and light on a dark one (dark on a transparent one, which is
// shown over something light: a checkerboard). Missing labels are blank; long ones are
// cut with an ellipsis. nil images leave their cell empty. Returns nil when
// there is nothing to lay out.
func Sheet(images []*image.NRGBA, labels []string, cols, cellSize int, bg color.Color) *image.NRGBA {
	n := len(images)
	if n == 0 || cellSize <= 0 || cellSize > 1<<14 {
		return nil
	}
	if cols <= 0 || cols > n {
		cols = n
	}
	rows := (n + cols - 1) / cols
	if bg == nil {
		bg = color.White
	}
	fontPx := max(11, float64(cellSize)/20)
	face := labelFace(fontPx)
	defer face.Close()
	m := face.Metrics()
	labelH := (m.Height + m.Height/2).Ceil()
	pad := max(4, cellSize/32)
	stepX, stepY := cellSize+pad, cellSize+labelH+pad

	// Drawing into RGBA keeps x/image/draw and font on their fast paths;
	// the labels need a draw.Image to draw on, which imaging does not offer.
	out := image.NewRGBA(image.Rect(0, 0, cols*stepX+pad, rows*stepY+pad))
	draw.Draw(out, out.Rect, image.NewUniform(bg), image.Point{}, draw.Src)
	ink := color.Color(color.Black)
	if r, g, b, a := bg.RGBA(); a > 0 && 299*r+587*g+114*b < 500*0xffff {
		ink = color.White
	}
	for i, img := range images {
		x0 := pad + (i%cols)*stepX
		y0 := pad + (i/cols)*stepY
		cell := image.Rect(x0, y0, x0+cellSize, y0+cellSize)
		if img != nil {
			if dr := fit(img.Rect, cell); !dr.Empty() {
				draw.CatmullRom.Scale(out, dr, img, img.Rect, draw.Over, nil)
			}
		}
		if i < len(labels) && labels[i] != "" {
			d := &font.Drawer{Dst: out, Src: image.NewUniform(ink), Face: face}
			text := ellipsize(d, labels[i], fixed.I(cellSize))
			adv := d.MeasureString(text)
			d.Dot = fixed.Point26_6{
				X: fixed.I(x0) + (fixed.I(cellSize)-adv)/2,
				Y: fixed.I(y0+cellSize) + (fixed.I(labelH)-m.Height)/2 + m.Ascent,
			}
			d.DrawString(text)
		}
	}
	return toNRGBA(out)
}

// toNRGBA converts a premultiplied image to straight alpha.
func toNRGBA(src *image.RGBA) *image.NRGBA {
	out := image.NewNRGBA(src.Rect)
	w := 4 * src.Rect.Dx()
	for y := range src.Rect.Dy() {
		unpremultiply(out.Pix[y*out.Stride:y*out.Stride+w], src.Pix[y*src.Stride:y*src.Stride+w])
	}
	return out
}

// ellipsize shortens s rune by rune until it fits width, ending it with "…".
func ellipsize(d *font.Drawer, s string, width fixed.Int26_6) string {
	if d.MeasureString(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[:len(r)-1]
		if t := string(r) + "…"; d.MeasureString(t) <= width {
			return t
		}
	}
	return ""
}
