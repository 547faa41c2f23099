package app

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"time"

	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/metrics"
)

// Panel is one column of a comparison.
type Panel struct {
	Label   string                `json:"label"`
	Image   *image.NRGBA          `json:"-"`
	Metrics *metrics.Preservation `json:"metrics,omitempty"` // against the input, inside/outside the mask
	Evals   int                   `json:"unet_evals"`
	Time    time.Duration         `json:"time_ns"`
	Result  *engine.Result        `json:"-"`
}

// Comparison is the QA view: input | mask overlay | baseline | mask-guided
// [| SDEdit 0.5 | SDEdit 0.8 | DiffEdit 0.8], all from the same seed. Panels
// show the plain model output (no compositing), which is what the metrics
// measure (inside and outside the mask-guided edit's mask, for every panel).
type Comparison struct {
	Settings engine.Settings `json:"settings"`
	MaskArea float64         `json:"mask_area"`
	Panels   []Panel         `json:"panels"`
}

// SDEditStrengths are the SDEdit baselines of a comparison.
var SDEditStrengths = []float64{0.5, 0.8}

// DiffEditRatio is the encoding ratio of a comparison's DiffEdit baseline
// (diffusers' default inpaint_strength).
const DiffEditRatio = 0.8

// MaskColour tints mask overlays.
var MaskColour = color.NRGBA{R: 255, G: 64, B: 160, A: 255}

// Compare runs the mask, the baseline and the mask-guided edit (and SDEdit
// and DiffEdit with sd when given) on one photo.
func Compare(ctx context.Context, e, sd *engine.Engine, doc *Doc, s engine.Settings, progress engine.ProgressFunc) (*Comparison, error) {
	enc, err := doc.Encoded(ctx, e, progress)
	if err != nil {
		return nil, err
	}
	// The user's painted (or already computed) mask is kept, not recomputed.
	mask := doc.maskFor(e, s)
	if mask == nil {
		if _, err := doc.ComputeMask(ctx, e, s, progress); err != nil {
			return nil, err
		}
		mask = doc.maskFor(e, s)
	}
	m := doc.Mask()
	if m == nil || mask == nil {
		return nil, ErrNoMask
	}
	res := e.Sig.Resolution
	pix := compose.UpsampleMask(mask, m.W, m.H, res, res)
	c := &Comparison{Settings: s, MaskArea: m.Area(s.Lambda)}
	c.Panels = append(c.Panels,
		Panel{Label: "input", Image: enc.Input},
		Panel{Label: fmt.Sprintf("mask λ=%.2f", s.Lambda), Image: compose.Overlay(enc.Input, mask, m.W, m.H, MaskColour, 0.5), Evals: m.Stats.TotalEvals(), Time: m.Stats.Wall})
	add := func(label string, r *engine.Result) {
		p := metrics.Compare(enc.Input, r.Paper, pix)
		c.Panels = append(c.Panels, Panel{Label: label, Image: r.Paper, Metrics: &p, Evals: r.Stats.TotalEvals(), Time: r.Stats.Wall, Result: r})
	}
	base, err := e.Edit(ctx, enc, s, nil, progress)
	if err != nil {
		return nil, err
	}
	add("baseline (no mask)", base)
	guided, err := e.Edit(ctx, enc, s, mask, progress)
	if err != nil {
		return nil, err
	}
	add("mask-guided", guided)
	if sd != nil {
		senc, err := doc.Encoded(ctx, sd, progress)
		if err != nil {
			return nil, err
		}
		ss := sd.DefaultSettings()
		ss.Subject, ss.Seed, ss.Steps, ss.Scheduler = s.Subject, s.Seed, s.Steps, s.Scheduler
		ss.MaskSeeds, ss.MaskNoiseSteps = s.MaskSeeds, s.MaskNoiseSteps // DiffEdit's mask averages as many noises
		ss.Direction, ss.Target = "", s.Target
		if ss.Target == "" { // the direction's own words, through the sd pack's template
			d, _ := e.Manifest().Direction(s.Direction)
			ss.Target = d.Target
		}
		for _, st := range SDEditStrengths {
			r, err := sd.SDEdit(ctx, senc, ss, st, progress)
			if err != nil {
				return nil, err
			}
			if r.Paper.Bounds() != enc.Input.Bounds() {
				return nil, fmt.Errorf("sd pack %s works at %d px but %s at %d px; compare needs the same resolution", sd.Pack.Name, sd.Sig.Resolution, e.Pack.Name, res)
			}
			add(fmt.Sprintf("SDEdit %.1f", st), r)
		}
		r, err := sd.DiffEdit(ctx, senc, ss, DiffEditRatio, progress)
		if err != nil {
			return nil, err
		}
		add(fmt.Sprintf("DiffEdit %.1f", DiffEditRatio), r)
	}
	return c, nil
}

// Image lays the panels out side by side with labels.
func (c *Comparison) Image() *image.NRGBA {
	imgs := make([]*image.NRGBA, len(c.Panels))
	labels := make([]string, len(c.Panels))
	for i, p := range c.Panels {
		imgs[i], labels[i] = p.Image, p.Label
		if p.Metrics != nil {
			labels[i] += fmt.Sprintf(" · PSNR out %s", fmtDB(p.Metrics.PSNROut))
		}
	}
	// Panels of a small pack (128 px) are enlarged to 256 so that their
	// labels, which carry the metrics, fit under them.
	cell := 256
	if len(imgs) > 0 {
		cell = max(cell, imgs[0].Bounds().Dx())
	}
	return compose.Sheet(imgs, labels, len(imgs), cell, color.White)
}

func fmtDB(v float64) string {
	if v > 1e9 {
		return "∞"
	}
	return fmt.Sprintf("%.1f dB", v)
}
