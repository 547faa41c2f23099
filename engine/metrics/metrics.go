// Package metrics measures how well an edit preserved the photo: PSNR and
// SSIM, over the whole image or only inside/outside the editing mask.
//
// Invalid input (nil images, different sizes, a region of the wrong length
// or with no pixels) yields NaN rather than a panic; JSON callers must map
// NaN and +Inf themselves.
package metrics

import (
	"image"
	"math"
)

func sameSize(a, b *image.NRGBA) bool {
	return a != nil && b != nil && a.Rect.Dx() == b.Rect.Dx() && a.Rect.Dy() == b.Rect.Dy() && !a.Rect.Empty()
}

// PSNR is the peak signal-to-noise ratio in dB between a and b over the R,
// G and B channels of the pixels where region is true (nil = all). Identical
// pixels give +Inf.
func PSNR(a, b *image.NRGBA, region []bool) float64 {
	if !sameSize(a, b) {
		return math.NaN()
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	if region != nil && len(region) != w*h {
		return math.NaN()
	}
	var sum float64
	n := 0
	for y := range h {
		pa := a.Pix[y*a.Stride:]
		pb := b.Pix[y*b.Stride:]
		for x := range w {
			if region != nil && !region[y*w+x] {
				continue
			}
			for c := range 3 {
				d := float64(pa[4*x+c]) - float64(pb[4*x+c])
				sum += d * d
			}
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	if sum == 0 {
		return math.Inf(1)
	}
	mse := sum / float64(3*n)
	return 10 * math.Log10(255*255/mse)
}

// Window and constants of Wang et al. 2004: an 11x11 Gaussian, sigma 1.5,
// C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = 255.
const (
	win    = 11
	half   = win / 2
	sigma  = 1.5
	ssimC1 = (0.01 * 255) * (0.01 * 255)
	ssimC2 = (0.03 * 255) * (0.03 * 255)
)

var gauss = func() [win]float64 {
	var k [win]float64
	var s float64
	for i := range k {
		d := float64(i - half)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	return k
}()

// luma is BT.601 Y' in 0..255.
func luma(img *image.NRGBA) []float64 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]float64, w*h)
	for y := range h {
		p := img.Pix[y*img.Stride:]
		for x := range w {
			out[y*w+x] = 0.299*float64(p[4*x]) + 0.587*float64(p[4*x+1]) + 0.114*float64(p[4*x+2])
		}
	}
	return out
}

// filter returns the Gaussian-weighted mean of f over every full window
// ("valid" filtering): (w-10) x (h-10) values.
func filter(f []float64, w, h int) []float64 {
	ow, oh := w-2*half, h-2*half
	tmp := make([]float64, ow*h)
	for y := range h {
		row := f[y*w:]
		for x := range ow {
			var s float64
			for k, g := range gauss {
				s += g * row[x+k]
			}
			tmp[y*ow+x] = s
		}
	}
	out := make([]float64, ow*oh)
	for y := range oh {
		for x := range ow {
			var s float64
			for k, g := range gauss {
				s += g * tmp[(y+k)*ow+x]
			}
			out[y*ow+x] = s
		}
	}
	return out
}

// SSIM is the mean structural similarity (Wang et al. 2004) of the BT.601
// luma of a and b, with an 11x11 Gaussian window (sigma 1.5) at every
// position where it fits inside the image. With a region, only windows
// centred on region pixels are averaged. Identical images give 1. Images
// smaller than 11x11, or a region with no window centre in it, give NaN.
func SSIM(a, b *image.NRGBA, region []bool) float64 {
	if !sameSize(a, b) {
		return math.NaN()
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	if w < win || h < win || (region != nil && len(region) != w*h) {
		return math.NaN()
	}
	x, y := luma(a), luma(b)
	xx := make([]float64, w*h)
	yy := make([]float64, w*h)
	xy := make([]float64, w*h)
	for i := range x {
		xx[i] = x[i] * x[i]
		yy[i] = y[i] * y[i]
		xy[i] = x[i] * y[i]
	}
	mx, my := filter(x, w, h), filter(y, w, h)
	sxx, syy, sxy := filter(xx, w, h), filter(yy, w, h), filter(xy, w, h)
	ow := w - 2*half
	var sum float64
	n := 0
	for i := range mx {
		if region != nil {
			cx, cy := i%ow+half, i/ow+half
			if !region[cy*w+cx] {
				continue
			}
		}
		ux, uy := mx[i], my[i]
		vx, vy, cxy := sxx[i]-ux*ux, syy[i]-uy*uy, sxy[i]-ux*uy
		sum += ((2*ux*uy + ssimC1) * (2*cxy + ssimC2)) /
			((ux*ux + uy*uy + ssimC1) * (vx + vy + ssimC2))
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Preservation compares input and output inside and outside the mask.
type Preservation struct {
	PSNRIn, PSNROut, SSIMIn, SSIMOut float64
}

// Compare measures input against output inside the mask (where the edit
// was meant to happen) and outside it (where the photo should be
// preserved). mask is at image resolution. SSIM windows centred just
// outside the mask still see a few edited pixels, as with any windowed
// metric. Values for an empty side are NaN; a nil mask means nothing was
// meant to change.
func Compare(input, output *image.NRGBA, mask []bool) Preservation {
	if mask == nil && input != nil {
		mask = make([]bool, input.Rect.Dx()*input.Rect.Dy()) // nothing edited
	}
	inv := make([]bool, len(mask))
	for i, v := range mask {
		inv[i] = !v
	}
	return Preservation{
		PSNRIn:  PSNR(input, output, mask),
		PSNROut: PSNR(input, output, inv),
		SSIMIn:  SSIM(input, output, mask),
		SSIMOut: SSIM(input, output, inv),
	}
}
