package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"

	"likeness/app"
	"likeness/engine/photo"
)

// Preference keys. Lists are stored with fyne's StringList preferences.
const (
	PrefProvider  = "provider"    // "auto", "cpu", "cuda", "directml"
	PrefORTLib    = "ort_library" // explicit ONNX Runtime library path
	PrefOutputDir = "output_dir"  // last export folder
	PrefPackDirs  = "pack_dirs"   // extra pack folders (string list)
	PrefLastPack  = "last_pack"   // folder of the last loaded pack
	PrefRecent    = "recent"      // recent photos, newest first (string list)
	PrefPreserve  = "preserve"    // preserve the original outside the mask
	// PrefStickerAuthor is the author last given to a sticker pack.
	PrefStickerAuthor = "sticker_author"
)

// maxRecent is how many recent photos the File menu lists.
const maxRecent = 8

// State is the controller behind the window: it owns the app, the open
// document, the loaded engine, the settings and the job machine. Every
// field is read and written on the UI goroutine only; workers get copies
// and hand results back through post.
type State struct {
	eta etaClock // time-left estimates for the status line
	fa  fyne.App
	win fyne.Window
	a   *app.App

	packs    []*app.Pack
	pack     *app.Pack
	eng      *app.Engine
	doc      *app.Doc
	settings app.Settings
	defaults app.Settings
	preserve bool

	shown      *app.Result // history entry on the canvas (nil = the photo)
	strokes    []int       // paint dabs per stroke, for stroke-level undo
	comparison *app.Comparison
	stickers   *app.StickerSet
	// stickerOpts are the directions and seeds the Stickers tab makes.
	stickerOpts app.StickerOptions

	jobs jobs // the running job and those still stopping

	openSeq  int // photo opens started; only the newest one is applied
	packsSeq int // pack listings started; only the newest one is applied

	starters  *app.StarterSet                // the starter packs offered on first run; app.EmbeddedStarters
	full      []fullImage                    // full-resolution blends of shown results, newest last
	fullWant  map[fullKey]bool               // blends being computed
	openPhoto func(string) (*app.Doc, error) // app.OpenPhoto

	// post runs fn on the UI goroutine (fyne.Do).
	post func(fn func())
	// watch is told how background work ends; the app's does nothing.
	watch watcher

	w *widgets
}

// watcher is told how the window's background work ends. The desktop app
// ignores it (ignoreAll); the tests record it, reading outcomes through it
// instead of through fields of State.
type watcher interface {
	jobStarted(k jobKind)          // a job started (a refused one did not)
	jobEnded(k jobKind, err error) // nil = applied; context.Canceled = dropped
	opened(err error)              // a photo opened (nil) or failed to
	exported(err error)            // an export finished
	working(delta int)             // +1 when background work starts, -1 when it has posted its result
}

// ignoreAll is the app's watcher.
type ignoreAll struct{}

func (ignoreAll) jobStarted(jobKind)      {}
func (ignoreAll) jobEnded(jobKind, error) {}
func (ignoreAll) opened(error)            {}
func (ignoreAll) exported(error)          {}
func (ignoreAll) working(int)             {}

// newState makes the controller; attach an app.App before use.
func newState(fa fyne.App, win fyne.Window) *State {
	s := &State{fa: fa, win: win, post: fyne.Do, watch: ignoreAll{}, openPhoto: app.OpenPhoto, starters: app.EmbeddedStarters()}
	s.jobs.host = s
	s.preserve = fa.Preferences().BoolWithFallback(PrefPreserve, true)
	return s
}

// background runs work off the UI goroutine; finish (may be nil) is posted
// back to the UI goroutine with work's result.
func (s *State) background(work func() func()) {
	s.watch.working(1)
	go func() {
		defer s.watch.working(-1)
		fin := work()
		if fin != nil {
			s.post(fin)
		}
	}()
}

// postUI runs fn on the UI goroutine (for the job machine).
func (s *State) postUI(fn func()) { s.post(fn) }

// jobEnded passes a job's outcome on to the watcher.
func (s *State) jobEnded(k jobKind, err error) { s.watch.jobEnded(k, err) }

// start runs a cancellable job (see jobs.start); false when it was refused.
func (s *State) start(k jobKind, work jobWork) bool {
	if !s.jobs.start(k, work) {
		return false
	}
	s.watch.jobStarted(k)
	return true
}

