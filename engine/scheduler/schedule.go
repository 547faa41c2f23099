package scheduler

import (
	"fmt"
	"math"
)

// trainSchedule is the training noise schedule every scheduler builds in its
// constructor. Values are float64; diffusers keeps them in float32, which
// the golden tolerances absorb.
type trainSchedule struct {
	alphasCumprod []float64
	sigmas        []float64 // sqrt((1-acp)/acp), increasing with t
}

// maxTrainTimesteps bounds the training schedule so that a hostile config
// cannot make New allocate without limit; real models use 1000.
const maxTrainTimesteps = 100000

func newTrainSchedule(p *Config) (trainSchedule, error) {
	n := p.NumTrainTimesteps
	if p.TrainedBetas != nil {
		n = len(p.TrainedBetas)
	}
	if n < 1 || n > maxTrainTimesteps {
		return trainSchedule{}, fmt.Errorf("%w: key %q: %d training timesteps, want 1 to %d",
			ErrUnsupported, "num_train_timesteps", n, maxTrainTimesteps)
	}
	var betas []float64
	switch {
	case p.TrainedBetas != nil:
		betas = append([]float64(nil), p.TrainedBetas...)
	case p.BetaSchedule == "linear":
		betas = torchLinspace(p.BetaStart, p.BetaEnd, n)
	case p.BetaSchedule == "scaled_linear":
		betas = torchLinspace(math.Sqrt(p.BetaStart), math.Sqrt(p.BetaEnd), n)
		for i, b := range betas {
			betas[i] = b * b
		}
	case p.BetaSchedule == "squaredcos_cap_v2":
		betas = betasForAlphaBar(n, 0.999)
	default:
		return trainSchedule{}, fmt.Errorf("%w: key %q: %q is not one of linear, scaled_linear, squaredcos_cap_v2",
			ErrUnsupported, "beta_schedule", p.BetaSchedule)
	}
	if p.RescaleBetasZeroSNR {
		betas = rescaleZeroTerminalSNR(betas)
	}
	acp := make([]float64, n)
	prod := 1.0
	for i, b := range betas {
		prod *= 1 - b
		acp[i] = prod
	}
	if p.RescaleBetasZeroSNR {
		// diffusers: close to 0 without being 0 so the first sigma is finite.
		acp[n-1] = math.Pow(2, -24)
	}
	s := trainSchedule{alphasCumprod: acp, sigmas: make([]float64, n)}
	for i, a := range acp {
		s.sigmas[i] = math.Sqrt((1 - a) / a)
	}
	return s, nil
}

// torchLinspace mirrors torch.linspace, which fills the second half from the
// end so that the last element is exact.
func torchLinspace(start, end float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float64(n-1)
	half := n / 2
	for i := range out {
		if i < half {
			out[i] = start + float64(i)*step
		} else {
			out[i] = end - float64(n-1-i)*step
		}
	}
	return out
}

func betasForAlphaBar(n int, maxBeta float64) []float64 {
	alphaBar := func(t float64) float64 {
		c := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	out := make([]float64, n)
	for i := range out {
		t1 := float64(i) / float64(n)
		t2 := float64(i+1) / float64(n)
		out[i] = math.Min(1-alphaBar(t2)/alphaBar(t1), maxBeta)
	}
	return out
}

// rescaleZeroTerminalSNR is Algorithm 1 of arXiv:2305.08891.
func rescaleZeroTerminalSNR(betas []float64) []float64 {
	n := len(betas)
	sq := make([]float64, n)
	prod := 1.0
	for i, b := range betas {
		prod *= 1 - b
		sq[i] = math.Sqrt(prod)
	}
	first, last := sq[0], sq[n-1]
	for i := range sq {
		sq[i] = (sq[i] - last) * (first / (first - last))
	}
	out := make([]float64, n)
	for i := range sq {
		ab := sq[i] * sq[i]
		if i == 0 {
			out[i] = 1 - ab
			continue
		}
		prev := sq[i-1] * sq[i-1]
		out[i] = 1 - ab/prev
	}
	return out
}

// npLinspace mirrors numpy.linspace(start, stop, num) with endpoint=True.
func npLinspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	if num == 0 {
		return out
	}
	if num == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}

