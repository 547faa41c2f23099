package ui

import (
	"fmt"
	"image"
	"image/color"
	"likeness/app"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// compareView is the QA tab: every panel with its metrics, one zoom for all,
// and a before/after split of a chosen pair.
type compareView struct {
	s       *State
	content fyne.CanvasObject
	panels  *fyne.Container
	zoom    *escSlider
	a, b    *escSelect
	split   *escSlider
	splitIm *canvas.Image
	imgs    []*canvas.Image
	info    *widget.Label
}

func newCompareView(s *State) *compareView {
	v := &compareView{s: s}
	run := widget.NewButtonWithIcon("Run comparison", theme.MediaPlayIcon(), s.RunCompare)
	run.Importance = widget.HighImportance
	exp := widget.NewButtonWithIcon("Export comparison…", theme.DocumentSaveIcon(), v.exportDialog)
	v.zoom = newEscSlider(128, 768, s.Cancel)
	v.zoom.Value = 256
	v.zoom.OnChanged = func(float64) { v.applyZoom() }
	v.panels = container.NewHBox()
	v.a = newEscSelect(nil, func(string) { v.updateSplit() }, s.Cancel)
	v.b = newEscSelect(nil, func(string) { v.updateSplit() }, s.Cancel)
	v.split = newEscSlider(0, 1, s.Cancel)
	v.split.Step = 0.01
	v.split.Value = 0.5
	v.split.OnChanged = func(float64) { v.updateSplit() }
	v.splitIm = canvas.NewImageFromImage(nil)
	v.splitIm.FillMode = canvas.ImageFillContain
	v.info = widget.NewLabel("Runs input | mask | baseline | mask-guided with the same seed (and SDEdit and DiffEdit when an sd pack is installed).")
	v.info.Wrapping = fyne.TextWrapWord
	top := container.NewBorder(nil, nil, container.NewHBox(run, exp, widget.NewLabel("Zoom")), nil, v.zoom)
	splitBar := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewLabel("Split"), container.NewGridWrap(fyne.NewSize(180, v.a.MinSize().Height), v.a), widget.NewLabel("|"), container.NewGridWrap(fyne.NewSize(180, v.b.MinSize().Height), v.b)),
		nil, v.split)
	panels := container.NewScroll(v.panels)
	splitArea := container.NewBorder(splitBar, nil, nil, nil, v.splitIm)
	v.content = container.NewBorder(container.NewVBox(top, v.info), nil, nil, nil, container.NewVSplit(panels, splitArea))
	return v
}

func (v *compareView) applyZoom() {
	z := float32(v.zoom.Value)
	for _, im := range v.imgs {
		im.SetMinSize(fyne.NewSize(z, z))
	}
	v.panels.Refresh()
}

func fmtMetric(x float64) string {
	if x > 1e9 {
		return "∞"
	}
	return fmt.Sprintf("%.1f", x)
}

// updateCompareView shows s.comparison.
func (s *State) updateCompareView() {
	v := s.w.cmp
	v.panels.RemoveAll()
	v.imgs = nil
	c := s.comparison
	if c == nil {
		v.a.SetOptions(nil)
		v.b.SetOptions(nil)
		v.splitIm.Image = nil
		v.splitIm.Refresh()
		return
	}
	var labels []string
	for _, p := range c.Panels {
		im := canvas.NewImageFromImage(p.Image)
		im.FillMode = canvas.ImageFillContain
		im.ScaleMode = canvas.ImageScalePixels
		v.imgs = append(v.imgs, im)
		txt := p.Label
		if p.Metrics != nil {
			m := p.Metrics
			txt += fmt.Sprintf("\nPSNR in %s / out %s dB\nSSIM in %.3f / out %.3f", fmtMetric(m.PSNRIn), fmtMetric(m.PSNROut), m.SSIMIn, m.SSIMOut)
		}
		if p.Evals > 0 {
			txt += fmt.Sprintf("\nUNet evals %d · %.1f s", p.Evals, p.Time.Seconds())
		}
		lbl := widget.NewLabel(txt)
		v.panels.Add(container.NewBorder(nil, lbl, nil, nil, im))
		labels = append(labels, p.Label)
	}
	v.info.SetText(fmt.Sprintf("seed %d · mask area %.0f%% · metrics: PSNR/SSIM against the input inside (in) and outside (out) the mask",
		c.Settings.Seed, 100*c.MaskArea))
	v.a.SetOptions(labels)
	v.b.SetOptions(labels)
	if len(labels) >= 4 {
		v.a.SetSelected(labels[2])
		v.b.SetSelected(labels[3])
	}
	v.applyZoom()
	v.updateSplit()
}

