package photo

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"
)

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func checkConst(t *testing.T, name string, x []float32, n int, want [3]float32, tol float64) {
	t.Helper()
	if len(x) != 3*n {
		t.Fatalf("%s: len %d, want %d", name, len(x), 3*n)
	}
	for c := 0; c < 3; c++ {
		for i := c * n; i < (c+1)*n; i++ {
			if math.Abs(float64(x[i]-want[c])) > tol {
				t.Fatalf("%s: channel %d index %d = %v, want %v", name, c, i-c*n, x[i], want[c])
			}
		}
	}
}

func TestModelInputSolid(t *testing.T) {
	tests := []struct {
		name string
		c    color.NRGBA
		want [3]float32
	}{
		{"black", color.NRGBA{0, 0, 0, 255}, [3]float32{-1, -1, -1}},
		{"white", color.NRGBA{255, 255, 255, 255}, [3]float32{1, 1, 1}},
		{"mixed", color.NRGBA{255, 0, 51, 255}, [3]float32{1, -1, 51/127.5 - 1}},
		{"transparent is white", color.NRGBA{0, 0, 0, 0}, [3]float32{1, 1, 1}},
		{"half alpha black", color.NRGBA{0, 0, 0, 128}, [3]float32{127/127.5 - 1, 127/127.5 - 1, 127/127.5 - 1}},
	}
	for _, tt := range tests {
		img := solid(40, 30, tt.c)
		checkConst(t, tt.name, ModelInput(img, img.Rect, 16), 16*16, tt.want, 1e-5)
	}
}

func TestCLIPInputSolid(t *testing.T) {
	c := color.NRGBA{200, 100, 50, 255}
	img := solid(300, 500, c)
	var want [3]float32
	for i, v := range []uint8{c.R, c.G, c.B} {
		want[i] = (float32(v)/255 - clipMean[i]) / clipStd[i]
	}
	checkConst(t, "clip", CLIPInput(img, img.Rect), 224*224, want, 1e-5)
	// An upscaled, wide crop takes the same path.
	checkConst(t, "clip wide", CLIPInput(img, image.Rect(10, 10, 110, 60)), 224*224, want, 1e-5)
}

func TestCLIPInputCentreCrop(t *testing.T) {
	// A wide image: left and right thirds black, middle white. After the
	// short side becomes 224 and a centre crop, only white remains.
	img := solid(672, 224, color.NRGBA{0, 0, 0, 255})
	for y := 0; y < 224; y++ {
		for x := 224; x < 448; x++ {
			img.SetNRGBA(x, y, color.NRGBA{255, 255, 255, 255})
		}
	}
	x := CLIPInput(img, img.Rect)
	var want [3]float32
	for i := range want {
		want[i] = (1 - clipMean[i]) / clipStd[i]
	}
	checkConst(t, "centre", x, 224*224, want, 1e-5)
}

func TestModelInputCrop(t *testing.T) {
	img := solid(64, 32, color.NRGBA{0, 0, 255, 255})
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			img.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	checkConst(t, "left", ModelInput(img, image.Rect(0, 0, 32, 32), 24), 24*24, [3]float32{1, -1, -1}, 1e-5)
	checkConst(t, "right", ModelInput(img, image.Rect(32, 0, 64, 32), 24), 24*24, [3]float32{-1, -1, 1}, 1e-5)
	// A crop outside the image falls back to the whole image instead of panicking.
	if x := ModelInput(img, image.Rect(100, 100, 120, 120), 8); len(x) != 3*8*8 {
		t.Errorf("len %d", len(x))
	}
}

