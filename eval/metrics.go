package eval

import (
	"image"
	"math"

	"likeness/engine/metrics"
)

// PSNRCap is what an exact match (+Inf dB) is reported and averaged as.
const PSNRCap = 100.0

// Scores are one output's metrics against the pair's true target.
type Scores struct {
	SSIM    Num `json:"ssim"`     // whole image, against the true target
	PSNR    Num `json:"psnr"`     // dB, capped at PSNRCap
	SSIMOut Num `json:"ssim_out"` // windows centred outside the true change
	PSNROut Num `json:"psnr_out"` // pixels outside the true change, capped
	// Recognised: the output's nearest rendering of the identity is the
	// pair's own target; Nearest names the one it is ("source" or a direction).
	Recognised bool   `json:"recognised"`
	Nearest    string `json:"nearest"`
	// Judged is the judge's class for the output (Options.Judge), and
	// JudgeOK whether it is the pair's direction; absent without a judge.
	Judged  string `json:"judged,omitempty"`
	JudgeOK *bool  `json:"judge_recognised,omitempty"`
}

// Candidate is one rendering of an identity: its source or the true target
// of one direction.
type Candidate struct {
	Label string // "source" or the direction id
	Image *image.NRGBA
}

// CandidateSource labels the source among an identity's renderings.
const CandidateSource = "source"

// Score measures out against the true target. truth is the true change
// mask (size*size); cands are the identity's renderings and direction the
// pair's own, compared on box.
func Score(out, target *image.NRGBA, truth []bool, cands []Candidate, direction string, box image.Rectangle) Scores {
	outside := make([]bool, len(truth))
	for i, v := range truth {
		outside[i] = !v
	}
	s := Scores{
		SSIM:    Num(metrics.SSIM(out, target, nil)),
		PSNR:    Num(capPSNR(metrics.PSNR(out, target, nil))),
		SSIMOut: Num(metrics.SSIM(out, target, outside)),
		PSNROut: Num(capPSNR(metrics.PSNR(out, target, outside))),
	}
	if i := Nearest(out, cands, box); i >= 0 {
		s.Nearest = cands[i].Label
		s.Recognised = s.Nearest == direction
	}
	return s
}

func capPSNR(v float64) float64 {
	if v > PSNRCap {
		return PSNRCap
	}
	return v
}

// Nearest returns the index of the candidate closest to img in squared L2
// over the RGB of the pixels in box (clipped to the image); the first wins a
// tie. -1 when there is no candidate of img's size.
func Nearest(img *image.NRGBA, cands []Candidate, box image.Rectangle) int {
	box = box.Intersect(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
	best, bestD := -1, math.Inf(1)
	for i, c := range cands {
		if c.Image == nil || c.Image.Rect.Dx() != img.Rect.Dx() || c.Image.Rect.Dy() != img.Rect.Dy() {
			continue
		}
		var d float64
		for y := box.Min.Y; y < box.Max.Y; y++ {
			a := img.Pix[y*img.Stride+4*box.Min.X : y*img.Stride+4*box.Max.X]
			b := c.Image.Pix[y*c.Image.Stride+4*box.Min.X : y*c.Image.Stride+4*box.Max.X]
			for k := 0; k < len(a); k += 4 {
				for ch := range 3 {
					e := float64(a[k+ch]) - float64(b[k+ch])
					d += e * e
				}
			}
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// Recall is the fraction of the true change the predicted mask covers;
// NaN when there is no true change.
func Recall(pred, truth []bool) float64 {
	hit, n := 0, 0
	for i, t := range truth {
		if t {
			n++
			if i < len(pred) && pred[i] {
				hit++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return float64(hit) / float64(n)
}

// AreaRatio is the predicted mask's area over the true change's; NaN when
// there is no true change.
func AreaRatio(pred, truth []bool) float64 {
	n := count(truth)
	if n == 0 {
		return math.NaN()
	}
	return float64(count(pred)) / float64(n)
}

func count(m []bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
