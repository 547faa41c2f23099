package face

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	_ "golang.org/x/image/bmp"
)

var drawDir = flag.String("draw", "", "write each test photo with its annotated and detected boxes to this directory")

// annotation is one row of testdata/photos.tsv.
type annotation struct {
	box  image.Rectangle
	note string
}

func readAnnotations(t testing.TB) map[string]annotation {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "photos.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]annotation{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue // header
		}
		col := strings.Split(sc.Text(), "\t")
		if len(col) != 6 {
			t.Fatalf("photos.tsv:%d: %d columns, want 6", line, len(col))
		}
		var n [4]int
		for i := range n {
			if n[i], err = strconv.Atoi(col[1+i]); err != nil {
				t.Fatalf("photos.tsv:%d: %v", line, err)
			}
		}
		out[col[0]] = annotation{box: image.Rect(n[0], n[1], n[2], n[3]), note: col[5]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadImage(t testing.TB, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return img
}

var (
	haarOnce sync.Once
	haarDet  *Haar
	haarErr  error
)

func newHaar(t testing.TB) *Haar {
	t.Helper()
	haarOnce.Do(func() { haarDet, haarErr = NewHaar() })
	if haarErr != nil {
		t.Fatal(haarErr)
	}
	return haarDet
}

// faceError is how far a converted box is from the annotation: centre
// distance and width difference, both as fractions of the true width.
func faceError(got, want image.Rectangle) (centre, width float64) {
	cx := func(r image.Rectangle) (float64, float64) {
		return float64(r.Min.X+r.Max.X) / 2, float64(r.Min.Y+r.Max.Y) / 2
	}
	gx, gy := cx(got)
	wx, wy := cx(want)
	w := float64(want.Dx())
	return math.Hypot(gx-wx, gy-wy) / w, math.Abs(float64(got.Dx())-w) / w
}

func TestDetectPhotos(t *testing.T) {
	ann := readAnnotations(t)
	tests := []struct {
		file string
		// found: the frontal cascade should find this face and nothing
		// else; otherwise it should find nothing at all.
		found     bool
		centreTol float64 // fraction of the true width
		widthTol  float64
	}{
		{"portrait_astronaut_eileen_collins.png", true, 0.10, 0.15},
		// The head is turned, so the cascade centres on eyes and nose,
		// about 0.105 of the face's width right of its outline's centre.
		{"portrait_biden_970x2204.jpg", true, 0.12, 0.15},
		{"tricky_hopper.bmp", true, 0.10, 0.15},
		// A profile; frontal cascades do not see it.
		{"portrait_cameraman_gray.png", false, 0, 0},
	}
	if len(tests) != len(ann) {
		t.Errorf("photos.tsv has %d faces, the table %d: keep them in step", len(ann), len(tests))
	}
	h := newHaar(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, ok := ann[tt.file]
			if !ok {
				t.Fatalf("%s is not in photos.tsv", tt.file)
			}
			img := loadImage(t, tt.file)
			boxes, err := h.Detect(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if *drawDir != "" {
				writeOverlay(t, filepath.Join(*drawDir, tt.file+".png"), img, a.box, boxes)
			}
			if !tt.found {
				if len(boxes) != 0 {
					t.Errorf("found %v, want nothing (%s)", boxes, a.note)
				}
				return
			}
			if len(boxes) != 1 {
				t.Fatalf("found %d faces %v, want 1", len(boxes), boxes)
			}
			got := BrowsToChin(boxes[0].Rect)
			ce, we := faceError(got, a.box)
			t.Logf("haar %v score %v -> %v, annotated %v: centre off by %.3f, width by %.3f of the true width",
				boxes[0].Rect, boxes[0].Score, got, a.box, ce, we)
			if ce > tt.centreTol {
				t.Errorf("centre of %v is %.3f of the width from that of %v, want at most %.2f", got, ce, a.box, tt.centreTol)
			}
			if we > tt.widthTol {
				t.Errorf("width of %v differs by %.3f from that of %v, want at most %.2f", got, we, a.box, tt.widthTol)
			}
		})
	}
}

