package scheduler

import (
	"fmt"
	"math"
	"slices"
)

// eulerAncestral ports EulerAncestralDiscreteScheduler. Its timesteps are
// float32 values, as diffusers stores them.
type eulerAncestral struct {
	p     *Config
	train trainSchedule
	run
}

func newEulerAncestral(p *Config) (*eulerAncestral, error) {
	switch p.PredictionType {
	case "epsilon", "v_prediction":
	default:
		// diffusers raises NotImplementedError for "sample".
		return nil, fmt.Errorf("%w: key %q: %q is not one of epsilon, v_prediction", ErrUnsupported, "prediction_type", p.PredictionType)
	}
	switch p.TimestepSpacing {
	case "linspace", "leading", "trailing":
	default:
		return nil, fmt.Errorf("%w: key %q: %q is not one of linspace, leading, trailing",
			ErrUnsupported, "timestep_spacing", p.TimestepSpacing)
	}
	train, err := newTrainSchedule(p)
	if err != nil {
		return nil, err
	}
	p.NumTrainTimesteps = len(train.alphasCumprod)
	s := &eulerAncestral{p: p, train: train}
	s.resetIndices()
	// Before SetTimesteps diffusers holds the full reversed training sigmas.
	n := len(train.sigmas)
	s.sigmas = make([]float64, 0, n+1)
	for i := n - 1; i >= 0; i-- {
		s.sigmas = append(s.sigmas, train.sigmas[i])
	}
	s.sigmas = append(s.sigmas, 0)
	return s, nil
}

func f32(v float64) float64 { return float64(float32(v)) }

func (s *eulerAncestral) SetTimesteps(n int) error {
	N := s.p.NumTrainTimesteps
	if err := checkSteps(n, N); err != nil {
		return err
	}
	var ts []float64
	switch s.p.TimestepSpacing {
	case "linspace":
		v := npLinspace(0, float64(N-1), n)
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, f32(v[i]))
		}
	case "leading":
		ratio := N / n
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, f32(float64(i*ratio))+float64(s.p.StepsOffset))
		}
	case "trailing":
		for _, v := range npArange(float64(N), 0, -float64(N)/float64(n)) {
			ts = append(ts, f32(math.RoundToEven(v))-1)
		}
	}
	sigmas := make([]float64, 0, len(ts)+1)
	for _, t := range ts {
		sigmas = append(sigmas, npInterp(t, s.train.sigmas))
	}
	s.timesteps, s.sigmas = ts, append(sigmas, 0)
	s.Reset()
	return nil
}

func (s *eulerAncestral) Reset()                   { s.resetIndices() }
func (s *eulerAncestral) Timesteps() []float64     { return slices.Clone(s.timesteps) }
func (s *eulerAncestral) Sigmas() []float64        { return slices.Clone(s.sigmas) }
func (s *eulerAncestral) SetBeginIndex(i int)      { s.beginIndex = i }
func (s *eulerAncestral) NeedsNoise() bool         { return true }
func (s *eulerAncestral) AlphasCumprod() []float64 { return slices.Clone(s.train.alphasCumprod) }

func (s *eulerAncestral) InitNoiseSigma() float64 {
	m := slices.Max(s.sigmas)
	if s.p.TimestepSpacing == "linspace" || s.p.TimestepSpacing == "trailing" {
		return m
	}
	return math.Sqrt(m*m + 1)
}

// indexFor mirrors EulerAncestral's index_for_timestep: the second match
// when t repeats; -1 when absent (diffusers raises IndexError).
func (s *eulerAncestral) indexFor(t float64) int {
	i := s.indexForTimestep(t)
	if s.timesteps == nil || s.timesteps[i] != t {
		return -1
	}
	return i
}

func (s *eulerAncestral) ensureIndex(t float64) error {
	if s.stepIndex >= 0 {
		return nil
	}
	if s.beginIndex >= 0 {
		s.stepIndex = s.beginIndex
		return nil
	}
	if i := s.indexFor(t); i >= 0 {
		s.stepIndex = i
		return nil
	}
	return fmt.Errorf("%w: timestep %v is not in the schedule", ErrStep, t)
}

// ScaleModelInput divides by sqrt(sigma^2+1). With an unknown timestep (no
// begin index) it returns a copy of x unscaled; Step reports the error.
func (s *eulerAncestral) ScaleModelInput(x []float32, t float64) []float32 {
	out := make([]float32, len(x))
	if s.timesteps == nil || s.ensureIndex(t) != nil || s.stepIndex >= len(s.sigmas) {
		copy(out, x)
		return out
	}
	sg := s.sigmas[s.stepIndex]
	d := math.Sqrt(sg*sg + 1)
	for i := range out {
		out[i] = float32(float64(x[i]) / d)
	}
	return out
}

func (s *eulerAncestral) AddNoise(x0, noise []float32, t float64) []float32 {
	var i int
	switch {
	case s.beginIndex < 0:
		i = s.indexFor(t)
	case s.stepIndex >= 0:
		i = s.stepIndex
	default:
		i = s.beginIndex
	}
	sg := math.NaN() // diffusers raises for a timestep outside the schedule
	if i >= 0 && i < len(s.sigmas) {
		sg = s.sigmas[i]
	}
	mustSameLen(x0, noise)
	out := make([]float32, len(x0))
	for k := range out {
		out[k] = float32(float64(x0[k]) + sg*float64(noise[k]))
	}
	return out
}

func (s *eulerAncestral) Step(eps []float32, t float64, x []float32, noise []float32) ([]float32, error) {
	if s.timesteps == nil {
		return nil, fmt.Errorf("%w: SetTimesteps was not called", ErrStep)
	}
	if err := checkLens(eps, x); err != nil {
		return nil, err
	}
	if noise == nil {
		return nil, fmt.Errorf("%w: Euler ancestral needs noise", ErrStep)
	}
	if len(noise) != len(x) {
		return nil, fmt.Errorf("%w: noise has %d values, sample has %d", ErrStep, len(noise), len(x))
	}
	if err := s.ensureIndex(t); err != nil {
		return nil, err
	}
	i := s.stepIndex
	if i+1 >= len(s.sigmas) {
		return nil, fmt.Errorf("%w: step index %d outside the %d timesteps", ErrStep, i, len(s.timesteps))
	}
	sigma, sigmaTo := s.sigmas[i], s.sigmas[i+1]
	sigmaUp := math.Sqrt(sigmaTo * sigmaTo * (sigma*sigma - sigmaTo*sigmaTo) / (sigma * sigma))
	sigmaDown := math.Sqrt(sigmaTo*sigmaTo - sigmaUp*sigmaUp)
	dt := sigmaDown - sigma
	vp := s.p.PredictionType == "v_prediction"
	cv, cs := -sigma/math.Sqrt(sigma*sigma+1), 1/(sigma*sigma+1)
	out := make([]float32, len(x))
	for k := range out {
		e, xs := float64(eps[k]), float64(x[k])
		x0 := xs - sigma*e
		if vp {
			x0 = e*cv + xs*cs
		}
		d := (xs - x0) / sigma
		out[k] = float32(xs + d*dt + float64(noise[k])*sigmaUp)
	}
	s.stepIndex++
	return out, nil
}
