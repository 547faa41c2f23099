package ui

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"likeness/app"
	"likeness/engine/export"
	"likeness/models/synth"
)

// until runs posted UI work until cond holds.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case fn := <-h.q:
			fn()
			continue
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pressKey delivers a key the way the desktop driver does (fyne v2.7.1
// internal/driver/glfw/window.go processKeyPressed): to the focused widget
// when there is one, else to the canvas.
func pressKey(c fyne.Canvas, k fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: k}
	if f := c.Focused(); f != nil {
		f.TypedKey(ev)
	} else if fn := c.OnTypedKey(); fn != nil {
		fn(ev)
	}
}

// button finds a laid-out button by its text.
func button(o fyne.CanvasObject, text string) *widget.Button {
	if o == nil {
		return nil
	}
	for _, c := range test.LaidOutObjects(o) {
		if b, ok := c.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	return nil
}

// menuItem finds a main-menu item by label.
func menuItem(w fyne.Window, label string) *fyne.MenuItem {
	for _, m := range w.MainMenu().Items {
		for _, it := range m.Items {
			if it.Label == label {
				return it
			}
		}
	}
	return nil
}

func solid(n int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	return img
}

// A job cancelled or replaced while it ran must not apply its late result,
// nor report its error: an older pack load must not win over a newer one.
func TestStaleJobResultDropped(t *testing.T) {
	h := newHarness(t)
	s := h.s

	// Cancelled, but its work ignores ctx and returns a result anyway.
	release := make(chan struct{})
	applied := 0
	s.start(jobEdit, func(context.Context, func(app.Progress)) (func(), error) {
		<-release
		return func() { applied++ }, nil
	})
	s.Cancel()
	close(release)
	h.idle()
	if applied != 0 {
		t.Error("a cancelled job's result was applied")
	}
	if !errors.Is(rec(s).lastErr, context.Canceled) || !strings.Contains(s.w.status.Text, "cancelled") {
		t.Errorf("cancelled job: err %v, status %q", rec(s).lastErr, s.w.status.Text)
	}

	// Superseded: the older job finishes last, with a result and an error.
	relA, relB := make(chan struct{}), make(chan struct{})
	var got []string
	s.start(jobLoad, func(context.Context, func(app.Progress)) (func(), error) {
		<-relA
		return func() { got = append(got, "A") }, errors.New("boom")
	})
	s.start(jobLoad, func(context.Context, func(app.Progress)) (func(), error) {
		<-relB
		return func() { got = append(got, "B") }, nil
	})
	close(relB)
	h.until("the newer job", func() bool { return s.jobs.running() == 0 })
	s.status("B done")
	close(relA)
	h.idle()
	if strings.Join(got, ",") != "B" {
		t.Errorf("applied %v, want only the newer job's result", got)
	}
	if rec(s).lastErr != nil || s.w.status.Text != "B done" {
		t.Errorf("the stale job reported: err %v, status %q", rec(s).lastErr, s.w.status.Text)
	}
	if top := h.win.Canvas().Overlays().Top(); top != nil {
		t.Error("the stale job's error was shown")
	}
}

// History is read while the worker appends to it (run with -race).
func TestHistoryWhileEditing(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	s.settings.Steps = 12
	test.Tap(s.w.ed.edit)
	n := 0
	h.until("the edit", func() bool {
		n += len(s.History())
		return s.jobs.running() == 0
	})
	h.idle()
	if len(s.History()) != 1 || rec(s).lastErr != nil {
		t.Fatalf("history %d, err %v", len(s.History()), rec(s).lastErr)
	}
}

// Ctrl+Z arrives as fyne.ShortcutUndo: it must undo a paint stroke, and
// text in a focused entry.
func TestUndoShortcut(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	test.Tap(s.w.ed.previewMask)
	h.idle()
	if s.doc.Mask() == nil {
		t.Fatalf("no mask: %v", rec(s).lastErr)
	}
	undo := &fyne.ShortcutUndo{} // what the driver makes of Ctrl+Z
	it := menuItem(h.win, "Undo paint")
	if it == nil || it.Shortcut == nil || it.Shortcut.ShortcutName() != undo.ShortcutName() {
		t.Fatalf("the Undo paint menu item does not carry Ctrl+Z as the driver sends it: %#v", it)
	}
	s.w.ed.paintMode.SetSelected("Add")
	v := s.w.ed.view
	c := s.doc.Crop()
	v.Tapped(&fyne.PointEvent{Position: v.toCanvas((c.Min.X+c.Max.X)/2, (c.Min.Y+c.Max.Y)/2)})
	if !s.doc.Painted() {
		t.Fatal("the tap painted nothing")
	}
	h.win.Canvas().(fyne.Shortcutable).TypedShortcut(undo)
	if s.doc.Painted() {
		t.Error("Ctrl+Z on the canvas did not undo the stroke")
	}
	v.Tapped(&fyne.PointEvent{Position: v.toCanvas((c.Min.X+c.Max.X)/2, (c.Min.Y+c.Max.Y)/2)})
	it.Action()
	if s.doc.Painted() {
		t.Error("the menu's Ctrl+Z did not undo the stroke")
	}

	// In a focused entry the menu's Ctrl+Z undoes typing, not paint.
	v.Tapped(&fyne.PointEvent{Position: v.toCanvas((c.Min.X+c.Max.X)/2, (c.Min.Y+c.Max.Y)/2)})
	h.win.Canvas().Focus(s.w.ed.target)
	test.Type(s.w.ed.target, "a cat")
	it.Action()
	if !s.doc.Painted() {
		t.Error("Ctrl+Z in an entry undid the paint")
	}
	if s.w.ed.target.Text == "a cat" {
		t.Error("Ctrl+Z in an entry did not undo the typing")
	}
}

// Esc cancels whatever control has the keyboard focus.
func TestEscCancelsWithFocus(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	c := h.win.Canvas()
	if it := menuItem(h.win, "Cancel"); it == nil || it.Shortcut == nil || !strings.Contains(it.Shortcut.ShortcutName(), string(fyne.KeyEscape)) {
		t.Errorf("the Cancel menu item shows no Esc shortcut: %#v", it)
	}
	focusables := map[string]fyne.Focusable{
		"nothing":      nil,
		"slider":       s.w.ed.s3.slider,
		"entry":        s.w.ed.seed,
		"select":       s.w.ed.direction,
		"selectentry":  s.w.ed.subject,
		"check":        s.w.ed.preserve,
		"compare zoom": s.w.cmp.zoom,
	}
	for name, f := range focusables {
		s.settings.Steps = 999
		test.Tap(s.w.ed.edit)
		if s.jobs.running() != jobEdit {
			t.Fatalf("%s: edit not running", name)
		}
		c.Unfocus()
		if f == fyne.Focusable(s.w.cmp.zoom) {
			s.w.tabs.SelectIndex(1)
		}
		if f != nil {
			c.Focus(f)
			if c.Focused() != f {
				t.Fatalf("%s did not take the focus", name)
			}
		}
		pressKey(c, fyne.KeyEscape)
		if s.jobs.running() != 0 {
			t.Errorf("Esc with %s focused did not cancel", name)
		}
		h.idle()
		if !errors.Is(rec(s).lastErr, context.Canceled) {
			t.Errorf("%s: job ended with %v", name, rec(s).lastErr)
		}
	}
	// A click on a paint-mode radio item drops the focus it takes.
	c.Focus(s.w.ed.seed)
	s.w.ed.paintMode.SetSelected("Add")
	if c.Focused() != nil {
		t.Error("the paint mode keeps the focus")
	}
}

// Loading another pack drops the mask computed with the previous one and
// clears the comparison.
func TestPackSwitchDropsMask(t *testing.T) {
	h := newHarness(t)
	s := h.s
	if _, err := synth.Write(filepath.Join(s.a.Store.Root, "other"), synth.Options{Kind: "mcdm", Resolution: 128, Name: "Other test pack"}); err != nil {
		t.Fatal(err)
	}
	s.refreshPacks(nil)
	h.idle()
	var other *app.Pack
	for _, p := range s.packs {
		if p.Name == "Other test pack" {
			other = p
		}
	}
	if other == nil {
		t.Fatal("second pack not listed")
	}
	h.open(astronaut)
	test.Tap(s.w.ed.previewMask)
	h.idle()
	if s.doc.Mask() == nil || overlayShown(s) == nil {
		t.Fatalf("no mask: %v", rec(s).lastErr)
	}
	s.comparison = &app.Comparison{Panels: []app.Panel{{Label: "a", Image: solid(8)}, {Label: "b", Image: solid(8)}}}
	s.updateCompareView()
	old := s.eng
	s.LoadPack(other)
	h.idle()
	if s.eng == old || s.pack.Dir != other.Dir {
		t.Fatalf("pack not switched: %v", rec(s).lastErr)
	}
	if s.doc.Mask() != nil || overlayShown(s) != nil {
		t.Error("the previous pack's mask is still shown")
	}
	if s.comparison != nil || len(s.w.cmp.imgs) != 0 {
		t.Error("the compare tab still shows the previous pack's panels")
	}
}

// Exports run in the background and write what was current when the dialog
// opened, even when another photo was opened meanwhile.
func TestExportBackgroundCaptured(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	test.Tap(s.w.ed.edit)
	h.idle()
	target, err := s.exportTarget()
	if err != nil {
		t.Fatal(err)
	}
	first := s.doc.Path
	h.open("portrait_cameraman_gray.png")
	out := filepath.Join(t.TempDir(), "x.png")
	s.Export(target, out, app.OutputModelRes, false)
	if !strings.Contains(s.w.status.Text, "exporting") { // "exported" once posted back
		t.Errorf("export ran on the UI goroutine (status %q)", s.w.status.Text)
	}
	h.idle()
	if rec(s).exportErr != nil {
		t.Fatal(rec(s).exportErr)
	}
	txt, err := export.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	var meta app.Record
	if err := json.Unmarshal([]byte(txt["likeness"]), &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Input != filepath.Base(first) {
		t.Errorf("metadata names %q, want the photo of the result %q", meta.Input, filepath.Base(first))
	}
	// The photo of the result stays protected though another one is open.
	s.Export(target, first, app.OutputFull, true)
	h.idle()
	if rec(s).exportErr == nil {
		t.Error("export over the result's input photo was allowed")
	}
}

// A result shows at once at model resolution placed at its crop; the full
// blend follows from the background. The crop handle does nothing then.
func TestResultShownAtModelResolution(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	test.Tap(s.w.ed.edit)
	h.idle()
	r := s.shown
	if r == nil {
		t.Fatalf("no result: %v", rec(s).lastErr)
	}
	v := s.w.ed.view
	s.showResult(nil)
	s.full = nil // forget the blend made after the edit
	s.showResult(r)
	if v.img.Image != s.doc.Photo.Image || v.result.Hidden || v.result.Image != r.Preserved || v.crop != r.Crop {
		t.Fatalf("not shown at model resolution: result hidden %v", v.result.Hidden)
	}
	if !s.fullWant[fullKey{r, true}] {
		t.Errorf("no full-resolution blend in the background (scale %v, crop %v, view %v)", v.scale(), r.Crop, v.size)
	}
	s.w.ed.preserve.SetChecked(false)
	if v.result.Image != r.Paper {
		t.Error("preserve off does not show the plain output")
	}
	h.idle()
	full, ok := v.img.Image.(*image.NRGBA)
	if !ok || full == s.doc.Photo.Image || full.Bounds() != s.doc.Photo.Image.Bounds() || !v.result.Hidden {
		t.Error("the full-resolution blend was not shown once ready")
	}
	if s.fullFor(fullKey{r, false}) == nil {
		t.Error("the blend is not cached")
	}
	s.w.ed.preserve.SetChecked(true)

	// Item 15: the resize handle is inert while a result is shown.
	c0 := s.doc.Crop()
	at := v.toCanvas(v.crop.Max.X, v.crop.Max.Y)
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: at}, Dragged: fyne.Delta{DX: -1, DY: -1}})
	mode := v.mode
	v.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: at.Add(fyne.NewPos(-40, -40))}, Dragged: fyne.Delta{DX: -40, DY: -40}})
	v.DragEnd()
	if mode == dragResize || s.doc.Crop() != c0 {
		t.Errorf("the handle resized the crop while a result was shown: %v -> %v", c0, s.doc.Crop())
	}
}

