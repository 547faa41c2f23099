package compose

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"
)

func noise(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.UintN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// disc is a latent mask with a filled circle.
func disc(n int, cx, cy, r float64) []bool {
	m := make([]bool, n*n)
	for y := range n {
		for x := range n {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			m[y*n+x] = dx*dx+dy*dy <= r*r
		}
	}
	return m
}

func TestUpsampleMask(t *testing.T) {
	t.Run("64 to 512 gives 8x8 blocks", func(t *testing.T) {
		m := disc(64, 30, 34, 17)
		up := UpsampleMask(m, 64, 64, 512, 512)
		if len(up) != 512*512 {
			t.Fatalf("len %d", len(up))
		}
		for y := range 512 {
			for x := range 512 {
				if up[y*512+x] != m[(y/8)*64+x/8] {
					t.Fatalf("pixel (%d,%d) = %v, cell (%d,%d) = %v", x, y, up[y*512+x], x/8, y/8, m[(y/8)*64+x/8])
				}
			}
		}
	})
	tests := []struct {
		name         string
		mw, mh, w, h int
		wantCountsX  []int // pixels per latent column (single row of cells set)
	}{
		{"3 to 10", 3, 1, 10, 1, []int{3, 4, 3}},
		{"2 to 5", 2, 1, 5, 1, []int{2, 3}},
		{"4 to 2 (downsample)", 4, 1, 2, 1, []int{0, 1, 0, 1}},
		{"1 to 7", 1, 1, 7, 1, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for c := range tt.mw {
				m := make([]bool, tt.mw*tt.mh)
				m[c] = true
				up := UpsampleMask(m, tt.mw, tt.mh, tt.w, tt.h)
				n := 0
				for _, v := range up {
					if v {
						n++
					}
				}
				if n != tt.wantCountsX[c] {
					t.Errorf("cell %d covers %d pixels, want %d", c, n, tt.wantCountsX[c])
				}
			}
		})
	}
	t.Run("odd 2D size keeps the shape", func(t *testing.T) {
		m := []bool{true, false, false, true} // 2x2 diagonal
		up := UpsampleMask(m, 2, 2, 5, 3)
		want := "TTFFF" + "FFTTT" + "FFTTT" // rows 0: cell row 0; rows 1-2: cell row 1
		for i, v := range up {
			if v != (want[i] == 'T') {
				t.Fatalf("got %v", up)
			}
		}
	})
	bad := []struct {
		name            string
		n, mw, mh, w, h int
	}{
		{"length mismatch", 5, 2, 2, 4, 4},
		{"zero target", 4, 2, 2, 0, 4},
		{"negative", 4, -2, -2, 4, 4},
	}
	for _, tt := range bad {
		if got := UpsampleMask(make([]bool, tt.n), tt.mw, tt.mh, tt.w, tt.h); got != nil {
			t.Errorf("%s: got %d values, want nil", tt.name, len(got))
		}
	}
}

