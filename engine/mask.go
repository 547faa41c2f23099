package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	"likeness/engine/scheduler"
	"likeness/models"
)

// Mask is the editing mask the model computes itself (DiffEdit on the trained
// model). Soft is N, blurred and normalised in the order the settings' mask
// normalization says; a new λ re-thresholds it with no model call.
type Mask struct {
	W, H   int
	Soft   []float32 // [h*w] in [0,1]
	Reason string    // why the mask is empty when the difference map is flat
	Stats  Stats
}

// Threshold returns M = N > λ, row-major h×w.
func (m *Mask) Threshold(lambda float64) []bool {
	out := make([]bool, len(m.Soft))
	if m.Reason != "" {
		return out
	}
	for i, v := range m.Soft {
		out[i] = float64(v) > lambda
	}
	return out
}

// Area is the fraction of latent cells in the mask at λ.
func (m *Mask) Area(lambda float64) float64 {
	n := 0
	for _, b := range m.Threshold(lambda) {
		if b {
			n++
		}
	}
	return float64(n) / float64(max(1, len(m.Soft)))
}

// ComputeMask runs the contract's mask algorithm. Because ε̃(p_a) and ε̃(p_b)
// share every branch but the text one, and a fresh scheduler's first step is
// affine in ε, z − z′ = step(s3·[ε(c_im,c_s,p_b) − ε(c_im,c_s,p_a)]) − step(0):
// two UNet evaluations per seed instead of eight, with the scheduler's own
// arithmetic (no hand-derived coefficient).
func (e *Engine) ComputeMask(ctx context.Context, enc *Encoded, s Settings, progress ProgressFunc) (*Mask, error) {
	if err := e.Validate(s); err != nil {
		return nil, err
	}
	texts := textSource | textTarget
	if !scheduler.AffineStep(s.Scheduler, e.sched) {
		texts |= textNull // the literal computation also needs the null text
	}
	r, err := e.startRun(ctx, s, texts, progress)
	if err != nil {
		return nil, err
	}
	j, tn, ta, tb := r.j, r.null, r.source, r.target
	j.phase = PhaseMask
	lat := e.Sig.Latent
	hw := lat * lat
	D := make([]float64, hw)
	idx := s.Steps - s.MaskNoiseSteps
	for seed := 0; seed < s.MaskSeeds; seed++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := e.maskSeed(j, enc, s, idx, seed, tn, ta, tb)
		if err != nil {
			return nil, err
		}
		for i := range D {
			D[i] += d[i] / float64(s.MaskSeeds)
		}
		if progress != nil {
			progress(Progress{Phase: PhaseMask, Step: seed + 1, Steps: s.MaskSeeds})
		}
	}
	m := &Mask{W: lat, H: lat, Soft: make([]float32, hw)}
	n, reason := softMap(D, lat, s)
	m.Reason = reason
	for i, v := range n {
		m.Soft[i] = float32(v)
	}
	m.Stats = e.stats(r)
	return m, nil
}

// softMap turns the difference map D (lat×lat) into N in the order
// s.MaskNormalize says, or gives the reason the mask is empty.
func softMap(D []float64, lat int, s Settings) ([]float64, string) {
	norm, ok := minMax(D)
	if !ok {
		if s.S3 == 0 {
			return nil, "s3 is 0, so the text has no effect and there is nothing to mask"
		}
		return nil, "the source and target prompts give the same prediction everywhere"
	}
	if s.MaskNormalize == MaskBlurThenNormalize { // N = minmax(blur(D)): λ relative to the blurred peak
		if norm, ok = minMax(GaussianBlur(D, lat, lat, s.BlurKernel)); !ok {
			return nil, "the blurred difference map is flat; try another blur kernel or the paper's normalisation order"
		}
		return norm, ""
	}
	return GaussianBlur(norm, lat, lat, s.BlurKernel), "" // the paper: N = blur(minmax(D))
}

