package eval

import (
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/models"
)

// These tests need no model: they check the metrics and the folder and
// manifest handling against values worked out by hand. The runs through the
// engine are tested in package cli (likeness eval on an analytic pack).

// flat is a size x size image of one colour with a differently coloured
// square face at box.
func flat(size int, bg, face color.NRGBA, box image.Rectangle) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			c := bg
			if (image.Point{x, y}).In(box) {
				c = face
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// textured is an image with structure everywhere (SSIM needs variance).
func textured(size int, seed int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			v := uint8((x*7 + y*13 + seed*31 + (x*y)%17) % 200)
			img.SetNRGBA(x, y, color.NRGBA{v + 20, 255 - v, uint8((x + seed) * 3), 255})
		}
	}
	return img
}

func rectMask(size int, r image.Rectangle) []bool {
	m := make([]bool, size*size)
	for y := range size {
		for x := range size {
			m[y*size+x] = (image.Point{x, y}).In(r)
		}
	}
	return m
}

func TestScorePerfectOutput(t *testing.T) {
	const size = 48
	box := image.Rect(12, 10, 36, 40)
	src := textured(size, 1)
	target := textured(size, 1)
	for y := 14; y < 30; y++ { // the edit: a band inside the face
		for x := 16; x < 32; x++ {
			target.SetNRGBA(x, y, color.NRGBA{250, 20, 20, 255})
		}
	}
	truth := rectMask(size, image.Rect(16, 14, 32, 30))
	cands := []Candidate{{CandidateSource, src}, {"angry", target}, {"shocked", textured(size, 2)}}
	s := Score(target, target, truth, cands, "angry", box)
	if s.SSIM != 1 || s.PSNR != PSNRCap || s.SSIMOut != 1 || s.PSNROut != PSNRCap {
		t.Errorf("perfect output: %+v, want SSIM 1 and PSNR %g (the cap for +Inf)", s, PSNRCap)
	}
	if !s.Recognised || s.Nearest != "angry" {
		t.Errorf("perfect output not recognised: %+v", s)
	}
	// The source itself: perfect outside the change, but not the edit.
	s = Score(src, target, truth, cands, "angry", box)
	if s.SSIMOut >= 1 || s.PSNROut != PSNRCap || s.Recognised || s.Nearest != CandidateSource {
		t.Errorf("the unedited source: %+v", s)
	}
	if s.SSIM >= 1 || float64(s.PSNR) >= PSNRCap {
		t.Errorf("the unedited source scores like the target: %+v", s)
	}
}

func TestPSNRClosedForm(t *testing.T) {
	// Every channel off by 5 levels: MSE 25, PSNR = 10·log10(255²/25).
	box := image.Rect(0, 0, 32, 32)
	a := flat(32, color.NRGBA{100, 100, 100, 255}, color.NRGBA{50, 60, 70, 255}, image.Rect(8, 8, 24, 24))
	b := flat(32, color.NRGBA{105, 105, 105, 255}, color.NRGBA{55, 65, 75, 255}, image.Rect(8, 8, 24, 24))
	s := Score(b, a, make([]bool, 32*32), nil, "x", box)
	want := 10 * math.Log10(255*255/25.0)
	if math.Abs(float64(s.PSNR)-want) > 1e-9 || math.Abs(float64(s.PSNROut)-want) > 1e-9 {
		t.Errorf("PSNR %v / %v, want %v", s.PSNR, s.PSNROut, want)
	}
	if s.Nearest != "" || s.Recognised {
		t.Errorf("no candidates, yet %+v", s)
	}
}

func TestRecallAndAreaRatio(t *testing.T) {
	const size = 20
	truth := rectMask(size, image.Rect(5, 5, 15, 15)) // 100 pixels
	cases := []struct {
		name          string
		pred          []bool
		recall, ratio float64
	}{
		{"equal", rectMask(size, image.Rect(5, 5, 15, 15)), 1, 1},
		{"empty", make([]bool, size*size), 0, 0},
		{"twice as big, covering", rectMask(size, image.Rect(5, 0, 15, 20)), 1, 2},
		{"left half", rectMask(size, image.Rect(5, 5, 10, 15)), 0.5, 0.5},
		// 8 of 10 columns of the change plus 12 columns beside it: 80 hits, 200 pixels.
		{"shifted and wide", rectMask(size, image.Rect(7, 5, 20, 15)), 0.8, 1.3},
	}
	for _, c := range cases {
		if r := Recall(c.pred, truth); math.Abs(r-c.recall) > 1e-12 {
			t.Errorf("%s: recall %v, want %v", c.name, r, c.recall)
		}
		if a := AreaRatio(c.pred, truth); math.Abs(a-c.ratio) > 1e-12 {
			t.Errorf("%s: area ratio %v, want %v", c.name, a, c.ratio)
		}
	}
	none := make([]bool, size*size)
	if !math.IsNaN(Recall(truth, none)) || !math.IsNaN(AreaRatio(truth, none)) {
		t.Error("no true change should give NaN")
	}
}

