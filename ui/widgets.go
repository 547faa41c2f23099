package ui

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"likeness/app"
)

// widgets are the window's controls; State drives them. Each tab is a
// panel of its own (editView, compareView, stickerView); the pack section
// and the status bar belong to the window.
type widgets struct {
	tabs *container.AppTabs

	packSel  *escSelect
	packInfo *widget.Button
	packNote *widget.Label
	firstRun *fyne.Container
	// The first-run offer: the starter packs when this build has them,
	// else the analytic demo.
	installStarters, createDemo *widget.Button

	progress *widget.ProgressBar
	status   *widget.Label
	cancel   *widget.Button

	ed  *editView
	cmp *compareView
	stk *stickerView

	syncing bool // the pack picker is being filled: no change events
}

// sliderRow is a labelled slider with a numeric entry and a reset button.
type sliderRow struct {
	slider *escSlider
	entry  *escEntry
	reset  *widget.Button
	row    fyne.CanvasObject
	format string
}

func newSliderRow(label string, lo, hi, step float64, format string, set func(float64), reset, esc func()) *sliderRow {
	r := &sliderRow{format: format}
	r.slider = newEscSlider(lo, hi, esc)
	r.slider.Step = step
	r.entry = newEscEntry(esc)
	r.reset = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), reset)
	r.slider.OnChanged = func(v float64) {
		txt := fmt.Sprintf(format, v)
		r.entry.SetText(txt)
		if rv, err := strconv.ParseFloat(txt, 64); err == nil {
			v = rv // the slider's step arithmetic leaves 0.35000000000000003
		}
		set(v)
	}
	r.entry.OnSubmitted = func(t string) {
		v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			r.entry.SetText(fmt.Sprintf(format, r.slider.Value))
			return
		}
		v = max(lo, min(hi, v))
		r.slider.SetValue(v)
		r.entry.SetText(fmt.Sprintf(format, v))
	}
	lbl := newResetLabel(label, reset)
	right := container.NewHBox(container.NewGridWrap(fyne.NewSize(72, r.entry.MinSize().Height), r.entry), r.reset)
	r.row = container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(96, lbl.MinSize().Height), lbl), right, r.slider)
	return r
}

func (r *sliderRow) set(v float64) {
	r.slider.Value = v
	r.slider.Refresh()
	r.entry.SetText(fmt.Sprintf(r.format, v))
}

// resetLabel is a slider's label: double-click resets the slider.
type resetLabel struct {
	widget.Label
	reset func()
}

func newResetLabel(text string, reset func()) *resetLabel {
	l := &resetLabel{reset: reset}
	l.Text = text
	l.ExtendBaseWidget(l)
	return l
}

// DoubleTapped resets to the pack default.
func (l *resetLabel) DoubleTapped(*fyne.PointEvent) { l.reset() }

