package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"likeness/internal/shared"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"likeness/app"
	"likeness/engine/export"
	"likeness/models/synth"
	"likeness/stickerpack"
)

// harness drives the real window; posted UI work is queued and run on the
// test goroutine, which plays the UI goroutine.
type harness struct {
	t   *testing.T
	s   *State
	win fyne.Window
	q   chan func()
}

func testImages(t *testing.T) string { return shared.TestImages(t) }

// newHarness makes a window over a store holding a small analytic pack.
func newHarness(t *testing.T) *harness {
	t.Helper()
	a, err := app.New(app.Options{Provider: "cpu"})
	if err != nil {
		t.Fatalf("ONNX Runtime is needed for the UI tests (run `make ort` or set LIKENESS_ORT_LIB): %v", err)
	}
	t.Cleanup(func() { a.Close() })
	root := t.TempDir()
	a.Store.Root = root
	a.Store.Extra = nil
	if _, err := synth.Write(filepath.Join(root, app.DemoPackName), synth.Options{Kind: "mcdm", Resolution: 128}); err != nil {
		t.Fatal(err)
	}
	fa := test.NewApp()
	t.Cleanup(fa.Quit)
	w := test.NewWindow(nil)
	w.Resize(fyne.NewSize(1200, 800))
	h := &harness{t: t, win: w, q: make(chan func(), 4096)}
	s := newState(fa, w)
	s.watch = &recorder{}
	s.post = func(fn func()) { h.q <- fn }
	s.build()
	h.s = s
	s.Attach(a)
	h.idle()
	if s.eng == nil {
		t.Fatalf("pack did not load: %v", rec(s).lastErr)
	}
	// Small settings so the tests run fast under -race.
	s.settings.Steps, s.settings.MaskSeeds, s.settings.MaskNoiseSteps = 4, 2, 2
	s.syncSettingsToWidgets()
	return h
}

// idle runs posted UI work until no background work is left.
func (h *harness) idle() {
	h.t.Helper()
	// Generous: under -race on a busy 2-core machine a sticker set takes a
	// minute or more; this only bounds a hung test.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case fn := <-h.q:
			fn()
			continue
		default:
		}
		if rec(h.s).busy.Load() == 0 && len(h.q) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatal("background work did not finish")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) open(name string) {
	h.t.Helper()
	h.s.OpenPhoto(filepath.Join(testImages(h.t), name))
	h.idle()
	if h.s.doc == nil {
		h.t.Fatalf("photo %s did not open: %v", name, rec(h.s).lastErr)
	}
}

func countOn(img image.Image) int {
	if img == nil {
		return 0
	}
	m := img.(*image.NRGBA)
	n := 0
	for i := 3; i < len(m.Pix); i += 4 {
		if m.Pix[i] > 0 {
			n++
		}
	}
	return n
}

const astronaut = "portrait_astronaut_eileen_collins.png"

func TestStartupLoadsPack(t *testing.T) {
	h := newHarness(t)
	s := h.s
	if s.w.packSel.Selected == "" || !strings.Contains(s.w.packSel.Selected, "mcdm") {
		t.Errorf("pack picker shows %q", s.w.packSel.Selected)
	}
	if s.w.packNote.Hidden || !strings.Contains(s.w.packNote.Text, "demo") {
		t.Errorf("demo pack not labelled: %q", s.w.packNote.Text)
	}
	if len(s.w.ed.direction.Options) == 0 {
		t.Error("no directions in the picker")
	}
	if got := s.fa.Preferences().String(PrefLastPack); got != s.pack.Dir {
		t.Errorf("last pack preference %q, want %q", got, s.pack.Dir)
	}
}

