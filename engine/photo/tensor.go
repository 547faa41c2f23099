package photo

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"
	"golang.org/x/image/draw"
)

// CLIP image normalisation (model contract).
var (
	clipMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// CLIPSize is the side of the CLIP image encoder input.
const CLIPSize = 224

// CenterSquare returns the largest square centred in bounds.
func CenterSquare(bounds image.Rectangle) image.Rectangle {
	w, h := bounds.Dx(), bounds.Dy()
	s := min(w, h)
	if s <= 0 {
		return image.Rectangle{}
	}
	x := bounds.Min.X + (w-s)/2
	y := bounds.Min.Y + (h-s)/2
	return image.Rect(x, y, x+s, y+s)
}

// PortraitSquare is the default crop: the largest square, placed where a
// portrait keeps the head. It is horizontally centred. In a tall photo (a
// head-and-torso or full-length portrait) the head is at the top, so the
// square sits near the top, a twentieth of the spare height down to leave
// a little headroom; a landscape or square photo gets the centred square.
// On the 970x2204 test portrait the centred square framed the crossed arms;
// this one frames the head and shoulders.
func PortraitSquare(bounds image.Rectangle) image.Rectangle {
	w, h := bounds.Dx(), bounds.Dy()
	if h <= w {
		return CenterSquare(bounds)
	}
	s := w
	if s <= 0 {
		return image.Rectangle{}
	}
	y := bounds.Min.Y + (h-s)/20
	return image.Rect(bounds.Min.X, y, bounds.Min.X+s, y+s)
}

// ErrNotSquare is returned (wrapped) by ValidateCrop for a usable crop that is
// not square: the model input will be stretched, which callers may allow.
var ErrNotSquare = fmt.Errorf("crop is not square")

// ValidateCrop checks that r is non-empty and inside bounds. A crop that is
// valid but not square returns an error wrapping ErrNotSquare, so callers can
// decide whether to accept the stretch.
func ValidateCrop(r, bounds image.Rectangle) error {
	if r.Empty() {
		return fmt.Errorf("crop %v is empty", r)
	}
	if !r.In(bounds) {
		return fmt.Errorf("crop %v is outside the image %v", r, bounds)
	}
	if r.Dx() != r.Dy() {
		return fmt.Errorf("%w: %dx%d", ErrNotSquare, r.Dx(), r.Dy())
	}
	return nil
}

// clipCrop intersects crop with the image; an empty result means the whole
// image, so a bad crop degrades instead of panicking (ValidateCrop first).
func clipCrop(img *image.NRGBA, crop image.Rectangle) image.Rectangle {
	c := crop.Intersect(img.Rect)
	if c.Empty() {
		return img.Rect
	}
	return c
}

// resizePremul scales src (a region of img) to w x h in premultiplied space,
// so that transparent pixels' undefined colours do not bleed into edges.
// Catmull-Rom in x/image/draw widens its support when downscaling, which
// makes it area-averaging enough for large reductions.
//
// The model's input keeps x/image/draw although imaging is faster here
// (BenchmarkCropResize: a 3600-pixel crop to 512 took about a third of the
// time): x/image/draw resamples the premultiplied crop in one pass, where
// imaging rounds its first pass to 8-bit straight alpha, which loses the
// colour of nearly transparent pixels; and every model input, eval number
// and calibration so far was made with it.
func resizePremul(src image.Image, sr image.Rectangle, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Rect, src, sr, draw.Src, nil)
	return dst
}

// Resize scales img to w x h with Catmull-Rom (imaging, which weights
// colours by alpha so transparent pixels do not bleed) for previews and
// masks; it returns straight alpha.
func Resize(img image.Image, w, h int) *image.NRGBA {
	if w <= 0 || h <= 0 {
		return image.NewNRGBA(image.Rectangle{})
	}
	return imaging.Resize(img, w, h, imaging.CatmullRom)
}

// onWhite composites a premultiplied 8-bit value over white.
func onWhite(c, a uint8) float32 {
	return min(float32(c)+float32(255-a), 255)
}

// ModelInput crops img, resizes the crop to res x res, flattens alpha on white
// and returns a planar CHW [3,res,res] tensor scaled to [-1,1] (VAE input).
func ModelInput(img *image.NRGBA, crop image.Rectangle, res int) []float32 {
	m := resizePremul(img, clipCrop(img, crop), res, res)
	return planar(m, m.Rect, func(v float32, _ int) float32 { return v/127.5 - 1 })
}

// CLIPInput crops img, resizes the shorter side to 224 (bicubic), centre crops
// 224x224, flattens alpha on white and normalises with CLIP's mean and std:
// a CHW [3,224,224] tensor for the image encoder.
func CLIPInput(img *image.NRGBA, crop image.Rectangle) []float32 {
	c := clipCrop(img, crop)
	w, h := c.Dx(), c.Dy()
	// As torchvision Resize(224): the short side becomes 224, the long side
	// is truncated.
	nw, nh := CLIPSize, CLIPSize
	if w < h {
		nh = max(CLIPSize, int(float64(CLIPSize)*float64(h)/float64(w)))
	} else {
		nw = max(CLIPSize, int(float64(CLIPSize)*float64(w)/float64(h)))
	}
	m := resizePremul(img, c, nw, nh)
	// As torchvision CenterCrop: offsets rounded.
	x0 := int(float64(nw-CLIPSize)/2 + 0.5)
	y0 := int(float64(nh-CLIPSize)/2 + 0.5)
	return planar(m, image.Rect(x0, y0, x0+CLIPSize, y0+CLIPSize), func(v float32, ch int) float32 {
		return (v/255 - clipMean[ch]) / clipStd[ch]
	})
}

// planar flattens r of m on white and writes CHW floats through f, which
// receives a 0..255 value and its channel.
func planar(m *image.RGBA, r image.Rectangle, f func(v float32, ch int) float32) []float32 {
	w, h := r.Dx(), r.Dy()
	n := w * h
	out := make([]float32, 3*n)
	for y := 0; y < h; y++ {
		i := m.PixOffset(r.Min.X, r.Min.Y+y)
		row := m.Pix[i : i+4*w]
		for x := 0; x < w; x++ {
			p, a := row[4*x:4*x+4], row[4*x+3]
			o := y*w + x
			out[o] = f(onWhite(p[0], a), 0)
			out[n+o] = f(onWhite(p[1], a), 1)
			out[2*n+o] = f(onWhite(p[2], a), 2)
		}
	}
	return out
}

// TensorToImage converts a CHW [3,h,w] tensor in [-1,1] to an opaque image,
// clamping and rounding. A tensor of the wrong length gives an empty image.
func TensorToImage(chw []float32, w, h int) *image.NRGBA {
	if w <= 0 || h <= 0 || len(chw) != 3*w*h {
		return image.NewNRGBA(image.Rectangle{})
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	n := w * h
	for o := 0; o < n; o++ {
		p := img.Pix[4*o : 4*o+4]
		p[0], p[1], p[2], p[3] = to8(chw[o]), to8(chw[n+o]), to8(chw[2*n+o]), 255
	}
	return img
}

func to8(v float32) uint8 {
	x := (v + 1) * 127.5
	switch {
	case !(x >= 0): // also NaN
		return 0
	case x >= 255:
		return 255
	}
	return uint8(x + 0.5)
}