func (v *compareView) panel(label string) *image.NRGBA {
	c := v.s.comparison
	if c == nil {
		return nil
	}
	for _, p := range c.Panels {
		if p.Label == label {
			return p.Image
		}
	}
	return nil
}

// updateSplit draws A left of the split line and B right of it.
func (v *compareView) updateSplit() {
	a, b := v.panel(v.a.Selected), v.panel(v.b.Selected)
	if a == nil || b == nil || a.Bounds() != b.Bounds() {
		v.splitIm.Image = nil
		v.splitIm.Refresh()
		return
	}
	r := a.Bounds()
	out := image.NewNRGBA(r)
	cut := int(v.split.Value * float64(r.Dx()))
	for y := 0; y < r.Dy(); y++ {
		row := y * out.Stride
		copy(out.Pix[row:row+4*cut], a.Pix[y*a.Stride:y*a.Stride+4*cut])
		copy(out.Pix[row+4*cut:row+4*r.Dx()], b.Pix[y*b.Stride+4*cut:y*b.Stride+4*r.Dx()])
		if cut < r.Dx() {
			i := row + 4*cut
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = 255, 255, 255, 255
		}
	}
	v.splitIm.Image = out
	v.splitIm.Refresh()
}

func (v *compareView) exportDialog() {
	s := v.s
	c, doc := s.comparison, s.doc
	if c == nil || doc == nil {
		s.status("run a comparison first")
		return
	}
	base := strings.TrimSuffix(filepath.Base(doc.Path), filepath.Ext(doc.Path))
	s.chooseSavePath("Export comparison", base+".compare.png", doc.Path, func(path string, overwrite bool) {
		s.runExport(path, func() error { return app.WriteImage(path, c.Image(), doc, overwrite) }, nil)
	})
}

// stickerView is the stickers tab: the 2x2 sheet, regenerate, export.
type stickerView struct {
	s       *State
	content fyne.CanvasObject
	sheet   *canvas.Image
	which   *escSelect
	format  *escSelect
	info    *widget.Label
	matte   *matteView
}

func newStickerView(s *State) *stickerView {
	v := &stickerView{s: s}
	gen := widget.NewButtonWithIcon("Generate stickers", theme.MediaPlayIcon(), s.RunStickers)
	gen.Importance = widget.HighImportance
	v.which = newEscSelect(nil, nil, s.Cancel)
	v.which.PlaceHolder = "sticker"
	regen := widget.NewButtonWithIcon("New seed", theme.MediaReplayIcon(), func() {
		if s.stickers == nil {
			s.status("generate the stickers first")
			return
		}
		if i := v.selected(); i >= 0 {
			s.RegenerateSticker(i, rand.Uint64N(1<<31))
			return
		}
		s.status("choose which sticker to regenerate")
	})
	v.which.OnChanged = func(string) { v.matte.show(v.selected()) }
	v.matte = newMatteView(s)
	undo := widget.NewButtonWithIcon("Undo matte", theme.ContentUndoIcon(), func() { v.matte.Undo() })
	pack := widget.NewButtonWithIcon("Export pack…", theme.UploadIcon(), v.packDialog)
	choose := widget.NewButtonWithIcon("Which…", theme.ListIcon(), v.chooseDialog)
	v.format = newEscSelect([]string{"png", "webp"}, nil, s.Cancel)
	v.format.SetSelected("png")
	exp := widget.NewButtonWithIcon("Export sheet + stickers…", theme.DocumentSaveIcon(), v.exportDialog)
	v.sheet = canvas.NewImageFromImage(nil)
	v.sheet.FillMode = canvas.ImageFillContain
	v.info = widget.NewLabel(stickerIntro)
	v.info.Wrapping = fyne.TextWrapWord
	bar := container.NewHBox(gen, choose, widget.NewSeparator(), container.NewGridWrap(fyne.NewSize(200, v.which.MinSize().Height), v.which), regen, widget.NewSeparator(), v.format, exp, pack)
	touch := container.NewBorder(container.NewVBox(widget.NewLabel("Cut-out of the chosen sticker (touch up with the brush)"),
		container.NewHBox(widget.NewLabel("Matte"), v.matte.mode, undo)), nil, nil, nil, v.matte)
	split := container.NewHSplit(v.sheet, touch)
	split.Offset = 0.62
	v.content = container.NewBorder(container.NewVBox(bar, v.info), nil, nil, nil, split)
	return v
}

