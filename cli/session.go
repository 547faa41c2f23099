package cli

import (
	"context"
	"fmt"

	"likeness/app"
	"likeness/engine"
)

// session is what a photo command works on; close frees its sessions.
type session struct {
	a   *app.App
	eng *engine.Engine
	doc *app.Doc
	s   engine.Settings
}

func (ss *session) close() { ss.a.Close() }

// open starts the app, loads the pack, opens the photo with its crop and
// resolves the settings; on error nothing is left open.
func (f *editFlags) open(ctx context.Context, pr *progressBar) (_ *session, err error) {
	if f.input == "" {
		return nil, usageErr("--input is required")
	}
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	a, err := app.New(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	eng, err := loadPack(ctx, a, f.pack, pr)
	if err != nil {
		return nil, err
	}
	doc, err := app.OpenPhoto(f.input)
	if err != nil {
		return nil, err
	}
	if f.crop != "" {
		r, err := parseCrop(f.crop)
		if err != nil {
			return nil, err
		}
		if err := doc.SetCrop(r); err != nil {
			return nil, fmt.Errorf("%s: --crop %s: %w", f.input, f.crop, err)
		}
	}
	s, err := f.settings(eng)
	if err != nil {
		return nil, err
	}
	return &session{a: a, eng: eng, doc: doc, s: s}, nil
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