// Saving the Settings dialog unchanged keeps the pack and the settings; a
// provider change reloads the pack and keeps the user's settings.
func TestSettingsSave(t *testing.T) {
	h := newHarness(t)
	s := h.s
	eng := s.eng
	s.settings.Seed = 4242
	s.syncSettingsToWidgets()
	s.settingsDialog()
	save := button(h.win.Canvas().Overlays().Top(), "Save")
	if save == nil {
		t.Fatal("no Save button")
	}
	test.Tap(save)
	h.idle()
	if s.eng != eng || s.settings.Seed != 4242 || s.settings.Steps != 4 {
		t.Errorf("saving unchanged settings reloaded the pack or reset the settings (steps %d, seed %d)", s.settings.Steps, s.settings.Seed)
	}
	s.applySettings("cpu", "", nil, "")
	if s.jobs.running() != jobLoad {
		t.Fatalf("a provider change did not reload the pack (%q)", s.jobs.running())
	}
	h.idle()
	if s.eng == nil || s.eng == eng || rec(s).lastErr != nil {
		t.Fatalf("reload: %v", rec(s).lastErr)
	}
	if s.a.Opts.Provider != "cpu" {
		t.Errorf("provider %q", s.a.Opts.Provider)
	}
	if s.settings.Seed != 4242 || s.settings.Steps != 4 {
		t.Errorf("the reload reset the settings (steps %d, seed %d)", s.settings.Steps, s.settings.Seed)
	}
}

