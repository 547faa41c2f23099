package export

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"likeness/internal/shared"
)

func loadAstronaut(t testing.TB) *image.NRGBA {
	t.Helper()
	f, err := os.Open(filepath.Join(shared.TestImages(t), "portrait_astronaut_eileen_collins.png"))
	if err != nil {
		t.Fatalf("test image missing (it ships in testdata/testimages): %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	return img
}

// noTemps fails if a temp file of ours is left in dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".likeness-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestFormatParameters(t *testing.T) {
	tests := []struct {
		name        string
		prompt, neg string
		fields      [][2]string
		want        string
	}{
		{"brief example", "a person, angry", "", [][2]string{{"Steps", "20"}, {"Sampler", "UniPC"}, {"Seed", "42"}},
			"a person, angry\nNegative prompt: \nSteps: 20, Sampler: UniPC, Seed: 42"},
		{"negative and order kept", "p", "blurry", [][2]string{{"Seed", "1"}, {"Steps", "2"}},
			"p\nNegative prompt: blurry\nSeed: 1, Steps: 2"},
		{"value with comma quoted", "p", "", [][2]string{{"Model", "a, b"}},
			"p\nNegative prompt: \nModel: \"a, b\""},
		{"no fields", "p", "", nil, "p\nNegative prompt: \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatParameters(tt.prompt, tt.neg, tt.fields); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatFromPath(t *testing.T) {
	tests := []struct {
		path, want string
		err        bool
	}{
		{"a.png", "png", false},
		{"a.PNG", "png", false},
		{"dir.x/a.jpg", "jpeg", false},
		{"a.jpeg", "jpeg", false},
		{"a.webp", "webp", false},
		{"a.gif", "", true},
		{"noext", "", true},
	}
	for _, tt := range tests {
		got, err := FormatFromPath(tt.path)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("FormatFromPath(%q) = %q, %v; want %q, err %v", tt.path, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("error %v is not ErrUnsupportedFormat", err)
		}
	}
}

func TestPNGRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		md         Metadata
		wantChunks map[string]string // keyword -> chunk type
	}{
		{"ascii", Metadata{Parameters: "a person, angry\nNegative prompt: \nSteps: 20", JSON: []byte(`{"seed":42}`)},
			map[string]string{"parameters": "tEXt", "likeness": "tEXt"}},
		{"latin-1 stays tEXt", Metadata{Parameters: "café crème", JSON: []byte(`{"p":"é"}`)},
			map[string]string{"parameters": "tEXt", "likeness": "tEXt"}},
		{"non-latin-1 uses iTXt", Metadata{Parameters: "一个人, 生气 😠", JSON: []byte(`{"p":"生气"}`)},
			map[string]string{"parameters": "iTXt", "likeness": "iTXt"}},
		{"json only", Metadata{JSON: []byte(`{}`)}, map[string]string{"likeness": "tEXt"}},
	}
	img := gradient(40, 30)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.png")
			if err := WritePNG(path, img, &tt.md, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPNGText(path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			if tt.md.Parameters != "" {
				want[KeyParameters] = tt.md.Parameters
			}
			if len(tt.md.JSON) > 0 {
				want[KeyLikeness] = string(tt.md.JSON)
			}
			if len(got) != len(want) {
				t.Errorf("got %d entries %q, want %d", len(got), got, len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for key, typ := range tt.wantChunks {
				if !bytes.Contains(raw, []byte(typ+key+"\x00")) {
					t.Errorf("no %s chunk for %q", typ, key)
				}
			}
			// Text chunks sit right after IHDR, so readers that stop at IDAT see them.
			if i := bytes.Index(raw, []byte("IDAT")); i < bytes.Index(raw, []byte("Xt")) {
				t.Errorf("text chunk after IDAT")
			}
			// image/png verifies every chunk's CRC, ours included.
			dec, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("image/png rejects the file: %v", err)
			}
			if dec.Bounds() != img.Bounds() {
				t.Errorf("bounds %v, want %v", dec.Bounds(), img.Bounds())
			}
			for _, p := range []image.Point{{0, 0}, {39, 29}, {17, 11}} {
				r1, g1, b1, a1 := dec.At(p.X, p.Y).RGBA()
				r2, g2, b2, a2 := img.At(p.X, p.Y).RGBA()
				if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
					t.Errorf("pixel %v differs", p)
				}
			}
		})
	}
}

