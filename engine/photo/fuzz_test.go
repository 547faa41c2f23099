package photo

import (
	"bytes"
	"errors"
	"image"
	"os"
	"strings"
	"testing"
)

// Limits inside FuzzDecode. A legal input may declare up to MaxPixels (150
// megapixels); decoding those is all a fuzzer would do, at about one input a
// second. Under these limits it runs thousands a second, and the code paths
// that check limits are the same; TestPixelLimit keeps the real limit tested.
const (
	fuzzMaxPixels   = 1 << 16 // 256x256
	fuzzMaxFileSize = 1 << 20
)

// withFuzzLimits lowers the limits for the rest of tb.
func withFuzzLimits(tb testing.TB) {
	oldPixels, oldSize := maxPixels, maxFileSize
	maxPixels, maxFileSize = fuzzMaxPixels, fuzzMaxFileSize
	tb.Cleanup(func() { maxPixels, maxFileSize = oldPixels, oldSize })
}

// FuzzDecode: arbitrary bytes give a Photo or an error naming the input,
// never a panic. Seeds are every test image up to 64 KB plus synthetic ones.
func FuzzDecode(f *testing.F) {
	_, rows := readManifest(f)
	for _, r := range rows {
		b, err := os.ReadFile(r.path)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	f.Add(gifWith(2, 2, [4]uint16{0, 0, 2, 2}))
	f.Add(ftyp("heic", "mif1"))
	withFuzzLimits(f)
	f.Fuzz(func(t *testing.T, b []byte) { decodeOne(t, b) })
}

// decodeOne is FuzzDecode's check of one input.
func decodeOne(t *testing.T, b []byte) {
	p, err := Decode(bytes.NewReader(b), "fuzz.img")
	if err != nil {
		if !strings.HasPrefix(err.Error(), "fuzz.img: ") {
			t.Fatalf("error %q does not name the input", err)
		}
		return
	}
	r := p.Image.Rect
	if r.Min != (image.Point{}) || r.Empty() || int64(r.Dx())*int64(r.Dy()) > maxPixels {
		t.Fatalf("bad image bounds %v", r)
	}
	if p.Orientation < 1 || p.Orientation > 8 {
		t.Fatalf("orientation %d", p.Orientation)
	}
}

// TestFuzzLimits: under the fuzz target's limits, an input that declares
// more than 256x256 pixels is refused from its header, before any decoding.
func TestFuzzLimits(t *testing.T) {
	withFuzzLimits(t)
	for name, b := range map[string][]byte{
		"screen.gif": gifWith(300, 300, [4]uint16{0, 0, 1, 1}),
		"frame.gif":  gifWith(1, 1, [4]uint16{0, 0, 1, 1}, [4]uint16{0, 0, 257, 256}),
	} {
		if _, err := Decode(bytes.NewReader(b), name); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s under the fuzz limits: %v, want ErrTooLarge", name, err)
		}
	}
	if _, err := Decode(bytes.NewReader(make([]byte, fuzzMaxFileSize+1)), "long.png"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a file over the fuzz size limit: %v, want ErrTooLarge", err)
	}
}

// TestPixelLimit: the real limit, outside the fuzz target.
func TestPixelLimit(t *testing.T) {
	if maxPixels != MaxPixels {
		t.Fatalf("maxPixels = %d, want MaxPixels %d", maxPixels, MaxPixels)
	}
	if err := checkDims(15000, 10000, "image"); err != nil { // exactly 150 MP
		t.Errorf("150 megapixels: %v, want accepted", err)
	}
	if err := checkDims(15000, 10001, "image"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("just over 150 megapixels: %v, want ErrTooLarge", err)
	}
	if _, err := Decode(bytes.NewReader(gifWith(300, 300, [4]uint16{0, 0, 1, 1})), "ok.gif"); err != nil {
		t.Errorf("a 300x300 GIF under the real limit: %v", err)
	}
}
