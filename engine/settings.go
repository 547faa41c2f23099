package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"likeness/engine/scheduler"
	"likeness/models"
)

// Settings are everything a user can change for one edit.
type Settings struct {
	Subject   string `json:"subject"`
	Direction string `json:"direction,omitempty"` // a pack direction id
	Target    string `json:"target,omitempty"`    // free text; wins over Direction
	// The guidance scales, λ, steps, scheduler, mask seeds and noise steps,
	// blur kernel, MaskNormalize (MaskNormalizeThenBlur, the paper, or
	// MaskBlurThenNormalize) and MaskGuidance (MaskGuidanceEq3, the paper,
	// or MaskGuidanceLatentBlend: Eq. 3, then the noised input latent
	// outside the mask after each step): the fields a pack's manifest gives
	// defaults for, defined once there. Embedded, they keep their JSON keys
	// in the same order.
	models.Defaults
	Seed uint64 `json:"seed"`
	// Noise, when set, replaces the seeded generator's noise (see Noise);
	// exports record its Name.
	Noise *Noise `json:"-"`
}

// Values of Settings.MaskNormalize and Settings.MaskGuidance (the manifest's
// defaults.mask_normalize and defaults.mask_guidance).
const (
	MaskNormalizeThenBlur   = models.MaskNormalizeThenBlur
	MaskBlurThenNormalize   = models.MaskBlurThenNormalize
	MaskGuidanceEq3         = models.MaskGuidanceEq3
	MaskGuidanceLatentBlend = models.MaskGuidanceLatentBlend
)

// ErrBadSettings is matched by every settings validation error.
var ErrBadSettings = errors.New("bad settings")

// DefaultSettings are the pack's defaults, its first subject and direction.
func (e *Engine) DefaultSettings() Settings {
	m := e.Pack.Manifest
	s := Settings{Subject: m.DefaultSubject(), Defaults: m.Defaults, Seed: 1}
	s.Scheduler = scheduler.Canonical(s.Scheduler)
	if len(m.Directions) > 0 {
		s.Direction = m.Directions[0].ID
	}
	return s
}

// Validate checks ranges and that a target is known.
func (e *Engine) Validate(s Settings) error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrBadSettings, fmt.Sprintf(f, a...)) }
	for name, v := range map[string]float64{"s1": s.S1, "s2": s.S2, "s3": s.S3, "lambda": s.Lambda} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("%s is not a number", name)
		}
	}
	switch {
	case s.S1 < 0 || s.S2 < 0 || s.S3 < 0:
		return bad("guidance scales must be >= 0 (s1 %g, s2 %g, s3 %g)", s.S1, s.S2, s.S3)
	case s.Lambda < 0 || s.Lambda > 1:
		return bad("lambda %g is outside [0,1]", s.Lambda)
	case s.Steps < 1 || s.Steps > 1000:
		return bad("steps %d is outside 1..1000", s.Steps)
	case s.MaskSeeds < 1 || s.MaskSeeds > 1000:
		return bad("mask seeds %d is outside 1..1000", s.MaskSeeds)
	case s.MaskNoiseSteps < 1 || s.MaskNoiseSteps > s.Steps:
		return bad("mask noise steps %d is outside 1..steps (%d)", s.MaskNoiseSteps, s.Steps)
	case s.BlurKernel < 1 || s.BlurKernel%2 == 0:
		return bad("blur kernel %d must be odd and >= 1", s.BlurKernel)
	case !slices.Contains(models.MaskNormalizations, s.MaskNormalize):
		return bad("mask normalize %q: want %s", s.MaskNormalize, strings.Join(models.MaskNormalizations, " or "))
	case !slices.Contains(models.MaskGuidances, s.MaskGuidance):
		return bad("mask guidance %q: want %s", s.MaskGuidance, strings.Join(models.MaskGuidances, " or "))
	}
	if err := s.Noise.check(e.Sig.Latent, s.MaskSeeds); err != nil {
		return bad("%v", err)
	}
	sc, err := scheduler.New(s.Scheduler, e.sched)
	if err != nil {
		return bad("scheduler: %v", err)
	}
	// The step count the schedule cannot take (see SetTimesteps) is refused
	// here, before any model runs.
	if err := sc.SetTimesteps(s.Steps); err != nil {
		return bad("scheduler %s: %v", s.Scheduler, err)
	}
	_, _, err = e.Prompts(s)
	return err
}

// Prompts returns p_a (source) and p_b (target) for the settings.
func (e *Engine) Prompts(s Settings) (source, target string, err error) {
	m := e.Pack.Manifest
	subject := s.Subject
	if subject == "" {
		subject = m.DefaultSubject()
	}
	t := strings.TrimSpace(s.Target)
	if t == "" {
		if s.Direction == "" {
			if len(m.Directions) == 0 {
				return "", "", fmt.Errorf("%w: pack %s has no directions: give a target text", ErrBadSettings, e.Pack.Name)
			}
			return "", "", fmt.Errorf("%w: no direction or target text given", ErrBadSettings)
		}
		d, ok := m.Direction(s.Direction)
		if !ok {
			ids := make([]string, len(m.Directions))
			for i, d := range m.Directions {
				ids[i] = d.ID
			}
			return "", "", fmt.Errorf("%w: pack %s has no direction %q (it has %v)", ErrBadSettings, e.Pack.Name, s.Direction, ids)
		}
		t = d.Target
	}
	return m.SourcePrompt(subject), m.TargetPrompt(subject, t), nil
}
