package cli

import (
	"context"
	"fmt"
	"strings"

	"likeness/app"
	"likeness/engine"
)

// packSession is the preamble every command that runs a pack shares: the
// app started, the pack loaded and a progress bar on stderr. close clears
// the bar and frees the sessions.
type packSession struct {
	a   *app.App
	eng *engine.Engine
	pr  *progressBar
}

func (ps *packSession) close() {
	ps.pr.done()
	ps.a.Close()
}

// openPack starts the app with opts and loads pack (a folder or an
// installed pack's name; "" for the only installed one), drawing its
// progress on env's stderr; on error nothing is left open.
func openPack(ctx context.Context, env *env, opts app.Options, pack string) (*packSession, error) {
	a, err := app.New(opts)
	if err != nil {
		return nil, err
	}
	pr := &progressBar{e: env}
	eng, err := loadPack(ctx, a, pack, pr)
	if err != nil {
		pr.done()
		a.Close()
		return nil, err
	}
	return &packSession{a: a, eng: eng, pr: pr}, nil
}

// openPack is openPack with the provider, library and threads of the flags.
func (f *editFlags) openPack(ctx context.Context, env *env) (*packSession, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return openPack(ctx, env, opts, f.pack)
}

// session is what a photo command works on: the pack, the photo with its
// crop and the resolved settings; close frees it.
type session struct {
	*packSession
	doc *app.Doc
	s   engine.Settings
}

// open loads the pack, opens the photo with its crop and resolves the
// settings; on error nothing is left open.
func (f *editFlags) open(ctx context.Context, env *env) (_ *session, err error) {
	if f.input == "" {
		return nil, usageErr("--input is required")
	}
	ps, err := f.openPack(ctx, env)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ps.close()
		}
	}()
	doc, err := f.openPhoto(ctx, env, ps.eng)
	if err != nil {
		return nil, err
	}
	s, err := f.settings(ps.eng)
	if err != nil {
		return nil, err
	}
	return &session{packSession: ps, doc: doc, s: s}, nil
}

// openPhoto opens --input and applies --crop: auto (the default: the face
// found and framed as the pack's face_box says), centre, or x,y,w,h.
func (f *editFlags) openPhoto(ctx context.Context, env *env, eng *engine.Engine) (*app.Doc, error) {
	doc, err := app.OpenPhoto(f.input)
	if err != nil {
		return nil, err
	}
	switch mode := strings.ToLower(strings.TrimSpace(f.crop)); mode {
	case "", app.CropAuto, app.CropCentre, "center":
		if mode == "center" || mode == "" && eng.Manifest().FaceBox == nil {
			mode = app.CropCentre
		}
		if mode == "" {
			mode = app.CropAuto
		}
		fr, err := doc.ApplyCrop(ctx, eng, mode)
		if err != nil {
			return nil, fmt.Errorf("%s: --crop %s: %w", f.input, mode, err)
		}
		if fr.Note != "" && mode == app.CropAuto {
			fmt.Fprintf(env.stderr, "likeness: %s: %s\n", f.input, fr.Note)
		}
		doc.Framing = fr
	default:
		r, err := parseCrop(f.crop)
		if err != nil {
			return nil, err
		}
		if err := doc.SetCrop(r); err != nil {
			return nil, fmt.Errorf("%s: --crop %s: %w", f.input, f.crop, err)
		}
	}
	return doc, nil
}

func loadPack(ctx context.Context, a *app.App, name string, pr *progressBar) (*engine.Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // cancelled already: start nothing
	}
	if name == "" {
		packs, _ := a.Store.List()
		switch len(packs) {
		case 0:
			return nil, usageErr("--pack is required: no pack is installed; install the starter packs with `likeness models install --starter`, or make the analytic demo pack with `likeness models synth`")
		case 1:
			name = packs[0].Dir
		default:
			return nil, usageErr("--pack is required: %d packs are installed (see `likeness models list`)", len(packs))
		}
	}
	return a.LoadPack(ctx, name, pr.report)
}
