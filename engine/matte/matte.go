// Package matte turns a coarse foreground matte into a sticker's cut-out:
// Refine takes a low-resolution alpha (a segmenter's, at its 128 px) to the
// picture's full resolution along the picture's own edges (a guided filter,
// He, Sun and Tang, "Guided Image Filtering", ECCV 2010), and Foreground
// estimates the colour of the foreground under semi-transparent edge pixels
// (blur fusion, Forte and Pitié, "Approximate Fast Foreground Colour
// Estimation", ICIP 2021), so that the old background does not show as a
// halo once the cut-out lies on something else.
package matte

import (
	"image"
	"math"

	"golang.org/x/image/draw"
)

// Refine returns coarse, upsampled to img's size, with its edges moved onto
// img's edges: a guided filter with img's luminance as the guide. Its
// radius is one and a half coarse pixels (at least 2 px): an edge of the
// upsampled matte is off by up to one coarse pixel, and the window must see
// both sides of the picture's edge to move it there. nil inputs give nil.
func Refine(img *image.NRGBA, coarse *image.Alpha) *image.Alpha {
	if img == nil || coarse == nil || img.Rect.Empty() || coarse.Rect.Empty() {
		return nil
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	up := image.NewAlpha(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(up, up.Rect, coarse, coarse.Rect, draw.Src, nil)
	n := w * h
	p := make([]float64, n)
	guide := make([]float64, n)
	for y := range h {
		for x := range w {
			i := y*w + x
			p[i] = float64(up.Pix[y*up.Stride+x]) / 255
			o := img.PixOffset(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			guide[i] = (0.299*float64(img.Pix[o]) + 0.587*float64(img.Pix[o+1]) + 0.114*float64(img.Pix[o+2])) / 255
		}
	}
	factor := float64(max(w, h)) / float64(max(coarse.Rect.Dx(), coarse.Rect.Dy()))
	r := max(2, int(math.Ceil(1.5*factor)))
	q := guidedFilter(guide, p, w, h, r, 1e-4)
	for i, v := range q {
		q[i] = math.Max(0, math.Min(1, (v-0.15)/0.7)) // the filter leaves faint tails either side of an edge
	}
	q = unmix(img, q, w, h, r)
	out := image.NewAlpha(up.Rect)
	for i, v := range q {
		out.Pix[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, v))))
	}
	return out
}