func TestFirstRunOffersDemo(t *testing.T) {
	a, err := app.New(app.Options{Provider: "cpu"})
	if err != nil {
		t.Fatalf("ONNX Runtime is needed for the UI tests: %v", err)
	}
	a.Store.Root, a.Store.Extra = t.TempDir(), nil
	fa := test.NewApp()
	defer fa.Quit()
	w := test.NewWindow(nil)
	h := &harness{t: t, win: w, q: make(chan func(), 4096)}
	s := newState(fa, w)
	s.watch = &recorder{}
	s.post = func(fn func()) { h.q <- fn }
	s.starters = app.NewStarterSet(fstest.MapFS{}, "packs") // a build without starter packs
	s.build()
	h.s = s
	s.Attach(a)
	h.idle()
	if s.w.firstRun.Hidden || s.w.createDemo.Hidden || !s.w.installStarters.Hidden {
		t.Fatal("first run: no offer to create the demo pack")
	}
	if !strings.Contains(s.w.packNote.Text, "No model pack") {
		t.Errorf("first-run note %q", s.w.packNote.Text)
	}
}

func TestMaskLambdaPaintUndo(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	test.Tap(s.w.ed.previewMask)
	h.idle()
	m := s.doc.Mask()
	if m == nil {
		t.Fatalf("no mask after preview: %v", rec(s).lastErr)
	}
	evals, calls := m.Stats.TotalEvals(), rec(s).modelCalls
	if evals == 0 {
		t.Fatal("mask reported no UNet evaluations")
	}
	before := countOn(overlayShown(s))

	// λ re-thresholds the cached mask: the overlay changes, no model runs.
	s.w.ed.lambda.slider.SetValue(0.05)
	h.idle()
	low := countOn(overlayShown(s))
	s.w.ed.lambda.slider.SetValue(0.9)
	h.idle()
	high := countOn(overlayShown(s))
	if low <= high {
		t.Errorf("overlay did not follow λ: %d cells at 0.05, %d at 0.9 (%d before)", low, high, before)
	}
	if s.doc.Mask() != m || m.Stats.TotalEvals() != evals || rec(s).modelCalls != calls || s.jobs.running() != 0 {
		t.Errorf("moving λ ran a model: evals %d -> %d, calls %d -> %d", evals, s.doc.Mask().Stats.TotalEvals(), calls, rec(s).modelCalls)
	}
	if s.settings.Lambda != 0.9 || s.w.ed.lambda.entry.Text != "0.90" {
		t.Errorf("λ %v, entry %q", s.settings.Lambda, s.w.ed.lambda.entry.Text)
	}

	// Reset buttons and double-click on the label restore the pack default.
	test.Tap(s.w.ed.lambda.reset)
	if s.settings.Lambda != s.defaults.Lambda {
		t.Errorf("reset λ to %v, want %v", s.settings.Lambda, s.defaults.Lambda)
	}
	s.w.ed.s3.slider.SetValue(9)
	test.DoubleTap(s.w.ed.s3.row.(*fyne.Container).Objects[1].(*fyne.Container).Objects[0].(*resetLabel))
	if s.settings.S3 != s.defaults.S3 {
		t.Errorf("double-click reset s3 to %v, want %v", s.settings.S3, s.defaults.S3)
	}
	if s.doc.Mask() != m || rec(s).modelCalls != calls {
		t.Error("resetting sliders ran a model")
	}

	// Paint a stroke in the centre of the crop, then undo it.
	s.w.ed.lambda.slider.SetValue(1) // nothing above λ: an empty mask to paint on
	h.idle()
	if n := countOn(overlayShown(s)); n != 0 {
		t.Fatalf("mask at λ=1 has %d cells", n)
	}
	s.w.ed.paintMode.SetSelected("Add")
	v := s.w.ed.view
	c := v.crop
	mid := v.toCanvas((c.Min.X+c.Max.X)/2, (c.Min.Y+c.Max.Y)/2)
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: mid}, Dragged: fyne.Delta{DX: 1}})
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: mid.Add(fyne.NewPos(20, 0))}, Dragged: fyne.Delta{DX: 20}})
	v.DragEnd()
	painted := countOn(overlayShown(s))
	if painted == 0 || !s.doc.Painted() {
		t.Fatalf("painting added no cells (%d)", painted)
	}
	if s.doc.Mask().Stats.TotalEvals() != evals || rec(s).modelCalls != calls {
		t.Error("painting ran a model")
	}
	test.Tap(s.w.ed.undo)
	if n := countOn(overlayShown(s)); n != 0 || s.doc.Painted() {
		t.Errorf("undo left %d painted cells", n)
	}
	// Erase after add, then reset.
	v.Tapped(&fyne.PointEvent{Position: mid})
	if countOn(overlayShown(s)) == 0 {
		t.Fatal("a tap painted nothing")
	}
	test.Tap(s.w.ed.reset)
	if s.doc.Painted() {
		t.Error("reset kept the paint")
	}
}

