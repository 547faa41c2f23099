package photo

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestManifest(t *testing.T) {
	_, rows := readManifest(t)
	for _, r := range rows {
		t.Run(r.file, func(t *testing.T) {
			path := r.path
			p, err := Load(path)
			switch r.expected {
			case "ok":
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := p.Image.Rect; got != image.Rect(0, 0, r.width, r.height) {
					t.Errorf("image is %v, want %dx%d", got, r.width, r.height)
				}
				if p.Path != path || p.Format == "" {
					t.Errorf("Path %q Format %q", p.Path, p.Format)
				}
			case "error":
				if err == nil {
					t.Fatalf("Load succeeded (%v), want an error", p.Image.Rect)
				}
				if !strings.Contains(err.Error(), r.file) {
					t.Errorf("error %q does not name %s", err, r.file)
				}
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupported) {
					t.Errorf("error %q wraps no sentinel", err)
				}
				t.Log(err)
			default:
				t.Fatalf("manifest expected %q, want ok or error", r.expected)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	dir, _ := readManifest(t)
	tests := []struct {
		file string
		want error
	}{
		{"bad_bomb_frame.gif", ErrCorrupt}, // 65535x1321 frame outside a 32x32 screen
		{"bad_huge_header_3000000x2000000.bmp", ErrTooLarge},
		{"bad_text.jpg", ErrUnsupported},
		{"bad_empty.jpg", ErrCorrupt},
		{"bad_truncated.jpg", ErrCorrupt},
		{"bad_truncated.png", ErrCorrupt},
		{"bad_crc_idat.png", ErrCorrupt},
	}
	for _, tt := range tests {
		_, err := Load(filepath.Join(dir, tt.file))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.file, err, tt.want)
		}
		var pe *PhotoError
		if !errors.As(err, &pe) || filepath.Base(pe.Path) != tt.file {
			t.Errorf("%s: error %v is not a *PhotoError for the file", tt.file, err)
		}
	}
}

func TestOrientationMatchesUpright(t *testing.T) {
	dir, _ := readManifest(t)
	const w, h = 60, 90
	var ref *image.NRGBA
	for o := 1; o <= 8; o++ {
		p, err := Load(filepath.Join(dir, "exif_orientation_"+strconv.Itoa(o)+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Orientation != o {
			t.Errorf("orientation %d: Photo.Orientation = %d", o, p.Orientation)
		}
		small := Resize(p.Image, w, h)
		if o == 1 {
			ref = small
			continue
		}
		var sum [3]float64
		for i := 0; i < len(small.Pix); i += 4 {
			for c := 0; c < 3; c++ {
				d := float64(small.Pix[i+c]) - float64(ref.Pix[i+c])
				if d < 0 {
					d = -d
				}
				sum[c] += d
			}
		}
		for c := 0; c < 3; c++ {
			if mad := sum[c] / (w * h); mad > 10 {
				t.Errorf("orientation %d: channel %d mean abs diff %.1f/255 from orientation 1", o, c, mad)
			}
		}
	}
}

func TestAlpha(t *testing.T) {
	dir, _ := readManifest(t)
	tests := []struct {
		file string
		want bool
	}{
		{"cartoon_head11_rgba.png", true},
		{"portrait_astronaut_eileen_collins.png", false},
		{"tricky_palette_trns.png", true},
		{"tricky_gray_alpha.png", true},
		{"tricky_16bit_rgb.png", false},
		{"tricky_cmyk.jpg", false},
		{"tricky_hopper.gif", false},
	}
	for _, tt := range tests {
		p, err := Load(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if p.HasAlpha != tt.want {
			t.Errorf("%s: HasAlpha = %v, want %v", tt.file, p.HasAlpha, tt.want)
		}
	}
}

func TestFormatFromContent(t *testing.T) {
	dir, _ := readManifest(t)
	data, err := os.ReadFile(filepath.Join(dir, "tricky_hopper.bmp"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "misnamed.png")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != "bmp" {
		t.Errorf("Format = %q, want bmp", p.Format)
	}
}

func TestAVIF(t *testing.T) {
	p, err := Load("testdata/avif_gen2brain_test8.avif")
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != "avif" || p.Image.Rect.Dx() != 512 || p.Image.Rect.Dy() != 512 {
		t.Errorf("got %s %v, want avif 512x512", p.Format, p.Image.Rect)
	}
	data, err := os.ReadFile("testdata/avif_gen2brain_test8.avif")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(bytes.NewReader(data[:len(data)/2]), "half.avif")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "half.avif") {
		t.Errorf("truncated avif: %v", err)
	}
}

func ftyp(major string, compat ...string) []byte {
	b := []byte{0, 0, 0, byte(16 + 4*len(compat))}
	b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compat {
		b = append(b, c...)
	}
	return append(b, make([]byte, 64)...)
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"a.heic", ftyp("heic", "mif1", "heic"), "HEIC is not supported; convert to JPEG/PNG"},
		{"b.heif", ftyp("mif1", "heix"), "HEIC is not supported"},
		{"c.jpg", ftyp("heix"), "HEIC is not supported"},
		{"d.mp4", ftyp("isom", "mp41"), "ISO media"},
		{"e.jxl", []byte{0xFF, 0x0A, 1, 2}, "JPEG XL"},
		{"f.tif", []byte("II+\x00\x08\x00\x00\x00"), "BigTIFF"},
		{"g.png", []byte("hello, world"), "not a JPEG, PNG"},
	}
	for _, tt := range tests {
		_, err := Decode(bytes.NewReader(tt.data), tt.name)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v, want ErrUnsupported", tt.name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.name+": ") || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %q, want the name and %q", tt.name, err, tt.msg)
		}
	}
}

