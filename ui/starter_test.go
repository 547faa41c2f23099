package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"likeness/app"
	"likeness/models/synth"
)

// A build with starter packs offers them on first run, not the demo, and
// the offer installs them and loads one.
func TestFirstRunOffersStarterPacks(t *testing.T) {
	a, err := app.New(app.Options{Provider: "cpu"})
	if err != nil {
		t.Fatalf("ONNX Runtime is needed for the UI tests: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	a.Store.Root, a.Store.Extra = filepath.Join(t.TempDir(), "store"), nil
	src := t.TempDir()
	if _, err := synth.Write(filepath.Join(src, "packs", "tiny-cartoons"), synth.Options{Kind: "mcdm", Resolution: 64, Name: "Tiny cartoons"}); err != nil {
		t.Fatal(err)
	}
	fa := test.NewApp()
	defer fa.Quit()
	w := test.NewWindow(nil)
	h := &harness{t: t, win: w, q: make(chan func(), 4096)}
	s := newState(fa, w)
	s.watch = &recorder{}
	s.post = func(fn func()) { h.q <- fn }
	s.starters = app.NewStarterSet(os.DirFS(src), "packs")
	s.build()
	h.s = s
	s.Attach(a)
	h.idle()
	if s.w.firstRun.Hidden || s.w.installStarters.Hidden {
		t.Fatal("first run: no offer to install the starter packs")
	}
	if !s.w.createDemo.Hidden {
		t.Error("first run still offers the analytic demo")
	}
	if !strings.Contains(s.w.packNote.Text, "starter packs") {
		t.Errorf("first-run note %q", s.w.packNote.Text)
	}
	if !menuHas(w.MainMenu(), "File", "Install starter packs") || menuHas(w.MainMenu(), "File", "Create demo pack") {
		t.Error("the File menu should offer the starter packs and not the demo")
	}
	if !menuHas(w.MainMenu(), "File", "Open sample") {
		t.Error("no File ▸ Open sample")
	}

	test.Tap(s.w.installStarters)
	h.idle()
	if rec(s).lastErr != nil {
		t.Fatal(rec(s).lastErr)
	}
	if s.pack == nil || s.pack.Name != "Tiny cartoons" || s.eng == nil {
		t.Fatalf("starter pack not loaded: %+v", s.pack)
	}
	if !s.w.firstRun.Hidden {
		t.Error("first-run offer still shown with a pack installed")
	}
	if _, err := os.Stat(filepath.Join(a.Store.Root, "tiny-cartoons", "likeness.json")); err != nil {
		t.Error(err)
	}
}

func menuHas(m *fyne.MainMenu, menu, label string) bool {
	if m == nil {
		return false
	}
	for _, mm := range m.Items {
		if mm.Label != menu {
			continue
		}
		for _, it := range mm.Items {
			if it.Label == label {
				return true
			}
		}
	}
	return false
}