// writeOverlay saves img with the annotation (green), the raw boxes (blue)
// and their BrowsToChin conversions (red) drawn on it.
func writeOverlay(t *testing.T, path string, img image.Image, want image.Rectangle, boxes []Box) {
	t.Helper()
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	stroke := func(r image.Rectangle, c color.RGBA) {
		th := max(1, img.Bounds().Dx()/300)
		for _, edge := range []image.Rectangle{
			{r.Min, image.Pt(r.Max.X, r.Min.Y+th)}, {image.Pt(r.Min.X, r.Max.Y-th), r.Max},
			{r.Min, image.Pt(r.Min.X+th, r.Max.Y)}, {image.Pt(r.Max.X-th, r.Min.Y), r.Max},
		} {
			draw.Draw(out, edge, image.NewUniform(c), image.Point{}, draw.Src)
		}
	}
	stroke(want, color.RGBA{0, 255, 0, 255})
	for _, b := range boxes {
		stroke(b.Rect, color.RGBA{0, 0, 255, 255})
		stroke(BrowsToChin(b.Rect), color.RGBA{255, 0, 0, 255})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, out); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDetectNoFace(t *testing.T) {
	flat := image.NewGray(image.Rect(0, 0, 300, 200))
	for i := range flat.Pix {
		flat.Pix[i] = 128
	}
	gradient := image.NewNRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			gradient.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / 399), uint8(y * 255 / 299), uint8((x + y) * 255 / 698), 255})
		}
	}
	tests := []struct {
		name string
		img  image.Image
	}{
		{"flat grey", flat},
		{"gradient", gradient},
		{"uniform of unknown type", &image.Uniform{C: color.Gray{90}}},
		{"smaller than the window", image.NewRGBA(image.Rect(0, 0, 16, 16))},
		{"empty", image.NewRGBA(image.Rectangle{})},
		// A child seen from behind by a waterfall: a real photo, no face.
		{"exif_orientation_1.jpg", loadImage(t, "exif_orientation_1.jpg")},
	}
	h := newHaar(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.img
			if u, ok := img.(*image.Uniform); ok {
				// image.Uniform is unbounded; give it bounds.
				img = boundedUniform{u, image.Rect(0, 0, 120, 90)}
			}
			boxes, err := h.Detect(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if len(boxes) != 0 {
				t.Errorf("found %v, want nothing", boxes)
			}
		})
	}
}

type boundedUniform struct {
	*image.Uniform
	b image.Rectangle
}

func (u boundedUniform) Bounds() image.Rectangle { return u.b }

// opaque hides an image's concrete type, sending it down toGray's generic
// path.
type opaque struct{ image.Image }

// TestDetectImageTypes checks that the face is found whatever type the
// image arrives as, including a sub-image whose bounds do not start at 0,0.
func TestDetectImageTypes(t *testing.T) {
	src := loadImage(t, "portrait_astronaut_eileen_collins.png")
	b := src.Bounds()
	convert := func(dst draw.Image) image.Image {
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst
	}
	ycc := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := src.At(x, y).RGBA()
			yy, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bb>>8))
			ycc.Y[ycc.YOffset(x, y)] = yy
			ycc.Cb[ycc.COffset(x, y)] = cb
			ycc.Cr[ycc.COffset(x, y)] = cr
		}
	}
	sub := convert(image.NewRGBA(b)).(*image.RGBA).SubImage(image.Rect(100, 20, 400, 300))
	want := readAnnotations(t)["portrait_astronaut_eileen_collins.png"].box
	tests := []struct {
		name string
		img  image.Image
	}{
		{"RGBA", convert(image.NewRGBA(b))},
		{"NRGBA", convert(image.NewNRGBA(b))},
		{"Gray", convert(image.NewGray(b))},
		{"RGBA64", convert(image.NewRGBA64(b))},
		{"YCbCr 4:2:0", ycc},
		{"Paletted", convert(image.NewPaletted(b, palette216()))},
		{"unknown type", opaque{src}},
		{"sub-image at 100,20", sub},
	}
	h := newHaar(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boxes, err := h.Detect(context.Background(), tt.img)
			if err != nil {
				t.Fatal(err)
			}
			if len(boxes) == 0 {
				t.Fatal("no face found")
			}
			got := BrowsToChin(boxes[0].Rect)
			if ce, we := faceError(got, want); ce > 0.10 || we > 0.15 {
				t.Errorf("face %v (from %v), want near %v: centre off by %.3f, width by %.3f", got, boxes[0].Rect, want, ce, we)
			}
			if !got.In(tt.img.Bounds().Inset(-got.Dx())) {
				t.Errorf("face %v is not near the image bounds %v", got, tt.img.Bounds())
			}
		})
	}
}

