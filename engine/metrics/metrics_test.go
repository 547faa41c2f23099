package metrics

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// textured is a smooth photo-like pattern (SSIM needs structure).
func textured(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := 128 + 60*math.Sin(float64(x)/7) + 50*math.Cos(float64(y)/5+float64(x)/13)
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(255 - v), uint8(v / 2), 255})
		}
	}
	return img
}

func addNoise(img *image.NRGBA, amp int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 2))
	out := image.NewNRGBA(img.Rect)
	copy(out.Pix, img.Pix)
	for i := range out.Pix {
		if i%4 == 3 || amp == 0 {
			continue
		}
		v := int(out.Pix[i]) + r.IntN(2*amp+1) - amp
		out.Pix[i] = uint8(max(0, min(255, v)))
	}
	return out
}

func TestPSNR(t *testing.T) {
	a := textured(32, 16)
	shifted := image.NewNRGBA(a.Rect)
	copy(shifted.Pix, a.Pix)
	for i := range shifted.Pix {
		if i%4 != 3 {
			shifted.Pix[i] ^= 0 // same
		}
	}
	// Known MSE: every R, G, B value off by exactly d.
	offBy := func(d uint8) *image.NRGBA {
		b := image.NewNRGBA(a.Rect)
		for i := range a.Pix {
			b.Pix[i] = a.Pix[i]
			if i%4 != 3 {
				if a.Pix[i] >= d {
					b.Pix[i] -= d
				} else {
					b.Pix[i] += d
				}
			}
		}
		return b
	}
	leftHalf := make([]bool, 32*16)
	for y := range 16 {
		for x := range 16 {
			leftHalf[y*32+x] = true
		}
	}
	rightDiff := offBy(0)
	for y := range 16 {
		for x := 16; x < 32; x++ {
			rightDiff.Pix[y*rightDiff.Stride+4*x] ^= 0xff
		}
	}
	tests := []struct {
		name   string
		b      *image.NRGBA
		region []bool
		want   float64
	}{
		{"identical", shifted, nil, math.Inf(1)},
		{"off by 1", offBy(1), nil, 10 * math.Log10(255*255)},
		{"off by 10 (MSE 100)", offBy(10), nil, 10 * math.Log10(255*255/100.0)},
		{"region excludes the differences", rightDiff, leftHalf, math.Inf(1)},
		{"size mismatch", textured(8, 8), nil, math.NaN()},
		{"empty region", offBy(1), make([]bool, 32*16), math.NaN()},
		{"region wrong length", offBy(1), make([]bool, 3), math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PSNR(a, tt.b, tt.region)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9 && got != tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSSIM(t *testing.T) {
	a := textured(64, 48)
	if got := SSIM(a, a, nil); got != 1 {
		t.Errorf("identical: %v, want 1", got)
	}
	prev := 1.0
	for _, amp := range []int{4, 16, 48, 96} {
		got := SSIM(a, addNoise(a, amp, 1), nil)
		if !(got < prev) {
			t.Errorf("noise %d: SSIM %v, not below %v", amp, got, prev)
		}
		prev = got
	}
	if prev > 0.5 {
		t.Errorf("heavy noise SSIM %v, want well below 1", prev)
	}
	// Symmetric.
	n := addNoise(a, 20, 3)
	if d := SSIM(a, n, nil) - SSIM(n, a, nil); math.Abs(d) > 1e-12 {
		t.Errorf("not symmetric: %v", d)
	}
	if !math.IsNaN(SSIM(textured(10, 10), textured(10, 10), nil)) {
		t.Error("10x10: want NaN")
	}
}

func TestMaskedSSIMAndCompare(t *testing.T) {
	const w, h = 64, 48
	a := textured(w, h)
	// Noise only in the left third.
	b := addNoise(a, 60, 5)
	for y := range h {
		for x := w / 3; x < w; x++ {
			copy(b.Pix[y*b.Stride+4*x:y*b.Stride+4*x+4], a.Pix[y*a.Stride+4*x:])
		}
	}
	edit := make([]bool, w*h)
	far := make([]bool, w*h) // more than a window away from the noise
	for y := range h {
		for x := range w {
			edit[y*w+x] = x < w/3
			far[y*w+x] = x >= w/3+half+1
		}
	}
	if got := SSIM(a, b, far); got != 1 {
		t.Errorf("region away from the noise: %v, want 1", got)
	}
	in := SSIM(a, b, edit)
	if !(in < 0.9) {
		t.Errorf("noisy region: %v, want < 0.9", in)
	}
	all := SSIM(a, b, nil)
	if !(in < all && all < 1) {
		t.Errorf("whole %v should lie between region %v and 1", all, in)
	}

	p := Compare(a, b, edit)
	if !math.IsInf(p.PSNROut, 1) || math.IsInf(p.PSNRIn, 0) || p.PSNRIn > 30 {
		t.Errorf("PSNR in/out = %v/%v", p.PSNRIn, p.PSNROut)
	}
	if !(p.SSIMIn < p.SSIMOut && p.SSIMOut < 1) {
		t.Errorf("SSIM in/out = %v/%v", p.SSIMIn, p.SSIMOut)
	}
	q := Compare(a, a, nil)
	if !math.IsNaN(q.PSNRIn) || !math.IsInf(q.PSNROut, 1) || q.SSIMOut != 1 {
		t.Errorf("nil mask: %+v", q)
	}
}

func BenchmarkSSIM512(b *testing.B) {
	x := textured(512, 512)
	y := addNoise(x, 10, 1)
	for b.Loop() {
		SSIM(x, y, nil)
	}
}
