// Package ui is the Fyne desktop front end. It only talks to package app
// (and the pure image helpers of engine/compose and engine/export).
//
// Threading: State and every widget are touched on the UI goroutine only.
// Long work (loading packs, masks, edits, comparisons, stickers, installs)
// runs in goroutines and hands results back through State.post (fyne.Do).
package ui

import (
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"

	"likeness/app"
	"likeness/assets"
)

// AppID is the Fyne application id (preferences live under it).
const AppID = "app.likeness.editor"

// Icon is the application icon as a Fyne resource.
var Icon = fyne.NewStaticResource("icon.png", assets.Icon)

// Run opens the main window and blocks until it closes. args may name a
// photo to open.
func Run(args []string) int {
	fa := newFyneApp()
	fa.SetIcon(Icon)
	w := fa.NewWindow("Likeness")
	w.SetIcon(Icon)
	s := newState(fa, w)
	s.build()
	var photo string
	for _, a := range args {
		if a != "" && a[0] != '-' {
			photo = a
			break
		}
	}
	s.status("starting ONNX Runtime…")
	// Start ONNX Runtime and the store off the UI goroutine: the window is
	// usable at once.
	prefs := fa.Preferences()
	opts, err := optionsFromPrefs(prefs)
	s.background(func() func() {
		var a *app.App
		if err == nil {
			a, err = app.New(opts)
		}
		return func() {
			if err != nil {
				s.status("ONNX Runtime is not available")
				s.showError(errNoORT(err))
			} else {
				s.Attach(a)
			}
			if photo != "" {
				s.OpenPhoto(photo)
			}
		}
	})
	remember := openWindow(w, prefs)
	w.SetOnClosed(func() {
		remember()
		s.cancelJob("closing")
		if s.a != nil {
			s.a.Close()
		}
	})
	fa.Run()
	return 0
}

func optionsFromPrefs(p fyne.Preferences) (app.Options, error) {
	prov, err := app.ParseProvider(p.StringWithFallback(PrefProvider, "auto"))
	if err != nil {
		return app.Options{}, fmt.Errorf("provider preference: %w", err)
	}
	return app.Options{Provider: prov, ORTLib: p.String(PrefORTLib), PackDirs: p.StringList(PrefPackDirs)}, nil
}

// Attach gives the state its app: lists the packs and loads the last one
// (or the first), or on first run offers the starter packs (the analytic
// demo in a build without them) and installs.
func (s *State) Attach(a *app.App) {
	s.a = a
	s.refreshPacks(func() {
		if len(s.packs) == 0 {
			if s.offerStarters() {
				s.status("no model pack installed: install the starter packs or a pack of your own")
			} else {
				s.status("no model pack installed: create the demo pack or install one")
			}
			return
		}
		if s.pack != nil {
			return // loaded meanwhile (starter packs, demo or install)
		}
		last := s.fa.Preferences().String(PrefLastPack)
		pick := s.packs[0]
		for _, p := range s.packs {
			if p.Dir == last || filepath.Base(p.Dir) == last {
				pick = p
			}
		}
		s.LoadPack(pick)
	})
}