func TestWritePNGRejectsNUL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.png")
	err := WritePNG(path, gradient(4, 4), &Metadata{Parameters: "a\x00b"}, WriteOptions{})
	if !errors.Is(err, ErrInvalidMetadata) {
		t.Fatalf("err = %v, want ErrInvalidMetadata", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file written despite error")
	}
	noTemps(t, filepath.Dir(path))
}

func TestReadPNGTextCorrupt(t *testing.T) {
	var good bytes.Buffer
	data, err := encodePNG(gradient(4, 4), &Metadata{Parameters: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	good.Write(data)
	flipped := bytes.Clone(data)
	i := bytes.Index(flipped, []byte("hello"))
	flipped[i] = 'j' // CRC no longer matches
	zbomb := []byte{}
	tests := []struct {
		name string
		data []byte
	}{
		{"not png", []byte("GIF89a....")},
		{"bad crc", flipped},
		{"truncated", data[:len(data)-20]},
		{"empty", zbomb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := readPNGText(bytes.NewReader(tt.data)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	m, err := readPNGText(&good)
	if err != nil || m["parameters"] != "hello" {
		t.Errorf("good file: %v %v", m, err)
	}
}

func FuzzReadPNGText(f *testing.F) {
	data, _ := encodePNG(gradient(3, 3), &Metadata{Parameters: "p", JSON: []byte("生气")})
	f.Add(data)
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		readPNGText(bytes.NewReader(b)) // must not panic or hang
	})
}

func TestJPEG(t *testing.T) {
	md := &Metadata{Parameters: "a person, angry\nSteps: 20", JSON: []byte(`{"seed":42}`)}
	path := filepath.Join(t.TempDir(), "out.jpg")
	if err := Write(path, gradient(64, 48), md, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("image/jpeg rejects the file: %v", err)
	}
	if img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
		t.Errorf("bounds %v", img.Bounds())
	}
	com, err := ReadJPEGComments(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(com) != 2 || com[0] != md.Parameters || com[1] != string(md.JSON) {
		t.Errorf("comments = %q", com)
	}
	big := &Metadata{JSON: bytes.Repeat([]byte("x"), 70000)}
	err = WriteJPEG(filepath.Join(t.TempDir(), "big.jpg"), gradient(8, 8), 90, big, WriteOptions{})
	if !errors.Is(err, ErrInvalidMetadata) {
		t.Errorf("oversized comment: err = %v, want ErrInvalidMetadata", err)
	}
}

func TestWebPStickerUnderLimit(t *testing.T) {
	src := loadAstronaut(t)
	// Give it a real alpha channel: a transparent frame around the subject.
	b := src.Bounds()
	for y := range b.Dy() {
		for x := range b.Dx() {
			if x < 40 || y < 40 || x >= b.Dx()-40 || y >= b.Dy()-40 {
				src.Pix[src.PixOffset(x, y)+3] = 0
			}
		}
	}
	const limit = 100 << 10
	path := filepath.Join(t.TempDir(), "sticker.webp")
	if err := Write(path, src, nil, WriteOptions{WebPMaxBytes: limit}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > limit {
		t.Errorf("size %d > %d", fi.Size(), limit)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := webp.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 512 || img.Bounds().Dy() != 512 {
		t.Errorf("bounds %v", img.Bounds())
	}
	if _, _, _, a := img.At(5, 5).RGBA(); a != 0 {
		t.Errorf("corner alpha %d, want transparent", a)
	}
	if _, _, _, a := img.At(256, 256).RGBA(); a != 0xffff {
		t.Errorf("centre alpha %d, want opaque", a)
	}
}

func TestWebPLosslessWhenSmall(t *testing.T) {
	img := gradient(32, 32)
	data, err := encodeWebP(img, 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for y := range 32 {
		for x := range 32 {
			r1, g1, b1, _ := dec.At(x, y).RGBA()
			r2, g2, b2, _ := img.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				t.Fatalf("pixel (%d,%d) differs: lossless expected", x, y)
			}
		}
	}
	if _, err := encodeWebP(loadAstronaut(t), 200); !errors.Is(err, ErrTooLarge) {
		t.Errorf("200-byte limit: err = %v, want ErrTooLarge", err)
	}
}

func TestProtectInput(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(input, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.png")
	linkDir := filepath.Join(dir, "linkdir")
	hard := filepath.Join(dir, "hard.png")
	if err := os.Symlink(input, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, linkDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(input, hard); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(dir, "sub"))

	tests := []struct{ name, target string }{
		{"same path", input},
		{"relative path", "../photo.png"},
		{"unclean path", filepath.Join(dir, "sub", "..", ".", "photo.png")},
		{"symlink to input", link},
		{"through symlinked folder", filepath.Join(linkDir, "photo.png")},
		{"hard link", hard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(tt.target, gradient(4, 4), nil, WriteOptions{Overwrite: true, Protect: []string{input}})
			if !errors.Is(err, ErrWouldOverwriteInput) {
				t.Fatalf("err = %v, want ErrWouldOverwriteInput", err)
			}
			if !strings.Contains(err.Error(), "photo.png") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	// Protecting by relative path works too.
	err := Write(input, gradient(4, 4), nil, WriteOptions{Overwrite: true, Protect: []string{"../photo.png"}})
	if !errors.Is(err, ErrWouldOverwriteInput) {
		t.Errorf("relative protect: err = %v", err)
	}
	if b, _ := os.ReadFile(input); string(b) != "original" {
		t.Errorf("input changed: %q", b)
	}
	noTemps(t, dir)
	// Another name in the same folder is fine.
	if err := Write(filepath.Join(dir, "edit.png"), gradient(4, 4), nil, WriteOptions{Protect: []string{input}}); err != nil {
		t.Errorf("unrelated file: %v", err)
	}
}

func TestExistsAndOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(path, gradient(4, 4), nil, WriteOptions{})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file changed without Overwrite")
	}
	if err := Write(path, gradient(4, 4), nil, WriteOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600 kept", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, pngSig) {
		t.Errorf("not overwritten with a png")
	}
	fresh := filepath.Join(dir, "fresh.png")
	if err := Write(fresh, gradient(4, 4), nil, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}
	noTemps(t, dir)
}

func TestFailuresLeaveNoTemps(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	tests := []struct {
		name  string
		path  string
		write func(io.Writer) error
	}{
		{"parent is a file", filepath.Join(notDir, "out.png"), func(io.Writer) error { return nil }},
		{"missing folder", filepath.Join(dir, "nope", "out.png"), func(io.Writer) error { return nil }},
		{"encoder fails mid-write", filepath.Join(dir, "out.png"), func(w io.Writer) error {
			w.Write([]byte("partial"))
			return boom
		}},
		{"target is a folder", dir, func(io.Writer) error { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := writeAtomic(tt.path, WriteOptions{Overwrite: true}, tt.write); err == nil {
				t.Fatal("no error")
			}
			noTemps(t, dir)
			if _, err := os.Stat(filepath.Join(dir, "out.png")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("out.png exists after failure")
			}
		})
	}
}

func TestReadOnlyFolder(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("folder permissions do not stop root or apply on Windows; covered by TestFailuresLeaveNoTemps")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if err := Write(filepath.Join(dir, "out.png"), gradient(4, 4), nil, WriteOptions{}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("err = %v, want permission error", err)
	}
	noTemps(t, dir)
}

func TestNilImage(t *testing.T) {
	for _, ext := range []string{"png", "jpg", "webp"} {
		dir := t.TempDir()
		if err := Write(filepath.Join(dir, "x."+ext), nil, nil, WriteOptions{}); err == nil {
			t.Errorf("%s: nil image accepted", ext)
		}
		noTemps(t, dir)
	}
}

func TestWebPSubImageAndPremultiplied(t *testing.T) {
	full := gradient(64, 64)
	sub := full.SubImage(image.Rect(10, 20, 42, 52)).(*image.NRGBA)
	rgba := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range rgba.Pix {
		rgba.Pix[i] = 64 // premultiplied grey at alpha 64 = straight 255
	}
	tests := []struct {
		name string
		img  image.Image
		at   image.Point
		want color.NRGBA
	}{
		{"sub-image", sub, image.Pt(0, 0), full.NRGBAAt(10, 20)},
		{"sub-image far corner", sub, image.Pt(31, 31), full.NRGBAAt(41, 51)},
		{"premultiplied RGBA", rgba, image.Pt(3, 3), color.NRGBA{255, 255, 255, 64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeWebP(tt.img, 0)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := webp.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			got := color.NRGBAModel.Convert(dec.At(tt.at.X, tt.at.Y)).(color.NRGBA)
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
