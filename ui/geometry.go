package ui

import (
	"math"
	"os"
	"strconv"

	"fyne.io/fyne/v2"
	"github.com/go-gl/glfw/v3.3/glfw"
)

// Window geometry preferences: the size in Fyne units, the position of the
// client area in screen pixels.
const (
	PrefWindowWidth  = "window_width"
	PrefWindowHeight = "window_height"
	PrefWindowX      = "window_x"
	PrefWindowY      = "window_y"
	PrefWindowPlaced = "window_placed" // x and y hold a position
)

// The default window: never larger than a 1280×800 laptop screen, and at
// most screenShare of the screen it opens on.
const (
	defaultWidth, defaultHeight = 1280, 800
	screenShare                 = 0.9
)

// rect is a rectangle in screen pixels.
type rect struct{ x, y, w, h int }

func (r rect) contains(x, y int) bool { return x >= r.x && y >= r.y && x < r.x+r.w && y < r.y+r.h }

// geometry is a remembered window: size in Fyne units, position in pixels.
type geometry struct {
	w, h   float32
	x, y   int
	placed bool
}

func loadGeometry(p fyne.Preferences) geometry {
	return geometry{
		w: float32(p.Float(PrefWindowWidth)), h: float32(p.Float(PrefWindowHeight)),
		x: p.Int(PrefWindowX), y: p.Int(PrefWindowY), placed: p.Bool(PrefWindowPlaced),
	}
}

func (g geometry) save(p fyne.Preferences) {
	if g.w > 0 && g.h > 0 {
		p.SetFloat(PrefWindowWidth, float64(g.w))
		p.SetFloat(PrefWindowHeight, float64(g.h))
	}
	p.SetBool(PrefWindowPlaced, g.placed)
	if g.placed {
		p.SetInt(PrefWindowX, g.x)
		p.SetInt(PrefWindowY, g.y)
	}
}

// fitSize is the window size, in Fyne units, for a work area of wa pixels
// at the given scale: the remembered size when there is one, else 1280×800,
// and in both cases at most screenShare of the work area.
func fitSize(saved geometry, wa rect, scale float32) fyne.Size {
	w, h := float32(defaultWidth), float32(defaultHeight)
	if saved.w > 0 && saved.h > 0 {
		w, h = saved.w, saved.h
	}
	if wa.w > 0 && wa.h > 0 && scale > 0 {
		w = min(w, float32(math.Floor(float64(float32(wa.w)*screenShare/scale))))
		h = min(h, float32(math.Floor(float64(float32(wa.h)*screenShare/scale))))
	}
	return fyne.NewSize(w, h)
}

// onScreen reports whether a window at (x, y) of w×h pixels keeps its title
// area on one of the screens, so that a position remembered on a monitor
// that is gone is not restored.
func onScreen(areas []rect, x, y, w, h int) bool {
	for _, a := range areas {
		if a.contains(x+min(w/2, 40), y+min(h/2, 10)) && a.contains(x+w-1-min(w/2, 40), y+min(h/2, 10)) {
			return true
		}
	}
	return false
}

// ---- the GLFW side (main goroutine only; the real driver, not tests) ----

// workAreas lists the monitors' work areas (the screen less panels and
// docks), primary first. GLFW is initialised by the first NewWindow.
func workAreas() []rect {
	var out []rect
	add := func(m *glfw.Monitor) {
		if m == nil {
			return
		}
		x, y, w, h := m.GetWorkarea()
		if w <= 0 || h <= 0 {
			if vm := m.GetVideoMode(); vm != nil {
				x, y = m.GetPos()
				w, h = vm.Width, vm.Height
			}
		}
		if w > 0 && h > 0 {
			out = append(out, rect{x, y, w, h})
		}
	}
	primary := glfw.GetPrimaryMonitor()
	add(primary)
	for _, m := range glfw.GetMonitors() {
		if m != primary {
			add(m)
		}
	}
	return out
}

// estimateScale guesses, before the window exists, the scale Fyne will give
// its canvas on the primary monitor (FYNE_SCALE times the detected DPI
// scale); the size is corrected with the real scale once the window shows.
func estimateScale() float32 {
	user := float32(1)
	if v, err := strconv.ParseFloat(os.Getenv("FYNE_SCALE"), 32); err == nil && v > 0 {
		user = float32(v)
	} else if s := fyne.CurrentApp().Settings().Scale(); s > 0 {
		user = s
	}
	detected := float32(1)
	if m := glfw.GetPrimaryMonitor(); m != nil && os.Getenv("FYNE_DISABLE_DPI_DETECTION") == "" {
		wmm, _ := m.GetPhysicalSize()
		if vm := m.GetVideoMode(); vm != nil && wmm > 0 {
			dpi := float32(vm.Width) / (float32(wmm) / 25.4)
			if dpi >= 10 && dpi <= 1000 {
				detected = max(1, dpi/96)
			}
		}
	}
	return float32(math.Round(float64(user*detected)*10) / 10)
}

// withView runs f with the window's GLFW handle (the GL context is current
// while RunWithContext runs). Fyne has no API for a window's position.
func withView(w fyne.Window, f func(*glfw.Window)) {
	rc, ok := w.(interface{ RunWithContext(func()) })
	if !ok {
		return
	}
	rc.RunWithContext(func() {
		if v := glfw.GetCurrentContext(); v != nil {
			f(v)
		}
	})
}

// openWindow shows the main window at a size that fits the screen and where
// it was last time (if that is still on a screen). Call on the main
// goroutine before Run. It returns the function that remembers the geometry,
// for the window's close callback; it also runs whenever the app loses focus
// (which covers Quit from the menu).
func openWindow(w fyne.Window, p fyne.Preferences) (remember func()) {
	saved := loadGeometry(p)
	areas := workAreas()
	var primary rect
	if len(areas) > 0 {
		primary = areas[0]
	}
	w.Resize(fitSize(saved, primary, estimateScale()))
	if !saved.placed {
		w.CenterOnScreen()
	}
	w.Show() // creates the window now (we are on the main goroutine)

	// The real scale is known now; correct the size if the guess was off.
	if sc := w.Canvas().Scale(); sc > 0 {
		want := fitSize(saved, primary, sc)
		if got := w.Canvas().Size(); math.Abs(float64(got.Width-want.Width)) > 1 || math.Abs(float64(got.Height-want.Height)) > 1 {
			w.Resize(want)
			if !saved.placed {
				w.CenterOnScreen()
			}
		}
	}
	if saved.placed {
		withView(w, func(v *glfw.Window) {
			pw, ph := v.GetSize()
			if onScreen(areas, saved.x, saved.y, pw, ph) {
				v.SetPos(saved.x, saved.y)
			} else {
				w.CenterOnScreen()
			}
		})
	}

	remember = func() {
		g := geometry{}
		if sz := w.Canvas().Size(); sz.Width > 0 && sz.Height > 0 {
			g.w, g.h = sz.Width, sz.Height
		}
		withView(w, func(v *glfw.Window) {
			g.x, g.y = v.GetPos()
			g.placed = true
		})
		g.save(p)
	}
	fyne.CurrentApp().Lifecycle().SetOnExitedForeground(remember)
	return remember
}