func heading(t string) *widget.Label {
	return widget.NewLabelWithStyle(t, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// build makes the window's content.
func (s *State) build() {
	w := &widgets{}
	s.w = w

	// Pack.
	esc := s.Cancel
	w.packSel = newEscSelect(nil, func(name string) {
		if w.syncing {
			return
		}
		for _, p := range s.packs {
			if packLabel(p) == name && (s.pack == nil || p.Dir != s.pack.Dir) {
				s.inputsChanged("pack", true)
				s.LoadPack(p)
			}
		}
	}, esc)
	w.packSel.PlaceHolder = "(no pack)"
	w.packInfo = widget.NewButtonWithIcon("", theme.InfoIcon(), s.showModels)
	w.packNote = widget.NewLabel("")
	w.packNote.Wrapping = fyne.TextWrapWord
	w.packNote.Importance = widget.WarningImportance
	w.installStarters = widget.NewButtonWithIcon("Install starter packs", theme.DownloadIcon(), s.InstallStarters)
	w.installStarters.Importance = widget.HighImportance
	w.createDemo = widget.NewButtonWithIcon("Create demo pack", theme.ContentAddIcon(), s.CreateDemo)
	install := widget.NewButtonWithIcon("Install pack…", theme.DownloadIcon(), s.installDialog)
	w.firstRun = container.NewVBox(w.installStarters, w.createDemo, install)
	w.firstRun.Hide()

	// Status bar.
	w.progress = widget.NewProgressBar()
	w.progress.TextFormatter = func() string { return "" }
	w.progress.Hide()
	w.status = widget.NewLabel("starting…")
	w.status.Truncation = fyne.TextTruncateEllipsis
	w.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), s.Cancel)
	w.cancel.Disable()

	w.ed = newEditView(s)
	side := container.NewVBox(
		heading("Model pack"),
		container.NewBorder(nil, nil, nil, w.packInfo, w.packSel),
		w.packNote, w.firstRun,
		widget.NewSeparator(),
		w.ed.side,
	)
	sideScroll := container.NewVScroll(container.NewPadded(side))
	sideScroll.SetMinSize(fyne.NewSize(360, 200))
	sidePanel := container.NewBorder(nil, w.ed.run, nil, nil, sideScroll)

	w.cmp = newCompareView(s)
	w.stk = newStickerView(s)
	w.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Edit", theme.DocumentCreateIcon(), w.ed.content),
		container.NewTabItemWithIcon("Compare", theme.GridIcon(), w.cmp.content),
		container.NewTabItemWithIcon("Stickers", theme.ColorPaletteIcon(), w.stk.content),
	)
	statusBar := container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(220, w.progress.MinSize().Height), w.progress), w.cancel, w.status)
	s.win.SetContent(container.NewBorder(nil, container.NewPadded(statusBar), nil, container.NewHBox(widget.NewSeparator(), sidePanel), w.tabs))
	s.installShortcuts()
	s.updateMenu()
	s.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		for _, u := range uris {
			if u.Scheme() == "file" {
				s.OpenPhoto(u.Path())
				return
			}
		}
	})
	s.syncSettingsToWidgets()
}

func labelled(t string, o fyne.CanvasObject) fyne.CanvasObject {
	l := widget.NewLabel(t)
	return container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(80, l.MinSize().Height), l), nil, o)
}

func centre(s fyne.Size) fyne.Position { return fyne.NewPos(s.Width/2, s.Height/2) }

func packLabel(p *app.Pack) string {
	n := p.Name
	if n == "" {
		n = filepath.Base(p.Dir)
	}
	if k := string(p.Kind()); !strings.Contains(n, k) {
		n = fmt.Sprintf("%s (%s)", n, k)
	}
	return n
}

// ---- updates (UI goroutine) ----

func (s *State) status(msg string) {
	if s.w != nil {
		s.w.status.SetText(msg)
	}
}

func (s *State) showError(err error) {
	dialog.ShowError(err, s.win)
}

func (s *State) showInfo(title, msg string) {
	dialog.ShowInformation(title, msg, s.win)
}

func (s *State) setRunning(j *job, on bool) {
	w := s.w
	if on {
		w.progress.Show()
		w.cancel.Enable()
		w.progress.SetValue(0)
		w.progress.TextFormatter = func() string { return j.kind.String() }
		w.progress.Refresh()
		return
	}
	w.cancel.Disable()
	w.progress.Hide()
	w.progress.TextFormatter = func() string { return "" }
	w.progress.SetValue(0)
	w.ed.view.setPreview(nil)
}

func (s *State) showProgress(j *job, p app.Progress) {
	w := s.w
	txt := p.Phase
	if p.Steps > 0 {
		w.progress.SetValue(float64(p.Step) / float64(p.Steps))
		txt = fmt.Sprintf("%s %d/%d", p.Phase, p.Step, p.Steps)
	}
	if p.Label != "" {
		txt += " · " + p.Label
	}
	txt += s.eta.left(p, time.Now())
	w.progress.TextFormatter = func() string { return p.Phase }
	w.progress.Refresh()
	s.status(j.kind.String() + ": " + txt)
	if p.Preview != nil && s.doc != nil && j.kind.showsPreview() {
		w.ed.view.setPreview(p.Preview)
	}
}

