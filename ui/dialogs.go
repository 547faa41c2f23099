package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"likeness/app"
)

var photoExts = []string{".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".JPG", ".JPEG", ".PNG"}

func dirLister(dir string) fyne.ListableURI {
	if dir == "" {
		return nil
	}
	l, err := storage.ListerForURI(storage.NewFileURI(dir))
	if err != nil {
		return nil
	}
	return l
}

// chooseSavePath asks for a folder and a file name, then confirms replacing
// an existing file. Fyne's own save dialog is not used because it opens the
// chosen file for writing, truncating it, before the app sees the name: it
// could destroy the input photo and defeats atomic writes.
// protect is the photo being edited when the dialog opened.
func (s *State) chooseSavePath(title, name, protect string, done func(path string, overwrite bool)) {
	dir := s.outputDir()
	folder := widget.NewLabel(dir)
	folder.Truncation = fyne.TextTruncateEllipsis
	choose := widget.NewButton("Folder…", func() {
		d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
			if err == nil && l != nil {
				dir = l.Path()
				folder.SetText(dir)
			}
		}, s.win)
		d.SetLocation(dirLister(dir))
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	})
	file := widget.NewEntry()
	file.SetText(name)
	form := container.NewVBox(container.NewBorder(nil, nil, widget.NewLabel("Folder"), choose, folder),
		container.NewBorder(nil, nil, widget.NewLabel("File name"), nil, file))
	d := dialog.NewCustomConfirm(title, "Save", "Cancel", form, func(ok bool) {
		if !ok || strings.TrimSpace(file.Text) == "" {
			return
		}
		path := filepath.Join(dir, strings.TrimSpace(file.Text))
		if protect != "" && sameFile(path, protect) {
			s.showError(fmt.Errorf("%s is the photo being edited; choose another name: the input is never overwritten", path))
			return
		}
		if _, err := os.Stat(path); err == nil {
			dialog.ShowConfirm("Replace?", filepath.Base(path)+" exists. Replace it?", func(yes bool) {
				if yes {
					done(path, true)
				}
			}, s.win)
			return
		}
		done(path, false)
	}, s.win)
	d.Resize(fyne.NewSize(640, 200))
	d.Show()
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func (s *State) openDialog() {
	d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
		if err != nil {
			s.showError(err)
			return
		}
		if rc == nil {
			return
		}
		path := rc.URI().Path()
		rc.Close()
		s.OpenPhoto(path)
	}, s.win)
	d.SetFilter(storage.NewExtensionFileFilter(photoExts))
	if s.doc != nil && s.doc.Path != "" {
		d.SetLocation(dirLister(filepath.Dir(s.doc.Path)))
	}
	d.Resize(fyne.NewSize(900, 600))
	d.Show()
}

func (s *State) installDialog() {
	folder := widget.NewButton("A pack folder…", func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				s.showError(err)
			} else if u != nil {
				s.InstallPack(u.Path())
			}
		}, s.win)
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	})
	zip := widget.NewButton("A .zip file…", func() {
		d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
			if err != nil {
				s.showError(err)
				return
			}
			if rc != nil {
				p := rc.URI().Path()
				rc.Close()
				s.InstallPack(p)
			}
		}, s.win)
		d.SetFilter(storage.NewExtensionFileFilter([]string{".zip"}))
		d.Resize(fyne.NewSize(900, 600))
		d.Show()
	})
	msg := widget.NewLabel("Install a model pack from a folder or a .zip.\nFiles listed in likeness.json are verified by SHA-256.")
	dialog.ShowCustom("Install pack", "Close", container.NewVBox(msg, folder, zip), s.win)
}

// exportDialog asks for the output kind and format, then the file. The
// result, photo and pack are the ones current when it opens.
func (s *State) exportDialog() {
	t, err := s.exportTarget()
	if err != nil {
		s.status("nothing to export yet: run an edit (Ctrl+Enter)")
		return
	}
	out := widget.NewRadioGroup([]string{"Full resolution", "Model-resolution crop"}, nil)
	out.Required = true
	out.SetSelected("Full resolution")
	format := widget.NewRadioGroup([]string{"PNG", "JPEG"}, nil)
	format.Horizontal = true
	format.Required = true
	format.SetSelected("PNG")
	form := container.NewVBox(out, format, widget.NewLabel("Settings are embedded in the file. The input is never overwritten."))
	dialog.ShowCustomConfirm("Export", "Choose file…", "Cancel", form, func(ok bool) {
		if !ok {
			return
		}
		o := app.OutputFull
		if out.Selected != "Full resolution" {
			o = app.OutputModelRes
		}
		ext := ".png"
		if format.Selected == "JPEG" {
			ext = ".jpg"
		}
		base := "edit"
		if t.doc.Path != "" {
			base = strings.TrimSuffix(filepath.Base(t.doc.Path), filepath.Ext(t.doc.Path))
		}
		s.chooseSavePath("Export", fmt.Sprintf("%s.likeness-%d%s", base, t.r.Settings.Seed, ext), t.doc.Path, func(path string, overwrite bool) {
			s.Export(t, path, o, overwrite)
		})
	}, s.win)
}