// cancelJob stops the running job, noting why in the status line.
func (s *State) cancelJob(reason string) bool { return s.jobs.cancel(reason) }

// inputsChanged cancels work whose inputs just changed. Mask previews only
// depend on mask inputs; λ alone never invalidates them.
func (s *State) inputsChanged(what string, maskInput bool) { s.jobs.inputsChanged(what, maskInput) }

// ---- packs ----

// refreshPacks lists the store off the UI goroutine (probing a pack without
// a manifest opens ONNX sessions), fills the pack picker, then runs then
// (may be nil) on the UI goroutine. Only the newest listing is applied.
func (s *State) refreshPacks(then func()) {
	if s.a == nil {
		return
	}
	s.packsSeq++
	seq := s.packsSeq
	st := *s.a.Store // a copy: Settings may change Extra meanwhile
	st.Extra = append([]string(nil), st.Extra...)
	s.background(func() func() {
		packs, errs := st.List()
		return func() {
			if seq != s.packsSeq {
				return
			}
			s.packs = packs
			s.updatePackPicker()
			if len(errs) > 0 {
				var msgs []string
				for _, e := range errs {
					msgs = append(msgs, e.Error())
				}
				s.status("some packs could not be read: " + strings.Join(msgs, "; "))
			}
			if then != nil {
				then()
			}
		}
	})
}

// LoadPack loads a pack in the background with progress.
func (s *State) LoadPack(p *app.Pack) {
	if s.a == nil || p == nil {
		return
	}
	a := s.a
	s.start(jobLoad, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		e, err := a.Engine(ctx, p, progress)
		if err != nil {
			return nil, fmt.Errorf("load pack %s: %w", p.Name, err)
		}
		return func() { s.engineReady(p, e, false) }, nil
	})
}

// reloadPack closes the loaded pack's sessions and loads it again (after a
// provider change), keeping the user's settings. The sessions are closed
// off the UI goroutine once every job that may still use them has stopped.
func (s *State) reloadPack(p *app.Pack, why string) {
	if s.a == nil || p == nil {
		return
	}
	a := s.a
	s.cancelJob(why)
	waits := s.jobs.liveDone()
	s.eng = nil // nothing new may start on the engine being closed
	s.start(jobLoad, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		for _, w := range waits {
			select {
			case <-w:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := a.Unload(p.Dir); err != nil {
			return nil, fmt.Errorf("unload pack %s: %w", p.Name, err)
		}
		e, err := a.Engine(ctx, p, progress)
		if err != nil {
			return nil, fmt.Errorf("load pack %s: %w", p.Name, err)
		}
		return func() { s.engineReady(p, e, true) }, nil
	})
}

// engineReady makes e current. keep keeps the user's settings (a reload of
// the same pack); otherwise they reset to the pack's defaults, seed aside.
func (s *State) engineReady(p *app.Pack, e *app.Engine, keep bool) {
	old := s.eng
	s.pack, s.eng = p, e
	s.stickerOpts = app.StickerOptions{} // another pack has other directions
	s.fa.Preferences().SetString(PrefLastPack, p.Dir)
	s.defaults = e.DefaultSettings()
	if !keep || e.Validate(s.settings) != nil {
		seed := s.settings.Seed
		s.settings = s.defaults
		if seed != 0 {
			s.settings.Seed = seed
		}
	}
	if e != old && s.doc != nil {
		// A mask belongs to the pack that computed it.
		s.doc.DropMask()
	}
	s.strokes = nil
	s.comparison, s.stickers = nil, nil
	s.syncSettingsToWidgets()
	s.updatePackPicker()
	s.updatePackInfo()
	s.updateMaskView()
	s.updateCompareView()
	s.updateStickerView()
	msg := fmt.Sprintf("pack %s ready (%s, %d px)", p.Name, e.Sig.Kind, e.Sig.Resolution)
	if app.IsDemo(p) {
		msg += " — demo: tints a region, not a trained editor"
	}
	s.status(msg)
	// A photo opened before this pack loaded, still at the default crop:
	// frame its face as this pack wants it.
	if s.doc != nil && e.Manifest().FaceBox != nil && s.doc.Framing.By == "" && s.doc.Framing.Note == "" &&
		s.doc.Crop() == photo.PortraitSquare(s.doc.Photo.Image.Bounds()) {
		s.FrameFace()
	}
}

// CreateDemo writes the analytic demo pack and loads it.
func (s *State) CreateDemo() {
	if s.a == nil {
		return
	}
	a := s.a
	s.start(jobDemo, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		progress(app.Progress{Phase: "write", Label: "writing the analytic demo pack"})
		p, err := a.CreateDemoPack(ctx)
		if err != nil {
			return nil, err
		}
		return func() {
			s.refreshPacks(nil)
			s.status("demo pack created: it tints a region, it is not a trained editor")
			s.LoadPack(p)
		}, nil
	})
}

