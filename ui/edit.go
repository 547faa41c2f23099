package ui

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"likeness/app"
)

// editView is the Edit tab and its side panel: the photo with the crop
// frame, the history strip, the edit settings, the mask tools and the Run
// box. State drives it, as it drives compareView and stickerView.
type editView struct {
	s       *State
	content fyne.CanvasObject // the Edit tab
	side    fyne.CanvasObject // the settings and mask sections of the side panel
	run     fyne.CanvasObject // the Run box under the side panel

	view    *photoView
	zoomLbl *widget.Label
	history *fyne.Container

	direction *escSelect
	target    *escEntry
	subject   *escSelectEntry
	steps     *escEntry
	seed      *escEntry
	scheduler *escSelect
	s1        *sliderRow
	s2        *sliderRow
	s3        *sliderRow
	lambda    *sliderRow

	previewMask   *widget.Button
	maskNormalize *choiceSelect // order of the mask's normalisation and blur
	showMask      *escCheck
	opacity       *escSlider
	paintMode     *widget.RadioGroup
	brush         *escSlider
	undo          *widget.Button
	reset         *widget.Button
	softMap       *canvas.Image
	maskInfo      *widget.Label

	preserve     *escCheck
	useMask      *escCheck
	maskGuidance *choiceSelect // Eq. 3 alone or with the latent blend
	edit         *widget.Button
	export       *widget.Button

	syncing bool // settings are being copied into the widgets: no change events
}

