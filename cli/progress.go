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