// offerStarters reports whether this build has starter packs to offer;
// without them the UI falls back to the analytic demo.
func (s *State) offerStarters() bool { return app.HasStarters(s.starters) }

// InstallStarters installs the starter packs (checksums verified; packs
// already installed with the same files are kept) and loads the first.
func (s *State) InstallStarters() {
	if s.a == nil {
		return
	}
	a, set := s.a, s.starters
	s.start(jobStarters, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		res, err := a.InstallStarters(ctx, set, func(pr app.InstallPr) error {
			progress(app.Progress{Phase: pr.Phase, Step: int(pr.Done >> 10), Steps: int(pr.Total >> 10), Label: pr.File})
			return ctx.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("install the starter packs: %w", err)
		}
		var names []string
		kept := 0
		for _, r := range res {
			names = append(names, r.Pack.Name)
			if r.Status == app.StarterUnchanged {
				kept++
			}
		}
		return func() {
			msg := fmt.Sprintf("starter packs installed (checksums verified): %s", strings.Join(names, ", "))
			switch {
			case kept == len(res):
				msg = "the starter packs were already installed: " + strings.Join(names, ", ")
			case kept > 0:
				msg += fmt.Sprintf("; %d of them already installed", kept)
			}
			s.status(msg)
			s.refreshPacks(func() {
				if s.pack != nil || len(res) == 0 {
					return
				}
				for _, p := range s.packs {
					if filepath.Clean(p.Dir) == filepath.Clean(res[0].Dir) {
						s.LoadPack(p)
					}
				}
			})
		}, nil
	})
}

// OpenSample opens one of the sample photos built into Likeness from a
// read-only copy in the user's cache, as any photo is opened.
func (s *State) OpenSample(name string) {
	s.status("opening sample " + app.SampleLabel(name) + "…")
	s.background(func() func() {
		path, err := app.SamplePath(name)
		return func() {
			if err != nil {
				s.watch.opened(err)
				s.showError(err)
				return
			}
			s.OpenPhoto(path)
		}
	})
}

// InstallPack installs a folder or .zip with checksum verification.
func (s *State) InstallPack(src string) {
	if s.a == nil {
		return
	}
	a := s.a
	s.start(jobInstall, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		p, err := a.Store.Install(ctx, src, app.InstallOpt{Progress: func(pr app.InstallPr) error {
			step, steps := int(pr.Done>>10), int(pr.Total>>10)
			progress(app.Progress{Phase: pr.Phase, Step: step, Steps: steps, Label: pr.File})
			return ctx.Err()
		}})
		if err != nil {
			return nil, fmt.Errorf("install %s: %w", src, err)
		}
		return func() {
			s.refreshPacks(nil)
			s.status(fmt.Sprintf("installed %s (checksums verified)", p.Name))
			s.LoadPack(p)
		}, nil
	})
}

// ---- photos ----

// OpenPhoto opens a photo in the background; errors name the file. When
// opens overlap, only the newest one is applied.
func (s *State) OpenPhoto(path string) {
	s.status("opening " + filepath.Base(path) + "…")
	s.openSeq++
	seq := s.openSeq
	open := s.openPhoto
	eng := s.eng
	s.background(func() func() {
		doc, err := open(path)
		var fr app.Framing
		if err == nil && eng != nil && eng.Manifest().FaceBox != nil {
			// Frame the face as the pack wants it; a failure here only
			// leaves the default crop.
			if f, ferr := doc.ApplyCrop(context.Background(), eng, app.CropAuto); ferr == nil {
				fr = f
				doc.Framing = f
			}
		}
		return func() {
			if seq != s.openSeq {
				return // a later open replaced this one
			}
			if err != nil {
				s.watch.opened(err)
				s.status("could not open " + filepath.Base(path))
				s.showError(fmt.Errorf("cannot open %s: %w", path, err))
				return
			}
			s.watch.opened(nil)
			s.setDoc(doc)
			s.framingStatus(fr)
		}
	})
}