func TestFeather(t *testing.T) {
	const w, h = 96, 80
	square := make([]bool, w*h)
	for y := 10; y < 70; y++ {
		for x := 20; x < 90; x++ {
			square[y*w+x] = true
		}
	}
	full := make([]bool, w*h)
	for i := range full {
		full[i] = true
	}
	tests := []struct {
		name   string
		mask   []bool
		radius int
		deep   image.Point // a pixel at least radius inside the mask
	}{
		{"hard", square, 0, image.Pt(20, 10)},
		{"radius 1", square, 1, image.Pt(21, 11)},
		{"radius 8", square, 8, image.Pt(28, 18)},
		{"radius 7", square, 7, image.Pt(27, 17)},
		{"disc radius 6", UpsampleMask(disc(12, 6, 5, 4), 12, 12, w, h), 6, image.Pt(48, 40)},
		{"whole image fades at border", full, 4, image.Pt(4, 4)},
		{"radius larger than mask", square, 200, image.Pt(-1, -1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Feather(tt.mask, w, h, tt.radius)
			if len(f) != w*h {
				t.Fatalf("len %d", len(f))
			}
			for i, v := range f {
				if !tt.mask[i] && v != 0 {
					t.Fatalf("weight %v outside the mask at %d", v, i)
				}
				if v < 0 || v > 1 {
					t.Fatalf("weight %v out of range", v)
				}
			}
			if tt.deep.X >= 0 {
				if v := f[tt.deep.Y*w+tt.deep.X]; v != 1 {
					t.Errorf("weight %v at %v, want exactly 1", v, tt.deep)
				}
			}
			// Along the middle row the ramp rises monotonically from the
			// left edge to the centre.
			y := tt.deep.Y
			if y < 0 {
				y = h / 2
			}
			for x := 1; x <= w/2; x++ {
				if f[y*w+x] < f[y*w+x-1] {
					t.Fatalf("ramp not monotone at x=%d: %v < %v", x, f[y*w+x], f[y*w+x-1])
				}
			}
		})
	}
	t.Run("ramp width", func(t *testing.T) {
		f := Feather(square, w, h, 8)
		row := f[40*w:]
		if row[20] == 0 || row[20] >= 0.5 {
			t.Errorf("edge pixel weight %v, want small but non-zero", row[20])
		}
		if row[27] >= 1 || row[28] != 1 {
			t.Errorf("weights at 7 and 8 px inside = %v, %v; want <1 and 1", row[27], row[28])
		}
	})
	if Feather(square, w, h+1, 3) != nil {
		t.Error("size mismatch: want nil")
	}
}

func TestBorderFeather(t *testing.T) {
	const w, h, r = 40, 30, 6
	f := BorderFeather(w, h, r)
	tests := []struct {
		x, y int
		want float32
	}{
		{0, 15, 0}, {39, 15, 0}, {20, 0, 0}, {20, 29, 0},
		{3, 15, 0.5}, {20, 26, 0.5},
		{6, 6, 1}, {20, 15, 1}, {33, 23, 1},
	}
	for _, tt := range tests {
		if got := f[tt.y*w+tt.x]; got != tt.want {
			t.Errorf("(%d,%d) = %v, want %v", tt.x, tt.y, got, tt.want)
		}
	}
	for _, v := range BorderFeather(5, 5, 0) {
		if v != 1 {
			t.Fatalf("radius 0: %v, want 1", v)
		}
	}
}