func TestEditHistoryExport(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	test.Tap(s.w.ed.edit)
	h.idle()
	if rec(s).lastErr != nil {
		t.Fatalf("edit failed: %v", rec(s).lastErr)
	}
	hist := s.History()
	if len(hist) != 1 {
		t.Fatalf("history has %d entries, want 1", len(hist))
	}
	if hist[0].Stats.TotalEvals() == 0 {
		t.Error("edit reported no UNet evaluations")
	}
	if got := len(s.w.ed.history.Objects); got != 2 { // original + one result
		t.Errorf("history strip has %d thumbnails, want 2", got)
	}
	if s.shown != hist[0] {
		t.Error("the new result is not shown")
	}
	// Selecting the original, then the result, restores its settings.
	test.Tap(s.w.ed.history.Objects[0].(*thumb))
	if s.shown != nil {
		t.Error("original not shown")
	}
	s.w.ed.seed.SetText("777")
	test.Tap(s.w.ed.history.Objects[1].(*thumb))
	if s.shown != hist[0] || s.w.ed.seed.Text != strconv.FormatUint(hist[0].Settings.Seed, 10) {
		t.Errorf("selecting the result did not restore its seed: %q", s.w.ed.seed.Text)
	}

	if recent := s.fa.Preferences().StringList(PrefRecent); len(recent) == 0 || !strings.HasSuffix(recent[0], astronaut) {
		t.Errorf("recent files %v", recent)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "astronaut.likeness.png")
	target, err := s.exportTarget()
	if err != nil {
		t.Fatal(err)
	}
	s.Export(target, out, app.OutputFull, false)
	h.idle()
	if rec(s).exportErr != nil {
		t.Fatal(rec(s).exportErr)
	}
	txt, err := export.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	if txt["parameters"] == "" {
		t.Error("no A1111 parameters in the export")
	}
	var meta app.Record
	if err := json.Unmarshal([]byte(txt["likeness"]), &meta); err != nil {
		t.Fatalf("likeness metadata: %v", err)
	}
	if meta.Settings.Seed != hist[0].Settings.Seed || !strings.HasSuffix(meta.Input, astronaut) {
		t.Errorf("metadata %+v", meta)
	}
	if got := s.fa.Preferences().String(PrefOutputDir); got != dir {
		t.Errorf("output folder remembered as %q", got)
	}
	// Never over the input.
	s.Export(target, s.doc.Path, app.OutputFull, true)
	h.idle()
	if rec(s).exportErr == nil {
		t.Error("export over the input photo was allowed")
	}
	// Model-resolution JPEG.
	jp := filepath.Join(dir, "crop.jpg")
	s.Export(target, jp, app.OutputModelRes, false)
	h.idle()
	if rec(s).exportErr != nil {
		t.Fatal(rec(s).exportErr)
	}
	if _, err := os.Stat(jp); err != nil {
		t.Error(err)
	}
}

