// Command likeness is a portrait editor: with no arguments it opens the desktop
// app; with a subcommand it works headless (see `likeness help`).
package main

import (
	"os"

	"likeness/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
