package ui

import (
	"fmt"
	"time"

	"likeness/app"
)

// etaClock estimates the time left in a phase from the measured time per
// step; before a phase has two reports it uses the time measured for that
// phase in an earlier job, so the first estimate appears at once.
type etaClock struct {
	phase   string
	first   time.Time // when the phase's first step was reported
	firstN  int
	perStep map[string]time.Duration
}

// left returns a "· about 12 s left" suffix, or "" when nothing is known.
func (c *etaClock) left(p app.Progress, now time.Time) string {
	if p.Phase != app.PhaseMask && p.Phase != app.PhaseDenoise || p.Steps == 0 {
		return ""
	}
	if c.perStep == nil {
		c.perStep = map[string]time.Duration{}
	}
	if p.Phase != c.phase || p.Step <= c.firstN {
		c.phase, c.first, c.firstN = p.Phase, now, p.Step
	} else {
		c.perStep[p.Phase] = now.Sub(c.first) / time.Duration(p.Step-c.firstN)
	}
	per, ok := c.perStep[p.Phase]
	if !ok || p.Step >= p.Steps {
		return ""
	}
	left := per * time.Duration(p.Steps-p.Step)
	switch {
	case left < time.Second:
		return " · under a second left"
	case left < time.Minute:
		return fmt.Sprintf(" · about %d s left", int(left.Seconds()+0.5))
	}
	return fmt.Sprintf(" · about %d min %02d s left", int(left.Minutes()), int(left.Seconds())%60)
}