// minMax returns (v − min v)/(max v − min v), or false when v is flat.
func minMax(v []float64) ([]float64, bool) {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if !(hi > lo) {
		return nil, false
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = (x - lo) / (hi - lo)
	}
	return out, true
}

// maskSeed returns d_seed / (mean over channels |z − z′|) for one seed. With
// tn nil it uses the two-evaluation shortcut; otherwise (a scheduler whose
// step is not affine in ε) it steps both guided predictions literally.
func (e *Engine) maskSeed(j *job, enc *Encoded, s Settings, idx, seed int, tn, ta, tb []float32) ([]float64, error) {
	fresh := func() (scheduler.Scheduler, float64, error) {
		sc, err := e.newScheduler(s, idx)
		if err != nil {
			return nil, 0, err
		}
		return sc, sc.Timesteps()[idx], nil
	}
	sc, t, err := fresh()
	if err != nil {
		return nil, err
	}
	n := len(enc.Z0)
	nz, err := s.maskNoise(seed, n)
	if err != nil {
		return nil, err
	}
	zt := sc.AddNoise(enc.Z0, nz, t)
	zin := sc.ScaleModelInput(zt, t)
	j.where = fmt.Sprintf("at mask seed %d of %d (t=%g)", seed+1, s.MaskSeeds, t)
	var stepNoise []float32
	if sc.NeedsNoise() {
		stepNoise = noise(s.Seed, 1<<32+uint64(seed), n) // cancels in z − z′
	}
	// epsA and epsB are what the two fresh steps get: s3·Δε and 0 for the
	// shortcut, ε̃(p_b) and ε̃(p_a) for the literal computation.
	var epsA, epsB []float32
	if tn == nil {
		eps, err := e.evalUNet(j, zin, t, []cond{
			{spatial: enc.CS, tokens: enc.Tokens, text: ta},
			{spatial: enc.CS, tokens: enc.Tokens, text: tb},
		})
		if err != nil {
			return nil, err
		}
		epsA, epsB = make([]float32, n), make([]float32, n)
		s3 := float32(s.S3)
		for i := range epsA {
			epsA[i] = s3 * (eps[1][i] - eps[0][i])
		}
	} else {
		conds := []cond{{spatial: enc.CSNull, tokens: enc.TokensNull, text: tn}}
		if e.Sig.Kind == models.KindMCDM {
			conds = append(conds, cond{spatial: enc.CSNull, tokens: enc.Tokens, text: tn})
		}
		conds = append(conds, cond{spatial: enc.CS, tokens: enc.Tokens, text: tn},
			cond{spatial: enc.CS, tokens: enc.Tokens, text: ta}, cond{spatial: enc.CS, tokens: enc.Tokens, text: tb})
		eps, err := e.evalUNet(j, zin, t, conds)
		if err != nil {
			return nil, err
		}
		k := len(conds) - 3 // eps[k] is (c_im,c_s,∅), then p_a, then p_b
		e1 := eps[0]        // ip2p: no image tokens, the s1 term vanishes
		if e.Sig.Kind == models.KindMCDM {
			e1 = eps[1]
		}
		epsA, epsB = make([]float32, n), make([]float32, n)
		s1, s2, s3 := float32(s.S1), float32(s.S2), float32(s.S3)
		guide(epsA, eps[0], e1, eps[k], eps[k+2], s1, s2, s3) // ε̃(p_b)
		guide(epsB, eps[0], e1, eps[k], eps[k+1], s1, s2, s3) // ε̃(p_a)
	}
	za, err := sc.Step(epsA, t, zt, stepNoise)
	if err != nil {
		return nil, err
	}
	sc0, _, err := fresh()
	if err != nil {
		return nil, err
	}
	z0, err := sc0.Step(epsB, t, zt, stepNoise)
	if err != nil {
		return nil, err
	}
	hw := n / 4
	d := make([]float64, hw)
	for c := 0; c < 4; c++ {
		for i := 0; i < hw; i++ {
			d[i] += math.Abs(float64(za[c*hw+i])-float64(z0[c*hw+i])) / 4
		}
	}
	return d, nil
}