func TestRecognisedPicksNearestOnTheFaceBox(t *testing.T) {
	const size = 40
	box := image.Rect(10, 10, 30, 30)
	bg := color.NRGBA{30, 90, 200, 255}
	src := flat(size, bg, color.NRGBA{230, 180, 150, 255}, box)
	angry := flat(size, bg, color.NRGBA{250, 120, 110, 255}, box)
	shocked := flat(size, bg, color.NRGBA{170, 230, 150, 255}, box)
	cands := []Candidate{{CandidateSource, src}, {"angry", angry}, {"shocked", shocked}}

	// Meant to be angry, but the face came out green: its nearest rendering
	// is shocked, even though the background matches angry exactly.
	out := flat(size, bg, color.NRGBA{180, 225, 150, 255}, box)
	s := Score(out, angry, rectMask(size, box), cands, "angry", box)
	if s.Recognised || s.Nearest != "shocked" {
		t.Errorf("wrong edit recognised: %+v", s)
	}
	if s.PSNROut != PSNRCap {
		t.Errorf("outside the change the output is exact, PSNR out %v", s.PSNROut)
	}
	// A change outside the face box does not count.
	out = flat(size, color.NRGBA{0, 0, 0, 255}, color.NRGBA{245, 125, 112, 255}, box)
	if i := Nearest(out, cands, box); cands[i].Label != "angry" {
		t.Errorf("nearest %s, want angry", cands[i].Label)
	}
	// A tie goes to the first candidate (the source).
	if i := Nearest(src, []Candidate{{CandidateSource, src}, {"same", src}}, box); i != 0 {
		t.Errorf("tie went to %d", i)
	}
	// A box reaching past the image is clipped; wrong-sized candidates are skipped.
	if i := Nearest(angry, []Candidate{{"small", image.NewNRGBA(image.Rect(0, 0, 8, 8))}, {"angry", angry}}, image.Rect(-5, -5, 100, 100)); i != 1 {
		t.Errorf("nearest %d", i)
	}
}

