package app

import (
	"image"

	"context"
	"fmt"
	"likeness/engine/compose"
	"likeness/ort"
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
		if err := p.CheckFiles(); err == nil {
			return p, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A broken demo pack (an interrupted older version, a deleted file) is
	// set aside and replaced; it holds nothing of the user's.
	if _, err := os.Stat(final); err == nil {
		aside := filepath.Join(a.Store.Root, fmt.Sprintf(".%s.broken-%d", DemoPackName, os.Getpid()))
		if err := os.Rename(final, aside); err != nil {
			return nil, fmt.Errorf("replace broken demo pack %s: %w", final, err)
		}
		defer os.RemoveAll(aside)
	}
	if _, err := synth.Write(final, synth.Options{Kind: "mcdm", Resolution: 512, Name: "Likeness demo (tints a region; not a trained editor)"}); err != nil {
		return nil, fmt.Errorf("create demo pack: %w", err)
	}
	return models.OpenWith(final, models.OpenOptions{Probe: models.UNetChannels})
}

// Provider is an execution-provider preference ("auto", "cpu", "cuda", "directml").
type Provider = ort.Provider

// ParseProvider accepts the provider names users type.
func ParseProvider(s string) (Provider, error) { return ort.ParseProvider(s) }

// ORTPath is the ONNX Runtime library in use ("" before it started).
func ORTPath() string { return ort.InitializedPath() }

// ErrNoLibrary means ONNX Runtime could not be found; EnvLibrary names the
// variable that points at a user's own library.
var ErrNoLibrary = ort.ErrNoLibrary

// EnvLibrary is the environment variable naming a user's ONNX Runtime library.
const EnvLibrary = ort.EnvLibrary

// Choice is one value of a setting and the words the UI shows for it.
type Choice struct{ Value, Label string }

// MaskNormalizeChoices are the values of Settings.MaskNormalize, the
// paper's first.
var MaskNormalizeChoices = []Choice{
	{engine.MaskNormalizeThenBlur, "normalise, then blur (paper)"},
	{engine.MaskBlurThenNormalize, "blur, then normalise"},
}

// MaskGuidanceChoices are the values of Settings.MaskGuidance, the paper's
// first.
var MaskGuidanceChoices = []Choice{
	{engine.MaskGuidanceEq3, "Eq. 3 (paper)"},
	{engine.MaskGuidanceLatentBlend, "Eq. 3 + latent blend"},
}

// SoftMapImage renders a mask's soft map N as grayscale at latent resolution.
func SoftMapImage(m *Mask) *image.Gray { return compose.SoftMapImage(m.Soft, m.W, m.H, m.W, m.H) }
