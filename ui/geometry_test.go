package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestFitSize(t *testing.T) {
	for _, c := range []struct {
		name  string
		saved geometry
		wa    rect
		scale float32
		want  fyne.Size
	}{
		{"big screen: the default", geometry{}, rect{0, 0, 2560, 1440}, 1, fyne.NewSize(1280, 800)},
		{"1280×800 laptop: 90%", geometry{}, rect{0, 0, 1280, 800}, 1, fyne.NewSize(1152, 720)},
		{"1366×768 less a panel", geometry{}, rect{0, 32, 1366, 736}, 1, fyne.NewSize(1229, 662)},
		{"HiDPI: in units", geometry{}, rect{0, 0, 2560, 1600}, 2, fyne.NewSize(1152, 720)},
		{"remembered", geometry{w: 900, h: 700}, rect{0, 0, 1920, 1080}, 1, fyne.NewSize(900, 700)},
		{"remembered on a bigger screen", geometry{w: 1800, h: 1000}, rect{0, 0, 1280, 720}, 1, fyne.NewSize(1152, 648)},
		{"no screen known", geometry{}, rect{}, 1, fyne.NewSize(1280, 800)},
	} {
		if got := fitSize(c.saved, c.wa, c.scale); got != c.want {
			t.Errorf("%s: fitSize = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestOnScreen(t *testing.T) {
	areas := []rect{{0, 0, 1920, 1080}, {1920, 0, 1280, 1024}}
	for _, c := range []struct {
		x, y, w, h int
		want       bool
	}{
		{100, 100, 1152, 720, true},
		{2000, 50, 1000, 700, true},    // on the second monitor
		{-1100, 100, 1152, 720, false}, // its title bar off the left edge
		{4000, 100, 800, 600, false},   // a monitor that is gone
		{100, 1075, 800, 600, false},   // below the bottom
	} {
		if got := onScreen(areas, c.x, c.y, c.w, c.h); got != c.want {
			t.Errorf("onScreen(%d,%d %dx%d) = %v, want %v", c.x, c.y, c.w, c.h, got, c.want)
		}
	}
}

func TestGeometryPreferences(t *testing.T) {
	a := test.NewTempApp(t)
	p := a.Preferences()
	if g := loadGeometry(p); g.w != 0 || g.placed {
		t.Fatalf("fresh preferences hold %+v", g)
	}
	want := geometry{w: 1000, h: 700, x: 40, y: 30, placed: true}
	want.save(p)
	if got := loadGeometry(p); got != want {
		t.Fatalf("loadGeometry = %+v, want %+v", got, want)
	}
}