func TestCancelEdit(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	s.w.ed.steps.SetText("999")
	if s.settings.Steps != 999 {
		t.Fatalf("steps %d", s.settings.Steps)
	}
	test.Tap(s.w.ed.edit)
	if s.jobs.running() != jobEdit || s.w.cancel.Disabled() {
		t.Fatalf("edit not running (%q)", s.jobs.running())
	}
	test.Tap(s.w.cancel)
	h.idle()
	if !errors.Is(rec(s).lastErr, context.Canceled) {
		t.Fatalf("job ended with %v, want cancellation", rec(s).lastErr)
	}
	if n := len(s.History()); n != 0 {
		t.Errorf("cancelled edit left %d history entries", n)
	}
	if !strings.Contains(s.w.status.Text, "cancelled") {
		t.Errorf("status %q does not say cancelled", s.w.status.Text)
	}

	// Changing an input while an edit runs cancels it, and says why.
	test.Tap(s.w.ed.edit)
	s.w.ed.s3.slider.SetValue(2.5)
	h.idle()
	if !errors.Is(rec(s).lastErr, context.Canceled) || !strings.Contains(s.w.status.Text, "s3 changed") {
		t.Errorf("input change: err %v, status %q", rec(s).lastErr, s.w.status.Text)
	}
	if len(s.History()) != 0 {
		t.Error("history entry after a cancelled edit")
	}
}

func TestBrokenFileShowsError(t *testing.T) {
	h := newHarness(t)
	s := h.s
	s.OpenPhoto(filepath.Join(testImages(t), "bad_truncated.jpg"))
	h.idle()
	if s.doc != nil || rec(s).lastErr == nil {
		t.Fatalf("broken file opened (err %v)", rec(s).lastErr)
	}
	top := h.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no error dialog")
	}
	if !containsText(top, "bad_truncated.jpg") {
		t.Error("the error dialog does not name the file")
	}
	_ = dialog.NewError // the dialog is fyne's error dialog
}

func containsText(o fyne.CanvasObject, want string) bool {
	for _, c := range test.LaidOutObjects(o) {
		switch w := c.(type) {
		case *widget.Label:
			if strings.Contains(w.Text, want) {
				return true
			}
		case *widget.RichText:
			if strings.Contains(w.String(), want) {
				return true
			}
		}
	}
	return false
}

func TestCropMoveResets(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open("portrait_biden_970x2204.jpg")
	c0 := s.doc.Crop()
	test.Tap(s.w.ed.previewMask)
	h.idle()
	v := s.w.ed.view
	mid := v.toCanvas((c0.Min.X+c0.Max.X)/2, (c0.Min.Y+c0.Max.Y)/2)
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: mid}, Dragged: fyne.Delta{DY: -1}})
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: mid.Add(fyne.NewPos(0, -60))}, Dragged: fyne.Delta{DY: -60}})
	v.DragEnd()
	c1 := s.doc.Crop()
	if c1 == c0 || c1.Dx() != c1.Dy() || c1.Min.Y >= c0.Min.Y {
		t.Fatalf("crop %v -> %v", c0, c1)
	}
	if s.doc.Mask() != nil {
		t.Error("moving the crop kept the old mask")
	}
}

func TestCompareAndStickers(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	s.RunCompare()
	h.idle()
	if s.comparison == nil {
		t.Fatalf("compare: %v", rec(s).lastErr)
	}
	if n := len(s.w.cmp.imgs); n < 4 {
		t.Errorf("compare shows %d panels", n)
	}
	if s.w.cmp.splitIm.Image == nil {
		t.Error("no before/after split")
	}
	s.RunStickers()
	h.idle()
	if s.stickers == nil || s.w.stk.sheet.Image == nil {
		t.Fatalf("stickers: %v", rec(s).lastErr)
	}
	seed := s.stickers.Settings[0].Seed
	s.RegenerateSticker(0, seed+1)
	h.idle()
	if s.stickers.Settings[0].Seed != seed+1 {
		t.Errorf("sticker 0 seed %d", s.stickers.Settings[0].Seed)
	}
	paths, err := s.stickers.Export(t.TempDir(), "png", s.doc, false)
	if err != nil || len(paths) != 1+len(s.stickers.Directions) {
		t.Errorf("sticker export %v %v", paths, err)
	}
}

