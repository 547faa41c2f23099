package ui

import (
	"context"
	"errors"
	"fmt"

	"likeness/app"
)

// jobKind is a kind of long task. Its methods say how a job of the kind
// meets the others, so the job machine asks them instead of matching names.
type jobKind int

// The kinds of job.
const (
	jobLoad     jobKind = iota + 1 // load a pack's models
	jobInstall                     // install a pack folder or .zip
	jobDemo                        // create the analytic demo pack
	jobStarters                    // install the starter packs
	jobMask                        // preview the mask
	jobEdit                        // run an edit
	jobCompare                     // run a comparison
	jobStickers                    // make or regenerate stickers
)

var jobNames = [...]string{
	jobLoad:     "loading pack",
	jobInstall:  "installing pack",
	jobDemo:     "creating demo pack",
	jobStarters: "installing starter packs",
	jobMask:     "mask preview",
	jobEdit:     "edit",
	jobCompare:  "comparison",
	jobStickers: "stickers",
}

// String is the kind's name in the status line.
func (k jobKind) String() string {
	if k > 0 && int(k) < len(jobNames) {
		return jobNames[k]
	}
	return fmt.Sprintf("job %d", int(k))
}

// runsModel reports whether the job runs a model on the loaded pack.
func (k jobKind) runsModel() bool {
	switch k {
	case jobMask, jobEdit, jobCompare, jobStickers:
		return true
	}
	return false
}

// changesPack reports whether the job loads, installs or creates a pack.
// A model job asked for meanwhile is refused: starting it would cancel this.
func (k jobKind) changesPack() bool {
	switch k {
	case jobLoad, jobInstall, jobDemo, jobStarters:
		return true
	}
	return false
}

// staleAfter reports whether a change of the edit's inputs makes the job's
// result stale; maskInput says whether the change alters the mask. Pack
// jobs depend on no input; a mask preview depends only on the mask's inputs
// (λ alone never invalidates it).
func (k jobKind) staleAfter(maskInput bool) bool {
	switch {
	case k.changesPack():
		return false
	case k == jobMask:
		return maskInput
	}
	return true
}

// showsPreview reports whether the job's live previews go on the canvas.
func (k jobKind) showsPreview() bool { return k == jobEdit || k == jobCompare }

// job is the one long task that may be running.
type job struct {
	id     int
	kind   jobKind
	cancel context.CancelFunc
	reason string        // why it was cancelled, for the status line
	done   chan struct{} // closed when its work returned (it may still be posting)
}

// jobWork is a job's work: it runs off the UI goroutine and returns what to
// apply on the UI goroutine.
type jobWork func(ctx context.Context, progress func(app.Progress)) (func(), error)

// jobHost is what the job machine needs from the window.
type jobHost interface {
	// background runs work off the UI goroutine and posts the closure it
	// returns back to the UI goroutine.
	background(work func() func())
	// postUI runs fn on the UI goroutine.
	postUI(fn func())
	status(msg string)
	setRunning(j *job, on bool)
	showProgress(j *job, p app.Progress)
	showError(err error)
	// jobEnded is told each job's outcome: nil when its result was
	// applied, its error, or context.Canceled when it was dropped.
	jobEnded(k jobKind, err error)
}

// jobs is the job machine: at most one job runs; starting another cancels
// it, and a job cancelled or replaced meanwhile has its result and error
// dropped. Every method runs on the UI goroutine.
type jobs struct {
	host   jobHost
	cur    *job
	nextID int
	live   []*job // jobs whose work may still run, cancelled ones included
}

// start runs a cancellable job of kind k, cancelling the one running. A
// model job is refused (false) while a pack is being loaded, installed or
// created.
func (m *jobs) start(k jobKind, work jobWork) bool {
	h := m.host
	if m.cur != nil {
		if k.runsModel() && m.cur.kind.changesPack() {
			h.status(fmt.Sprintf("%s is running: wait for it to finish before the %s (Esc cancels it)", m.cur.kind, k))
			return false
		}
		m.cancel(fmt.Sprintf("%s started", k))
	}
	m.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{id: m.nextID, kind: k, cancel: cancel, done: make(chan struct{})}
	m.cur = j
	m.live = append(m.live, j)
	h.setRunning(j, true)
	h.status(k.String() + "…")
	progress := func(p app.Progress) {
		h.postUI(func() {
			if m.cur == j {
				h.showProgress(j, p)
			}
		})
	}
	h.background(func() func() {
		fin, err := work(ctx, progress)
		cancelled := ctx.Err() != nil
		cancel()
		close(j.done)
		return func() { m.finish(j, fin, err, cancelled) }
	})
	return true
}

// finish applies a job's result on the UI goroutine, or drops it.
func (m *jobs) finish(j *job, fin func(), err error, cancelled bool) {
	h := m.host
	m.forget(j)
	current := m.cur == j
	if current {
		m.cur = nil
		h.setRunning(j, false)
	}
	if !current || cancelled || j.reason != "" {
		// Stale: whatever it computed belongs to inputs that are gone.
		// Only say so when no later job owns the status line.
		if m.nextID == j.id {
			why := j.reason
			if why == "" {
				why = "cancelled by you"
			}
			h.jobEnded(j.kind, context.Canceled)
			h.status(fmt.Sprintf("%s cancelled (%s); nothing changed", j.kind, why))
		}
		return
	}
	h.jobEnded(j.kind, err)
	switch {
	case err == nil:
		if fin != nil {
			fin()
		}
	case errors.Is(err, context.Canceled):
		h.status(fmt.Sprintf("%s cancelled; nothing changed", j.kind))
	default:
		h.status(fmt.Sprintf("%s failed", j.kind))
		h.showError(err)
	}
}

// forget drops a finished job from the live list.
func (m *jobs) forget(j *job) {
	for i, l := range m.live {
		if l == j {
			m.live = append(m.live[:i], m.live[i+1:]...)
			return
		}
	}
}

// liveDone are the done channels of every job whose work may still run.
func (m *jobs) liveDone() []chan struct{} {
	var ch []chan struct{}
	for _, j := range m.live {
		ch = append(ch, j.done)
	}
	return ch
}

// cancel stops the running job, noting why in the status line.
func (m *jobs) cancel(reason string) bool {
	if m.cur == nil {
		return false
	}
	j := m.cur
	j.reason = reason
	j.cancel()
	m.cur = nil
	m.host.setRunning(j, false)
	m.host.status(fmt.Sprintf("cancelling %s: %s", j.kind, reason))
	return true
}

// running is the running job's kind, 0 when idle.
func (m *jobs) running() jobKind {
	if m.cur == nil {
		return 0
	}
	return m.cur.kind
}

// inputsChanged cancels the running job when the change of what makes its
// result stale (see jobKind.staleAfter).
func (m *jobs) inputsChanged(what string, maskInput bool) {
	if m.cur == nil || !m.cur.kind.staleAfter(maskInput) {
		return
	}
	m.cancel(what + " changed")
}