// showModels lists where each model runs and why a provider was refused.
func (s *State) showModels() {
	if s.eng == nil {
		s.showInfo("Models", "No pack is loaded.")
		return
	}
	e := s.eng
	lines := []string{
		fmt.Sprintf("Pack: %s", e.Pack.Name),
		fmt.Sprintf("Kind: %s, %d px", e.Sig.Kind, e.Sig.Resolution),
		fmt.Sprintf("Folder: %s", e.Pack.Dir),
		fmt.Sprintf("ONNX Runtime: %s", app.ORTPath()),
		"",
		"Where each model runs:",
	}
	for _, n := range app.ProviderNotes(e) {
		lines = append(lines, "  "+n)
	}
	if app.IsDemo(e.Pack) {
		lines = append(lines, "", "demo: tints a region, not a trained editor")
	}
	for _, w := range app.PackWarnings(e) {
		lines = append(lines, "", "warning: "+w)
	}
	txt := widget.NewLabel(strings.Join(lines, "\n"))
	txt.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("Models and providers", "Close", container.NewVScroll(txt), s.win)
	d.Resize(fyne.NewSize(640, 400))
	d.Show()
}

// settingsDialog edits the preferences that outlive a photo.
func (s *State) settingsDialog() {
	p := s.fa.Preferences()
	provider := widget.NewSelect([]string{"auto", "cpu", "cuda", "directml"}, nil)
	provider.SetSelected(p.StringWithFallback(PrefProvider, "auto"))
	lib := widget.NewEntry()
	lib.SetText(p.String(PrefORTLib))
	lib.SetPlaceHolder("default: $LIKENESS_ORT_LIB or the installed library")
	dirs := widget.NewMultiLineEntry()
	dirs.SetText(strings.Join(p.StringList(PrefPackDirs), "\n"))
	dirs.SetPlaceHolder("one folder per line")
	dirs.SetMinRowsVisible(3)
	outDir := widget.NewEntry()
	outDir.SetText(p.String(PrefOutputDir))
	form := []*widget.FormItem{
		widget.NewFormItem("Provider", provider),
		widget.NewFormItem("ONNX Runtime library", lib),
		widget.NewFormItem("Extra pack folders", dirs),
		widget.NewFormItem("Output folder", outDir),
	}
	d := dialog.NewForm("Settings", "Save", "Cancel", form, func(ok bool) {
		if !ok {
			return
		}
		var list []string
		for _, l := range strings.Split(dirs.Text, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				list = append(list, l)
			}
		}
		s.applySettings(provider.Selected, strings.TrimSpace(lib.Text), list, strings.TrimSpace(outDir.Text))
	}, s.win)
	d.Resize(fyne.NewSize(640, 420))
	d.Show()
}

// applySettings stores the Settings dialog's values. A provider change
// reloads the pack (keeping the user's settings); saving unchanged values
// changes nothing that is loaded.
func (s *State) applySettings(provider, lib string, packDirs []string, outDir string) {
	prov, err := app.ParseProvider(provider)
	if err != nil {
		s.showError(err)
		return
	}
	p := s.fa.Preferences()
	oldProv, oldLib := p.StringWithFallback(PrefProvider, "auto"), p.String(PrefORTLib)
	oldDirs := strings.Join(p.StringList(PrefPackDirs), "\n")
	p.SetString(PrefProvider, provider)
	p.SetString(PrefORTLib, lib)
	p.SetStringList(PrefPackDirs, packDirs)
	p.SetString(PrefOutputDir, outDir)
	if lib != oldLib {
		s.showInfo("Settings", "The ONNX Runtime library changes at the next start.")
	}
	if s.a == nil {
		return
	}
	s.a.Opts.Provider = prov
	if strings.Join(packDirs, "\n") != oldDirs {
		s.a.Store.Extra = packDirs
		s.refreshPacks(nil)
	}
	if provider != oldProv && s.pack != nil {
		s.reloadPack(s.pack, "provider changed")
	}
}

// ---- menu and shortcuts ----

func (s *State) installShortcuts() {
	c := s.win.Canvas()
	add := func(sc fyne.Shortcut, fn func()) {
		c.AddShortcut(sc, func(fyne.Shortcut) { fn() })
	}
	add(sc(fyne.KeyO), s.openDialog)
	add(sc(fyne.KeyE), s.exportDialog)
	add(sc(fyne.KeyM), s.PreviewMask)
	add(sc(fyne.KeyK), s.stickersShortcut)
	// The drivers deliver Ctrl+Z (Cmd+Z) as fyne.ShortcutUndo, never as a
	// custom shortcut.
	add(&fyne.ShortcutUndo{}, s.undoShortcut)
	add(sc(fyne.KeyReturn), s.Edit)
	add(sc(fyne.KeyEnter), s.Edit)
	// Esc reaches the canvas only while nothing has focus; the focusable
	// controls pass it on themselves (see keys.go).
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			s.Cancel()
		}
	})
}

