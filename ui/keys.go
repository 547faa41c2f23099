package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// Esc cancels the running job wherever the keyboard focus is. Fyne's desktop
// driver (v2.7, internal/driver/glfw/window.go processKeyPressed) hands a
// key to the canvas's OnTypedKey/OnKeyDown only while no widget has focus;
// otherwise the focused widget's TypedKey gets it, and Esc never becomes a
// shortcut (it has no modifier). Entries, selects, sliders and checks take
// the focus when clicked, so the window's controls are these thin wrappers
// that pass Esc on. (Radio groups focus internal items that cannot be
// wrapped: their OnChanged drops the focus instead.)

// escEntry is a widget.Entry whose Esc calls esc.
type escEntry struct {
	widget.Entry
	esc func()
}

func newEscEntry(esc func()) *escEntry {
	e := &escEntry{esc: esc}
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey passes Esc on, everything else to the entry.
func (e *escEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && e.esc != nil {
		e.esc()
		return
	}
	e.Entry.TypedKey(k)
}

// escSelectEntry is a widget.SelectEntry whose Esc calls esc.
type escSelectEntry struct {
	widget.SelectEntry
	esc func()
}

func newEscSelectEntry(esc func()) *escSelectEntry {
	e := &escSelectEntry{esc: esc}
	e.ExtendBaseWidget(e)
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	return e
}

// TypedKey passes Esc on, everything else to the entry.
func (e *escSelectEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && e.esc != nil {
		e.esc()
		return
	}
	e.SelectEntry.TypedKey(k)
}

// escSelect is a widget.Select whose Esc calls esc.
type escSelect struct {
	widget.Select
	esc func()
}

func newEscSelect(options []string, changed func(string), esc func()) *escSelect {
	s := &escSelect{esc: esc}
	s.Options, s.OnChanged, s.PlaceHolder = options, changed, "(Select one)"
	s.ExtendBaseWidget(s)
	return s
}

// TypedKey passes Esc on, everything else to the select.
func (s *escSelect) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && s.esc != nil {
		s.esc()
		return
	}
	s.Select.TypedKey(k)
}

// escSlider is a widget.Slider whose Esc calls esc.
type escSlider struct {
	widget.Slider
	esc func()
}

func newEscSlider(lo, hi float64, esc func()) *escSlider {
	s := &escSlider{esc: esc}
	s.Min, s.Max, s.Step, s.Orientation = lo, hi, 1, widget.Horizontal
	s.ExtendBaseWidget(s)
	return s
}

// TypedKey passes Esc on, everything else to the slider.
func (s *escSlider) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && s.esc != nil {
		s.esc()
		return
	}
	s.Slider.TypedKey(k)
}

// escCheck is a widget.Check whose Esc calls esc.
type escCheck struct {
	widget.Check
	esc func()
}

func newEscCheck(label string, changed func(bool), esc func()) *escCheck {
	c := &escCheck{esc: esc}
	c.Text, c.OnChanged = label, changed
	c.ExtendBaseWidget(c)
	return c
}

// TypedKey passes Esc on.
func (c *escCheck) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && c.esc != nil {
		c.esc()
		return
	}
	c.Check.TypedKey(k)
}