// A model job asked for while a pack loads is refused, not run at the
// price of the load.
func TestModelJobRefusedDuringPackLoad(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	s.LoadPack(s.pack)
	calls := rec(s).modelCalls
	s.PreviewMask()
	s.Edit()
	if s.jobs.running() != jobLoad || rec(s).modelCalls != calls {
		t.Errorf("running %q, model calls %d -> %d", s.jobs.running(), calls, rec(s).modelCalls)
	}
	if !strings.Contains(s.w.status.Text, "loading pack is running") {
		t.Errorf("status %q", s.w.status.Text)
	}
	h.idle()
	if rec(s).lastErr != nil || s.eng == nil {
		t.Errorf("the load did not finish: %v", rec(s).lastErr)
	}
}

// A new photo clears the compare and sticker tabs.
func TestNewPhotoClearsTabs(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	s.comparison = &app.Comparison{Panels: []app.Panel{{Label: "a", Image: solid(8)}, {Label: "b", Image: solid(8)}}}
	s.updateCompareView()
	s.w.stk.sheet.Image = solid(8)
	s.w.stk.which.SetOptions([]string{"x"})
	h.open("portrait_cameraman_gray.png")
	if len(s.w.cmp.imgs) != 0 || len(s.w.cmp.panels.Objects) != 0 || len(s.w.cmp.a.Options) != 0 {
		t.Error("the compare tab shows the previous photo")
	}
	if s.w.stk.sheet.Image != nil || len(s.w.stk.which.Options) != 0 {
		t.Error("the stickers tab shows the previous photo")
	}
}