// unmix re-estimates alpha where it is unsure (between 0.02 and 0.98) from
// the colours: with F and B the foreground and background colours nearby
// (blur fusion on the current alpha), the observed I = αF + (1−α)B gives
// α = (I−B)·(F−B)/|F−B|². A blurry segmenter leaves a band of half
// alpha around thin shapes, a halo of the old background; on the flat and
// gradient backgrounds of most clip art and studio photos this puts that
// band back on the drawing's own edge. Where F and B look alike the
// colours say little, so the result is weighted by their contrast and the
// filtered alpha kept otherwise.
func unmix(img *image.NRGBA, a []float64, w, h, r int) []float64 {
	n := w * h
	I := [3][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
	for y := range h {
		for x := range w {
			o := img.PixOffset(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			for c := range 3 {
				I[c][y*w+x] = float64(img.Pix[o+c]) / 255
			}
		}
	}
	// F and B: means of the sure pixels nearby (the band's own colours
	// are mixed), close where there are some, wider where there are none.
	wf, wb := make([]float64, n), make([]float64, n)
	for i, v := range a {
		if v >= 0.98 {
			wf[i] = 1
		} else if v <= 0.02 {
			wb[i] = 1
		}
	}
	F, B := sureMean(I, wf, w, h, r), sureMean(I, wb, w, h, r)
	out := append([]float64(nil), a...)
	const tau = 0.15 * 0.15 // squared colour distance at which the colours get half the say
	for i, v := range a {
		if v <= 0.02 || v >= 0.98 {
			continue
		}
		var num, den float64
		for c := range 3 {
			d := F[c][i] - B[c][i]
			num += (I[c][i] - B[c][i]) * d
			den += d * d
		}
		if den < 1e-6 {
			continue
		}
		est := math.Max(0, math.Min(1, num/den))
		wgt := den / (den + tau)
		out[i] = wgt*est + (1-wgt)*v
	}
	return out
}

// guidedFilter is the grey-guide guided filter of p by I (both w x h, row
// major) with a (2r+1)² box and regulariser eps.
func guidedFilter(I, p []float64, w, h, r int, eps float64) []float64 {
	n := len(I)
	ip := make([]float64, n)
	ii := make([]float64, n)
	for i := range I {
		ip[i] = I[i] * p[i]
		ii[i] = I[i] * I[i]
	}
	mI, mp, mIp, mII := boxMean(I, w, h, r), boxMean(p, w, h, r), boxMean(ip, w, h, r), boxMean(ii, w, h, r)
	a := make([]float64, n)
	b := make([]float64, n)
	for i := range a {
		v := mII[i] - mI[i]*mI[i]
		a[i] = (mIp[i] - mI[i]*mp[i]) / (v + eps)
		b[i] = mp[i] - a[i]*mI[i]
	}
	ma, mb := boxMean(a, w, h, r), boxMean(b, w, h, r)
	q := make([]float64, n)
	for i := range q {
		q[i] = ma[i]*I[i] + mb[i]
	}
	return q
}

// boxMean is the mean of v over the (2r+1)² box around each pixel, the box
// clipped at the border (a summed-area table: O(1) per pixel).
func boxMean(v []float64, w, h, r int) []float64 {
	s := make([]float64, (w+1)*(h+1))
	for y := range h {
		row := 0.0
		for x := range w {
			row += v[y*w+x]
			s[(y+1)*(w+1)+x+1] = s[y*(w+1)+x+1] + row
		}
	}
	out := make([]float64, len(v))
	for y := range h {
		y0, y1 := max(0, y-r), min(h, y+r+1)
		for x := range w {
			x0, x1 := max(0, x-r), min(w, x+r+1)
			sum := s[y1*(w+1)+x1] - s[y0*(w+1)+x1] - s[y1*(w+1)+x0] + s[y0*(w+1)+x0]
			out[y*w+x] = sum / float64((y1-y0)*(x1-x0))
		}
	}
	return out
}

// Foreground returns img with alpha as its transparency and, where alpha is
// neither 0 nor 255, the colour the foreground most likely has there: the
// observed colour is I = αF + (1−α)B, and blur fusion estimates F and B from
// their blurred, alpha-weighted neighbourhoods, first widely (radius
// side/6), then closely (side/80). Fully opaque pixels keep img's colour.
// alpha must have img's size; otherwise nil.
func Foreground(img *image.NRGBA, alpha *image.Alpha) *image.NRGBA {
	if img == nil || alpha == nil || img.Rect.Dx() != alpha.Rect.Dx() || img.Rect.Dy() != alpha.Rect.Dy() || img.Rect.Empty() {
		return nil
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	n := w * h
	a := make([]float64, n)
	I := [3][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
	for y := range h {
		for x := range w {
			i := y*w + x
			a[i] = float64(alpha.Pix[y*alpha.Stride+x]) / 255
			o := img.PixOffset(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			for c := range 3 {
				I[c][i] = float64(img.Pix[o+c]) / 255
			}
		}
	}
	F := [3][]float64{append([]float64(nil), I[0]...), append([]float64(nil), I[1]...), append([]float64(nil), I[2]...)}
	B := [3][]float64{append([]float64(nil), I[0]...), append([]float64(nil), I[1]...), append([]float64(nil), I[2]...)}
	side := max(w, h)
	for _, r := range []int{max(3, side/6), max(1, side/80)} {
		F, B = blurFusion(I, F, B, a, w, h, r)
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range n {
		o := 4 * i
		out.Pix[o+3] = alpha.Pix[(i/w)*alpha.Stride+i%w]
		for c := range 3 {
			v := I[c][i]
			if a[i] < 1 {
				v = F[c][i]
			}
			out.Pix[o+c] = uint8(math.Round(255 * math.Max(0, math.Min(1, v))))
		}
	}
	return out
}

// sureMean is, per pixel, the mean colour of the pixels with weight 1
// within 2r, else within 8r, else the image's mean of them.
func sureMean(I [3][]float64, wt []float64, w, h, r int) [3][]float64 {
	var out [3][]float64
	near, far := boxMean(wt, w, h, 2*r), boxMean(wt, w, h, 8*r)
	var total float64
	for _, v := range wt {
		total += v
	}
	for c := range 3 {
		v := make([]float64, len(wt))
		var all float64
		for i := range v {
			v[i] = I[c][i] * wt[i]
			all += v[i]
		}
		mn, mf := boxMean(v, w, h, 2*r), boxMean(v, w, h, 8*r)
		out[c] = make([]float64, len(wt))
		for i := range v {
			switch {
			case near[i] > 1e-6:
				out[c][i] = mn[i] / near[i]
			case far[i] > 1e-6:
				out[c][i] = mf[i] / far[i]
			case total > 0:
				out[c][i] = all / total
			}
		}
	}
	return out
}

func blurFusion(I, F, B [3][]float64, a []float64, w, h, r int) (nf, nb [3][]float64) {
	n := len(a)
	na := make([]float64, n)
	for i, v := range a {
		na[i] = 1 - v
	}
	ba, bna := boxMean(a, w, h, r), boxMean(na, w, h, r)
	for c := range 3 {
		fa := make([]float64, n)
		bb := make([]float64, n)
		for i := range fa {
			fa[i] = F[c][i] * a[i]
			bb[i] = B[c][i] * na[i]
		}
		mf, mb := boxMean(fa, w, h, r), boxMean(bb, w, h, r)
		nf[c], nb[c] = make([]float64, n), make([]float64, n)
		for i := range n {
			fh := mf[i] / (ba[i] + 1e-5)
			bh := mb[i] / (bna[i] + 1e-5)
			d := I[c][i] - a[i]*fh - (1-a[i])*bh
			nf[c][i] = math.Max(0, math.Min(1, fh+a[i]*d))
			nb[c][i] = math.Max(0, math.Min(1, bh+(1-a[i])*d))
		}
	}
	return nf, nb
}

// IoU is the intersection over union of two mattes thresholded at half,
// at a's size (b is resampled when it differs); 1 when both are empty.
func IoU(a, b *image.Alpha) float64 {
	b = ResizeTo(b, a.Rect.Dx(), a.Rect.Dy())
	var inter, union int
	for y := range a.Rect.Dy() {
		for x := range a.Rect.Dx() {
			pa := a.Pix[y*a.Stride+x] >= 128
			pb := b.Pix[y*b.Stride+x] >= 128
			if pa && pb {
				inter++
			}
			if pa || pb {
				union++
			}
		}
	}
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// Leak is the share of b's alpha mass that lies where the true matte a is
// clear (below an eighth): how much of the old background a cut-out keeps,
// its halo. b is resampled to a's size when it differs.
func Leak(truth, got *image.Alpha) float64 {
	got = ResizeTo(got, truth.Rect.Dx(), truth.Rect.Dy())
	var out, all float64
	for y := range truth.Rect.Dy() {
		for x := range truth.Rect.Dx() {
			g := float64(got.Pix[y*got.Stride+x])
			all += g
			if truth.Pix[y*truth.Stride+x] < 32 {
				out += g
			}
		}
	}
	if all == 0 {
		return 0
	}
	return out / all
}

// ResizeTo is a resampled to w x h (bilinear), or a itself at that size.
func ResizeTo(a *image.Alpha, w, h int) *image.Alpha {
	if a.Rect.Dx() == w && a.Rect.Dy() == h {
		return a
	}
	s := image.NewAlpha(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(s, s.Rect, a, a.Rect, draw.Src, nil)
	return s
}