func TestBlend(t *testing.T) {
	base := noise(16, 9, 1)
	base.Pix[3] = 100 // a translucent pixel
	over := noise(16, 9, 2)
	fill := func(v float32) []float32 {
		a := make([]float32, 16*9)
		for i := range a {
			a[i] = v
		}
		return a
	}
	t.Run("alpha 0 is bit-identical base", func(t *testing.T) {
		got := Blend(base, over, fill(0))
		if string(got.Pix) != string(base.Pix) {
			t.Error("pixels differ")
		}
	})
	t.Run("alpha 1 is bit-identical over", func(t *testing.T) {
		got := Blend(base, over, fill(1))
		if string(got.Pix) != string(over.Pix) {
			t.Error("pixels differ")
		}
	})
	t.Run("half mixes", func(t *testing.T) {
		b := solid(2, 1, color.NRGBA{0, 100, 200, 255})
		o := solid(2, 1, color.NRGBA{100, 100, 0, 255})
		got := Blend(b, o, []float32{0.5, 0.25}).Pix
		want := []uint8{50, 100, 100, 255, 25, 100, 150, 255}
		if string(got) != string(want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("transparent over does not bleed colour", func(t *testing.T) {
		b := solid(1, 1, color.NRGBA{200, 0, 0, 255})
		o := solid(1, 1, color.NRGBA{0, 255, 0, 0})
		got := Blend(b, o, []float32{0.5}).Pix
		if got[0] != 200 || got[1] != 0 || got[3] != 128 {
			t.Errorf("got %v, want red at half alpha", got)
		}
	})
	t.Run("sub-image input", func(t *testing.T) {
		big := noise(40, 40, 3)
		sub := big.SubImage(image.Rect(5, 7, 21, 16)).(*image.NRGBA)
		got := Blend(sub, over, fill(0))
		if got.Rect != sub.Rect || got.NRGBAAt(5, 7) != big.NRGBAAt(5, 7) || got.NRGBAAt(20, 15) != big.NRGBAAt(20, 15) {
			t.Error("sub-image not handled")
		}
	})
	t.Run("mismatch returns copy of base", func(t *testing.T) {
		got := Blend(base, noise(3, 3, 1), fill(1))
		if string(got.Pix) != string(base.Pix) || &got.Pix[0] == &base.Pix[0] {
			t.Error("want an unmodified copy")
		}
		if Blend(nil, over, nil) != nil {
			t.Error("nil base")
		}
	})
}

func TestIntoFull(t *testing.T) {
	original := noise(300, 200, 7)
	crop := image.Rect(90, 30, 250, 190) // 160x160
	edited := noise(64, 64, 8)
	latent := disc(8, 4, 4, 2.5)
	px := UpsampleMask(latent, 8, 8, crop.Dx(), crop.Dy())
	weights := Feather(px, crop.Dx(), crop.Dy(), 6)
	got := IntoFull(original, crop, edited, weights)
	if got.Rect != original.Rect {
		t.Fatalf("bounds %v", got.Rect)
	}
	changed := 0
	for y := range 200 {
		for x := range 300 {
			p := image.Pt(x, y)
			same := got.NRGBAAt(x, y) == original.NRGBAAt(x, y)
			switch {
			case !p.In(crop):
				if !same {
					t.Fatalf("pixel %v outside the crop changed", p)
				}
			case !px[(y-crop.Min.Y)*crop.Dx()+x-crop.Min.X]:
				if !same {
					t.Fatalf("pixel %v inside the crop but outside the mask changed", p)
				}
			default:
				if !same {
					changed++
				}
			}
		}
	}
	if changed < 1000 {
		t.Errorf("only %d masked pixels changed", changed)
	}
	// Deep inside the mask the pixel is the resized edit: a constant edit
	// must come through exactly.
	flat := IntoFull(original, crop, solid(64, 64, color.NRGBA{10, 20, 30, 255}), weights)
	if c := flat.NRGBAAt(170, 110); c != (color.NRGBA{10, 20, 30, 255}) {
		t.Errorf("centre = %v", c)
	}
	for _, tt := range []struct {
		name    string
		crop    image.Rectangle
		weights []float32
	}{
		{"crop outside photo", image.Rect(250, 100, 410, 260), weights},
		{"weights wrong size", crop, weights[1:]},
		{"empty crop", image.Rectangle{}, nil},
	} {
		got := IntoFull(original, tt.crop, edited, tt.weights)
		if string(got.Pix) != string(original.Pix) {
			t.Errorf("%s: want unmodified copy", tt.name)
		}
	}
}

func TestOverlayAndMaskImages(t *testing.T) {
	img := solid(16, 16, color.NRGBA{0, 0, 0, 255})
	mask := []bool{true, false, false, false} // top-left quarter
	got := Overlay(img, mask, 2, 2, color.NRGBA{255, 0, 0, 255}, 0.5)
	if c := got.NRGBAAt(3, 3); c != (color.NRGBA{128, 0, 0, 255}) {
		t.Errorf("masked pixel %v", c)
	}
	if c := got.NRGBAAt(12, 3); c != (color.NRGBA{0, 0, 0, 255}) {
		t.Errorf("unmasked pixel %v", c)
	}
	if img.NRGBAAt(3, 3) != (color.NRGBA{0, 0, 0, 255}) {
		t.Error("input modified")
	}

	mi := MaskImage(mask, 2, 2, 0, 0)
	if mi.Rect.Dx() != 2 || mi.Pix[0] != 255 || mi.Pix[1] != 0 {
		t.Errorf("native mask image %v", mi.Pix)
	}
	mi = MaskImage(mask, 2, 2, 8, 8)
	if mi.GrayAt(3, 3).Y != 255 || mi.GrayAt(4, 3).Y != 0 {
		t.Error("scaled mask image")
	}

	soft := SoftMapImage([]float32{0, 0.5, 1, 2}, 2, 2, 4, 4)
	for _, tt := range []struct {
		x, y int
		want uint8
	}{{0, 0, 0}, {3, 0, 128}, {0, 3, 255}, {3, 3, 255}} {
		if g := soft.GrayAt(tt.x, tt.y).Y; g != tt.want {
			t.Errorf("soft (%d,%d) = %d, want %d", tt.x, tt.y, g, tt.want)
		}
	}
	if SoftMapImage([]float32{1}, 2, 2, 4, 4) != nil || MaskImage(nil, 2, 2, 4, 4) != nil {
		t.Error("size mismatch: want nil")
	}
}

// BenchmarkIntoFull24MP is the full-resolution blend-back of an edit into a
// 24 MP photo (a 3600x3600 face crop): "imaging" is IntoFull as it is;
// "xdraw" is the x/image/draw Catmull-Rom version it replaced, kept here to
// measure against.
func BenchmarkIntoFull24MP(b *testing.B) {
	original := noise(6000, 4000, 1)
	crop := image.Rect(1000, 200, 4600, 3800)
	edited := noise(512, 512, 2)
	px := UpsampleMask(disc(64, 32, 30, 20), 64, 64, crop.Dx(), crop.Dy())
	weights := Feather(px, crop.Dx(), crop.Dy(), 24)
	for _, impl := range []struct {
		name string
		fn   func(*image.NRGBA, image.Rectangle, *image.NRGBA, []float32) *image.NRGBA
	}{{"imaging", IntoFull}, {"xdraw", intoFullXDraw}} {
		b.Run(impl.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				impl.fn(original, crop, edited, weights)
			}
			// CPU time (all cores) per blend-back: what a busy machine
			// distorts least; ns/op is wall time.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// intoFullXDraw is IntoFull before it used imaging: x/image/draw's
// Catmull-Rom into RGBA (its fast NRGBA->RGBA path), then unpremultiplied.
func intoFullXDraw(original *image.NRGBA, crop image.Rectangle, edited *image.NRGBA, weights []float32) *image.NRGBA {
	out := clone(original)
	cw, ch := crop.Dx(), crop.Dy()
	scaled := image.NewRGBA(image.Rect(0, 0, cw, ch))
	xdraw.CatmullRom.Scale(scaled, scaled.Rect, edited, edited.Rect, xdraw.Src, nil)
	row := make([]uint8, 4*cw)
	for y := range ch {
		wrow := weights[y*cw : (y+1)*cw]
		if allZero(wrow) {
			continue
		}
		unpremultiply(row, scaled.Pix[y*scaled.Stride:y*scaled.Stride+4*cw])
		o := out.PixOffset(crop.Min.X, crop.Min.Y+y)
		blendRow(out.Pix[o:o+4*cw], row, wrow)
	}
	return out
}

// TestIntoFullMatchesXDraw: imaging's Catmull-Rom gives the blend-back
// x/image/draw gave, to within rounding.
func TestIntoFullMatchesXDraw(t *testing.T) {
	original := noise(300, 200, 1)
	crop := image.Rect(40, 20, 220, 200)
	edited := noise(64, 64, 2)
	for i := 3; i < len(edited.Pix); i += 16 {
		edited.Pix[i] = uint8(i) // some transparency
	}
	weights := Feather(UpsampleMask(disc(8, 4, 4, 3), 8, 8, crop.Dx(), crop.Dy()), crop.Dx(), crop.Dy(), 6)
	got, want := IntoFull(original, crop, edited, weights), intoFullXDraw(original, crop, edited, weights)
	var sum, n float64
	worst := 0
	for i := range got.Pix {
		d := int(got.Pix[i]) - int(want.Pix[i])
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
		sum += float64(d)
		n++
	}
	// Noise is the worst case for a resampler's rounding; photos differ less.
	if mean := sum / n; mean > 1 || worst > 48 {
		t.Errorf("imaging vs x/image/draw: mean abs diff %.3f, worst %d", mean, worst)
	}
}

func BenchmarkFeather3600(b *testing.B) {
	px := UpsampleMask(disc(64, 32, 30, 20), 64, 64, 3600, 3600)
	for b.Loop() {
		Feather(px, 3600, 3600, 24)
	}
}