// With an sd pack in the store the Compare tab adds the SDEdit and DiffEdit
// baselines, and each can be picked for the before/after split.
func TestCompareShowsDiffEdit(t *testing.T) {
	h := newHarness(t)
	s := h.s
	if _, err := synth.Write(filepath.Join(s.a.Store.Root, "sd-analytic"), synth.Options{Kind: "sd", Resolution: 128}); err != nil {
		t.Fatal(err)
	}
	s.refreshPacks(nil)
	h.idle()
	h.open(astronaut)
	s.RunCompare()
	h.idle()
	if s.comparison == nil {
		t.Fatalf("compare: %v", rec(s).lastErr)
	}
	var labels []string
	for _, p := range s.comparison.Panels {
		labels = append(labels, p.Label)
	}
	got := strings.Join(labels, " | ")
	for _, want := range []string{"SDEdit 0.5", "SDEdit 0.8", "DiffEdit 0.8"} {
		if !strings.Contains(got, want) {
			t.Errorf("panels %q lack %q", got, want)
		}
	}
	if n := len(s.w.cmp.imgs); n != len(labels) {
		t.Errorf("the tab shows %d panels of %d", n, len(labels))
	}
	if !slices.Contains(s.w.cmp.a.Options, labels[len(labels)-1]) {
		t.Errorf("the split cannot pick %q: %v", labels[len(labels)-1], s.w.cmp.a.Options)
	}
}

// TestMaskOptionChoices: the mask normalisation and guidance choices show
// the pack's defaults, set the settings an edit runs with, follow the
// history, and the guidance is off while the baseline is chosen.
func TestMaskOptionChoices(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	norm, guide := app.MaskNormalizeChoices, app.MaskGuidanceChoices
	if s.w.ed.maskNormalize.Selected != norm[0].Label || s.w.ed.maskGuidance.Selected != guide[0].Label {
		t.Fatalf("choices show %q and %q, want the defaults %q and %q", s.w.ed.maskNormalize.Selected, s.w.ed.maskGuidance.Selected, norm[0].Label, guide[0].Label)
	}
	s.w.ed.maskNormalize.SetSelected(norm[1].Label)
	s.w.ed.maskGuidance.SetSelected(guide[1].Label)
	if s.settings.MaskNormalize != norm[1].Value || s.settings.MaskGuidance != guide[1].Value {
		t.Fatalf("settings %q %q after choosing %q and %q", s.settings.MaskNormalize, s.settings.MaskGuidance, norm[1].Label, guide[1].Label)
	}
	test.Tap(s.w.ed.edit)
	h.idle()
	if rec(s).lastErr != nil {
		t.Fatalf("edit failed: %v", rec(s).lastErr)
	}
	hist := s.History()
	if len(hist) != 1 || hist[0].Settings.MaskNormalize != norm[1].Value || hist[0].Settings.MaskGuidance != guide[1].Value {
		t.Fatalf("the edit ran with %+v", hist[0].Settings)
	}
	test.Tap(s.w.ed.useMask)
	if s.w.ed.useMask.Checked || !s.w.ed.maskGuidance.Disabled() {
		t.Error("the guidance choice stays enabled for the baseline")
	}
	test.Tap(s.w.ed.useMask)
	if s.w.ed.maskGuidance.Disabled() {
		t.Error("the guidance choice stays disabled for a mask-guided edit")
	}
	// Selecting the result restores its options.
	s.w.ed.maskGuidance.SetSelected(guide[0].Label)
	s.w.ed.maskNormalize.SetSelected(norm[0].Label)
	test.Tap(s.w.ed.history.Objects[1].(*thumb))
	if s.w.ed.maskGuidance.Selected != guide[1].Label || s.w.ed.maskNormalize.Selected != norm[1].Label || s.settings.MaskGuidance != guide[1].Value {
		t.Errorf("the result's options were not restored: %q %q", s.w.ed.maskNormalize.Selected, s.w.ed.maskGuidance.Selected)
	}
}