// undoShortcut is Ctrl+Z: text undo in a focused entry, else paint undo.
// (The menu sees the shortcut before the focused widget does.)
func (s *State) undoShortcut() {
	if f, ok := s.win.Canvas().Focused().(interface {
		fyne.Shortcutable
		fyne.Disableable
		SelectedText() string
	}); ok && !f.Disabled() {
		f.TypedShortcut(&fyne.ShortcutUndo{})
		return
	}
	s.Undo()
}

// stickersShortcut (Ctrl+K) opens the Stickers tab and makes the stickers.
func (s *State) stickersShortcut() {
	s.w.tabs.SelectIndex(2)
	s.RunStickers()
}

func sc(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

func item(label string, k fyne.KeyName, fn func()) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, fn)
	if k != "" {
		it.Shortcut = sc(k)
	}
	return it
}

// escShortcut labels the Cancel menu item "Esc". The drivers never match
// a modifier-less key against menu shortcuts, so it only labels: Esc is
// handled by the canvas and the focusable controls.
var escShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyEscape}

// updateMenu (re)builds the main menu, with the recent files.
func (s *State) updateMenu() {
	recent := fyne.NewMenuItem("Recent", nil)
	var items []*fyne.MenuItem
	for _, p := range s.fa.Preferences().StringList(PrefRecent) {
		p := p
		items = append(items, fyne.NewMenuItem(p, func() { s.OpenPhoto(p) }))
	}
	if len(items) == 0 {
		it := fyne.NewMenuItem("(none)", nil)
		it.Disabled = true
		items = append(items, it)
	}
	recent.ChildMenu = fyne.NewMenu("", items...)
	file := fyne.NewMenu("File",
		item("Open…", fyne.KeyO, s.openDialog), recent, s.sampleMenu(),
		item("Export…", fyne.KeyE, s.exportDialog),
		fyne.NewMenuItemSeparator(),
		item("Install pack…", "", s.installDialog),
		s.firstPackItem(),
		item("Settings…", "", s.settingsDialog),
	)
	mask := fyne.NewMenu("Mask",
		item("Preview mask", fyne.KeyM, s.PreviewMask),
		&fyne.MenuItem{Label: "Undo paint", Action: s.undoShortcut, Shortcut: &fyne.ShortcutUndo{}},
		item("Reset to computed mask", "", s.ResetMask),
	)
	edit := fyne.NewMenu("Edit",
		item("Frame the face", fyne.KeyF, s.FrameFace),
		item("Run edit", fyne.KeyReturn, s.Edit),
		&fyne.MenuItem{Label: "Cancel", Action: s.Cancel, Shortcut: escShortcut},
		fyne.NewMenuItemSeparator(),
		item("Compare", "", func() { s.w.tabs.SelectIndex(1); s.RunCompare() }),
		item("Stickers", fyne.KeyK, s.stickersShortcut),
	)
	help := fyne.NewMenu("Help",
		item("Models and providers…", "", s.showModels),
		item("About Likeness", "", func() {
			s.showInfo("About Likeness", "Likeness "+app.Version+"\nFeature-preserving portrait editing:\nthree-way guidance (image tokens, input latent, text),\na mask the model computes itself, and mask-guided denoising.")
		}),
	)
	s.win.SetMainMenu(fyne.NewMainMenu(file, mask, edit, help))
}

// sampleMenu is File ▸ Open sample: the sample photos built into Likeness.
func (s *State) sampleMenu() *fyne.MenuItem {
	m := fyne.NewMenuItem("Open sample", nil)
	var items []*fyne.MenuItem
	for _, name := range app.Samples() {
		name := name
		items = append(items, fyne.NewMenuItem(app.SampleLabel(name), func() { s.OpenSample(name) }))
	}
	if len(items) == 0 {
		it := fyne.NewMenuItem("(none in this build)", nil)
		it.Disabled = true
		items = append(items, it)
	}
	m.ChildMenu = fyne.NewMenu("", items...)
	return m
}

// firstPackItem installs the starter packs, or in a build without them
// creates the analytic demo pack.
func (s *State) firstPackItem() *fyne.MenuItem {
	if s.offerStarters() {
		return item("Install starter packs", "", s.InstallStarters)
	}
	return item("Create demo pack", "", s.CreateDemo)
}

// errNoORT wraps app.New's failure with how to fix it.
func errNoORT(err error) error {
	if errors.Is(err, app.ErrNoLibrary) {
		return fmt.Errorf("%w\n\nReinstall Likeness (a release carries the library beside the program), run `make ort` in a checkout, or set %s (or Settings ▸ ONNX Runtime library)", err, app.EnvLibrary)
	}
	return err
}
