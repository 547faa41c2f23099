package scheduler

import (
	"fmt"
	"math"
	"slices"
)

// ddim ports DDIMScheduler with eta = 0 (deterministic).
type ddim struct {
	p          *Config
	train      trainSchedule
	finalAlpha float64
	timesteps  []float64
	numSteps   int // num_inference_steps as passed, not len(timesteps)
}

func newDDIM(p *Config) (*ddim, error) {
	if err := refuse(p, "thresholding"); err != nil {
		return nil, err
	}
	if err := checkPrediction(p); err != nil {
		return nil, err
	}
	if p.TimestepSpacing != "linspace" && p.TimestepSpacing != "leading" && p.TimestepSpacing != "trailing" {
		return nil, fmt.Errorf("%w: key %q: %q is not one of linspace, leading, trailing",
			ErrUnsupported, "timestep_spacing", p.TimestepSpacing)
	}
	train, err := newTrainSchedule(p)
	if err != nil {
		return nil, err
	}
	p.NumTrainTimesteps = len(train.alphasCumprod)
	s := &ddim{p: p, train: train, finalAlpha: train.alphasCumprod[0]}
	if p.SetAlphaToOne {
		s.finalAlpha = 1
	}
	return s, nil
}

func (s *ddim) SetTimesteps(n int) error {
	N := s.p.NumTrainTimesteps
	if err := checkSteps(n, N); err != nil {
		return err
	}
	var ts []float64
	switch s.p.TimestepSpacing {
	case "linspace":
		v := npLinspace(0, float64(N-1), n)
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, math.RoundToEven(v[i]))
		}
	case "leading":
		ratio := N / n
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, float64(i*ratio+s.p.StepsOffset))
		}
	case "trailing":
		for _, v := range npArange(float64(N), 0, -float64(N)/float64(n)) {
			ts = append(ts, math.RoundToEven(v)-1)
		}
	}
	// diffusers accepts these and raises IndexError at the first step (e.g.
	// leading spacing, steps_offset 1 and 1000 steps starts at t=1000).
	for _, t := range ts {
		if _, err := s.acp(t); err != nil {
			return fmt.Errorf("%w: %d steps with %s spacing and steps_offset %d: %v",
				ErrSteps, n, s.p.TimestepSpacing, s.p.StepsOffset, err)
		}
	}
	s.timesteps, s.numSteps = ts, n
	return nil
}

// acp indexes alphas_cumprod with Python semantics (negative from the end).
func (s *ddim) acp(t float64) (float64, error) {
	a := s.train.alphasCumprod
	i := int(t)
	if float64(i) != t {
		return 0, fmt.Errorf("timestep %v is not an integer", t)
	}
	if i < 0 {
		i += len(a)
	}
	if i < 0 || i >= len(a) {
		return 0, fmt.Errorf("timestep %v outside the %d training timesteps", t, len(a))
	}
	return a[i], nil
}

func (s *ddim) Timesteps() []float64                             { return slices.Clone(s.timesteps) }
func (s *ddim) Sigmas() []float64                                { return nil }
func (s *ddim) SetBeginIndex(int)                                {} // DDIM indexes by timestep value
func (s *ddim) InitNoiseSigma() float64                          { return 1 }
func (s *ddim) NeedsNoise() bool                                 { return false }
func (s *ddim) AlphasCumprod() []float64                         { return slices.Clone(s.train.alphasCumprod) }
func (s *ddim) ScaleModelInput(x []float32, _ float64) []float32 { return x }
func (s *ddim) Reset()                                           {} // stateless between steps

// AddNoise is sqrt(acp[t])*x0 + sqrt(1-acp[t])*noise. An out-of-range t
// yields NaNs (the interface has no error; diffusers raises).
func (s *ddim) AddNoise(x0, noise []float32, t float64) []float32 {
	a, err := s.acp(t)
	if err != nil {
		a = math.NaN()
	}
	sa, sb := math.Sqrt(a), math.Sqrt(1-a)
	mustSameLen(x0, noise)
	out := make([]float32, len(x0))
	for i := range out {
		out[i] = float32(sa*float64(x0[i]) + sb*float64(noise[i]))
	}
	return out
}

func (s *ddim) Step(eps []float32, t float64, x []float32, _ []float32) ([]float32, error) {
	if s.timesteps == nil {
		return nil, fmt.Errorf("%w: SetTimesteps was not called", ErrStep)
	}
	if err := checkLens(eps, x); err != nil {
		return nil, err
	}
	prevT := t - float64(s.p.NumTrainTimesteps/s.numSteps)
	aT, err := s.acp(t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStep, err)
	}
	aPrev := s.finalAlpha
	if prevT >= 0 {
		if aPrev, err = s.acp(prevT); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStep, err)
		}
	}
	bT := 1 - aT
	sqA, sqB, sqPrev, dir := math.Sqrt(aT), math.Sqrt(bT), math.Sqrt(aPrev), math.Sqrt(1-aPrev)
	clip, lim := s.p.ClipSample, s.p.ClipSampleRange
	out := make([]float32, len(x))
	for i := range out {
		e, xs := float64(eps[i]), float64(x[i])
		var x0, pe float64
		switch s.p.PredictionType {
		case "epsilon":
			x0, pe = (xs-sqB*e)/sqA, e
		case "sample":
			x0 = e
			pe = (xs - sqA*x0) / sqB
		default: // v_prediction
			x0, pe = sqA*xs-sqB*e, sqA*e+sqB*xs
		}
		if clip {
			x0 = math.Max(-lim, math.Min(lim, x0))
		}
		out[i] = float32(sqPrev*x0 + dir*pe)
	}
	return out, nil
}

// FinalAlphaCumprod is the ᾱ a DDIM run ends at, after its last step: 1 with
// set_alpha_to_one, else ᾱ_0 (diffusers' final_alpha_cumprod). A DDIM
// inversion starts from the input latent at this level.
func FinalAlphaCumprod(cfg Config) (float64, error) {
	s, err := newDDIM(resolve(ddimDefaults(), cfg))
	if err != nil {
		return 0, err
	}
	return s.finalAlpha, nil
}