func TestFileSizeLimit(t *testing.T) {
	// A sparse file: Load must refuse it from Stat without reading.
	path := filepath.Join(t.TempDir(), "huge.jpg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(path); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "huge.jpg") {
		t.Errorf("Load: %v, want ErrTooLarge naming huge.jpg", err)
	}

	// Decode reads at most the limit+1; lower it rather than stream 300 MB.
	defer func(old int64) { maxFileSize = old }(maxFileSize)
	maxFileSize = 1000
	_, err = Decode(bytes.NewReader(make([]byte, 1001)), "stream.png")
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode over the limit: %v, want ErrTooLarge", err)
	}
	_, err = Decode(bytes.NewReader(make([]byte, 1000)), "stream.png")
	if errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode at the limit: %v, want a format error", err)
	}
}

func gifWith(screenW, screenH uint16, frames ...[4]uint16) []byte {
	le := func(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }
	b := append([]byte("GIF89a"), le(screenW)...)
	b = append(b, le(screenH)...)
	b = append(b, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff) // 2-colour global table
	for _, f := range frames {
		b = append(b, 0x2C)
		for _, v := range f {
			b = append(b, le(v)...)
		}
		// no local table; LZW code size 2; data: clear, index 0..., end
		b = append(b, 0, 2, 2, 0x44, 0x01, 0)
	}
	return append(b, 0x3B)
}

func TestGIFChecks(t *testing.T) {
	tests := []struct {
		name string
		gif  []byte
		want error // nil: accepted
	}{
		{"one_pixel.gif", gifWith(1, 1, [4]uint16{0, 0, 1, 1}), nil},
		{"zero_screen.gif", gifWith(0, 0, [4]uint16{0, 0, 1, 1}), ErrCorrupt},
		{"zero_frame.gif", gifWith(4, 4, [4]uint16{0, 0, 0, 4}), ErrCorrupt},
		{"outside.gif", gifWith(4, 4, [4]uint16{3, 3, 2, 2}), ErrCorrupt},
		{"bomb_second_frame.gif", gifWith(1, 1, [4]uint16{0, 0, 1, 1}, [4]uint16{0, 0, 65535, 65535}), ErrTooLarge},
		{"big_screen.gif", gifWith(65535, 65535, [4]uint16{0, 0, 1, 1}), ErrTooLarge},
		{"no_frames.gif", gifWith(4, 4), ErrCorrupt},
	}
	for _, tt := range tests {
		p, err := Decode(bytes.NewReader(tt.gif), tt.name)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			} else if p.Image.Rect.Dx() != 1 || p.Image.Rect.Dy() != 1 {
				t.Errorf("%s: %v", tt.name, p.Image.Rect)
			}
			continue
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s: error %v, want %v naming the file", tt.name, err, tt.want)
		}
	}
}

func TestFlatten(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	img.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255})
	img.SetNRGBA(1, 0, color.NRGBA{255, 0, 0, 0})
	img.SetNRGBA(2, 0, color.NRGBA{0, 0, 0, 128})
	out := Flatten(img, color.NRGBA{255, 255, 255, 255})
	want := []color.NRGBA{{255, 0, 0, 255}, {255, 255, 255, 255}, {127, 127, 127, 255}}
	for x, w := range want {
		if got := out.NRGBAAt(x, 0); got != w {
			t.Errorf("pixel %d = %v, want %v", x, got, w)
		}
	}
	// Over a transparent background the source is unchanged.
	out = Flatten(img, color.NRGBA{})
	if got := out.NRGBAAt(2, 0); got != (color.NRGBA{0, 0, 0, 128}) {
		t.Errorf("over transparent: %v", got)
	}
}