// npArange mirrors numpy.arange(start, stop, step) for floats, including
// its length rule ceil((stop-start)/step) and its fill rule start+i*delta
// with delta = (start+step)-start. The length rule can yield one element
// more than expected (e.g. trailing spacing with 61 steps); diffusers keeps
// that extra timestep, and so do we.
func npArange(start, stop, step float64) []float64 {
	n := int(math.Ceil((stop - start) / step))
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	out[0] = start
	if n > 1 {
		delta := (start + step) - start
		for i := 1; i < n; i++ {
			out[i] = start + float64(i)*delta
		}
	}
	return out
}

// npInterp mirrors numpy.interp(x, arange(len(fp)), fp).
func npInterp(x float64, fp []float64) float64 {
	last := len(fp) - 1
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case x <= 0:
		return fp[0]
	case x >= float64(last):
		return fp[last]
	}
	j := int(math.Floor(x))
	slope := fp[j+1] - fp[j]
	return slope*(x-float64(j)) + fp[j]
}

// karrasEnds are _convert_to_karras's sigma_min and sigma_max: the ends of
// the float32 training sigmas unless the config sets sigma_min or sigma_max
// (UniPC's keys; DPMSolverMultistepScheduler has none).
func karrasEnds(d diffusersSigmas, p *Config, useKeys bool) (lo, hi float64) {
	lo, hi = float64(d.sigmas[0]), float64(d.sigmas[len(d.sigmas)-1])
	if useKeys && p.IsSet("sigma_min") {
		lo = p.SigmaMin
	}
	if useKeys && p.IsSet("sigma_max") {
		hi = p.SigmaMax
	}
	return lo, hi
}

// karrasSigmas mirrors _convert_to_karras (rho = 7).
func karrasSigmas(sigmaMin, sigmaMax float64, n int) []float64 {
	const rho = 7.0
	ramp := npLinspace(0, 1, n)
	minInv := math.Pow(sigmaMin, 1/rho)
	maxInv := math.Pow(sigmaMax, 1/rho)
	out := make([]float64, n)
	for i, r := range ramp {
		out[i] = math.Pow(maxInv+r*(minInv-maxInv), rho)
	}
	return out
}

// spacedTimesteps returns the integer timesteps of the linspace, leading and
// trailing spacings shared by UniPC and DPM-Solver (diffusers' multistep
// form: linspace over num+1 points minus the last; leading divides by num+1).
func spacedTimesteps(spacing string, numTrain, lastTimestep, num, stepsOffset int) ([]float64, error) {
	var ts []float64
	switch spacing {
	case "linspace":
		v := npLinspace(0, float64(lastTimestep-1), num+1)
		for i := num; i >= 1; i-- {
			ts = append(ts, math.Trunc(math.RoundToEven(v[i])))
		}
	case "leading":
		ratio := lastTimestep / (num + 1)
		for i := num; i >= 1; i-- {
			ts = append(ts, float64(i*ratio+stepsOffset))
		}
	case "trailing":
		ratio := float64(numTrain) / float64(num)
		for _, v := range npArange(float64(lastTimestep), 0, -ratio) {
			ts = append(ts, math.Trunc(math.RoundToEven(v))-1)
		}
	default:
		return nil, fmt.Errorf("%w: key %q: %q is not one of linspace, leading, trailing",
			ErrUnsupported, "timestep_spacing", spacing)
	}
	return ts, nil
}

// diffusersSigmas holds the training sigmas as diffusers' set_timesteps sees
// them: torch builds the betas and alphas_cumprod in float32, so sigmas and
// log_sigmas are float32 arrays. The Karras timesteps come from these:
// computed from the float64 schedule instead, 277 of the step counts 1..1000
// would round some timestep the other way (SD 1.5's schedule).
type diffusersSigmas struct {
	sigmas, logSigmas []float32
}