const stickerIntro = "Edits the photo in each of the pack's directions with one seed: a sheet and 512 px stickers, cut out when the picture is transparent or the pack has a foreground model."

func (s *State) updateStickerView() {
	v := s.w.stk
	if s.stickers == nil {
		v.sheet.Image = nil
		v.sheet.Refresh()
		v.which.SetOptions(nil)
		v.matte.show(-1)
		v.info.SetText(stickerIntro)
		return
	}
	sheet := s.stickers.Sheet()
	if s.stickers.Transparent() {
		sheet = checkerSheet(s.stickers.SheetOn(color.Transparent))
	}
	v.sheet.Image = sheet
	v.sheet.Refresh()
	var labels []string
	for i := range s.stickers.Directions {
		labels = append(labels, s.stickers.Label(i))
	}
	keep := v.which.Selected
	v.which.SetOptions(labels)
	if keep == "" && len(labels) > 0 {
		keep = labels[0]
	}
	v.which.SetSelected(keep) // shows it in the matte view
	info := fmt.Sprintf("%d stickers; cut-out: %s", len(labels), cutoutWords[s.stickers.Cutout])
	if s.stickers.CutoutNote != "" {
		info += " (" + s.stickers.CutoutNote + ")"
	}
	v.info.SetText(info)
}

var cutoutWords = map[app.CutoutSource]string{
	app.CutoutInput:   "the picture's own transparency",
	app.CutoutModel:   "the pack's foreground model",
	app.CutoutPhoto:   "the person around the face (photo)",
	app.CutoutNone:    "none",
	app.CutoutPainted: "painted by hand",
}

// selected is the index of the sticker chosen in the list, or -1.
func (v *stickerView) selected() int {
	set := v.s.stickers
	if set == nil {
		return -1
	}
	for i := range set.Directions {
		if set.Label(i) == v.which.Selected {
			return i
		}
	}
	return -1
}

// chooseDialog picks the directions and the seeds per direction the next
// Generate makes (WhatsApp packs want 3 to 30 stickers).
func (v *stickerView) chooseDialog() {
	s := v.s
	if s.eng == nil {
		s.status("load a pack first")
		return
	}
	var ids, labels []string
	for _, d := range s.eng.Manifest().Directions {
		ids = append(ids, d.ID)
		labels = append(labels, d.Label)
	}
	group := widget.NewCheckGroup(labels, nil)
	chosen := s.stickerOpts.Directions
	if chosen == nil {
		chosen = ids
	}
	for i, id := range ids {
		for _, c := range chosen {
			if c == id {
				group.Selected = append(group.Selected, labels[i])
			}
		}
	}
	seeds := widget.NewSelect([]string{"1", "2", "3", "4", "6", "8"}, nil)
	seeds.SetSelected(fmt.Sprint(max(1, s.stickerOpts.Seeds)))
	items := []*widget.FormItem{widget.NewFormItem("Directions", group), widget.NewFormItem("Seeds each", seeds)}
	dialog.ShowForm("Which stickers", "OK", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		var dirs []string
		for i, l := range labels {
			for _, sel := range group.Selected {
				if sel == l {
					dirs = append(dirs, ids[i])
				}
			}
		}
		if len(dirs) == 0 {
			s.status("choose at least one direction")
			return
		}
		n := 1
		fmt.Sscan(seeds.Selected, &n)
		s.stickerOpts = app.StickerOptions{Directions: dirs, Seeds: n}
		s.status(fmt.Sprintf("next sheet: %d stickers (%d directions x %d seeds); Generate makes them", len(dirs)*n, len(dirs), n))
	}, s.win)
}

