package ui

import (
	"strings"
	"testing"
	"time"

	"likeness/app"
)

func TestETA(t *testing.T) {
	var c etaClock
	t0 := time.Unix(1000, 0)
	if got := c.left(app.Progress{Phase: app.PhaseDenoise, Step: 1, Steps: 20}, t0); got != "" {
		t.Fatalf("first report with no history: %q", got)
	}
	got := c.left(app.Progress{Phase: app.PhaseDenoise, Step: 3, Steps: 20}, t0.Add(4*time.Second))
	if !strings.Contains(got, "about 34 s left") { // 2 s per step, 17 steps to go
		t.Fatalf("after 2 steps in 4 s: %q", got)
	}
	// A new job starts with the pass time measured before.
	got = c.left(app.Progress{Phase: app.PhaseDenoise, Step: 1, Steps: 31}, t0.Add(time.Hour))
	if !strings.Contains(got, "about 1 min 00 s left") {
		t.Fatalf("new job: %q", got)
	}
	if got := c.left(app.Progress{Phase: app.PhaseDecode, Step: 1, Steps: 1}, t0); got != "" {
		t.Fatalf("decode: %q", got)
	}
}