// FrameFace finds the face in the open photo and moves the crop so the face
// sits where the loaded pack wants it (its face_box), in the background.
func (s *State) FrameFace() {
	if s.doc == nil {
		s.status("open a photo first")
		return
	}
	if s.eng == nil {
		s.status("load a pack first: it says where it wants the face")
		return
	}
	doc, eng := s.doc, s.eng
	s.status("looking for the face…")
	s.background(func() func() {
		fr, err := app.AutoFrame(context.Background(), eng, doc.Photo.Image)
		return func() {
			if s.doc != doc {
				return // another photo was opened meanwhile
			}
			if err != nil {
				s.status("frame the face: " + err.Error())
				return
			}
			if err := s.SetCrop(fr.Crop); err != nil {
				s.status("frame the face: " + err.Error())
				return
			}
			doc.Framing = fr
			s.updateDocView()
			s.framingStatus(fr)
		}
	})
}

// framingStatus tells the user what the automatic framing did.
func (s *State) framingStatus(fr app.Framing) {
	switch {
	case fr.Note != "":
		s.status(fr.Note)
	case fr.By != "":
		s.status(fmt.Sprintf("face found by %s and framed where the pack wants it", fr.By))
	}
}

func (s *State) setDoc(doc *app.Doc) {
	s.inputsChanged("photo", true)
	s.doc, s.shown, s.strokes = doc, nil, nil
	s.comparison, s.stickers = nil, nil
	s.full, s.fullWant = nil, nil
	s.addRecent(doc.Path)
	b := doc.Photo.Image.Bounds()
	s.status(fmt.Sprintf("%s: %dx%d", filepath.Base(doc.Path), b.Dx(), b.Dy()))
	s.updateDocView()
	s.updateCompareView()
	s.updateStickerView()
}

// Doc is the open document (nil before one is opened).
func (s *State) Doc() *app.Doc { return s.doc }

func (s *State) addRecent(path string) {
	if path == "" {
		return
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	prefs := s.fa.Preferences()
	list := []string{path}
	for _, p := range prefs.StringList(PrefRecent) {
		if p != path && len(list) < maxRecent {
			list = append(list, p)
		}
	}
	prefs.SetStringList(PrefRecent, list)
	s.updateMenu()
}

// SetCrop moves the model framing (square, photo pixels).
func (s *State) SetCrop(r image.Rectangle) error {
	if s.doc == nil {
		return errors.New("no photo open")
	}
	if r == s.doc.Crop() {
		return nil
	}
	if err := s.doc.SetCrop(r); err != nil {
		return err
	}
	s.inputsChanged("crop", true)
	s.strokes = nil
	s.updateMaskView()
	s.status(fmt.Sprintf("crop %dx%d at %d,%d", r.Dx(), r.Dy(), r.Min.X, r.Min.Y))
	return nil
}

// ---- mask ----

func (s *State) ready(what string) bool {
	switch {
	case s.doc == nil:
		s.status("open a photo first (Ctrl+O)")
		return false
	case s.eng == nil:
		if s.jobs.running() == jobLoad {
			s.status("the pack is still loading")
		} else {
			s.status("load a pack before " + what)
		}
		return false
	}
	if err := s.eng.Validate(s.settings); err != nil {
		s.showError(err)
		return false
	}
	return true
}

// PreviewMask computes the model's mask off the UI goroutine.
func (s *State) PreviewMask() {
	if !s.ready("previewing the mask") {
		return
	}
	doc, e, set := s.doc, s.eng, s.settings
	s.start(jobMask, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		m, err := doc.ComputeMask(ctx, e, set, progress)
		if err != nil {
			return nil, err
		}
		return func() {
			if doc != s.doc {
				return
			}
			s.strokes = nil
			s.w.ed.showMask.SetChecked(true)
			s.updateMaskView()
			if m.Reason != "" {
				s.status("the mask is empty: " + m.Reason)
				s.showInfo("Empty mask", m.Reason)
				return
			}
			s.status(fmt.Sprintf("mask: %.0f%% of the crop at λ=%.2f (%d UNet evaluations)", 100*m.Area(set.Lambda), s.settings.Lambda, m.Stats.TotalEvals()))
		}, nil
	})
}

