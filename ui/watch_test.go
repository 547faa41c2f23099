package ui

import (
	"image"
	"sync/atomic"
)

// recorder is the tests' watcher: it keeps what State tells it about
// background work, so tests read outcomes without fields on State.
type recorder struct {
	busy       atomic.Int32 // background goroutines not finished yet
	lastErr    error        // the last finished job's or photo open's error (nil = success)
	exportErr  error        // the last finished export's error
	modelCalls int          // jobs started that run a model; λ changes and painting never add to it
}

func (r *recorder) jobStarted(k jobKind) {
	if k.runsModel() {
		r.modelCalls++
	}
}
func (r *recorder) jobEnded(_ jobKind, err error) { r.lastErr = err }
func (r *recorder) opened(err error)              { r.lastErr = err }
func (r *recorder) exported(err error)            { r.exportErr = err }
func (r *recorder) working(delta int)             { r.busy.Add(int32(delta)) }

// rec is s's recorder; every test State gets one from newState's callers.
func rec(s *State) *recorder { return s.watch.(*recorder) }

// overlayShown is the mask overlay on the canvas, nil when hidden.
func overlayShown(s *State) image.Image {
	if s.w.ed.view.overlay.Hidden {
		return nil
	}
	return s.w.ed.view.overlay.Image
}
