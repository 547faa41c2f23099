package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"likeness/models/synth"
	"likeness/stickerpack"
)

func TestCompareOnePhoto(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	dir := t.TempDir()
	photo := filepath.Join(dir, "face.png")
	writePhoto(t, photo, 80, 100)
	out := filepath.Join(dir, "cmp.png")
	r := must(t, "compare", "--pack", pack, "--input", photo, "--out", out, "--steps", "2", "--mask-seeds", "1", "--json")
	var rep struct {
		Output   string
		MaskArea *float64 `json:"mask_area"`
		Settings map[string]any
		Panels   []map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if rep.Output != out || rep.MaskArea == nil || rep.Settings == nil || len(rep.Panels) < 4 {
		t.Fatalf("report: %s", r.stdout)
	}
	withMetrics := 0
	for _, p := range rep.Panels {
		if p["label"] == nil || p["unet_evals"] == nil || p["time_ms"] == nil {
			t.Errorf("panel %v lacks label, unet_evals or time_ms", p)
		}
		if _, ok := p["psnr_in"]; ok {
			withMetrics++
			for _, k := range []string{"psnr_out", "ssim_in", "ssim_out"} {
				if _, ok := p[k]; !ok {
					t.Errorf("panel %v has psnr_in but no %s", p["label"], k)
				}
			}
		}
	}
	if withMetrics < 2 {
		t.Errorf("%d panels with metrics, want the baseline and the mask-guided edit: %s", withMetrics, r.stdout)
	}
	b := readPNG(t, out).Bounds()
	if b.Dx() < 4*64 || b.Dy() < 64 {
		t.Errorf("comparison image is %v, want at least four 64x64 panels side by side", b)
	}
}

func TestCompareFolder(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	in := filepath.Join(t.TempDir(), "photos")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	writePhoto(t, filepath.Join(in, "a.png"), 64, 64)
	writePhoto(t, filepath.Join(in, "b.png"), 90, 70)
	if err := os.WriteFile(filepath.Join(in, "broken.jpg"), []byte("not a photo at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "notes.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report")
	r := likeness(t, t.Context(), "compare", "--pack", pack, "--input", in, "--out", out, "--steps", "2", "--mask-seeds", "1")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "broken.jpg") {
		t.Errorf("want exit 1 naming broken.jpg: %v", r)
	}
	for _, name := range []string{"a.compare.png", "b.compare.png"} {
		readPNG(t, filepath.Join(out, name))
	}
	if exists(filepath.Join(out, "broken.compare.png")) {
		t.Error("a comparison was written for the broken file")
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"a.compare.png", "b.compare.png", "broken.jpg"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("report.html lacks %s", w)
		}
	}
	f, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("metrics.csv: %v", err)
	}
	photos := map[string]int{}
	for _, row := range rows[1:] {
		photos[row[0]]++
		if row[0] == "broken.jpg" && row[1] != "error" {
			t.Errorf("broken.jpg row %v", row)
		}
	}
	if rows[0][0] != "photo" || photos["a.png"] < 2 || photos["b.png"] < 2 || photos["broken.jpg"] != 1 || len(photos) != 3 {
		t.Errorf("metrics.csv rows per photo %v (header %v)", photos, rows[0])
	}
}

// TestCompareFolderSameStem: photo.gif, photo.tif and photo.webp each get
// their own comparison and their own rows; none fails with "file exists".
func TestCompareFolderSameStem(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	in := filepath.Join(t.TempDir(), "photos")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	inputs := []string{"photo.gif", "photo.tif", "photo.webp", "other.png"}
	for i, name := range inputs {
		writePhoto(t, filepath.Join(in, name), 64+i, 64) // PNG data: formats are sniffed, not taken from the name
	}
	out := filepath.Join(t.TempDir(), "report")
	must(t, "compare", "--pack", pack, "--input", in, "--out", out, "--steps", "1", "--mask-seeds", "1")
	for _, name := range []string{"photo.gif.compare.png", "photo.tif.compare.png", "photo.webp.compare.png", "other.compare.png"} {
		readPNG(t, filepath.Join(out, name))
	}
	f, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	for _, row := range rows[1:] {
		if row[1] == "error" {
			t.Errorf("%s failed: %s", row[0], row[9])
		}
		outputs[row[0]] = row[10]
	}
	if len(outputs) != len(inputs) || outputs["photo.gif"] != "photo.gif.compare.png" || outputs["other.png"] != "other.compare.png" {
		t.Errorf("metrics.csv outputs per photo: %v", outputs)
	}
}

