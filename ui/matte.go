package ui

import (
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"likeness/engine/compose"
)

// matteView shows one sticker's cut-out on a checkerboard and lets the
// user touch its matte up with the mask's brush: Add keeps what is under
// it, Erase removes it; each stroke can be undone.
type matteView struct {
	widget.BaseWidget
	s     *State
	img   *canvas.Image
	mode  *widget.RadioGroup
	which int // the sticker shown
	undo  []*image.Alpha
	dabs  int
}

func newMatteView(s *State) *matteView {
	v := &matteView{s: s, which: -1}
	v.img = canvas.NewImageFromImage(nil)
	v.img.FillMode = canvas.ImageFillContain
	v.img.SetMinSize(fyne.NewSize(240, 240))
	v.mode = widget.NewRadioGroup([]string{"Off", "Add", "Erase"}, nil)
	v.mode.Horizontal = true
	v.mode.Required = true
	v.mode.SetSelected("Off")
	v.ExtendBaseWidget(v)
	return v
}

func (v *matteView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(v.img)
}

// show displays sticker i of the current set (-1: nothing).
func (v *matteView) show(i int) {
	if i != v.which {
		v.undo = nil
	}
	v.which = i
	v.redraw()
}

func (v *matteView) redraw() {
	set := v.s.stickers
	if set == nil || v.which < 0 || v.which >= len(set.Results) {
		v.img.Image = nil
		v.img.Refresh()
		return
	}
	v.img.Image = compose.OnChecker(set.Picture(v.which), set.Matte(v.which))
	v.img.Refresh()
}

// checkerSheet is the sheet over a checkerboard where it is transparent.
func checkerSheet(sheet *image.NRGBA) *image.NRGBA {
	a := image.NewAlpha(sheet.Rect)
	for i := range a.Pix {
		a.Pix[i] = sheet.Pix[4*i+3]
	}
	return compose.OnChecker(sheet, a)
}

func (v *matteView) painting() bool { return v.mode.Selected == "Add" || v.mode.Selected == "Erase" }

// toPicture maps a widget point to fractions of the shown picture (the
// image is drawn contained, centred).
func (v *matteView) toPicture(p fyne.Position) (float64, float64, bool) {
	sz := v.Size()
	side := min(sz.Width, sz.Height)
	if side <= 0 {
		return 0, 0, false
	}
	x0, y0 := (sz.Width-side)/2, (sz.Height-side)/2
	fx, fy := float64((p.X-x0)/side), float64((p.Y-y0)/side)
	return fx, fy, fx >= 0 && fy >= 0 && fx <= 1 && fy <= 1
}

func (v *matteView) dab(p fyne.Position) {
	set := v.s.stickers
	if set == nil || v.which < 0 || !v.painting() {
		return
	}
	fx, fy, ok := v.toPicture(p)
	if !ok {
		return
	}
	if v.dabs == 0 {
		v.undo = append(v.undo, set.Matte(v.which)) // nil when it had none
	}
	// The mask brush's radius is in latent cells; a cell is 1/latent of
	// the picture, so the brush looks the same size on both.
	lat := 16.0
	if v.s.eng != nil && v.s.eng.Sig.Latent > 0 {
		lat = float64(v.s.eng.Sig.Latent)
	}
	if err := set.PaintMatte(v.which, fx, fy, v.s.brushRadius()/lat, v.mode.Selected == "Add"); err != nil {
		v.s.status(err.Error())
		return
	}
	v.dabs++
	v.redraw()
}

func (v *matteView) Dragged(ev *fyne.DragEvent) { v.dab(ev.Position) }

func (v *matteView) DragEnd() { v.endStroke() }

func (v *matteView) Tapped(ev *fyne.PointEvent) {
	v.dab(ev.Position)
	v.endStroke()
}

func (v *matteView) endStroke() {
	if v.dabs == 0 {
		return
	}
	v.dabs = 0
	v.s.stickersChanged("touched up the matte (Undo matte reverts the stroke)")
}

// Undo reverts the last stroke on the shown sticker's matte.
func (v *matteView) Undo() {
	set := v.s.stickers
	if set == nil || len(v.undo) == 0 {
		v.s.status("nothing to undo on the matte")
		return
	}
	prev := v.undo[len(v.undo)-1]
	v.undo = v.undo[:len(v.undo)-1]
	if prev == nil {
		prev = opaqueMatte(set.Picture(v.which).Rect)
	}
	if err := set.SetMatte(v.which, prev); err != nil {
		v.s.status(err.Error())
		return
	}
	v.redraw()
	v.s.stickersChanged("matte stroke undone")
}

func opaqueMatte(r image.Rectangle) *image.Alpha {
	a := image.NewAlpha(image.Rect(0, 0, r.Dx(), r.Dy()))
	for i := range a.Pix {
		a.Pix[i] = 255
	}
	return a
}

// Cursor shows a crosshair while painting.
func (v *matteView) Cursor() desktop.Cursor {
	if v.painting() {
		return desktop.CrosshairCursor
	}
	return desktop.DefaultCursor
}

// stickersChanged redraws the sheet after the set changed in place.
func (s *State) stickersChanged(msg string) {
	s.updateStickerView()
	s.status(msg)
}