func TestCenterSquare(t *testing.T) {
	tests := []struct{ in, want image.Rectangle }{
		{image.Rect(0, 0, 100, 300), image.Rect(0, 100, 100, 200)},
		{image.Rect(0, 0, 301, 100), image.Rect(100, 0, 200, 100)},
		{image.Rect(10, 20, 60, 70), image.Rect(10, 20, 60, 70)},
		{image.Rect(0, 0, 0, 10), image.Rectangle{}},
	}
	for _, tt := range tests {
		if got := CenterSquare(tt.in); got != tt.want {
			t.Errorf("CenterSquare(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPortraitSquare(t *testing.T) {
	tests := []struct{ in, want image.Rectangle }{
		{image.Rect(0, 0, 100, 300), image.Rect(0, 10, 100, 110)},   // tall: near the top
		{image.Rect(0, 0, 970, 2204), image.Rect(0, 61, 970, 1031)}, // the tall test portrait
		{image.Rect(5, 7, 105, 107), image.Rect(5, 7, 105, 107)},    // square: all of it
		{image.Rect(0, 0, 301, 100), image.Rect(100, 0, 200, 100)},  // landscape: centred
		{image.Rect(10, 20, 60, 90), image.Rect(10, 21, 60, 71)},    // offset bounds
		{image.Rect(0, 0, 0, 10), image.Rectangle{}},
	}
	for _, tt := range tests {
		if got := PortraitSquare(tt.in); got != tt.want {
			t.Errorf("PortraitSquare(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestPortraitSquareFramesTheHead: on the 970x2204 head-and-torso portrait
// the default square holds the head (hair at y≈96, chin at y≈540) and
// is horizontally centred; the centred square framed the crossed arms.
func TestPortraitSquareFramesTheHead(t *testing.T) {
	p, err := Load(filepath.Join(testImagesDir(t), "portrait_biden_970x2204.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	head := image.Rect(380, 90, 760, 560)
	c := PortraitSquare(p.Image.Rect)
	if !head.In(c) || c.Dx() != c.Dy() || c.Dx() != 970 {
		t.Errorf("default crop %v does not frame the head %v", c, head)
	}
}

func TestValidateCrop(t *testing.T) {
	b := image.Rect(0, 0, 100, 80)
	tests := []struct {
		r         image.Rectangle
		ok, wrong bool // ok: nil error; wrong: ErrNotSquare only
	}{
		{image.Rect(0, 0, 80, 80), true, false},
		{image.Rect(10, 10, 60, 40), false, true},
		{image.Rect(50, 0, 130, 80), false, false},
		{image.Rect(5, 5, 5, 5), false, false},
		{image.Rect(-1, 0, 79, 80), false, false},
	}
	for _, tt := range tests {
		err := ValidateCrop(tt.r, b)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateCrop(%v) = %v", tt.r, err)
		}
		if isNS := err != nil && errors.Is(err, ErrNotSquare); isNS != tt.wrong {
			t.Errorf("ValidateCrop(%v) = %v, ErrNotSquare %v", tt.r, err, isNS)
		}
	}
}

func TestTensorRoundTrip(t *testing.T) {
	dir, _ := readManifest(t)
	p, err := Load(dir + "/tricky_hopper.bmp")
	if err != nil {
		t.Fatal(err)
	}
	x := ModelInput(p.Image, p.Image.Rect, 128) // same size: only resampling noise
	back := TensorToImage(x, 128, 128)
	var sum float64
	for i := 0; i < len(back.Pix); i++ {
		if i%4 == 3 {
			if back.Pix[i] != 255 {
				t.Fatal("TensorToImage output is not opaque")
			}
			continue
		}
		sum += math.Abs(float64(back.Pix[i]) - float64(p.Image.Pix[i]))
	}
	if mad := sum / (128 * 128 * 3); mad > 1 {
		t.Errorf("round trip mean abs diff %.2f", mad)
	}
	// CHW for two pixels: R {-3, 0}, G {3, NaN}, B {1, -1}.
	clamped := TensorToImage([]float32{-3, 0, 3, float32(math.NaN()), 1, -1}, 2, 1)
	if got, want := clamped.Pix, []uint8{0, 255, 255, 255, 128, 0, 0, 255}; !bytes.Equal(got, want) {
		t.Errorf("clamping: %v, want %v", got, want)
	}
	if TensorToImage(x, 5, 5).Rect.Empty() != true {
		t.Error("wrong length should give an empty image")
	}
}

func TestResize(t *testing.T) {
	// Premultiplied resampling: a transparent red neighbour must not tint white.
	img := solid(8, 8, color.NRGBA{255, 255, 255, 255})
	for y := 0; y < 8; y++ {
		for x := 4; x < 8; x++ {
			img.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 0})
		}
	}
	r := Resize(img, 4, 4)
	if r.Rect != image.Rect(0, 0, 4, 4) {
		t.Fatalf("rect %v", r.Rect)
	}
	for x := 0; x < 4; x++ {
		if c := r.NRGBAAt(x, 1); c.A > 0 && (c.G < 250 || c.B < 250) {
			t.Errorf("pixel %d = %v: transparent colour bled in", x, c)
		}
	}
}

// BenchmarkCropResize scales a 3600x3600 crop of a 24 MP photo to 512, the
// model input's resize: "xdraw" is resizePremul (x/image/draw, which
// ModelInput keeps), "imaging" the imaging Resize the previews use.
func BenchmarkCropResize(b *testing.B) {
	img := solid(6000, 4000, color.NRGBA{200, 150, 120, 255})
	for i := range img.Pix {
		img.Pix[i] ^= uint8(i * 7)
	}
	crop := image.Rect(1000, 200, 4600, 3800)
	b.Run("xdraw", func(b *testing.B) {
		for b.Loop() {
			resizePremul(img, crop, 512, 512)
		}
	})
	b.Run("imaging", func(b *testing.B) {
		for b.Loop() {
			imaging.Resize(img.SubImage(crop), 512, 512, imaging.CatmullRom)
		}
	})
}

func BenchmarkLoadModelInput(b *testing.B) {
	path := testImagesDir(b) + "/portrait_biden_970x2204.jpg"
	for b.Loop() {
		p, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		_ = ModelInput(p.Image, CenterSquare(p.Image.Rect), 512)
	}
}
