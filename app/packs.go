package app

import (
	"path/filepath"
	"strings"

	"likeness/engine/scheduler"
	"likeness/models"
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
// trained editor: the pack CreateDemoPack writes (folder DemoPackName), or
// a pack that calls itself a demo.
func IsDemo(p *Pack) bool {
	return p != nil && (filepath.Base(p.Dir) == DemoPackName || strings.Contains(strings.ToLower(p.Name), "demo"))
}

// Schedulers are the scheduler names Settings.Scheduler accepts, in the
// order the UI offers them.
func Schedulers() []string { return scheduler.Names() }