// palette216 is the 6x6x6 web-safe colour cube.
func palette216() color.Palette {
	var p color.Palette
	for r := 0; r < 6; r++ {
		for g := 0; g < 6; g++ {
			for b := 0; b < 6; b++ {
				p = append(p, color.RGBA{uint8(r * 51), uint8(g * 51), uint8(b * 51), 255})
			}
		}
	}
	return p
}

// TestToGrayFastPaths checks each fast path against the generic one, which
// is color.GrayModel's arithmetic.
func TestToGrayFastPaths(t *testing.T) {
	r := image.Rect(3, 5, 40, 31)
	nrgba := image.NewNRGBA(r)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(i*37 + i/7)
	}
	rgba := image.NewRGBA(r)
	draw.Draw(rgba, r, nrgba, r.Min, draw.Src)
	gray := image.NewGray(r)
	draw.Draw(gray, r, nrgba, r.Min, draw.Src)
	// Chroma at full resolution, so every pixel's colour is in gamut.
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := rgba.RGBAAt(x, y)
			i := ycc.YOffset(x, y)
			ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = color.RGBToYCbCr(c.R, c.G, c.B)
		}
	}
	tests := []struct {
		name string
		img  image.Image
		tol  int // YCbCr's Y differs from the luma of its RGB by rounding
	}{
		{"NRGBA with alpha", nrgba, 0},
		{"RGBA", rgba, 0},
		{"Gray", gray, 0},
		{"sub-image", rgba.SubImage(image.Rect(10, 10, 20, 30)), 0},
		{"YCbCr", ycc, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, slow := toGray(tt.img), toGray(opaque{tt.img})
			if fast.w != slow.w || fast.h != slow.h {
				t.Fatalf("fast path %dx%d, generic %dx%d", fast.w, fast.h, slow.w, slow.h)
			}
			for i := range fast.pix {
				if d := int(fast.pix[i]) - int(slow.pix[i]); d > tt.tol || d < -tt.tol {
					t.Fatalf("pixel %d,%d: fast path %d, generic %d", i%fast.w, i/fast.w, fast.pix[i], slow.pix[i])
				}
			}
		})
	}
}

// errAfter is a context that reports itself cancelled from its n-th call of
// Err on, so the test can stop a Detect between pyramid levels.
type errAfter struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *errAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n--; c.n <= 0 {
		return context.Canceled
	}
	return nil
}

func TestDetectCancelled(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"before starting", cancelled},
		{"between levels", &errAfter{Context: context.Background(), n: 5}},
	}
	img := loadImage(t, "portrait_astronaut_eileen_collins.png")
	h := newHaar(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boxes, err := h.Detect(tt.ctx, img)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, %v; want an error wrapping context.Canceled", boxes, err)
			}
			if err == context.Canceled {
				t.Errorf("error %q is not wrapped with context", err)
			}
		})
	}
}

// tinyCascade is a valid one-stage cascade whose parts the malformed cases
// below break one at a time. Its one feature is dark-above-bright.
const tinyCascade = `<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>8</height>
  <width>8</width>
  <stageNum>1</stageNum>
  <stages>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.5</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>0 -1 0 0.1</internalNodes>
          <leafValues>0. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_>
      <rects>
        <_>0 0 8 8 -1.</_>
        <_>0 4 8 4 2.</_></rects>
      <tilted>0</tilted></_></features></cascade>
</opencv_storage>
`

