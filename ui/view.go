package ui

import (
	"image"
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"likeness/app"
)

// dragMode is what a drag on the photo does, decided where it starts.
type dragMode int

const (
	dragNone dragMode = iota
	dragPan
	dragMove
	dragResize
	dragPaint
)

const handleSize = 14 // crop resize handle, canvas units

// photoView shows the photo (or a result) with the square crop frame, the
// mask overlay and live previews; it zooms, pans, moves and resizes the
// crop, and paints the mask.
type photoView struct {
	widget.BaseWidget
	s *State

	img     *canvas.Image
	result  *canvas.Image // a model-resolution result drawn over the crop
	overlay *canvas.Image
	preview *canvas.Image
	frame   *canvas.Rectangle
	guide   *canvas.Rectangle // where the pack wants the face (its face_box)
	handle  *canvas.Rectangle
	shade   [4]*canvas.Rectangle
	hint    *widget.Label

	src   image.Image
	iw    int
	ih    int
	crop  image.Rectangle // shown crop (provisional while dragging)
	zoom  float32         // photo px -> canvas units; 0 = fit
	pan   fyne.Position
	size  fyne.Size
	mode  dragMode
	start image.Rectangle // crop when the drag started
	acc   fyne.Position   // drag accumulated since start
	dabs  int             // paint dabs of the current stroke
}

