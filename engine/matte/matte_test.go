package matte

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// disc is a soft-edged disc matte: 255 inside radius r of (cx, cy), 0
// outside r+1, linear between.
func disc(w, h int, cx, cy, r float64) *image.Alpha {
	a := image.NewAlpha(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			d := math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy)
			a.Pix[y*a.Stride+x] = uint8(math.Round(255 * math.Max(0, math.Min(1, r+1-d))))
		}
	}
	return a
}

// over composites fg colour through alpha onto bg colour.
func over(alpha *image.Alpha, fg, bg [3]float64) *image.NRGBA {
	img := image.NewNRGBA(alpha.Rect)
	for i, av := range alpha.Pix {
		a := float64(av) / 255
		for c := range 3 {
			img.Pix[4*i+c] = uint8(math.Round(a*fg[c] + (1-a)*bg[c]))
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

func meanAbsDiff(a, b *image.Alpha) float64 {
	var s float64
	for i := range a.Pix {
		s += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
	}
	return s / float64(len(a.Pix)) / 255
}

func TestRefineFollowsThePicturesEdges(t *testing.T) {
	red, teal := [3]float64{220, 30, 40}, [3]float64{20, 160, 150}
	for _, tc := range []struct {
		name       string
		size, low  int
		cx, cy, r  float64
		minIoU     float64
		maxMeanErr float64
	}{
		{"centred disc, 8x upsample", 256, 32, 128, 128, 70, 0.99, 0.004},
		{"off-centre disc, 4x upsample", 200, 50, 80, 120, 45, 0.99, 0.004},
		{"larger picture, 5x upsample", 300, 60, 150, 150, 60, 0.99, 0.004},
		// A segmenter this coarse blurs the edge over several of its pixels:
		// the colours must put it back (unmix).
		{"coarse 16 px matte, 16x upsample", 256, 16, 128, 128, 60, 0.98, 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			truth := disc(tc.size, tc.size, tc.cx, tc.cy, tc.r)
			img := over(truth, red, teal)
			// The coarse matte a segmenter gives: the truth at low resolution,
			// edges cut hard (nearest neighbour).
			coarse := image.NewAlpha(image.Rect(0, 0, tc.low, tc.low))
			draw.NearestNeighbor.Scale(coarse, coarse.Rect, truth, truth.Rect, draw.Src, nil)
			plain := image.NewAlpha(truth.Rect)
			draw.BiLinear.Scale(plain, plain.Rect, coarse, coarse.Rect, draw.Src, nil)

			got := Refine(img, coarse)
			if got.Rect != truth.Rect {
				t.Fatalf("refined matte is %v, want the picture's %v", got.Rect, truth.Rect)
			}
			iou := IoU(truth, got)
			errRefined, errPlain := meanAbsDiff(truth, got), meanAbsDiff(truth, plain)
			t.Logf("IoU %.4f, mean error %.4f (bilinear: IoU %.4f, %.4f)", iou, errRefined, IoU(truth, plain), errPlain)
			if iou < tc.minIoU || errRefined > tc.maxMeanErr {
				t.Errorf("refined: IoU %.4f (want >= %.2f), mean error %.4f (want <= %.3f)", iou, tc.minIoU, errRefined, tc.maxMeanErr)
			}
			if errRefined >= errPlain {
				t.Errorf("refining did not help: mean error %.4f, plain bilinear upsampling %.4f", errRefined, errPlain)
			}
		})
	}
}

func TestForegroundRemovesTheOldBackground(t *testing.T) {
	red, green := [3]float64{230, 40, 30}, [3]float64{30, 200, 40}
	// A wide soft edge, so many pixels mix the two colours.
	alpha := image.NewAlpha(image.Rect(0, 0, 160, 160))
	for y := range 160 {
		for x := range 160 {
			d := math.Hypot(float64(x)-80, float64(y)-80)
			alpha.Pix[y*160+x] = uint8(math.Round(255 * math.Max(0, math.Min(1, (50-d)/10))))
		}
	}
	img := over(alpha, red, green)
	got := Foreground(img, alpha)
	if got == nil {
		t.Fatal("Foreground returned nil")
	}
	var before, after float64
	var n int
	for i, av := range alpha.Pix {
		if av == 0 || av == 255 {
			if got.Pix[4*i+3] != av {
				t.Fatalf("pixel %d: alpha %d, want the matte's %d", i, got.Pix[4*i+3], av)
			}
			continue
		}
		if av < 25 { // F is barely observable where almost nothing of it shows
			continue
		}
		n++
		for c := range 3 {
			before += math.Abs(float64(img.Pix[4*i+c]) - red[c])
			after += math.Abs(float64(got.Pix[4*i+c]) - red[c])
		}
	}
	before, after = before/float64(3*n), after/float64(3*n)
	if after > before/4 {
		t.Errorf("edge pixels are %.1f levels from the foreground colour after estimation, %.1f before; want a quarter or less", after, before)
	}
	if Foreground(img, image.NewAlpha(image.Rect(0, 0, 10, 10))) != nil {
		t.Error("Foreground with a matte of another size did not return nil")
	}
}

func TestIoUAndLeak(t *testing.T) {
	full := disc(64, 64, 32, 32, 20)
	empty := image.NewAlpha(full.Rect)
	bigger := disc(64, 64, 32, 32, 26)
	for _, tc := range []struct {
		name      string
		a, b      *image.Alpha
		iou, leak float64
	}{
		{"same", full, full, 1, 0},
		{"both empty", empty, empty, 1, 0},
		{"nothing found", full, empty, 0, 0},
		// areas ~ r²: 20²/26² = 0.59; the ring outside the truth is leak
		{"too big", full, bigger, 400.0 / 676, 1 - 441.0/729},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IoU(tc.a, tc.b); math.Abs(got-tc.iou) > 0.03 {
				t.Errorf("IoU = %.3f, want %.3f", got, tc.iou)
			}
			if got := Leak(tc.a, tc.b); math.Abs(got-tc.leak) > 0.04 {
				t.Errorf("Leak = %.3f, want %.3f", got, tc.leak)
			}
		})
	}
	// A matte at another size is resampled, not refused.
	small := image.NewAlpha(image.Rect(0, 0, 32, 32))
	draw.BiLinear.Scale(small, small.Rect, full, full.Rect, draw.Src, nil)
	if got := IoU(full, small); got < 0.9 {
		t.Errorf("IoU against a half-size copy = %.3f, want >= 0.9", got)
	}
}