func (s *State) updatePackPicker() {
	w := s.w
	var opts []string
	sel := ""
	for _, p := range s.packs {
		opts = append(opts, packLabel(p))
		if s.pack != nil && p.Dir == s.pack.Dir {
			sel = packLabel(p)
		}
	}
	w.syncing = true
	w.packSel.SetOptions(opts)
	if sel != "" {
		w.packSel.SetSelected(sel)
	}
	w.syncing = false
	if len(s.packs) == 0 && s.a != nil {
		if s.offerStarters() {
			w.installStarters.Show()
			w.createDemo.Hide()
			w.packNote.SetText("No model pack is installed. Install the starter packs (small models learned from cartoon portraits; they come with Likeness) or install a pack folder or .zip.")
		} else {
			w.installStarters.Hide()
			w.createDemo.Show()
			w.packNote.SetText("No model pack is installed. Create the demo pack (it tints a region; it is not a trained editor) or install a pack folder or .zip.")
		}
		w.firstRun.Show()
		w.packNote.Show()
	} else {
		w.firstRun.Hide()
		s.updatePackInfo()
	}
}

func (s *State) updatePackInfo() {
	w := s.w
	var notes []string
	if app.IsDemo(s.pack) {
		notes = append(notes, "demo: tints a region, not a trained editor")
	}
	notes = append(notes, app.PackWarnings(s.eng)...) // e.g. a vae_encoder that samples
	if len(notes) == 0 {
		w.packNote.Hide()
		return
	}
	w.packNote.SetText(strings.Join(notes, "\n"))
	w.packNote.Show()
}

// syncSettingsToWidgets copies s.settings into the controls.
func (s *State) syncSettingsToWidgets() {
	if s.w != nil {
		s.w.ed.showSettings(s.settings, s.eng)
	}
}

// showSettings puts st into the controls; eng (may be nil) gives the
// pack's directions and subjects.
func (w *editView) showSettings(st app.Settings, eng *app.Engine) {
	w.syncing = true
	defer func() { w.syncing = false }()
	var labels []string
	sel := ""
	if eng != nil {
		for _, d := range eng.Manifest().Directions {
			labels = append(labels, d.Label)
			if d.ID == st.Direction {
				sel = d.Label
			}
		}
		w.subject.SetOptions(eng.Manifest().Subjects)
	}
	w.direction.SetOptions(labels)
	if sel != "" {
		w.direction.SetSelected(sel)
	} else {
		w.direction.ClearSelected()
	}
	w.target.SetText(st.Target)
	w.subject.SetText(st.Subject)
	w.steps.SetText(strconv.Itoa(st.Steps))
	w.seed.SetText(strconv.FormatUint(st.Seed, 10))
	if st.Scheduler != "" {
		w.scheduler.SetSelected(st.Scheduler)
	}
	w.s1.set(st.S1)
	w.s2.set(st.S2)
	w.s3.set(st.S3)
	w.lambda.set(st.Lambda)
	w.maskNormalize.set(st.MaskNormalize)
	w.maskGuidance.set(st.MaskGuidance)
}

// choiceSelect shows an app.Choice list by label and reports values.
type choiceSelect struct {
	*escSelect
	choices []app.Choice
}

func newChoiceSelect(choices []app.Choice, changed func(value string), esc func()) *choiceSelect {
	labels := make([]string, len(choices))
	for i, c := range choices {
		labels[i] = c.Label
	}
	c := &choiceSelect{choices: choices}
	c.escSelect = newEscSelect(labels, func(label string) {
		for _, ch := range choices {
			if ch.Label == label {
				changed(ch.Value)
				return
			}
		}
	}, esc)
	return c
}