func TestLoadHaarMalformed(t *testing.T) {
	tests := []struct {
		name      string
		from, to  string // replace every from with to in tinyCascade
		wantError string
	}{
		{"not xml", tinyCascade, "this is not a cascade", "decode xml"},
		{"truncated", "</opencv_storage>", "", "decode xml"},
		{"old format", "cascade", "haarcascade", "no <cascade> element"},
		{"lbp", "<featureType>HAAR", "<featureType>LBP", `feature type "LBP"`},
		{"not boosted", "<stageType>BOOST", "<stageType>TREE", `stage type "TREE"`},
		{"tilted", "<tilted>0", "<tilted>1", "feature 0: tilted features are not supported"},
		{"rect outside window", "0 4 8 4 2.", "0 4 8 5 2.", "outside the 8x8 window"},
		{"short rect", "0 4 8 4 2.", "0 4 8 2.", "want x y w h weight"},
		{"bad feature index", "0 -1 0 0.1", "0 -1 7 0.1", "feature index 7 out of range"},
		{"bad child", "0 -1 0 0.1", "0 3 0 0.1", "child 3 out of range"},
		{"node count", "0 -1 0 0.1", "0 -1 0", "want a multiple of 4"},
		{"leaf count", "0. 1.</leafValues>", "0.</leafValues>", "1 leaf values for 1 nodes, want 2"},
		{"bad threshold", "<stageThreshold>0.5", "<stageThreshold>half", "stage 0: threshold"},
		{"weak count", "<maxWeakCount>1", "<maxWeakCount>2", "maxWeakCount is 2 but 1 weak classifiers"},
		{"no features", "features>", "nofeatures>", "no features"},
		{"window", "<width>8", "<width>0", "window size 0x8"},
	}
	if _, err := LoadHaar(strings.NewReader(tinyCascade)); err != nil {
		t.Fatalf("the unbroken cascade: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.ReplaceAll(tinyCascade, tt.from, tt.to)
			if bad == tinyCascade {
				t.Fatalf("%q is not in the cascade", tt.from)
			}
			_, err := LoadHaar(strings.NewReader(bad))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrCascade) {
				t.Errorf("error %q does not wrap ErrCascade", err)
			}
			if !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("error %q does not say %q", err, tt.wantError)
			}
		})
	}
}

// TestTinyCascade checks the evaluation itself on a cascade simple enough to
// work out by hand: its feature is (bottom half sum)*2 - (window sum), which
// is positive where the window is brighter below, and the variance
// normalisation makes the answer independent of contrast.
func TestTinyCascade(t *testing.T) {
	h, err := LoadHaar(strings.NewReader(tinyCascade))
	if err != nil {
		t.Fatal(err)
	}
	h.MinNeighbors = 0
	edge := func(lo, hi uint8) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, 9, 9))
		for y := range 9 {
			for x := range 9 {
				g.SetGray(x, y, color.Gray{lo})
				if y >= 4 {
					g.SetGray(x, y, color.Gray{hi})
				}
			}
		}
		return g
	}
	tests := []struct {
		name string
		img  *image.Gray
		want bool
	}{
		{"brighter below", edge(50, 200), true},
		{"brighter below, low contrast", edge(120, 124), true},
		{"brighter above", edge(200, 50), false},
		{"flat", edge(90, 90), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boxes, err := h.Detect(context.Background(), tt.img)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(boxes) > 0; got != tt.want {
				t.Errorf("found %v, want a box: %v", boxes, tt.want)
			}
		})
	}
}

func TestGroupRects(t *testing.T) {
	face := image.Rect(100, 100, 200, 200)
	jitter := func(r image.Rectangle, d int) image.Rectangle { return r.Add(image.Pt(d, -d)) }
	tests := []struct {
		name         string
		hits         []image.Rectangle
		minNeighbors int
		want         []group
	}{
		{"none", nil, 3, nil},
		{"four similar hits make a face", []image.Rectangle{
			jitter(face, -2), jitter(face, -1), jitter(face, 1), jitter(face, 2),
		}, 3, []group{{image.Rect(100, 100, 200, 200), 4}}},
		{"three are not enough for minNeighbors 3", []image.Rectangle{
			jitter(face, -1), face, jitter(face, 1),
		}, 3, nil},
		{"far hits stay apart", []image.Rectangle{
			face, face, face, face, face.Add(image.Pt(300, 0)), face.Add(image.Pt(300, 0)),
		}, 1, []group{{face, 4}, {face.Add(image.Pt(300, 0)), 2}}},
		{"a small face inside a stronger one is dropped", []image.Rectangle{
			face, face, face, face, face, image.Rect(120, 120, 150, 150), image.Rect(120, 120, 150, 150),
		}, 1, []group{{face, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groupRects(tt.hits, tt.minNeighbors, 0.2)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzLoadHaar(f *testing.F) {
	f.Add([]byte(tinyCascade))
	f.Add([]byte(strings.Replace(tinyCascade, "0 -1 0 0.1", "1 -1 0 0.1 -1 -2 0 0.3", 1)))
	f.Add([]byte(strings.Replace(tinyCascade, "<tilted>0", "<tilted>1", 1)))
	img := image.NewGray(image.Rect(0, 0, 30, 20))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := LoadHaar(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		// Whatever the parser accepts must evaluate without panicking.
		if _, err := h.Detect(context.Background(), img); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	img := loadImage(b, "portrait_astronaut_eileen_collins.png")
	h := newHaar(b)
	for b.Loop() {
		if _, err := h.Detect(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}