// TestGrabCutFindsTheShape: a noisy reddish figure on a noisy blue-green
// background, only a rough trimap given (the border sure background, a
// small core sure foreground, a generous box probably foreground): the
// cut must find the figure's outline.
func TestGrabCutFindsTheShape(t *testing.T) {
	const n = 240
	rng := rand.New(rand.NewPCG(3, 4))
	truth := image.NewAlpha(image.Rect(0, 0, n, n))
	img := image.NewNRGBA(truth.Rect)
	tri := make([]uint8, n*n)
	for y := range n {
		for x := range n {
			in := math.Hypot(float64(x)-120, float64(y)-95) < 50 || (y > 140 && x > 60 && x < 180)
			o := img.PixOffset(x, y)
			nz := func(c, s int) uint8 { return uint8(max(0, min(255, c+rng.IntN(2*s+1)-s))) }
			if in {
				truth.Pix[y*n+x] = 255
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = nz(190, 40), nz(90, 30), nz(70, 30)
			} else {
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = nz(60, 40), nz(140, 40), nz(160, 40)
			}
			img.Pix[o+3] = 255
			switch {
			case x < 10 || y < 10 || x >= n-10:
				tri[y*n+x] = SureBackground
			case math.Hypot(float64(x)-120, float64(y)-100) < 20:
				tri[y*n+x] = SureForeground
			case x > 40 && x < 200 && y > 30:
				tri[y*n+x] = ProbablyForeground
			default:
				tri[y*n+x] = ProbablyBackground
			}
		}
	}
	got := GrabCut(img, tri, 4)
	if got == nil || got.Rect != truth.Rect {
		t.Fatalf("GrabCut returned %v", got)
	}
	iou := IoU(truth, got)
	t.Logf("IoU %.4f", iou)
	if iou < 0.95 {
		t.Errorf("IoU %.3f, want >= 0.95", iou)
	}
	if GrabCut(img, tri[:10], 1) != nil {
		t.Error("GrabCut with a trimap of the wrong size did not return nil")
	}
}