// set selects the choice whose value is v (nothing for an unknown value).
func (c *choiceSelect) set(v string) {
	for _, ch := range c.choices {
		if ch.Value == v {
			c.SetSelected(ch.Label)
			return
		}
	}
	c.ClearSelected()
}

// updateDocView shows the photo or the selected result.
func (s *State) updateDocView() {
	s.updateCanvas()
	s.updateMaskView()
	s.updateHistory()
	if s.doc != nil {
		s.updateZoomLabel()
	}
}

// updateCanvas puts the photo, or the shown result, on the canvas. A
// result shows at once as its model-resolution image placed at the crop it
// was made with; the full-resolution blend, costly on big photos, is made
// in the background when the crop is shown bigger than the model's output.
func (s *State) updateCanvas() {
	v := s.w.ed.view
	if s.doc == nil {
		v.setImage(nil, image.Rectangle{})
		v.setResult(nil)
		return
	}
	r := s.shown
	if r == nil {
		v.setImage(s.doc.Photo.Image, s.doc.Crop())
		v.setResult(nil)
		return
	}
	if full := s.fullFor(fullKey{r, s.preserve}); full != nil {
		v.setImage(full, r.Crop)
		v.setResult(nil)
		return
	}
	v.setImage(s.doc.Photo.Image, r.Crop)
	v.setResult(modelImage(r, s.preserve))
	s.wantFull()
}

// modelImage is a result at model resolution, as the canvas shows it
// before the full-resolution blend is ready.
func modelImage(r *app.Result, preserve bool) *image.NRGBA {
	if preserve && r.Preserved != nil {
		return r.Preserved
	}
	return r.Paper
}

// fullKey names a full-resolution blend.
type fullKey struct {
	r        *app.Result
	preserve bool
}

// fullImage is a cached full-resolution blend.
type fullImage struct {
	key fullKey
	img *image.NRGBA
}

// maxFull is how many blends are kept (each is as big as the photo).
const maxFull = 2

func (s *State) fullFor(k fullKey) *image.NRGBA {
	for _, f := range s.full {
		if f.key == k {
			return f.img
		}
	}
	return nil
}

// wantFull computes the shown result's full-resolution blend in the
// background when the canvas would show more detail than the model's output.
func (s *State) wantFull() {
	r, doc := s.shown, s.doc
	if r == nil || doc == nil || s.w == nil {
		return
	}
	k := fullKey{r, s.preserve}
	if s.fullFor(k) != nil || s.fullWant[k] {
		return
	}
	if m := modelImage(r, k.preserve); m != nil && float64(s.w.ed.view.scale())*float64(r.Crop.Dx()) <= float64(m.Bounds().Dx()) {
		return // the model-resolution image already shows every canvas pixel
	}
	if s.fullWant == nil {
		s.fullWant = map[fullKey]bool{}
	}
	s.fullWant[k] = true
	s.background(func() func() {
		img := app.Image(doc, r, app.ExportOptions{Output: app.OutputFull, Preserve: k.preserve})
		return func() {
			if s.doc != doc {
				return
			}
			delete(s.fullWant, k)
			s.full = append(s.full, fullImage{k, img})
			if len(s.full) > maxFull {
				s.full = s.full[len(s.full)-maxFull:]
			}
			if s.shown == r && s.preserve == k.preserve {
				s.updateCanvas()
			}
		}
	})
}

// updateMaskView re-thresholds the cached mask: never a model call.
func (s *State) updateMaskView() {
	if s.w == nil {
		return
	}
	w := s.w.ed
	var m *app.Mask
	if s.doc != nil {
		m = s.doc.Mask()
	}
	if m == nil {
		w.softMap.Image = nil
		w.softMap.Refresh()
		w.maskInfo.SetText("no mask yet: Preview mask (Ctrl+M)")
		s.updateOverlay()
		return
	}
	w.softMap.Image = app.SoftMapImage(m)
	w.softMap.Refresh()
	cells := s.doc.EffectiveMask(s.settings.Lambda)
	n := 0
	for _, b := range cells {
		if b {
			n++
		}
	}
	info := fmt.Sprintf("%.0f%% of %dx%d cells at λ=%.2f", 100*float64(n)/float64(max(1, len(cells))), m.W, m.H, s.settings.Lambda)
	if s.doc.Painted() {
		info += " (painted)"
	}
	if m.Reason != "" {
		info = "empty: " + m.Reason
	}
	w.maskInfo.SetText(info)
	s.updateOverlay()
}

