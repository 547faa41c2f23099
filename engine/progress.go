package engine

import (
	"image"
	"time"
)

// Phases reported through Progress.
const (
	PhaseLoad    = "load"
	PhaseEncode  = "encode"
	PhaseMask    = "mask"
	PhaseDenoise = "denoise"
	PhaseDecode  = "decode"
	// PhaseCompose is the compositing after decoding (preserve pixels,
	// full-resolution blend); it is timed but not reported as progress.
	PhaseCompose = "compose"
)

// Progress is one report of long work.
type Progress struct {
	Phase   string
	Step    int // 1-based step within the phase
	Steps   int
	Label   string       // e.g. "baseline", "mask-guided", a direction id
	Preview *image.NRGBA // cheap preview of the predicted clean image, when one is due
}

// ProgressFunc receives reports; it must return quickly. It is called on the
// goroutine doing the work.
type ProgressFunc func(Progress)

// throttle limits previews to one per interval; plain step reports always pass.
type throttle struct {
	every time.Duration
	last  time.Time
}

func (t *throttle) due(final bool) bool {
	now := time.Now()
	if final || now.Sub(t.last) >= t.every {
		t.last = now
		return true
	}
	return false
}

// sdLatentRGB is the widely used linear approximation from SD 1.x latents to
// RGB in [-1,1]: cheap enough for every step's preview.
var sdLatentRGB = [4][3]float32{
	{0.298, 0.207, 0.208},
	{0.187, 0.286, 0.173},
	{-0.158, 0.189, 0.264},
	{-0.184, -0.271, -0.473},
}

// latentPreview maps a scaled latent [4,h,w] to a small RGB image.
func latentPreview(lat []float32, h, w int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	hw := h * w
	for i := 0; i < hw; i++ {
		var rgb [3]float32
		for c := 0; c < 4; c++ {
			v := lat[c*hw+i]
			for k := 0; k < 3; k++ {
				rgb[k] += v * sdLatentRGB[c][k]
			}
		}
		for k := 0; k < 3; k++ {
			img.Pix[4*i+k] = to8(rgb[k])
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

func to8(v float32) uint8 {
	x := (v + 1) * 127.5
	switch {
	case x <= 0:
		return 0
	case x >= 255:
		return 255
	}
	return uint8(x + 0.5)
}