func newPhotoView(s *State) *photoView {
	v := &photoView{s: s}
	v.img = canvas.NewImageFromImage(nil)
	v.img.FillMode = canvas.ImageFillStretch
	v.img.ScaleMode = canvas.ImageScaleFastest
	v.result = canvas.NewImageFromImage(nil)
	v.result.FillMode = canvas.ImageFillStretch
	v.result.Hidden = true
	v.overlay = canvas.NewImageFromImage(nil)
	v.overlay.FillMode = canvas.ImageFillStretch
	v.overlay.ScaleMode = canvas.ImageScalePixels
	v.preview = canvas.NewImageFromImage(nil)
	v.preview.FillMode = canvas.ImageFillStretch
	v.frame = canvas.NewRectangle(color.Transparent)
	v.frame.StrokeWidth = 2
	v.frame.StrokeColor = theme.Color(theme.ColorNamePrimary)
	v.guide = canvas.NewRectangle(color.Transparent)
	v.guide.StrokeWidth = 1.5
	v.guide.StrokeColor = color.NRGBA{R: 255, G: 255, B: 255, A: 200}
	v.guide.CornerRadius = 6
	v.handle = canvas.NewRectangle(theme.Color(theme.ColorNamePrimary))
	for i := range v.shade {
		v.shade[i] = canvas.NewRectangle(theme.Color(theme.ColorNameShadow))
	}
	v.hint = widget.NewLabelWithStyle("Open a portrait: Ctrl+O, drop a file here, or File ▸ Recent", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	v.ExtendBaseWidget(v)
	return v
}

// setImage shows img (the photo or a full-size result) with crop.
func (v *photoView) setImage(img image.Image, crop image.Rectangle) {
	v.src = img
	v.img.Image = img
	v.crop = crop
	if img != nil {
		b := img.Bounds()
		if b.Dx() != v.iw || b.Dy() != v.ih {
			v.zoom, v.pan = 0, fyne.Position{}
		}
		v.iw, v.ih = b.Dx(), b.Dy()
	} else {
		v.iw, v.ih = 0, 0
	}
	v.img.Refresh()
	v.relayout()
}

// setResult draws img (nil: none) stretched over the crop frame.
func (v *photoView) setResult(img image.Image) {
	v.result.Image = img
	v.result.Hidden = img == nil
	v.result.Refresh()
	v.relayout()
}

func (v *photoView) setOverlay(img image.Image) {
	v.overlay.Image = img
	v.overlay.Hidden = img == nil
	v.overlay.Refresh()
}

func (v *photoView) setPreview(img image.Image) {
	v.preview.Image = img
	v.preview.Hidden = img == nil
	v.preview.Refresh()
}

// scale is canvas units per photo pixel.
func (v *photoView) scale() float32 {
	if v.iw == 0 || v.size.Width <= 0 {
		return 1
	}
	if v.zoom > 0 {
		return v.zoom
	}
	return float32(math.Min(float64(v.size.Width)/float64(v.iw), float64(v.size.Height)/float64(v.ih)))
}

func (v *photoView) origin() fyne.Position {
	sc := v.scale()
	return fyne.NewPos((v.size.Width-float32(v.iw)*sc)/2+v.pan.X, (v.size.Height-float32(v.ih)*sc)/2+v.pan.Y)
}

func (v *photoView) toCanvas(x, y int) fyne.Position {
	o, sc := v.origin(), v.scale()
	return fyne.NewPos(o.X+float32(x)*sc, o.Y+float32(y)*sc)
}

func (v *photoView) toPhoto(p fyne.Position) (float64, float64) {
	o, sc := v.origin(), v.scale()
	return float64((p.X - o.X) / sc), float64((p.Y - o.Y) / sc)
}

// setZoom sets a zoom (0 = fit), keeping the point under anchor still.
func (v *photoView) setZoom(z float32, anchor fyne.Position) {
	if v.iw == 0 {
		return
	}
	px, py := v.toPhoto(anchor)
	if z <= 0 {
		v.zoom, v.pan = 0, fyne.Position{}
	} else {
		v.zoom = float32(math.Max(0.02, math.Min(32, float64(z))))
		o := v.origin()
		nx, ny := o.X+float32(px)*v.zoom, o.Y+float32(py)*v.zoom
		v.pan = v.pan.Add(fyne.NewPos(anchor.X-nx, anchor.Y-ny))
	}
	v.relayout()
}

func (v *photoView) relayout() {
	v.layout(v.size)
	canvas.Refresh(v)
}

func (v *photoView) layout(size fyne.Size) {
	v.size = size
	has := v.iw > 0
	v.hint.Hidden = has
	v.hint.Resize(fyne.NewSize(size.Width, v.hint.MinSize().Height))
	v.hint.Move(fyne.NewPos(0, (size.Height-v.hint.MinSize().Height)/2))
	for _, o := range []fyne.CanvasObject{v.img, v.frame, v.guide, v.handle, v.shade[0], v.shade[1], v.shade[2], v.shade[3]} {
		o.(interface{ Hide() }).Hide()
	}
	if !has {
		v.result.Hide()
		v.overlay.Hide()
		v.preview.Hide()
		return
	}
	sc := v.scale()
	o := v.origin()
	v.img.Move(o)
	v.img.Resize(fyne.NewSize(float32(v.iw)*sc, float32(v.ih)*sc))
	v.img.Show()
	if v.crop.Empty() {
		return
	}
	c0 := v.toCanvas(v.crop.Min.X, v.crop.Min.Y)
	c1 := v.toCanvas(v.crop.Max.X, v.crop.Max.Y)
	cs := fyne.NewSize(c1.X-c0.X, c1.Y-c0.Y)
	for _, im := range []*canvas.Image{v.result, v.overlay, v.preview} {
		im.Move(c0)
		im.Resize(cs)
	}
	v.frame.Move(c0)
	v.frame.Resize(cs)
	v.frame.Show()
	if g := app.FaceGuide(v.s.eng, v.crop); !g.Empty() {
		g0, g1 := v.toCanvas(g.Min.X, g.Min.Y), v.toCanvas(g.Max.X, g.Max.Y)
		v.guide.Move(g0)
		v.guide.Resize(fyne.NewSize(g1.X-g0.X, g1.Y-g0.Y))
		v.guide.Show()
	}
	v.handle.Move(fyne.NewPos(c1.X-handleSize/2, c1.Y-handleSize/2))
	v.handle.Resize(fyne.NewSize(handleSize, handleSize))
	v.handle.Show()
	// Dim the photo outside the crop.
	i0, i1 := o, v.toCanvas(v.iw, v.ih)
	rects := [4][4]float32{
		{i0.X, i0.Y, i1.X, c0.Y}, // above
		{i0.X, c1.Y, i1.X, i1.Y}, // below
		{i0.X, c0.Y, c0.X, c1.Y}, // left
		{c1.X, c0.Y, i1.X, c1.Y}, // right
	}
	for i, r := range rects {
		if r[2] > r[0] && r[3] > r[1] {
			v.shade[i].Move(fyne.NewPos(r[0], r[1]))
			v.shade[i].Resize(fyne.NewSize(r[2]-r[0], r[3]-r[1]))
			v.shade[i].Show()
		}
	}
}

// ---- events ----

func (v *photoView) Scrolled(ev *fyne.ScrollEvent) {
	if v.iw == 0 {
		return
	}
	f := float32(math.Pow(1.0015, float64(ev.Scrolled.DY)))
	v.setZoom(v.scale()*f, ev.Position)
	v.s.updateZoomLabel()
}

func (v *photoView) inCrop(p fyne.Position) bool {
	x, y := v.toPhoto(p)
	return image.Pt(int(x), int(y)).In(v.crop)
}

func (v *photoView) onHandle(p fyne.Position) bool {
	c1 := v.toCanvas(v.crop.Max.X, v.crop.Max.Y)
	return math.Abs(float64(p.X-c1.X)) <= handleSize && math.Abs(float64(p.Y-c1.Y)) <= handleSize
}

func (v *photoView) Dragged(ev *fyne.DragEvent) {
	if v.iw == 0 {
		return
	}
	if v.mode == dragNone {
		startPos := ev.Position.Subtract(ev.Dragged)
		v.start, v.acc, v.dabs = v.crop, fyne.Position{}, 0
		switch {
		case v.s.painting() && v.inCrop(startPos):
			v.mode = dragPaint
		case v.s.doc != nil && v.onHandle(startPos) && v.s.shown == nil:
			v.mode = dragResize
		case v.s.doc != nil && v.inCrop(startPos) && v.s.shown == nil:
			v.mode = dragMove
		default:
			v.mode = dragPan
		}
	}
	v.acc = v.acc.Add(ev.Dragged)
	sc := v.scale()
	switch v.mode {
	case dragPan:
		v.pan = v.pan.Add(ev.Dragged)
		if v.zoom == 0 {
			v.zoom = sc // panning leaves fit mode
		}
	case dragMove:
		r := v.start.Add(image.Pt(int(v.acc.X/sc), int(v.acc.Y/sc)))
		v.crop = clampSquare(r, v.iw, v.ih)
	case dragResize:
		d := int(math.Max(float64(v.acc.X), float64(v.acc.Y)) / float64(sc))
		side := v.start.Dx() + d
		side = max(32, min(side, v.iw-v.start.Min.X, v.ih-v.start.Min.Y))
		v.crop = image.Rect(v.start.Min.X, v.start.Min.Y, v.start.Min.X+side, v.start.Min.Y+side)
	case dragPaint:
		v.paintAt(ev.Position)
	}
	v.relayout()
}

func (v *photoView) DragEnd() {
	switch v.mode {
	case dragMove, dragResize:
		if err := v.s.SetCrop(v.crop); err != nil {
			v.s.status("crop: " + err.Error())
			v.crop = v.start
		}
	case dragPaint:
		if v.dabs > 0 {
			v.s.strokes = append(v.s.strokes, v.dabs)
		}
		v.s.status("painted the mask (Ctrl+Z undoes the stroke)")
	}
	v.mode = dragNone
	v.relayout()
}

func (v *photoView) Tapped(ev *fyne.PointEvent) {
	if v.s.painting() && v.inCrop(ev.Position) {
		v.dabs = 0
		v.paintAt(ev.Position)
		if v.dabs > 0 {
			v.s.strokes = append(v.s.strokes, v.dabs)
		}
	}
}

// paintAt paints one dab at a canvas point.
func (v *photoView) paintAt(p fyne.Position) {
	x, y := v.toPhoto(p)
	c := v.crop
	fx, fy := (x-float64(c.Min.X))/float64(c.Dx()), (y-float64(c.Min.Y))/float64(c.Dy())
	if fx < 0 || fy < 0 || fx > 1 || fy > 1 {
		return
	}
	if v.s.paint(fx, fy, v.s.brushRadius(), v.s.paintAdds()) {
		v.dabs++
		v.s.updateOverlay()
	}
}

// Cursor shows a crosshair while painting.
func (v *photoView) Cursor() desktop.Cursor {
	if v.s.painting() {
		return desktop.CrosshairCursor
	}
	return desktop.DefaultCursor
}

// clampSquare keeps a square inside a w x h image.
func clampSquare(r image.Rectangle, w, h int) image.Rectangle {
	d := r.Dx()
	x := max(0, min(r.Min.X, w-d))
	y := max(0, min(r.Min.Y, h-d))
	return image.Rect(x, y, x+d, y+d)
}

func (v *photoView) CreateRenderer() fyne.WidgetRenderer {
	objs := []fyne.CanvasObject{v.img, v.result, v.shade[0], v.shade[1], v.shade[2], v.shade[3], v.overlay, v.preview, v.frame, v.guide, v.handle, v.hint}
	return &photoRenderer{v: v, objs: objs}
}

func (v *photoView) MinSize() fyne.Size { return fyne.NewSize(240, 240) }

type photoRenderer struct {
	v    *photoView
	objs []fyne.CanvasObject
}

func (r *photoRenderer) Layout(size fyne.Size)        { r.v.layout(size) }
func (r *photoRenderer) MinSize() fyne.Size           { return fyne.NewSize(240, 240) }
func (r *photoRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *photoRenderer) Destroy()                     {}
func (r *photoRenderer) Refresh() {
	r.v.frame.StrokeColor = theme.Color(theme.ColorNamePrimary)
	r.v.handle.FillColor = theme.Color(theme.ColorNamePrimary)
	for _, s := range r.v.shade {
		s.FillColor = theme.Color(theme.ColorNameShadow)
	}
	r.v.layout(r.v.size)
	for _, o := range r.objs {
		o.Refresh()
	}
}