func writeIndex(t *testing.T, dir string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pairLine(id, dir, split string, extra string) string {
	return `{"identity":"` + id + `","task":"expressions","direction":"` + dir + `","source":"` + id + `/source.png","target":"` + id + `/` + dir +
		`.png","mask":"` + id + `/` + dir + `_mask.png","face_box":[4,4,28,28],"size":32,"split":"` + split + `"` + extra + `}`
}

func TestReadFolderAndSelect(t *testing.T) {
	dir := t.TempDir()
	writeIndex(t, dir,
		pairLine("id1", "angry", "test", ""),
		"",
		pairLine("id1", "shocked", "test", `,"mask_kind":"difference"`),
		pairLine("id2", "angry", "val", ""),
		pairLine("id3", "angry", "train", ""))
	f, err := ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pairs) != 4 || f.Pairs[1].Line != 3 || f.Pairs[1].TrueMask() || !f.Pairs[0].TrueMask() {
		t.Fatalf("pairs %+v", f.Pairs)
	}
	if p := f.Pairs[0]; p.Box() != image.Rect(4, 4, 28, 28) || p.ID() != "id1/angry" || f.Path(p.Source) != filepath.Join(dir, "id1", "source.png") {
		t.Errorf("pair %+v", p)
	}
	for _, c := range []struct {
		split, dir string
		limit, n   int
	}{{SplitTest, "", 0, 2}, {SplitVal, "", 0, 1}, {SplitAll, "", 0, 4}, {SplitAll, "angry", 0, 3}, {SplitTest, "", 1, 1}, {"nope", "", 0, 0}} {
		if got := f.Select(c.split, c.dir, c.limit); len(got) != c.n {
			t.Errorf("Select(%q, %q, %d): %d pairs, want %d", c.split, c.dir, c.limit, len(got), c.n)
		}
	}
	if ds := f.Directions(); strings.Join(ds, ",") != "angry,shocked" {
		t.Errorf("directions %v", ds)
	}

	bad := []struct{ line, want string }{
		{`{"identity":`, "index.jsonl:1"},
		{strings.Replace(pairLine("a", "angry", "test", ""), `"identity":"a",`, "", 1), `"identity" is missing`},
		{strings.Replace(pairLine("a", "angry", "test", ""), `a/source.png`, `../source.png`, 1), "relative path"},
		{strings.Replace(pairLine("a", "angry", "test", ""), `[4,4,28,28]`, `[4,4,40,28]`, 1), "face_box"},
		{strings.Replace(pairLine("a", "angry", "test", ""), `"size":32`, `"size":0`, 1), "size"},
		{pairLine("a", "angry", "test", `,"mask_kind":"fuzzy"`), "mask_kind"},
	}
	for _, b := range bad {
		d := t.TempDir()
		writeIndex(t, d, b.line)
		if _, err := ReadFolder(d); !errors.Is(err, ErrBadPairs) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: %v, want %q", b.line, err, b.want)
		}
	}
	d := t.TempDir()
	writeIndex(t, d, pairLine("a", "angry", "test", ""), pairLine("a", "angry", "val", ""))
	if _, err := ReadFolder(d); err == nil || !strings.Contains(err.Error(), "index.jsonl:2") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("duplicate pair: %v", err)
	}
	if _, err := ReadFolder(t.TempDir()); !errors.Is(err, ErrBadPairs) || !strings.Contains(err.Error(), "likeness_train pairs") {
		t.Errorf("no index: %v", err)
	}
}