func newEditView(s *State) *editView {
	v := &editView{s: s}
	v.view = newPhotoView(s)
	esc := s.Cancel

	// Settings.
	v.direction = newEscSelect(nil, func(label string) {
		if v.syncing || s.eng == nil {
			return
		}
		for _, d := range s.eng.Manifest().Directions {
			if d.Label == label {
				s.settings.Direction = d.ID
			}
		}
		s.inputsChanged("direction", true)
	}, esc)
	// A free-text setting: trimmed into dst; it changes the mask's inputs.
	textSetting := func(dst *string, what string) func(string) {
		return func(t string) {
			if v.syncing {
				return
			}
			*dst = strings.TrimSpace(t)
			s.inputsChanged(what, true)
		}
	}
	v.target = newEscEntry(esc)
	v.target.SetPlaceHolder("or describe a target (wins)")
	v.target.OnChanged = textSetting(&s.settings.Target, "target")
	v.subject = newEscSelectEntry(esc)
	v.subject.SetPlaceHolder("subject, e.g. a woman")
	v.subject.OnChanged = textSetting(&s.settings.Subject, "subject")
	v.steps = newEscEntry(esc)
	v.steps.OnChanged = func(t string) {
		if v.syncing {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil || n < 1 || n > 1000 {
			return
		}
		s.settings.Steps = n
		s.settings.MaskNoiseSteps = max(1, min(s.defaults.MaskNoiseSteps, n))
		s.inputsChanged("steps", true)
	}
	v.seed = newEscEntry(esc)
	v.seed.OnChanged = func(t string) {
		if v.syncing {
			return
		}
		n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 64)
		if err != nil {
			return
		}
		s.settings.Seed = n
		s.inputsChanged("seed", true)
	}
	dice := widget.NewButtonWithIcon("", theme.MediaReplayIcon(), func() {
		v.seed.SetText(strconv.FormatUint(rand.Uint64N(1<<31), 10))
	})
	v.scheduler = newEscSelect(app.Schedulers(), func(val string) {
		if v.syncing {
			return
		}
		s.settings.Scheduler = val
		s.inputsChanged("scheduler", true)
	}, esc)
	scale := func(name string, get func(*app.Settings) *float64, mask bool) *sliderRow {
		var r *sliderRow
		r = newSliderRow(name, 0, 10, 0.1, "%.1f", func(val float64) {
			if v.syncing {
				return
			}
			*get(&s.settings) = val
			s.inputsChanged(strings.Fields(name)[0], mask)
		}, func() { r.slider.SetValue(*get(&s.defaults)) }, esc)
		return r
	}
	v.s1 = scale("s1 · image", func(st *app.Settings) *float64 { return &st.S1 }, true)
	v.s2 = scale("s2 · latent", func(st *app.Settings) *float64 { return &st.S2 }, true)
	v.s3 = scale("s3 · text", func(st *app.Settings) *float64 { return &st.S3 }, true)
	v.lambda = newSliderRow("λ · mask", 0, 1, 0.01, "%.2f", func(val float64) {
		if v.syncing {
			return
		}
		s.settings.Lambda = val
		s.inputsChanged("λ", false) // re-thresholds the cached mask: no model call
		s.updateMaskView()
	}, func() { v.lambda.slider.SetValue(s.defaults.Lambda) }, esc)

	// Mask.
	v.previewMask = widget.NewButtonWithIcon("Preview mask", theme.VisibilityIcon(), s.PreviewMask)
	v.maskNormalize = newChoiceSelect(app.MaskNormalizeChoices, func(val string) {
		if v.syncing {
			return
		}
		s.settings.MaskNormalize = val
		s.inputsChanged("mask normalisation", true) // a new N: preview the mask again
	}, esc)
	v.showMask = newEscCheck("Overlay", func(bool) { s.updateMaskView() }, esc)
	v.showMask.Checked = true
	v.opacity = newEscSlider(0.1, 1, esc)
	v.opacity.Step = 0.05
	v.opacity.Value = 0.55
	v.opacity.OnChanged = func(float64) { s.updateOverlay() }
	// Radio items keep the focus after a click and swallow Esc: drop it.
	v.paintMode = widget.NewRadioGroup([]string{"Off", "Add", "Erase"}, func(string) { s.win.Canvas().Unfocus() })
	v.paintMode.Horizontal = true
	v.paintMode.Required = true
	v.paintMode.SetSelected("Off")
	v.brush = newEscSlider(0.5, 8, esc)
	v.brush.Step = 0.5
	v.brush.Value = 1.5
	v.undo = widget.NewButtonWithIcon("Undo", theme.ContentUndoIcon(), s.Undo)
	v.reset = widget.NewButtonWithIcon("Reset", theme.ContentClearIcon(), s.ResetMask)
	v.softMap = canvas.NewImageFromImage(nil)
	v.softMap.FillMode = canvas.ImageFillContain
	v.softMap.ScaleMode = canvas.ImageScalePixels
	v.softMap.SetMinSize(fyne.NewSize(96, 96))
	v.maskInfo = widget.NewLabel("no mask yet")
	v.maskInfo.Wrapping = fyne.TextWrapWord

	// Run.
	v.preserve = newEscCheck("Preserve original outside the mask", func(b bool) {
		s.preserve = b
		s.fa.Preferences().SetBool(PrefPreserve, b)
		if s.shown != nil {
			s.updateDocView()
		}
	}, esc)
	v.preserve.Checked = s.preserve
	v.useMask = newEscCheck("Mask-guided (off: baseline)", func(on bool) {
		if on {
			v.maskGuidance.Enable()
		} else {
			v.maskGuidance.Disable() // the baseline has no mask to guide with
		}
		s.inputsChanged("mask mode", false)
	}, esc)
	v.useMask.Checked = true
	v.maskGuidance = newChoiceSelect(app.MaskGuidanceChoices, func(val string) {
		if v.syncing {
			return
		}
		s.settings.MaskGuidance = val
		s.inputsChanged("mask guidance", false) // acts on the edit, not on the mask
	}, esc)
	v.edit = widget.NewButtonWithIcon("Edit", theme.MediaPlayIcon(), s.Edit)
	v.edit.Importance = widget.HighImportance
	v.export = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), s.exportDialog)

	v.side = container.NewVBox(
		heading("Edit"),
		labelled("Direction", v.direction), v.target,
		labelled("Subject", v.subject),
		container.NewGridWithColumns(2,
			labelled("Steps", v.steps),
			labelled("Seed", container.NewBorder(nil, nil, nil, dice, v.seed))),
		labelled("Scheduler", v.scheduler),
		v.s1.row, v.s2.row, v.s3.row, v.lambda.row,
		widget.NewSeparator(),
		heading("Mask"),
		v.previewMask,
		labelled("Order", v.maskNormalize.escSelect),
		container.NewBorder(nil, nil, v.showMask, nil, v.opacity),
		container.NewBorder(nil, nil, widget.NewLabel("Paint"), nil, v.paintMode),
		container.NewBorder(nil, nil, widget.NewLabel("Brush"), nil, v.brush),
		container.NewGridWithColumns(2, v.undo, v.reset),
		container.NewBorder(nil, nil, v.softMap, nil, v.maskInfo),
	)
	v.run = container.NewPadded(container.NewVBox(widget.NewSeparator(), v.preserve,
		container.NewBorder(nil, nil, v.useMask, nil, v.maskGuidance.escSelect),
		container.NewGridWithColumns(2, v.edit, v.export)))

	v.zoomLbl = widget.NewLabel("fit")
	fit := widget.NewButton("Fit", func() { v.view.setZoom(0, fyne.Position{}); s.updateZoomLabel() })
	one := widget.NewButton("100%", func() { v.view.setZoom(1, centre(v.view.size)); s.updateZoomLabel() })
	zin := widget.NewButtonWithIcon("", theme.ZoomInIcon(), func() { v.view.setZoom(v.view.scale()*1.25, centre(v.view.size)); s.updateZoomLabel() })
	zout := widget.NewButtonWithIcon("", theme.ZoomOutIcon(), func() { v.view.setZoom(v.view.scale()/1.25, centre(v.view.size)); s.updateZoomLabel() })
	open := widget.NewButtonWithIcon("Open…", theme.FolderOpenIcon(), s.openDialog)
	toolbar := container.NewHBox(open, widget.NewSeparator(), fit, one, zout, zin, v.zoomLbl, layout.NewSpacer(),
		widget.NewLabel("drag the frame to move the crop, its corner to resize"))
	clip := container.NewScroll(v.view)
	clip.Direction = container.ScrollNone

	v.history = container.NewHBox()
	histScroll := container.NewHScroll(v.history)
	histScroll.SetMinSize(fyne.NewSize(100, 132))
	v.content = container.NewBorder(toolbar, histScroll, nil, nil, clip)
	return v
}