// packDialog asks for the platform, the pack's name and author, then a
// folder; the pack goes into a new folder there named after the photo.
func (v *stickerView) packDialog() {
	s := v.s
	if s.stickers == nil || s.doc == nil {
		s.status("generate the stickers first")
		return
	}
	set, doc := s.stickers, s.doc
	platform := widget.NewSelect([]string{"WhatsApp", "Telegram"}, nil)
	platform.SetSelected("WhatsApp")
	name := widget.NewEntry()
	name.SetText(strings.TrimSuffix(filepath.Base(doc.Path), filepath.Ext(doc.Path)) + " stickers")
	author := widget.NewEntry()
	author.SetText(s.fa.Preferences().StringWithFallback(PrefStickerAuthor, ""))
	author.SetPlaceHolder("your name")
	items := []*widget.FormItem{widget.NewFormItem("Platform", platform), widget.NewFormItem("Pack name", name), widget.NewFormItem("Author", author)}
	dialog.ShowForm("Export sticker pack", "Choose folder…", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		s.fa.Preferences().SetString(PrefStickerAuthor, author.Text)
		format := strings.ToLower(platform.Selected)
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				s.showError(err)
				return
			}
			if u == nil {
				return
			}
			base := strings.TrimSuffix(filepath.Base(doc.Path), filepath.Ext(doc.Path))
			dir := filepath.Join(u.Path(), base+"."+format+"-stickers")
			s.exportPack(set, dir, app.PackOptions{Format: format, Name: name.Text, Author: author.Text})
		}, s.win)
		d.SetLocation(dirLister(s.outputDir()))
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	}, s.win)
}

// exportPack writes a sticker pack in the background, asking before
// replacing an earlier one.
func (s *State) exportPack(set *app.StickerSet, dir string, o app.PackOptions) {
	write := func(overwrite bool) {
		o.Overwrite = overwrite
		var paths []string
		s.runExport(dir, func() error {
			var err error
			paths, err = set.ExportPack(dir, o)
			return err
		}, func() {
			s.status(fmt.Sprintf("sticker pack written: %s (%d files; README.txt says how to import it)", dir, len(paths)))
		})
	}
	if _, err := os.Stat(dir); err == nil {
		dialog.ShowConfirm("Replace sticker pack?", fmt.Sprintf("%s already exists. Replace it?", dir), func(yes bool) {
			if yes {
				write(true)
			}
		}, s.win)
		return
	}
	write(false)
}

func (v *stickerView) exportDialog() {
	s := v.s
	if s.stickers == nil || s.doc == nil {
		s.status("generate the stickers first")
		return
	}
	set, doc := s.stickers, s.doc
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			s.showError(err)
			return
		}
		if u != nil {
			s.exportStickers(set, doc, u.Path(), v.format.Selected)
		}
	}, s.win)
	d.SetLocation(dirLister(s.outputDir()))
	d.Resize(fyne.NewSize(900, 600))
	d.Show()
}

// exportStickers writes the sheet and the stickers into dir in the
// background, asking once before replacing files of an earlier export.
func (s *State) exportStickers(set *app.StickerSet, doc *app.Doc, dir, format string) {
	write := func(overwrite bool) {
		var paths []string
		s.runExport(dir, func() error {
			var err error
			paths, err = set.Export(dir, format, doc, overwrite)
			return err
		}, func() { s.status(fmt.Sprintf("exported %d files to %s", len(paths), dir)) })
	}
	if old := set.Existing(dir, format, doc); len(old) > 0 {
		dialog.ShowConfirm("Replace stickers?",
			fmt.Sprintf("%s already holds %d sticker files of %s (%s). Replace them?", dir, len(old), filepath.Base(doc.Path), filepath.Base(old[0])),
			func(yes bool) {
				if yes {
					write(true)
				}
			}, s.win)
		return
	}
	write(false)
}