func TestLoadMaskKinds(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 2, 2))
	copy(g.Pix, []uint8{0, 1, 127, 255})
	path := filepath.Join(dir, "m.png")
	f, _ := os.Create(path)
	png.Encode(f, g)
	f.Close()
	change, err := loadMask(path, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	diff, _ := loadMask(path, 2, true)
	if want := []bool{false, false, false, true}; !equal(change, want) {
		t.Errorf("change mask %v, want %v", change, want)
	}
	if want := []bool{false, true, true, true}; !equal(diff, want) {
		t.Errorf("difference map %v, want %v", diff, want)
	}
	if _, err := loadMask(path, 8, false); !errors.Is(err, ErrBadPairs) {
		t.Errorf("wrong size: %v", err)
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNumJSON(t *testing.T) {
	data, err := json.Marshal([]Num{1.5, Num(math.NaN()), Num(math.Inf(1))})
	if err != nil || string(data) != "[1.5,null,null]" {
		t.Fatalf("%s, %v", data, err)
	}
	var back []Num
	if err := json.Unmarshal(data, &back); err != nil || back[0] != 1.5 || !math.IsNaN(float64(back[1])) {
		t.Errorf("%v, %v", back, err)
	}
}

func TestChooseFollowsTheRule(t *testing.T) {
	tr := func(l, ssim, recall float64) Trial {
		return Trial{Lambda: l, ProductSSIM: Num(ssim), MaskRecall: Num(recall), MeetsRecall: recall >= MinRecall}
	}
	// The best SSIM overall has too little recall: the best among those with enough wins.
	trials := []Trial{tr(0.1, 0.80, 0.99), tr(0.2, 0.85, 0.95), tr(0.3, 0.90, 0.85), tr(0.4, 0.85, 0.92)}
	if c, note := choose(trials, true); c.Lambda != 0.2 || note != "" {
		t.Errorf("choice %+v (%s), want λ 0.2", c, note)
	}
	// None reaches 0.9: the highest recall, and a note.
	trials = []Trial{tr(0.1, 0.80, 0.70), tr(0.2, 0.95, 0.85), tr(0.3, 0.99, 0.60)}
	if c, note := choose(trials, true); c.Lambda != 0.2 || !strings.Contains(note, "no setting") {
		t.Errorf("choice %+v (%s), want λ 0.2", c, note)
	}
	// No true change masks: by SSIM alone.
	nan := Num(math.NaN())
	trials = []Trial{{Lambda: 0.1, ProductSSIM: 0.8, MaskRecall: nan}, {Lambda: 0.2, ProductSSIM: 0.9, MaskRecall: nan}}
	if c, note := choose(trials, false); c.Lambda != 0.2 || !strings.Contains(note, "SSIM alone") {
		t.Errorf("choice %+v (%s), want λ 0.2", c, note)
	}
	if len(DefaultLambdas) != 13 || DefaultLambdas[0] != 0.02 || DefaultLambdas[1] != 0.05 || DefaultLambdas[12] != 0.6 || DefaultLambdas[5] != 0.25 {
		t.Errorf("grid %v", DefaultLambdas)
	}
}

func TestWriteDefaultsKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	manifest := `{
  "format": 1,
  "name": "Cartoon expressions",
  "kind": "mcdm",
  "defaults": {"s1": 3, "lambda": 0.35, "steps": 20},
  "extra": {"kept": [1, 2, 3]},
  "files": {
    "likeness.json": {"bytes": 1, "sha256": "` + strings.Repeat("a", 64) + `"},
    "unet/model.onnx": {"bytes": 1, "sha256": "` + strings.Repeat("b", 64) + `"}
  }
}`
	path := filepath.Join(dir, models.ManifestFile)
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &models.Pack{Dir: dir, Name: "Cartoon expressions", HasManifest: true}
	note, err := WriteDefaults(p, Trial{Lambda: 0.25, MaskNormalize: models.MaskBlurThenNormalize, MaskGuidance: models.MaskGuidanceLatentBlend})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "own digest") {
		t.Errorf("note %q", note)
	}
	data, _ := os.ReadFile(path)
	m, err := models.ParseManifest(data, path)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Defaults
	if d.Lambda != 0.25 || d.MaskNormalize != models.MaskBlurThenNormalize || d.MaskGuidance != models.MaskGuidanceLatentBlend || d.S1 != 3 || d.Steps != 20 {
		t.Errorf("defaults %+v", d)
	}
	if _, ok := m.Files[models.ManifestFile]; ok || len(m.Files) != 1 {
		t.Errorf("files %v", m.Files)
	}
	text := string(data)
	if !strings.Contains(text, `"kept": [`) || strings.Index(text, `"name"`) > strings.Index(text, `"defaults"`) ||
		strings.Index(text, `"defaults"`) > strings.Index(text, `"extra"`) {
		t.Errorf("keys lost or reordered:\n%s", text)
	}
	// A pack without likeness.json is refused.
	if _, err := WriteDefaults(&models.Pack{Dir: dir, Name: "x"}, Trial{}); err == nil {
		t.Error("wrote defaults into a pack without a manifest")
	}
	// A value the manifest would refuse: nothing is written.
	before, _ := os.ReadFile(path)
	if _, err := WriteDefaults(p, Trial{Lambda: 2, MaskNormalize: models.MaskNormalizeThenBlur, MaskGuidance: models.MaskGuidanceEq3}); err == nil {
		t.Error("λ 2 written")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a refused manifest was written")
	}
}

// A mean recall that only just reaches 0.9 over a few scattered pairs does
// not meet the rule; the same mean from pairs that agree does.
func TestMeetsRecallNeedsAMargin(t *testing.T) {
	of := func(vs ...float64) mean {
		var m mean
		for _, v := range vs {
			m.add(v)
		}
		return m
	}
	scattered := of(0.99, 0.82, 0.99, 0.82) // mean 0.905, standard error 0.049
	agreeing := of(0.91, 0.90, 0.91, 0.90)  // mean 0.905, standard error 0.003
	if meetsRecall(scattered) {
		t.Errorf("scattered recalls (mean %v, low %v) meet the rule", scattered.value(), scattered.lower())
	}
	if !meetsRecall(agreeing) {
		t.Errorf("agreeing recalls (mean %v, low %v) miss the rule", agreeing.value(), agreeing.lower())
	}
	if got, want := float64(scattered.lower()), 0.905-0.049075; math.Abs(got-want) > 1e-4 {
		t.Errorf("lower %v, want %v", got, want)
	}
	if !meetsRecall(of(0.95)) || meetsRecall(of(0.85)) {
		t.Error("a single pair is judged by its recall")
	}
}
