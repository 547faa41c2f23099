package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/engine"
	"likeness/engine/export"
	"likeness/internal/shared"
	"likeness/models/synth"
	"likeness/ort"
)

func TestMain(m *testing.M) {
	if err := ort.Init(""); err != nil {
		fmt.Println("FAIL: the app tests need ONNX Runtime:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func testImages(t *testing.T) string { return shared.TestImages(t) }

func newTestApp(t *testing.T, res int) (*App, *Engine) {
	t.Helper()
	a, err := New(Options{Provider: ort.CPU})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.Store.Root = t.TempDir()
	dir := filepath.Join(a.Store.Root, "analytic")
	if _, err := synth.Write(dir, synth.Options{Resolution: res}); err != nil {
		t.Fatal(err)
	}
	e, err := a.LoadPack(context.Background(), "analytic", nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, e
}

func quick(e *Engine) Settings {
	s := e.DefaultSettings()
	s.Steps, s.MaskSeeds, s.MaskNoiseSteps = 4, 2, 2
	return s
}

func TestDocMaskPaintUndo(t *testing.T) {
	_, e := newTestApp(t, 128)
	doc, err := OpenPhoto(filepath.Join(testImages(t), "portrait_astronaut_eileen_collins.png"))
	if err != nil {
		t.Fatal(err)
	}
	s := quick(e)
	if err := doc.Paint(1, 1, 1, true, s.Lambda); err != ErrNoMask {
		t.Fatalf("paint before a mask: %v", err)
	}
	m, err := doc.ComputeMask(context.Background(), e, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := doc.EffectiveMask(s.Lambda)
	if m.Area(s.Lambda) == 0 {
		t.Fatal("empty mask")
	}
	// λ changes the effective mask until the user paints.
	if a, b := count(doc.EffectiveMask(0.05)), count(doc.EffectiveMask(0.9)); a <= b {
		t.Fatalf("λ 0.05 gives %d cells, λ 0.9 gives %d", a, b)
	}
	if err := doc.Paint(0.5, 0.5, 1, true, s.Lambda); err != nil { // top-left corner cell
		t.Fatal(err)
	}
	painted := doc.EffectiveMask(s.Lambda)
	if !painted[0] || base[0] {
		t.Fatalf("corner cell: before %v, after painting %v", base[0], painted[0])
	}
	if !doc.Painted() || !doc.Undo() || doc.Painted() {
		t.Fatal("undo did not return to the computed mask")
	}
	if doc.Undo() {
		t.Fatal("undo with nothing to undo")
	}
	// An edit uses the painted mask.
	doc.Paint(0.5, 0.5, 1, true, s.Lambda)
	r, err := doc.Edit(context.Background(), e, s, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Mask[0] || len(doc.Results()) != 1 {
		t.Fatalf("edit ignored the painted mask (cell 0 %v) or history has %d entries", r.Mask[0], len(doc.Results()))
	}
	// A new direction makes the computed mask stale, but paint still wins:
	// no new mask is computed.
	computed := doc.Mask()
	s.Direction = "crying"
	r2, err := doc.Edit(context.Background(), e, s, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Mask() != computed || !r2.Mask[0] {
		t.Fatal("a painted mask was replaced when the direction changed")
	}
	// Without paint the stale mask is recomputed for the new direction.
	doc.ResetMask()
	if _, err := doc.Edit(context.Background(), e, s, true, nil); err != nil {
		t.Fatal(err)
	}
	if doc.Mask() == computed || len(doc.Results()) != 3 {
		t.Fatalf("mask recomputed: %v; %d results", doc.Mask() != computed, len(doc.Results()))
	}
}

// TestMaskOptionsAndTheCachedMask: the mask guidance acts on the edit only,
// so changing it reuses the computed mask; the normalisation order changes N,
// so changing it computes the mask again.
func TestMaskOptionsAndTheCachedMask(t *testing.T) {
	_, e := newTestApp(t, 64)
	doc := SyntheticDoc(image.NewNRGBA(image.Rect(0, 0, 80, 80)))
	s := quick(e)
	if s.MaskNormalize != engine.MaskNormalizeThenBlur || s.MaskGuidance != engine.MaskGuidanceEq3 {
		t.Fatalf("pack defaults %q %q", s.MaskNormalize, s.MaskGuidance)
	}
	m, err := doc.ComputeMask(context.Background(), e, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.MaskGuidance = engine.MaskGuidanceLatentBlend
	if _, err := doc.Edit(context.Background(), e, s, true, nil); err != nil {
		t.Fatal(err)
	}
	if doc.Mask() != m {
		t.Fatal("changing the mask guidance recomputed the mask")
	}
	s.MaskNormalize = engine.MaskBlurThenNormalize
	if _, err := doc.Edit(context.Background(), e, s, true, nil); err != nil {
		t.Fatal(err)
	}
	if doc.Mask() == m {
		t.Fatal("changing the mask normalisation kept the old mask")
	}
	// The UI's choices are exactly the values the engine accepts, default first.
	def := e.DefaultSettings()
	if MaskNormalizeChoices[0].Value != def.MaskNormalize || MaskGuidanceChoices[0].Value != def.MaskGuidance {
		t.Errorf("first choices %q %q, defaults %q %q", MaskNormalizeChoices[0].Value, MaskGuidanceChoices[0].Value, def.MaskNormalize, def.MaskGuidance)
	}
	for _, c := range MaskNormalizeChoices {
		s := def
		s.MaskNormalize = c.Value
		if err := e.Validate(s); err != nil || c.Label == "" {
			t.Errorf("mask normalize choice %+v: %v", c, err)
		}
	}
	for _, c := range MaskGuidanceChoices {
		s := def
		s.MaskGuidance = c.Value
		if err := e.Validate(s); err != nil || c.Label == "" {
			t.Errorf("mask guidance choice %+v: %v", c, err)
		}
	}
}

func count(m []bool) int {
	n := 0
	for _, b := range m {
		if b {
			n++
		}
	}
	return n
}

func TestExportEmbedsSettings(t *testing.T) {
	_, e := newTestApp(t, 128)
	in := filepath.Join(testImages(t), "portrait_biden_970x2204.jpg")
	doc, err := OpenPhoto(in)
	if err != nil {
		t.Fatal(err)
	}
	s := quick(e)
	s.Seed = 1234567890123
	s.MaskNormalize, s.MaskGuidance = engine.MaskBlurThenNormalize, engine.MaskGuidanceLatentBlend
	n := 4 * e.Sig.Latent * e.Sig.Latent
	s.Noise = &engine.Noise{Name: filepath.Join(t.TempDir(), "reference.npy"), Rows: make([][]float32, 1+s.MaskSeeds)}
	for i := range s.Noise.Rows {
		s.Noise.Rows[i] = make([]float32, n)
		for k := range s.Noise.Rows[i] {
			s.Noise.Rows[i][k] = float32((k*7+i)%13)/6 - 1
		}
	}
	r, err := doc.Edit(context.Background(), e, s, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "edit.png")
	if err := Export(out, e, doc, r, ExportOptions{Preserve: true}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != 970 || cfg.Height != 2204 {
		t.Fatalf("full-resolution export is %dx%d (%v), want the photo's 970x2204", cfg.Width, cfg.Height, err)
	}
	text, err := export.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := json.Unmarshal([]byte(text["likeness"]), &rec); err != nil {
		t.Fatalf("likeness chunk: %v", err)
	}
	if rec.Settings.Seed != s.Seed || rec.Pack.Files["unet/model.onnx"] == "" || rec.Mode != "mask-guided" || rec.Stats.UNetEvals["denoise"] != 5*s.Steps {
		t.Fatalf("record %+v", rec)
	}
	if p := text["parameters"]; p == "" || !contains(p, "Seed: 1234567890123") || !contains(p, "Steps: 4") ||
		!contains(p, "Likeness mask normalize: blur_then_normalize") || !contains(p, "Likeness mask guidance: eq3_latent_blend") {
		t.Fatalf("parameters chunk %q", p)
	}
	// The mask options are settings like the others; the noise file is
	// named without its folder.
	if rec.Settings.MaskNormalize != engine.MaskBlurThenNormalize || rec.Settings.MaskGuidance != engine.MaskGuidanceLatentBlend || rec.Noise != "reference.npy" {
		t.Fatalf("record settings %+v, noise %q", rec.Settings, rec.Noise)
	}
	for _, key := range []string{`"mask_normalize":"blur_then_normalize"`, `"mask_guidance":"eq3_latent_blend"`, `"noise":"reference.npy"`} {
		if !contains(text["likeness"], key) {
			t.Errorf("likeness chunk lacks %s", key)
		}
	}
	// Never over the input, never over an existing file unless asked.
	if err := Export(in, e, doc, r, ExportOptions{Overwrite: true}); err == nil {
		t.Fatal("export over the input photo was allowed")
	}
	if err := Export(out, e, doc, r, ExportOptions{}); err == nil {
		t.Fatal("export replaced an existing file without Overwrite")
	}
	if err := Export(out, e, doc, r, ExportOptions{Overwrite: true, Output: OutputModelRes}); err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestStickersKeepTransparency(t *testing.T) {
	_, e := newTestApp(t, 128)
	doc, err := OpenPhoto(filepath.Join(testImages(t), "cartoon_head11_rgba.png"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := Stickers(context.Background(), e, doc, quick(e), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Results) != 4 {
		t.Fatalf("%d stickers", len(set.Results))
	}
	st := set.Sticker(0)
	if st.Bounds().Dx() != StickerSize || st.Pix[3] != 0 {
		t.Fatalf("sticker %v, corner alpha %d: want 512x512 with a transparent corner", st.Bounds(), st.Pix[3])
	}
	dir := t.TempDir()
	paths, err := set.Export(dir, "webp", doc, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 {
		t.Fatalf("wrote %v", paths)
	}
	for _, p := range paths[1:] {
		if st, err := os.Stat(p); err != nil || st.Size() > StickerMaxWebP {
			t.Fatalf("%s: %v, %d bytes", p, err, st.Size())
		}
	}
	before := set.Results[2].Latent[0]
	if err := set.Regenerate(context.Background(), e, doc, 2, 99, nil); err != nil {
		t.Fatal(err)
	}
	if set.Settings[2].Seed != 99 || set.Settings[2].Direction != "laughing" {
		t.Fatalf("regenerated settings %+v", set.Settings[2])
	}
	_ = before
}

func TestCompareMaskGuidedPreservesMore(t *testing.T) {
	_, e := newTestApp(t, 128)
	doc, err := OpenPhoto(filepath.Join(testImages(t), "portrait_astronaut_eileen_collins.png"))
	if err != nil {
		t.Fatal(err)
	}
	s := quick(e)
	c, err := Compare(context.Background(), e, nil, doc, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Panels) != 4 {
		t.Fatalf("%d panels", len(c.Panels))
	}
	base, guided := c.Panels[2], c.Panels[3]
	if base.Evals != 4*s.Steps || guided.Evals != 5*s.Steps {
		t.Fatalf("evaluations: baseline %d, mask-guided %d", base.Evals, guided.Evals)
	}
	// The analytic pack confines the text's effect to its region, so outside
	// the mask both outputs are the same reconstruction; inside, the edit
	// moves the image away from the input.
	if d := guided.Metrics.PSNROut - base.Metrics.PSNROut; d < -0.01 || d > 0.01 || math.IsNaN(base.Metrics.PSNROut) {
		t.Fatalf("PSNR outside the mask: baseline %.2f, mask-guided %.2f", base.Metrics.PSNROut, guided.Metrics.PSNROut)
	}
	if !(guided.Metrics.PSNRIn < guided.Metrics.PSNROut) {
		t.Fatalf("inside the mask PSNR %.2f is not below outside %.2f", guided.Metrics.PSNRIn, guided.Metrics.PSNROut)
	}
	img := c.Image()
	if img.Bounds().Dx() < 4*256 { // 128 px panels are enlarged for their labels
		t.Fatalf("comparison image %v", img.Bounds())
	}
}

func TestCreateDemoPack(t *testing.T) {
	a, err := New(Options{Provider: ort.CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Store.Root = filepath.Join(t.TempDir(), "packs")
	p, err := a.CreateDemoPack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	packs, errs := a.Store.List()
	if len(packs) != 1 || len(errs) != 0 || packs[0].Dir != p.Dir {
		t.Fatalf("store lists %v %v", packs, errs)
	}
	if p2, err := a.CreateDemoPack(context.Background()); err != nil || p2.Dir != p.Dir {
		t.Fatalf("second call: %v", err)
	}
}

// TestCompareKeepsPaintAndMasksBelongToTheirPack: a comparison uses the
// painted mask instead of recomputing (and erasing) it, and a mask computed
// by one pack is never used by another.
func TestCompareKeepsPaintAndMasksBelongToTheirPack(t *testing.T) {
	a, e := newTestApp(t, 128)
	doc, err := OpenPhoto(filepath.Join(testImages(t), "portrait_astronaut_eileen_collins.png"))
	if err != nil {
		t.Fatal(err)
	}
	s := quick(e)
	if _, err := doc.ComputeMask(context.Background(), e, s, nil); err != nil {
		t.Fatal(err)
	}
	doc.Paint(0.5, 0.5, 1, true, s.Lambda)
	c, err := Compare(context.Background(), e, nil, doc, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Painted() || !c.Panels[3].Result.Mask[0] {
		t.Fatalf("compare dropped the paint (painted %v, cell 0 %v)", doc.Painted(), c.Panels[3].Result.Mask[0])
	}
	if n := len(doc.Results()); n != 0 {
		t.Fatalf("compare added %d results to the history", n)
	}
	// Another pack at another resolution: the old mask must not be used.
	dir := filepath.Join(a.Store.Root, "bigger")
	if _, err := synth.Write(dir, synth.Options{Resolution: 256}); err != nil {
		t.Fatal(err)
	}
	e2, err := a.LoadPack(context.Background(), "bigger", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := doc.Edit(context.Background(), e2, quick(e2), true, nil)
	if err != nil {
		t.Fatalf("edit with another pack: %v", err)
	}
	if len(r.Mask) != 32*32 || r.Crop != doc.Crop() {
		t.Fatalf("mask of %d cells, crop %v", len(r.Mask), r.Crop)
	}
}

func TestCreateDemoPackReplacesABrokenOne(t *testing.T) {
	a, err := New(Options{Provider: ort.CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Store.Root = filepath.Join(t.TempDir(), "packs")
	p, err := a.CreateDemoPack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unet := p.ModelPath("unet")
	if err := os.WriteFile(unet, []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	p2, err := a.CreateDemoPack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.CheckFiles(); err != nil {
		t.Fatalf("the replaced demo pack is broken: %v", err)
	}
	entries, _ := os.ReadDir(a.Store.Root)
	if len(entries) != 1 {
		t.Fatalf("store holds %d entries, want only the demo pack", len(entries))
	}
}

// TestExportKeepsFoldersPrivate: the settings a PNG or JPEG export carries
// name the input photo by file name and SHA-256, never by the folders above
// it, unless the user asks for the path (ExportOptions.RecordPath).
func TestExportKeepsFoldersPrivate(t *testing.T) {
	_, e := newTestApp(t, 64)
	home := filepath.Join(t.TempDir(), "home", "private-user-name", "Pictures")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(home, "face.png")
	src, err := os.ReadFile(filepath.Join(testImages(t), "tricky_hopper.bmp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, src, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := OpenPhoto(in)
	if err != nil {
		t.Fatal(err)
	}
	s := quick(e)
	s.Steps, s.MaskSeeds, s.MaskNoiseSteps = 1, 1, 1
	r, err := doc.Edit(context.Background(), e, s, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	for _, recordPath := range []bool{false, true} {
		for _, ext := range []string{".png", ".jpg"} {
			out := filepath.Join(t.TempDir(), fmt.Sprintf("edit-%v%s", recordPath, ext))
			if err := Export(out, e, doc, r, ExportOptions{Preserve: true, RecordPath: recordPath}); err != nil {
				t.Fatal(err)
			}
			var chunk string
			if ext == ".png" {
				text, err := export.ReadPNGText(out)
				if err != nil {
					t.Fatal(err)
				}
				chunk = text["likeness"]
			} else {
				comments, err := export.ReadJPEGComments(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range comments {
					if strings.Contains(c, `"likeness_version"`) {
						chunk = c
					}
				}
			}
			var rec Record
			if err := json.Unmarshal([]byte(chunk), &rec); err != nil {
				t.Fatalf("%s: likeness record: %v (%q)", out, err, chunk)
			}
			if rec.InputSHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: input_sha256 %q, want the photo's", out, rec.InputSHA256)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			leaked := bytes.Contains(data, []byte("private-user-name"))
			switch {
			case !recordPath && (rec.Input != "face.png" || leaked):
				t.Errorf("%s: input %q; the file holds the folder name: %v", out, rec.Input, leaked)
			case recordPath && rec.Input != in:
				t.Errorf("%s with RecordPath: input %q, want %q", out, rec.Input, in)
			}
		}
	}
}

// TestCompareWithSDPack: with an sd pack the comparison adds the SDEdit
// panels and the DiffEdit panel; DiffEdit keeps the photo outside its mask
// (here the same region as the mask-guided edit's), which SDEdit does not.
func TestCompareWithSDPack(t *testing.T) {
	a, e := newTestApp(t, 128)
	if _, err := synth.Write(filepath.Join(a.Store.Root, "sd"), synth.Options{Kind: "sd", Resolution: 128}); err != nil {
		t.Fatal(err)
	}
	sd, err := a.LoadPack(context.Background(), "sd", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := OpenPhoto(filepath.Join(testImages(t), "portrait_astronaut_eileen_collins.png"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(context.Background(), e, sd, doc, quick(e), nil)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range c.Panels {
		labels = append(labels, p.Label)
	}
	if len(c.Panels) != 7 || labels[4] != "SDEdit 0.5" || labels[5] != "SDEdit 0.8" || labels[6] != "DiffEdit 0.8" {
		t.Fatalf("panels %q", labels)
	}
	sdedit, diffedit := c.Panels[5], c.Panels[6]
	if diffedit.Result.Mode != engine.ModeDiffEdit || diffedit.Metrics == nil || diffedit.Evals == 0 {
		t.Fatalf("DiffEdit panel %+v", diffedit)
	}
	if !(diffedit.Metrics.PSNROut > sdedit.Metrics.PSNROut+3) {
		t.Fatalf("PSNR outside the mask: DiffEdit %.2f, SDEdit 0.8 %.2f", diffedit.Metrics.PSNROut, sdedit.Metrics.PSNROut)
	}
	if w := PackWarnings(sd); len(w) != 0 {
		t.Fatalf("warnings %q for a plain pack", w)
	}
}

// TestPackWarningsSamplingVAE: a pack whose vae_encoder samples is
// reported to the UI through PackWarnings.
func TestPackWarningsSamplingVAE(t *testing.T) {
	a, _ := newTestApp(t, 64)
	if _, err := synth.Write(filepath.Join(a.Store.Root, "sampling"), synth.Options{Resolution: 64, SamplingVAE: "normal"}); err != nil {
		t.Fatal(err)
	}
	e, err := a.LoadPack(context.Background(), "sampling", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := PackWarnings(e)
	if len(w) != 1 || !strings.Contains(w[0], "vae_encoder samples") || !strings.Contains(w[0], "RandomNormalLike") {
		t.Fatalf("warnings %q", w)
	}
}

// IsDemo knows an analytic pack by its manifest, not by its folder or name,
// and never takes a trained pack for one.
func TestIsDemoByManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portrait-editor")
	if _, err := synth.Write(dir, synth.Options{Resolution: 64}); err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs(filepath.Join("..", "models", "starter", "packs", "cartoon-expressions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    *Pack
		want bool
	}{
		{&Pack{Dir: dir, Name: "Portrait editor"}, true},
		{&Pack{Dir: repo, Name: "Cartoon expressions"}, false},
		{&Pack{Dir: filepath.Join(t.TempDir(), DemoPackName), Name: "a demo that is not there"}, false},
		{nil, false},
	} {
		if got := IsDemo(tc.p); got != tc.want {
			name := "nil"
			if tc.p != nil {
				name = tc.p.Name
			}
			t.Errorf("IsDemo(%s) = %v, want %v", name, got, tc.want)
		}
	}
}

// A re-edit that changes only λ or the mask guidance reuses the mask: no
// mask passes, the same mask; a change the contract's mask reads (a
// guidance scale) computes it again.
func TestReEditReusesTheMask(t *testing.T) {
	_, e := newTestApp(t, 128)
	doc, err := OpenPhoto(filepath.Join(testImages(t), "portrait_astronaut_eileen_collins.png"))
	if err != nil {
		t.Fatal(err)
	}
	s := quick(e)
	if doc.MaskReady(e, s) {
		t.Fatal("a fresh doc says its mask is ready")
	}
	if _, err := doc.Edit(context.Background(), e, s, true, nil); err != nil {
		t.Fatal(err)
	}
	m := doc.Mask()
	s2 := s
	s2.Lambda += 0.1
	if !doc.MaskReady(e, s2) {
		t.Error("changing λ would recompute the mask")
	}
	r, err := doc.Edit(context.Background(), e, s2, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Mask() != m {
		t.Error("the λ re-edit recomputed the mask")
	}
	if got, want := r.Stats.UNetEvals[engine.PhaseMask], 0; got != want {
		t.Errorf("re-edit spent %d mask passes, want %d", got, want)
	}
	s3 := s
	s3.S1 += 0.5
	if doc.MaskReady(e, s3) {
		t.Error("changing s1 reuses a mask the contract computes with s1")
	}
}
