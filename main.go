// Command likeness is a portrait editor: with no arguments it opens the desktop
// app; with a subcommand it works headless (see `likeness help`).
package main

import (
	_ "embed"
	"os"

	"likeness/app"
	"likeness/cli"
	_ "likeness/internal/clocale" // before Fyne reads the locale
	"likeness/ui"
)

// fyneApp is FyneApp.toml, the one place the version is written: the
// binary, the packages `make dist` builds and the Windows resources all
// take it from there.
//
//go:embed FyneApp.toml
var fyneApp string

func main() {
	app.Version, app.Build = metadata(fyneApp)
	args := os.Args[1:]
	if cli.OpensWindow(args) {
		os.Exit(ui.Run(args)) // the desktop app, optionally with a photo
	}
	os.Exit(cli.Main(args)) // headless: cli links no UI
}