// The Stickers tab with a pack that has a foreground model: the cut-out
// shows on a checkerboard, the brush touches the matte up (and Undo matte
// reverts it), and Export pack writes a WhatsApp pack that passes its rules.
func TestStickerCutoutTouchUpAndPack(t *testing.T) {
	h := newHarness(t)
	s := h.s
	dir := filepath.Join(s.a.Store.Root, "with-foreground")
	if _, err := synth.Write(dir, synth.Options{Kind: "mcdm", Resolution: 128, Foreground: true, Name: "With foreground"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.a.FindPack(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.LoadPack(p)
	h.idle()
	s.settings.Steps, s.settings.MaskSeeds, s.settings.MaskNoiseSteps = 4, 2, 2
	// A drawing (a dark figure on white, which the analytic segmenter
	// mattes exactly): photos take the photo path instead.
	fig := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := range 200 {
		for x := range 200 {
			c := color.NRGBA{255, 255, 255, 255}
			if (x-100)*(x-100)+(y-90)*(y-90) < 60*60 || (y > 140 && x > 40 && x < 160) {
				c = color.NRGBA{80, 40, 90, 255}
			}
			fig.SetNRGBA(x, y, c)
		}
	}
	figPath := filepath.Join(t.TempDir(), "figure.png")
	if err := export.WritePNG(figPath, fig, nil, export.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.OpenPhoto(figPath)
	h.idle()
	s.stickerOpts = app.StickerOptions{Directions: []string{"angry", "laughing"}, Seeds: 2}
	s.RunStickers()
	h.idle()
	set := s.stickers
	if set == nil || len(set.Results) != 4 {
		t.Fatalf("stickers: %v (%v)", set, rec(s).lastErr)
	}
	if set.Cutout != app.CutoutModel || !set.Transparent() {
		t.Fatalf("cut-out %q: want the pack's model", set.Cutout)
	}
	v := s.w.stk
	if v.matte.which != 0 || v.matte.img.Image == nil || !strings.Contains(v.info.Text, "foreground model") {
		t.Fatalf("matte view shows sticker %d (image %v), info %q", v.matte.which, v.matte.img.Image != nil, v.info.Text)
	}
	// The sheet shows the cut-out over a checkerboard (a cell's corner is
	// background, so checker grey, not the sheet's white).
	if sh, ok := v.sheet.Image.(*image.NRGBA); !ok || sh.NRGBAAt(20, 20) != (color.NRGBA{204, 204, 204, 255}) && sh.NRGBAAt(20, 20) != (color.NRGBA{153, 153, 153, 255}) {
		t.Errorf("the sheet's cell corner is not checkerboard: %T", v.sheet.Image)
	}
	v.matte.Resize(fyne.NewSize(300, 300))
	before := set.Matte(0)
	v.matte.mode.SetSelected("Erase")
	v.matte.Tapped(&fyne.PointEvent{Position: fyne.NewPos(150, 150)})
	after := set.Matte(0)
	c := after.Rect.Dx() / 2
	if after.Pix[c*after.Stride+c] != 0 {
		t.Errorf("erasing at the centre left alpha %d there", after.Pix[c*after.Stride+c])
	}
	v.matte.Undo()
	if got := set.Matte(0); !bytes.Equal(got.Pix, before.Pix) {
		t.Error("Undo matte did not restore the matte")
	}
	out := filepath.Join(t.TempDir(), "pack")
	s.exportPack(set, out, app.PackOptions{Format: "whatsapp", Name: "Astronaut", Author: "Tests"})
	h.idle()
	if err := stickerpack.Check(out, stickerpack.Platforms["whatsapp"]); err != nil {
		t.Errorf("the exported pack fails WhatsApp's rules: %v (%v)", err, rec(s).lastErr)
	}
}