func TestBatchOutputNames(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"a.png", "b.jpg"}, []string{"a.x.png", "b.x.png"}},
		{[]string{"photo.gif", "photo.tif", "photo.webp"}, []string{"photo.gif.x.png", "photo.tif.x.png", "photo.webp.x.png"}},
		{[]string{"Photo.JPG", "photo.png"}, []string{"Photo.JPG.x.png", "photo.png.x.png"}},
		{[]string{"p.gif", "p.gif.png", "p.png"}, []string{"p.gif.x.png", "p.gif-2.x.png", "p.png.x.png"}},
	}
	for _, tt := range tests {
		got := batchOutputNames(tt.in, ".x.png")
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("batchOutputNames(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestStickers(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	dir := t.TempDir()
	photo := filepath.Join(dir, "me.png")
	writePhoto(t, photo, 100, 100)
	out := filepath.Join(dir, "stickers")
	r := must(t, "stickers", "--pack", pack, "--input", photo, "--out", out, "--format", "webp", "--steps", "2", "--mask-seeds", "1")
	if n := len(strings.Fields(r.stdout)); n != 5 {
		t.Errorf("%d paths printed, want the sheet and four stickers:\n%s", n, r.stdout)
	}
	readPNG(t, filepath.Join(out, "me.stickers.png"))
	for _, d := range []string{"angry", "shocked", "laughing", "crying"} {
		p := filepath.Join(out, "me.sticker-"+d+".webp")
		st, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Size() >= 100*1024 {
			t.Errorf("%s has %d bytes, want under 100 KB", p, st.Size())
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := webp.DecodeConfig(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
}

// --out NAME.png writes the sheet there and the stickers beside it; another
// image name is refused before any work, never made into a folder.
func TestStickersOutSheet(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	dir := t.TempDir()
	photo := filepath.Join(dir, "me.png")
	writePhoto(t, photo, 100, 100)
	sheet := filepath.Join(dir, "out", "sheet.png")
	must(t, "stickers", "--pack", pack, "--input", photo, "--out", sheet, "--steps", "2", "--mask-seeds", "1")
	if st, err := os.Stat(sheet); err != nil || st.IsDir() {
		t.Fatalf("the sheet is not a file at %s: %v", sheet, err)
	}
	readPNG(t, sheet)
	for _, d := range []string{"angry", "shocked", "laughing", "crying"} {
		if _, err := os.Stat(filepath.Join(dir, "out", "me.sticker-"+d+".webp")); err != nil {
			t.Error(err)
		}
	}
	bad := filepath.Join(dir, "sheet.jpg")
	r := likeness(t, t.Context(), "stickers", "--pack", pack, "--input", photo, "--out", bad, "--steps", "2")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "give a .png name") {
		t.Errorf("--out sheet.jpg: %v", r)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("--out sheet.jpg made %s", bad)
	}
}

// writeFigure draws a dark figure on white, w x h, as a PNG: opaque, so a
// sticker's transparency must come from the pack's foreground model.
func writeFigure(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{255, 255, 255, 255}
			if dx, dy := x-w/2, y-h/2; dx*dx+dy*dy < (min(w, h)/3)*(min(w, h)/3) {
				c = color.NRGBA{70, 40, uint8(40 + 100*x/w), 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// --pack-format writes a pack that passes the platform's rules; opaque
// stickers are refused for WhatsApp with the reason.
func TestStickerPacks(t *testing.T) {
	pack := newPack(t, synth.Options{Kind: "mcdm", Resolution: 64, Foreground: true})
	dir := t.TempDir()
	photo := filepath.Join(dir, "me.png")
	writeFigure(t, photo, 120, 120)
	for _, format := range []string{"whatsapp", "telegram"} {
		out := filepath.Join(dir, format)
		r := must(t, "stickers", "--pack", pack, "--input", photo, "--out", out, "--pack-format", format, "--pack-name", "Me",
			"--author", "Tester", "--directions", "angry,laughing", "--seeds", "2", "--steps", "2", "--mask-seeds", "1", "--json")
		var got struct {
			Stickers int
			Cutout   string
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Stickers != 4 || got.Cutout != "model" {
			t.Errorf("%s: --json %s (%v): want 4 stickers cut out by the model", format, r.stdout, err)
		}
		if err := stickerpack.Check(out, stickerpack.Platforms[format]); err != nil {
			t.Errorf("%s pack fails its rules: %v", format, err)
		}
		readPNG(t, out+".sheet.png")
	}
	plain := sharedPack(t, "mcdm")
	r := likeness(t, t.Context(), "stickers", "--pack", plain, "--input", photo, "--out", filepath.Join(dir, "opaque"), "--pack-format", "whatsapp", "--steps", "2", "--mask-seeds", "1")
	if r.code == 0 || !strings.Contains(r.stderr, "transparent background") {
		t.Errorf("WhatsApp pack from a pack without a foreground model: %v", r)
	}
	r = likeness(t, t.Context(), "stickers", "--pack", plain, "--input", photo, "--out", filepath.Join(dir, "x"), "--pack-format", "signal")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "telegram or whatsapp") {
		t.Errorf("--pack-format signal: %v", r)
	}
}
