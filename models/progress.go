package models

import (
	"fmt"
	"time"
)

// reportInterval is the least time between two byte-count reports.
const reportInterval = 50 * time.Millisecond

// Progress reports the state of an install. Phase is "copy" (from a
// folder), "extract" (from a zip) or "verify" (hashing against
// likeness.json); Done and Total count bytes of the phase; File is the
// slash path, inside the pack, of the file at hand.
type Progress struct {
	Phase       string
	Done, Total int64
	File        string
}

// reporter throttles progress callbacks. A nil reporter, or one without a
// callback, does nothing.
type reporter struct {
	fn    func(Progress) error
	phase string
	n     int64
	total int64
	cur   string
	last  time.Time
}

func (r *reporter) start(phase string, total int64) {
	if r == nil {
		return
	}
	r.phase, r.total, r.n, r.cur = phase, total, 0, ""
}

// file reports the start of a file, always.
func (r *reporter) file(name string) error {
	if r == nil {
		return nil
	}
	r.cur = name
	return r.emit()
}

// add counts bytes and reports when the last report is old enough.
func (r *reporter) add(k int64) error {
	if r == nil {
		return nil
	}
	r.n += k
	if time.Since(r.last) < reportInterval {
		return nil
	}
	return r.emit()
}

// done reports the end of a phase.
func (r *reporter) done() error {
	if r == nil {
		return nil
	}
	return r.emit()
}

func (r *reporter) emit() error {
	if r.fn == nil {
		return nil
	}
	r.last = time.Now()
	if err := r.fn(Progress{Phase: r.phase, Done: r.n, Total: r.total, File: r.cur}); err != nil {
		return fmt.Errorf("stopped: %w", err)
	}
	return nil
}