func TestToNRGBA(t *testing.T) {
	r := image.Rect(2, 3, 4, 4) // non-zero origin on purpose
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(2, 3, color.RGBA{64, 32, 0, 128})
	rgba.SetRGBA(3, 3, color.RGBA{10, 20, 30, 255})
	n64 := image.NewNRGBA64(r)
	n64.SetNRGBA64(2, 3, color.NRGBA64{0xffff, 0x8080, 0, 0x8000})
	g16 := image.NewGray16(r)
	g16.SetGray16(2, 3, color.Gray16{0x7f7f})
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{1, 2, 3, 4}, color.NRGBA{5, 6, 7, 255}})
	pal.SetColorIndex(3, 3, 1)
	cmyk := image.NewCMYK(r)
	cmyk.SetCMYK(2, 3, color.CMYK{0, 255, 255, 0})
	tests := []struct {
		name   string
		img    image.Image
		p0, p1 color.NRGBA
	}{
		{"rgba", rgba, color.NRGBA{128, 64, 0, 128}, color.NRGBA{10, 20, 30, 255}},
		{"nrgba64", n64, color.NRGBA{255, 128, 0, 128}, color.NRGBA{}},
		{"gray16", g16, color.NRGBA{127, 127, 127, 255}, color.NRGBA{0, 0, 0, 255}},
		{"paletted", pal, color.NRGBA{1, 2, 3, 4}, color.NRGBA{5, 6, 7, 255}},
		{"cmyk", cmyk, color.NRGBA{255, 0, 0, 255}, color.NRGBA{255, 255, 255, 255}},
	}
	for _, tt := range tests {
		n := toNRGBA(tt.img)
		if n.Rect != image.Rect(0, 0, 2, 1) {
			t.Errorf("%s: rect %v", tt.name, n.Rect)
		}
		if got := n.NRGBAAt(0, 0); got != tt.p0 {
			t.Errorf("%s: pixel 0 = %v, want %v", tt.name, got, tt.p0)
		}
		if got := n.NRGBAAt(1, 0); got != tt.p1 {
			t.Errorf("%s: pixel 1 = %v, want %v", tt.name, got, tt.p1)
		}
	}
}

func TestBMPTooShortForHeader(t *testing.T) {
	dir, _ := readManifest(t)
	b, err := os.ReadFile(filepath.Join(dir, "tricky_hopper.bmp"))
	if err != nil {
		t.Fatal(err)
	}
	b[22], b[23] = 0x10, 0x27 // height 10000: 3.8 MB of pixels in a 49 KB file
	_, err = Decode(bytes.NewReader(b), "tall.bmp")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "declares 128x10000") {
		t.Errorf("error %v, want ErrCorrupt from the size check", err)
	}
}

// TestApplyOrientation: each EXIF orientation maps every stored pixel to
// where the definition (TIFF 6.0, tag 274) puts it on display.
func TestApplyOrientation(t *testing.T) {
	const w, h = 5, 3
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	for o := 1; o <= 8; o++ {
		got := applyOrientation(src, o)
		dw, dh := w, h
		if o >= 5 {
			dw, dh = h, w
		}
		if got.Rect != image.Rect(0, 0, dw, dh) {
			t.Fatalf("orientation %d: %v, want %dx%d", o, got.Rect, dw, dh)
		}
		for y := range dh {
			for x := range dw {
				// (sx, sy) is the stored pixel shown at (x, y).
				sx, sy := storedAt(o, x, y, w, h)
				if g, want := got.NRGBAAt(x, y), src.NRGBAAt(sx, sy); g != want {
					t.Fatalf("orientation %d: (%d,%d) = %v, want stored (%d,%d) %v", o, x, y, g, sx, sy, want)
				}
			}
		}
	}
}

// storedAt is the stored pixel that orientation o shows at (x, y) of a
// w x h stored image.
func storedAt(o, x, y, w, h int) (int, int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return y, h - 1 - x
	case 7:
		return w - 1 - y, h - 1 - x
	case 8:
		return w - 1 - y, x
	}
	return x, y
}