// GaussianBlur blurs a w×h map as OpenCV's cv2.GaussianBlur(src, (k, k), 0)
// does: a separable kernel from getGaussianKernel(k, 0) and reflect-101
// borders (BORDER_DEFAULT: … c b | a b c …). k must be odd; k = 1 copies.
func GaussianBlur(src []float64, w, h, k int) []float64 {
	if k <= 1 {
		return append([]float64(nil), src...)
	}
	kern := GaussianKernel(k)
	r := k / 2
	tmp := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for i, kv := range kern {
				acc += kv * src[y*w+reflect101(x+i-r, w)]
			}
			tmp[y*w+x] = acc
		}
	}
	out := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for i, kv := range kern {
				acc += kv * tmp[reflect101(y+i-r, h)*w+x]
			}
			out[y*w+x] = acc
		}
	}
	return out
}

// smallGaussian are OpenCV's fixed kernels for odd k ≤ 7 with σ ≤ 0
// (getGaussianKernel's small_gaussian_tab), indexed by k/2.
var smallGaussian = [4][]float64{
	{1},
	{0.25, 0.5, 0.25},
	{0.0625, 0.25, 0.375, 0.25, 0.0625},
	{0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125},
}

// GaussianKernel is OpenCV's getGaussianKernel(k, 0) for odd k: the fixed
// tables for k ≤ 7, else exp(−x²/2σ²) normalised, σ = 0.3·((k−1)·0.5 − 1) + 0.8.
func GaussianKernel(k int) []float64 {
	if k%2 == 1 && k <= 7 {
		return append([]float64(nil), smallGaussian[k/2]...)
	}
	sigma := 0.3*(float64(k-1)*0.5-1) + 0.8
	scale := -0.5 / (sigma * sigma)
	kern := make([]float64, k)
	var sum float64
	for i := range kern {
		x := float64(i) - float64(k-1)*0.5
		kern[i] = math.Exp(scale * x * x)
		sum += kern[i]
	}
	inv := 1 / sum // OpenCV multiplies by the reciprocal
	for i := range kern {
		kern[i] *= inv
	}
	return kern
}

// reflect101 is OpenCV's borderInterpolate for BORDER_REFLECT_101: it
// mirrors p into [0, n) without repeating the edge, as often as needed.
func reflect101(p, n int) int {
	if n == 1 {
		return 0
	}
	for p < 0 || p >= n {
		if p < 0 {
			p = -p
		} else {
			p = 2*(n-1) - p
		}
	}
	return p
}

// Stats are one job's counters.
type Stats struct {
	UNetEvals map[string]int           `json:"unet_evals"` // branch evaluations per phase
	Phases    map[string]time.Duration `json:"phase_ns"`
	PhaseORT  map[string]time.Duration `json:"phase_in_ort_ns"` // inside ONNX Runtime, per phase
	Wall      time.Duration            `json:"wall_ns"`
	InORT     time.Duration            `json:"in_ort_ns"` // inside ONNX Runtime
}

// Outside is the wall time spent outside ONNX Runtime.
func (s Stats) Outside() time.Duration { return s.Wall - s.InORT }

// TotalEvals sums UNet evaluations over phases.
func (s Stats) TotalEvals() int {
	n := 0
	for _, v := range s.UNetEvals {
		n += v
	}
	return n
}

func newStats(j *job, start time.Time, inORT time.Duration) Stats {
	wall := time.Since(start)
	return Stats{UNetEvals: j.evals, Phases: map[string]time.Duration{j.phase: wall}, PhaseORT: map[string]time.Duration{j.phase: inORT}, Wall: wall, InORT: inORT}
}

func (s Stats) String() string {
	return fmt.Sprintf("%d unet evals, %v wall, %v in onnx runtime", s.TotalEvals(), s.Wall.Round(time.Millisecond), s.InORT.Round(time.Millisecond))
}
