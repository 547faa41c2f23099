package app

import (
	"likeness/engine/scheduler"
	"likeness/models"
	"likeness/models/synth"
)

// ServesBaselines reports whether p can run a comparison's SDEdit and
// DiffEdit baselines: plain Stable Diffusion (kind sd) packs do.
func ServesBaselines(p *Pack) bool { return p != nil && p.Kind() == models.KindSD }

// BaselinePack is the first of packs that serves the comparison's SDEdit
// and DiffEdit baselines, or nil when none does.
func BaselinePack(packs []*Pack) *Pack {
	for _, p := range packs {
		if ServesBaselines(p) {
			return p
		}
	}
	return nil
}

// IsDemo reports whether p is a demo that tints a region instead of a
// trained editor: an analytic pack (its manifest carries the closed forms'
// parameters, as every pack `likeness models synth` and CreateDemoPack
// write does), whatever its folder or name.
func IsDemo(p *Pack) bool {
	if p == nil {
		return false
	}
	_, err := synth.Load(p.Dir)
	return err == nil
}

// Schedulers are the scheduler names Settings.Scheduler accepts, in the
// order the UI offers them.
func Schedulers() []string { return scheduler.Names() }