// Paint adds or erases a disc of latent cells; (fx, fy) is a point in the
// crop as fractions of its size, radius in cells.
func (s *State) paint(fx, fy, radius float64, add bool) bool {
	if s.doc == nil || s.doc.Mask() == nil {
		s.status("preview the mask (Ctrl+M) before painting")
		return false
	}
	m := s.doc.Mask()
	if err := s.doc.Paint(fx*float64(m.W), fy*float64(m.H), radius, add, s.settings.Lambda); err != nil {
		s.status(err.Error())
		return false
	}
	s.inputsChanged("mask", false)
	return true
}

// Undo reverts the last paint stroke.
func (s *State) Undo() {
	if s.doc == nil {
		return
	}
	n := 1
	if len(s.strokes) > 0 {
		n = s.strokes[len(s.strokes)-1]
		s.strokes = s.strokes[:len(s.strokes)-1]
	}
	undone := false
	for i := 0; i < n; i++ {
		if s.doc.Undo() {
			undone = true
		}
	}
	if undone {
		s.inputsChanged("mask", false)
		s.status("undid a paint stroke")
	} else {
		s.status("nothing to undo")
	}
	s.updateMaskView()
}

// ResetMask drops all paint, back to the computed mask.
func (s *State) ResetMask() {
	if s.doc == nil {
		return
	}
	s.doc.ResetMask()
	s.strokes = nil
	s.inputsChanged("mask", false)
	s.updateMaskView()
	s.status("mask reset to the computed one")
}

// overlayImage is the current mask overlay at latent resolution (nil when
// there is no mask).
func (s *State) overlayImage() *image.NRGBA {
	if s.doc == nil || s.doc.Mask() == nil {
		return nil
	}
	m := s.doc.Mask()
	op := 0.55
	if s.w != nil {
		op = s.w.ed.opacity.Value
	}
	return app.MaskLayer(s.doc.EffectiveMask(s.settings.Lambda), m.W, m.H, op)
}

// ---- edit ----

// Edit runs the mask-guided edit (or the baseline without a mask).
func (s *State) Edit() {
	if !s.ready("editing") {
		return
	}
	doc, e, set := s.doc, s.eng, s.settings
	useMask := true
	if s.w != nil {
		useMask = s.w.ed.useMask.Checked
	}
	s.start(jobEdit, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		maskPasses := 0
		reuse := !useMask || doc.MaskReady(e, set)
		r, err := doc.Edit(ctx, e, set, useMask, progress)
		if err != nil {
			return nil, err
		}
		if !reuse && doc.Mask() != nil {
			maskPasses = doc.Mask().Stats.TotalEvals()
		}
		return func() {
			if doc != s.doc {
				return
			}
			s.updateHistory()
			s.showResult(r)
			s.updateMaskView()
			s.status(fmt.Sprintf("edit done: %s, %d UNet passes (mask %d, denoise %d) in %.1f s", r.Mode, maskPasses+r.Stats.TotalEvals(), maskPasses, r.Stats.TotalEvals(), r.Stats.Wall.Seconds()))
		}, nil
	})
}

// Cancel stops the running job (Esc).
func (s *State) Cancel() {
	if !s.cancelJob("cancelled by you") {
		s.status("nothing is running")
	}
}

// History is the open photo's results, oldest first.
func (s *State) History() []*app.Result {
	if s.doc == nil {
		return nil
	}
	return s.doc.Results()
}

// showResult puts a result on the canvas and restores its settings.
func (s *State) showResult(r *app.Result) {
	s.shown = r
	if r != nil {
		s.settings = r.Settings
		s.syncSettingsToWidgets()
	}
	s.updateDocView()
}

// ---- export ----

// exportTarget is what an export writes, captured when its dialog opens:
// opening another photo or pack while the dialog is up changes nothing.
type exportTarget struct {
	doc      *app.Doc
	eng      *app.Engine
	r        *app.Result
	preserve bool
}

// exportTarget is the result Ctrl+E exports (the one shown, else the
// newest) with the photo and pack it belongs to.
func (s *State) exportTarget() (exportTarget, error) {
	r := s.exportResult()
	switch {
	case s.doc == nil || r == nil:
		return exportTarget{}, errors.New("nothing to export: run an edit first")
	case s.eng == nil:
		return exportTarget{}, errors.New("no pack loaded")
	}
	return exportTarget{doc: s.doc, eng: s.eng, r: r, preserve: s.preserve}, nil
}

