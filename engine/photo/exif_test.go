package photo

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestTIFFOrientation(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	long := buildTIFF(le, []tEntry{{tagOrientation, 4, []uint32{6}}}, nil)
	twoEntries := buildTIFF(be, []tEntry{{0x010F, 2, []uint32{0x41424344, 0x45464748}}, {tagOrientation, 3, []uint32{8}}}, nil)
	tests := []struct {
		name string
		data []byte
		want int // 0: error
	}{
		{"le", exifTIFF(le, 3), 3},
		{"be", exifTIFF(be, 5), 5},
		{"exif prefix", append([]byte("Exif\x00\x00"), exifTIFF(be, 7)...), 7},
		{"long type", long, 6},
		{"after out-of-line entry", twoEntries, 8},
		{"zero", exifTIFF(le, 0), 0},
		{"nine", exifTIFF(le, 9), 0},
		{"no tag", buildTIFF(le, []tEntry{{0x0100, 3, []uint32{4}}}, nil), 0},
		{"truncated ifd", exifTIFF(le, 3)[:15], 0},
		{"ifd offset past end", append([]byte("MM\x00*"), 0xff, 0xff, 0xff, 0xf0), 0},
		{"bad magic", []byte("XX*\x00\x08\x00\x00\x00"), 0},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		got, err := exifOrientation(tt.data)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("%s: orientation %d, want an error", tt.name, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
}

func TestReadIFDOutOfRangeValue(t *testing.T) {
	// An entry whose value points past the end is skipped, not fatal.
	b := buildTIFF(binary.LittleEndian, []tEntry{{0x010F, 2, make([]uint32, 8)}, {tagOrientation, 3, []uint32{2}}}, nil)
	binary.LittleEndian.PutUint32(b[8+2+8:], 0xfffffff0)
	entries, _, err := readIFD(b, binary.LittleEndian, 8)
	if err != nil || len(entries) != 1 || entries[0].Tag != tagOrientation {
		t.Fatalf("entries %+v, %v; want only the orientation", entries, err)
	}
}

// quadrants is a 16x8 image: red, green / blue, white quadrants.
func quadrants() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			c := [4]color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}}[y/4*2+x/8]
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// upright top-left quadrant colour after each orientation of quadrants().
var topLeftAfter = map[int]color.NRGBA{
	1: {255, 0, 0, 255}, 2: {0, 255, 0, 255}, 3: {255, 255, 255, 255}, 4: {0, 0, 255, 255},
	5: {255, 0, 0, 255}, 6: {0, 0, 255, 255}, 7: {255, 255, 255, 255}, 8: {0, 255, 0, 255},
}

func encoded(t *testing.T, format string, o int) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch format {
	case "jpeg":
		if err := jpeg.Encode(&buf, quadrants(), &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		app1 := append([]byte("Exif\x00\x00"), exifTIFF(binary.BigEndian, o)...)
		seg := append([]byte{0xFF, 0xE1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}, app1...)
		return append(append(append([]byte{}, b[:2]...), seg...), b[2:]...)
	case "png-exif":
		if err := png.Encode(&buf, quadrants()); err != nil {
			t.Fatal(err)
		}
		return insertAfterIHDR(buf.Bytes(), pngChunk("eXIf", exifTIFF(binary.LittleEndian, o)))
	case "png-ztxt":
		if err := png.Encode(&buf, quadrants()); err != nil {
			t.Fatal(err)
		}
		payload := append([]byte("Exif\x00\x00"), exifTIFF(binary.BigEndian, o)...)
		text := fmt.Sprintf("\nexif\n%8d\n%s\n", len(payload), hex.EncodeToString(payload))
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write([]byte(text))
		zw.Close()
		data := append([]byte("Raw profile type exif\x00\x00"), z.Bytes()...)
		return insertAfterIHDR(buf.Bytes(), pngChunk("tEXt", []byte("Comment\x00hi")), pngChunk("zTXt", data))
	case "tiff":
		img := quadrants()
		var pix []byte
		for i := 0; i < len(img.Pix); i += 4 {
			pix = append(pix, img.Pix[i:i+3]...)
		}
		return buildTIFF(binary.BigEndian, []tEntry{
			{256, 3, []uint32{16}}, {257, 3, []uint32{8}}, {258, 3, []uint32{8, 8, 8}},
			{259, 3, []uint32{1}}, {262, 3, []uint32{2}}, {tagStripOffsets, 4, nil},
			{tagOrientation, 3, []uint32{uint32(o)}}, {277, 3, []uint32{3}},
			{278, 3, []uint32{8}}, {279, 4, []uint32{uint32(len(pix))}},
		}, pix)
	}
	t.Fatalf("no encoder for %s", format)
	return nil
}