func (s *State) updateOverlay() {
	if s.w == nil {
		return
	}
	w := s.w.ed
	if !w.showMask.Checked || s.shown != nil {
		w.view.setOverlay(nil)
		return
	}
	if img := s.overlayImage(); img != nil {
		w.view.setOverlay(img)
	} else {
		w.view.setOverlay(nil)
	}
}

func (s *State) updateZoomLabel() {
	ed := s.w.ed
	v := ed.view
	s.wantFull() // zooming in may need the full-resolution blend
	if v.zoom == 0 {
		ed.zoomLbl.SetText(fmt.Sprintf("fit (%.0f%%)", 100*v.scale()))
		return
	}
	ed.zoomLbl.SetText(fmt.Sprintf("%.0f%%", 100*v.zoom))
}

func (s *State) painting() bool {
	return s.w != nil && s.w.ed.paintMode.Selected != "Off" && s.w.ed.paintMode.Selected != "" && s.shown == nil
}

func (s *State) paintAdds() bool      { return s.w.ed.paintMode.Selected != "Erase" }
func (s *State) brushRadius() float64 { return s.w.ed.brush.Value }

// updateHistory rebuilds the history strip.
func (s *State) updateHistory() {
	w := s.w.ed
	w.history.RemoveAll()
	if s.doc == nil {
		return
	}
	orig := newThumb(s.doc.Photo.Image, "original", "the photo as opened", s.shown == nil, func() { s.showResult(nil) })
	w.history.Add(orig)
	for i, r := range s.History() {
		r := r
		st := r.Settings
		what := st.Target
		if what == "" {
			what = st.Direction
		}
		short := fmt.Sprintf("#%d %s", i+1, what)
		long := fmt.Sprintf("%s · %s · s1 %.1f s2 %.1f s3 %.1f λ %.2f · %d steps %s · seed %d", r.Mode, what, st.S1, st.S2, st.S3, st.Lambda, st.Steps, st.Scheduler, st.Seed)
		w.history.Add(newThumb(r.Preserved, short, long, s.shown == r, func() {
			s.showResult(r)
			s.status(long)
		}))
	}
	w.history.Refresh()
}

// thumb is a tappable history entry.
type thumb struct {
	widget.BaseWidget
	img      *canvas.Image
	label    *widget.Label
	bg       *canvas.Rectangle
	tip      string
	onTapped func()
}

func newThumb(img image.Image, label, tip string, selected bool, tapped func()) *thumb {
	t := &thumb{tip: tip, onTapped: tapped}
	t.img = canvas.NewImageFromImage(img)
	t.img.FillMode = canvas.ImageFillContain
	t.img.SetMinSize(fyne.NewSize(88, 88))
	t.label = widget.NewLabel(label)
	t.label.Truncation = fyne.TextTruncateEllipsis
	t.bg = canvas.NewRectangle(color.Transparent)
	if selected {
		t.bg.FillColor = theme.Color(theme.ColorNameSelection)
	}
	t.ExtendBaseWidget(t)
	return t
}

func (t *thumb) Tapped(*fyne.PointEvent) {
	if t.onTapped != nil {
		t.onTapped()
	}
}

func (t *thumb) MinSize() fyne.Size { return fyne.NewSize(112, 126) }

func (t *thumb) CreateRenderer() fyne.WidgetRenderer {
	box := container.NewStack(t.bg, container.NewBorder(nil, t.label, nil, nil, t.img))
	return widget.NewSimpleRenderer(box)
}
