// Package ui is the Fyne desktop front end. It only talks to package app.
package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// Run opens the main window and blocks until it closes.
func Run(args []string) int {
	a := app.NewWithID("app.likeness.editor")
	w := a.NewWindow("Likeness")
	w.SetContent(container.NewBorder(nil, nil, nil, nil, widget.NewLabel("Open a photo to start")))
	w.Resize(fyne.NewSize(1200, 800))
	w.ShowAndRun()
	return 0
}