func TestOrientationInContainers(t *testing.T) {
	for _, format := range []string{"jpeg", "png-exif", "png-ztxt", "tiff"} {
		for o := 1; o <= 8; o++ {
			name := fmt.Sprintf("%s_%d", format, o)
			p, err := Decode(bytes.NewReader(encoded(t, format, o)), name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if p.Orientation != o {
				t.Errorf("%s: Orientation %d", name, p.Orientation)
			}
			want := image.Rect(0, 0, 16, 8)
			if o >= 5 {
				want = image.Rect(0, 0, 8, 16)
			}
			if p.Image.Rect != want {
				t.Errorf("%s: rect %v, want %v", name, p.Image.Rect, want)
			}
			if got := p.Image.NRGBAAt(1, 1); !near(got, topLeftAfter[o], 8) {
				t.Errorf("%s: top-left %v, want %v", name, got, topLeftAfter[o])
			}
		}
	}
}

func TestWebPExif(t *testing.T) {
	dir, _ := readManifest(t)
	simple, err := os.ReadFile(filepath.Join(dir, "tricky_hopper.webp"))
	if err != nil {
		t.Fatal(err)
	}
	vp8 := simple[12:]                                  // the single VP8 chunk of a simple-format file
	vp8x := []byte{0x08, 0, 0, 0, 127, 0, 0, 127, 0, 0} // EXIF flag, 128x128 canvas
	body := append([]byte("WEBP"), riffChunk("VP8X", vp8x)...)
	body = append(body, vp8...)
	body = append(body, riffChunk("EXIF", exifTIFF(binary.LittleEndian, 6))...)
	file := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	file = append(file, body...)
	p, err := Decode(bytes.NewReader(file), "exif.webp")
	if err != nil {
		t.Fatal(err)
	}
	if p.Orientation != 6 || p.Format != "webp" {
		t.Errorf("Orientation %d Format %s, want 6 webp", p.Orientation, p.Format)
	}
}

func TestBadExifIgnored(t *testing.T) {
	// Broken metadata must not stop a photo from opening.
	var buf bytes.Buffer
	png.Encode(&buf, quadrants())
	b := insertAfterIHDR(buf.Bytes(), pngChunk("eXIf", []byte("MM\x00*\xff\xff\xff\xff")))
	p, err := Decode(bytes.NewReader(b), "badexif.png")
	if err != nil || p.Orientation != 1 {
		t.Fatalf("%v, %v; want orientation 1", p, err)
	}
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

func FuzzEXIF(f *testing.F) {
	for o := 0; o <= 9; o++ {
		f.Add(exifTIFF(binary.LittleEndian, o))
		f.Add(exifTIFF(binary.BigEndian, o))
	}
	f.Add(buildTIFF(binary.BigEndian, []tEntry{{0x010F, 2, []uint32{1, 2, 3}}, {tagOrientation, 4, []uint32{3}}}, nil))
	if b, err := os.ReadFile(filepath.Join(testImagesDir(f), "exif_orientation_6.jpg")); err == nil {
		f.Add(jpegExif(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := exifOrientation(b)
		if err == nil && (o < 1 || o > 8) {
			t.Fatalf("orientation %d without error", o)
		}
		if order, off, err := tiffHeader(b); err == nil {
			entries, _, _ := readIFD(b, order, off)
			for _, e := range entries {
				if want := uint64(typeSizes[e.Type]) * uint64(e.Count); uint64(len(e.Value)) != want {
					t.Fatalf("entry %+v: %d value bytes, want %d", e, len(e.Value), want)
				}
			}
		}
	})
}
