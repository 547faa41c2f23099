package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"likeness/engine"
	"likeness/models"
	"likeness/models/synth"
)

// Aliases so the UI needs only this package.
type (
	Settings   = engine.Settings
	Progress   = engine.Progress
	Result     = engine.Result
	Mask       = engine.Mask
	Engine     = engine.Engine
	Pack       = models.Pack
	Direction  = models.Direction
	ModelInfo  = engine.ModelInfo
	InstallOpt = models.InstallOptions
	InstallPr  = models.Progress
)

// Progress phases.
const (
	PhaseLoad    = engine.PhaseLoad
	PhaseEncode  = engine.PhaseEncode
	PhaseMask    = engine.PhaseMask
	PhaseDenoise = engine.PhaseDenoise
	PhaseDecode  = engine.PhaseDecode
)

// DemoPackName is the folder of the generated demo pack in the store.
const DemoPackName = "likeness-demo"

// CreateDemoPack writes the analytic pack at 512 into the store: a demo that
// tints a region of the face, not a trained editor. It is written beside the
// store and renamed into place, so an interrupted run installs nothing.
func (a *App) CreateDemoPack(ctx context.Context) (*models.Pack, error) {
	if err := os.MkdirAll(a.Store.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create pack folder %s: %w", a.Store.Root, err)
	}
	final := filepath.Join(a.Store.Root, DemoPackName)
	if p, err := models.OpenWith(final, models.OpenOptions{Probe: models.UNetChannels}); err == nil {
		return p, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := synth.Write(final, synth.Options{Kind: "mcdm", Resolution: 512, Name: "Likeness demo (tints a region; not a trained editor)"}); err != nil {
		return nil, fmt.Errorf("create demo pack: %w", err)
	}
	return models.OpenWith(final, models.OpenOptions{Probe: models.UNetChannels})
}