// Export writes t's result in the background: full resolution or the
// model-resolution crop, in the format of the path's extension. It never
// overwrites the input. The outcome goes to the status line.
func (s *State) Export(t exportTarget, path string, out app.Output, overwrite bool) {
	s.runExport(path, func() error {
		return app.Export(path, t.eng, t.doc, t.r, app.ExportOptions{Output: out, Preserve: t.preserve, Overwrite: overwrite, Quality: 92})
	}, nil)
}

// runExport writes files off the UI goroutine; done (may be nil) runs on the
// UI goroutine after a success. Exports do not touch the running job.
func (s *State) runExport(dest string, work func() error, done func()) {
	s.status("exporting " + filepath.Base(dest) + "…")
	s.background(func() func() {
		err := work()
		return func() {
			s.watch.exported(err)
			if err != nil {
				s.status("export failed")
				s.showError(err)
				return
			}
			dir := dest
			if st, err := os.Stat(dest); err != nil || !st.IsDir() {
				dir = filepath.Dir(dest)
			}
			s.fa.Preferences().SetString(PrefOutputDir, dir)
			if done != nil {
				done()
			} else {
				s.status("exported " + dest)
			}
		}
	})
}

// exportResult is the result Ctrl+E exports: the one shown, else the newest.
func (s *State) exportResult() *app.Result {
	if s.shown != nil {
		return s.shown
	}
	if h := s.History(); len(h) > 0 {
		return h[len(h)-1]
	}
	return nil
}

// outputDir is where exports go by default.
func (s *State) outputDir() string {
	if d := s.fa.Preferences().String(PrefOutputDir); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	if s.doc != nil && s.doc.Path != "" {
		return filepath.Dir(s.doc.Path)
	}
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "."
}

// ---- compare and stickers ----

// RunCompare runs input | mask | baseline | mask-guided (| SDEdit).
func (s *State) RunCompare() {
	if !s.ready("comparing") {
		return
	}
	a, doc, e, set := s.a, s.doc, s.eng, s.settings
	sdPack := app.BaselinePack(s.packs)
	s.start(jobCompare, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		var sd *app.Engine
		if sdPack != nil {
			var err error
			if sd, err = a.Engine(ctx, sdPack, progress); err != nil {
				return nil, fmt.Errorf("load sd pack %s: %w", sdPack.Name, err)
			}
		}
		c, err := app.Compare(ctx, e, sd, doc, set, progress)
		if err != nil {
			return nil, err
		}
		return func() {
			if doc != s.doc {
				return
			}
			s.comparison = c
			s.updateCompareView()
			s.updateMaskView()
			s.status("comparison ready")
		}, nil
	})
}

// RunStickers edits the photo in every direction of the pack.
func (s *State) RunStickers() {
	if !s.ready("making stickers") {
		return
	}
	doc, e, set, opts := s.doc, s.eng, s.settings, s.stickerOpts
	s.start(jobStickers, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		st, err := app.StickersWith(ctx, e, doc, set, opts, progress)
		if err != nil {
			return nil, err
		}
		return func() {
			if doc != s.doc {
				return
			}
			s.stickers = st
			s.updateStickerView()
			msg := fmt.Sprintf("%d stickers ready", len(st.Directions))
			if st.CutoutNote != "" {
				msg += "; " + st.CutoutNote
			}
			s.status(msg)
		}, nil
	})
}

// RegenerateSticker re-runs sticker i with a new seed.
func (s *State) RegenerateSticker(i int, seed uint64) {
	if s.stickers == nil || !s.ready("regenerating a sticker") {
		return
	}
	doc, e, set := s.doc, s.eng, s.stickers
	s.start(jobStickers, func(ctx context.Context, progress func(app.Progress)) (func(), error) {
		// Regenerate writes into the set: work on a copy so a cancelled run
		// leaves the shown set intact.
		cp := set.Clone()
		if err := cp.Regenerate(ctx, e, doc, i, seed, progress); err != nil {
			return nil, err
		}
		return func() {
			if doc != s.doc {
				return
			}
			s.stickers = cp
			s.updateStickerView()
			s.status(fmt.Sprintf("sticker %s regenerated with seed %d", cp.Directions[i].ID, seed))
		}, nil
	})
}
