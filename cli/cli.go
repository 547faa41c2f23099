// Package cli is the headless command line over package app.
package cli

import (
	"fmt"
	"os"

	"likeness/ui"
)

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	if len(args) == 0 {
		return ui.Run(nil)
	}
	fmt.Fprintf(os.Stderr, "likeness: unknown command %q\n", args[0])
	return 2
}
