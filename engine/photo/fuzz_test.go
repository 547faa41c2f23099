package photo

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode: arbitrary bytes give a Photo or an error naming the input,
// never a panic. Seeds are every test image up to 64 KB plus synthetic ones.
func FuzzDecode(f *testing.F) {
	dir, rows := readManifest(f)
	for _, r := range rows {
		b, err := os.ReadFile(filepath.Join(dir, r.file))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 64<<10 {
			f.Add(b)
		}
	}
	f.Add(gifWith(2, 2, [4]uint16{0, 0, 2, 2}))
	f.Add(ftyp("heic", "mif1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(bytes.NewReader(b), "fuzz.img")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.img: ") {
				t.Fatalf("error %q does not name the input", err)
			}
			return
		}
		r := p.Image.Rect
		if r.Min != (image.Point{}) || r.Empty() || int64(r.Dx())*int64(r.Dy()) > MaxPixels {
			t.Fatalf("bad image bounds %v", r)
		}
		if p.Orientation < 1 || p.Orientation > 8 {
			t.Fatalf("orientation %d", p.Orientation)
		}
	})
}
