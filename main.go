// Command likeness is a portrait editor: with no arguments it opens the desktop
// app; with a subcommand it works headless (see `likeness help`).
package main

import (
	"os"

	"likeness/cli"
	_ "likeness/internal/clocale" // before Fyne reads the locale
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
