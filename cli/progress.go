package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"likeness/engine"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progressBar draws one line on stderr when it is a terminal.
type progressBar struct {
	e    *env
	last time.Time

	// item's state: when the first item started, and the item last printed
	itemsStarted time.Time
	lastItem     int
}

// item notes that item i of n (1-based) is under way; what names the kind,
// e.g. "eval: pair". Without a terminal (a background run with a log) it
// prints one line per item with the time elapsed and left, where the bar
// would be noise; on a terminal the bar says enough.
func (p *progressBar) item(what string, i, n int, id string) {
	if p == nil || p.e.tty || i == p.lastItem {
		return
	}
	p.lastItem = i
	if p.itemsStarted.IsZero() {
		p.itemsStarted = time.Now()
	}
	line := fmt.Sprintf("%s %d/%d %s", what, i, n, id)
	if done := i - 1; done > 0 {
		el := time.Since(p.itemsStarted)
		left := time.Duration(float64(el) / float64(done) * float64(n-done))
		line += fmt.Sprintf(" (%s elapsed, about %s left)", el.Round(time.Second), left.Round(time.Second))
	}
	fmt.Fprintln(p.e.stderr, line)
}

func (p *progressBar) report(pr engine.Progress) {
	if p == nil || !p.e.tty {
		return
	}
	if time.Since(p.last) < 80*time.Millisecond && pr.Step != pr.Steps {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := 0
	if pr.Steps > 0 {
		filled = width * pr.Step / pr.Steps
	}
	label := pr.Phase
	if pr.Label != "" {
		label += " " + pr.Label
	}
	fmt.Fprintf(p.e.stderr, "\r%-24s [%s%s] %d/%d ", label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), pr.Step, pr.Steps)
}

func (p *progressBar) done() {
	if p != nil && p.e.tty {
		fmt.Fprint(p.e.stderr, "\r\033[K")
	}
}