// newDiffusersSigmas reproduces diffusers' float32 training tables: betas as
// torch makes them (torchLinspace32), alphas = 1 - betas in float32,
// alphas_cumprod by torch.cumprod (a float64 running product stored as
// float32), sigmas = sqrt((1 - acp)/acp) in float32 and np.log of those.
// Checked bit for bit against torch 1.13 on x86-64 (AVX2) for SD 1.5's
// schedule; the zero-SNR rescale is computed in float64 and rounded.
func newDiffusersSigmas(p *Config, n int) diffusersSigmas {
	betas := make([]float32, n)
	switch {
	case p.TrainedBetas != nil:
		for i, b := range p.TrainedBetas {
			betas[i] = float32(b)
		}
	case p.BetaSchedule == "linear":
		betas = torchLinspace32(float32(p.BetaStart), float32(p.BetaEnd), n)
	case p.BetaSchedule == "scaled_linear":
		betas = torchLinspace32(float32(math.Sqrt(p.BetaStart)), float32(math.Sqrt(p.BetaEnd)), n)
		for i, b := range betas {
			betas[i] = b * b
		}
	default: // squaredcos_cap_v2: float64 betas stored as float32
		for i, b := range betasForAlphaBar(n, 0.999) {
			betas[i] = float32(b)
		}
	}
	if p.RescaleBetasZeroSNR {
		b64 := make([]float64, n)
		for i, b := range betas {
			b64[i] = float64(b)
		}
		for i, b := range rescaleZeroTerminalSNR(b64) {
			betas[i] = float32(b)
		}
	}
	d := diffusersSigmas{sigmas: make([]float32, n), logSigmas: make([]float32, n)}
	prod := 1.0
	for i, b := range betas {
		prod *= float64(1 - b)
		acp := float32(prod)
		if p.RescaleBetasZeroSNR && i == n-1 {
			acp = float32(math.Pow(2, -24))
		}
		d.sigmas[i] = float32(math.Sqrt(float64((1 - acp) / acp)))
		d.logSigmas[i] = float32(math.Log(float64(d.sigmas[i])))
	}
	return d
}

// torchLinspace32 mirrors torch.linspace(start, end, n, dtype=float32) on a
// CPU with AVX2 and FMA: the step is a float32 quotient; values come in
// 8-wide vectors, two at a time, each anchored at its first index from the
// start (first half) or from the end (second half), the rest one by one;
// the compiler fuses every multiply-add.
func torchLinspace32(start, end float32, n int) []float32 {
	out := make([]float32, n)
	if n == 1 {
		out[0] = start
		return out
	}
	fma := func(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }
	step := (end - start) / float32(n-1)
	half := n / 2
	at := func(i int) float32 {
		if i < half {
			return fma(step, float32(i), start)
		}
		return fma(-step, float32(n-1-i), end)
	}
	const w = 8
	vec := n / (2 * w) * 2 * w
	for i := range out {
		if i >= vec {
			out[i] = at(i)
			continue
		}
		i0 := i - i%w
		out[i] = fma(float32(i-i0), step, at(i0))
	}
	return out
}

// karrasSchedule is the use_karras_sigmas branch of diffusers' UniPC and
// DPM-Solver set_timesteps: Karras sigmas between sigmaMin and sigmaMax
// (see karrasEnds), each mapped back to a timestep by _sigma_to_t over the
// float32 log-sigmas and rounded half to even (unless round is false). The
// sigmas stay float64, as numpy computes them in _convert_to_karras: the
// steps' arithmetic is float64 here, and a float32 copy of each sigma put
// a relative error of up to 4e-6 into the trajectory.
func karrasSchedule(d diffusersSigmas, sigmaMin, sigmaMax float64, n int, round bool) (ts, sigmas []float64) {
	sigmas = karrasSigmas(sigmaMin, sigmaMax, n)
	ts = make([]float64, n)
	for i, sg := range sigmas {
		t := sigmaToT32(sg, d.logSigmas)
		switch {
		case round:
			t = math.RoundToEven(t)
		case math.Abs(t-math.Round(t)) < 1e-6:
			// Without rounding (squaredcos_cap_v2) the cast truncates, so
			// the ends (sigma_max, sigma_min: table values) would land on
			// 998.99999 or 999 by the last bit of a float32 log, which numpy
			// computes its own way. A table sigma maps to its own timestep.
			t = math.Round(t)
		}
		ts[i] = math.Trunc(t) // the int64 cast
		sigmas[i] = sg
	}
	return ts, sigmas
}

// sigmaToT32 mirrors EulerDiscreteScheduler._sigma_to_t, a log-sigma
// interpolation back to a fractional training timestep, with numpy's types: log_sigma is float64,
// log_sigmas float32, so low − log_sigma is float64 but low − high float32.
func sigmaToT32(sigma float64, logSigmas []float32) float64 {
	logSigma := math.Log(math.Max(sigma, 1e-10))
	low := 0
	for i, ls := range logSigmas {
		if logSigma >= float64(ls) {
			low = i
		}
	}
	low = min(low, len(logSigmas)-2)
	lo, hi := logSigmas[low], logSigmas[low+1]
	w := (float64(lo) - logSigma) / float64(lo-hi)
	w = math.Max(0, math.Min(1, w))
	return (1-w)*float64(low) + w*float64(low+1)
}