// Overlapping opens: the newest wins even when an older one finishes last.
func TestOverlappingOpensKeepNewest(t *testing.T) {
	h := newHarness(t)
	s := h.s
	slow := filepath.Join(testImages(t), astronaut)
	fast := filepath.Join(testImages(t), "portrait_cameraman_gray.png")
	gate := make(chan struct{})
	s.openPhoto = func(p string) (*app.Doc, error) {
		if p == slow {
			<-gate
		}
		return app.OpenPhoto(p)
	}
	s.OpenPhoto(slow)
	s.OpenPhoto(fast)
	h.until("the newer photo", func() bool { return s.doc != nil })
	close(gate)
	h.idle()
	if s.doc.Path != fast {
		t.Errorf("open %s replaced the newer %s", s.doc.Path, fast)
	}
}

// Guidance entries refuse NaN and infinities.
func TestEntryRejectsNonFinite(t *testing.T) {
	h := newHarness(t)
	s := h.s
	for _, in := range []string{"nan", "NaN", "inf", "-Inf", "+infinity"} {
		before, txt := s.settings.S1, s.w.ed.s1.entry.Text
		s.w.ed.s1.entry.SetText(in)
		s.w.ed.s1.entry.OnSubmitted(in)
		if v := s.settings.S1; math.IsNaN(v) || math.IsInf(v, 0) || v != before {
			t.Errorf("%q set s1 to %v", in, v)
		}
		if s.w.ed.s1.entry.Text != txt {
			t.Errorf("%q left the entry reading %q", in, s.w.ed.s1.entry.Text)
		}
	}
}

// Pack listing runs off the UI goroutine.
func TestRefreshPacksInBackground(t *testing.T) {
	h := newHarness(t)
	s := h.s
	s.packs = nil
	s.refreshPacks(nil)
	if len(s.packs) != 0 { // filled only once posted back
		t.Error("the store was listed on the UI goroutine")
	}
	h.idle()
	if len(s.packs) == 0 {
		t.Error("no packs after the listing")
	}
}

// Exporting stickers twice into one folder asks once, then replaces.
func TestStickerReexport(t *testing.T) {
	h := newHarness(t)
	s := h.s
	h.open(astronaut)
	s.RunStickers()
	h.idle()
	if s.stickers == nil {
		t.Fatalf("stickers: %v", rec(s).lastErr)
	}
	dir := t.TempDir()
	s.exportStickers(s.stickers, s.doc, dir, "png")
	h.idle()
	if rec(s).exportErr != nil {
		t.Fatal(rec(s).exportErr)
	}
	ents, _ := os.ReadDir(dir)
	s.exportStickers(s.stickers, s.doc, dir, "png")
	yes := button(h.win.Canvas().Overlays().Top(), "Yes")
	if yes == nil {
		t.Fatal("no question before replacing the stickers")
	}
	test.Tap(yes)
	h.idle()
	if rec(s).exportErr != nil {
		t.Fatalf("re-export failed: %v", rec(s).exportErr)
	}
	if again, _ := os.ReadDir(dir); len(again) != len(ents) || len(ents) != 1+len(s.stickers.Directions) {
		t.Errorf("%d files, then %d", len(ents), len(again))
	}
}
