package scheduler

import (
	"fmt"
	"math"
	"slices"
)

// dpm ports DPMSolverMultistepScheduler for algorithm_type dpmsolver++ and
// solver_order 2 (DPM-Solver++ 2M).
type dpm struct {
	p     *Config
	train trainSchedule
	run

	prev, cur []float32 // converted outputs m1 and m0
	lowerNums int
}

func newDPM(p *Config) (*dpm, error) {
	if err := refuse(p, "thresholding", "use_exponential_sigmas", "use_beta_sigmas", "use_flow_sigmas",
		"use_lu_lambdas", "variance_type"); err != nil {
		return nil, err
	}
	switch p.AlgorithmType {
	case "dpmsolver++":
	case "deis":
		p.AlgorithmType = "dpmsolver++" // diffusers remaps it
	default:
		return nil, fmt.Errorf("%w: key %q: %q (only dpmsolver++ is implemented)", ErrUnsupported, "algorithm_type", p.AlgorithmType)
	}
	switch p.SolverType {
	case "midpoint", "heun":
	case "logrho", "bh1", "bh2":
		p.SolverType = "midpoint" // diffusers remaps UniPC names
	default:
		return nil, fmt.Errorf("%w: key %q: %q is not one of midpoint, heun", ErrUnsupported, "solver_type", p.SolverType)
	}
	train, err := newMultistepSchedule(p)
	if err != nil {
		return nil, err
	}
	s := &dpm{p: p, train: train}
	s.resetIndices()
	return s, nil
}

func (s *dpm) SetTimesteps(n int) error {
	N := s.p.NumTrainTimesteps
	if err := checkSteps(n, N); err != nil {
		return err
	}
	// searchsorted(flip(lambda_t), lambda_min_clipped): lambdas ascending.
	clipped := 0
	for clipped < N && lambda(s.train.sigmas[N-1-clipped]) < s.p.LambdaMinClipped {
		clipped++
	}
	lastT := N - clipped
	if lastT < 1 {
		return fmt.Errorf("%w: key %q: %v clips every timestep", ErrUnsupported, "lambda_min_clipped", s.p.LambdaMinClipped)
	}
	ts, err := spacedTimesteps(s.p.TimestepSpacing, N, lastT, n, s.p.StepsOffset)
	if err != nil {
		return err
	}
	var sigmas []float64
	last := 0.0
	if s.p.UseKarrasSigmas {
		d := newDiffusersSigmas(s.p, N)
		lo, hi := karrasEnds(d, s.p, false)
		ts, sigmas = karrasSchedule(d, lo, hi, n, s.p.BetaSchedule != "squaredcos_cap_v2")
		if s.p.FinalSigmasType == "sigma_min" {
			last = float64(d.sigmas[0]) // the float32 training sigma, as diffusers has it
		}
	} else {
		for _, t := range ts {
			sigmas = append(sigmas, npInterp(t, s.train.sigmas))
		}
		if s.p.FinalSigmasType == "sigma_min" {
			last = s.train.sigmas[0]
		}
	}
	if err := checkDistinctSigmas(ts, sigmas, n); err != nil {
		return err
	}
	s.timesteps, s.sigmas = ts, append(sigmas, last)
	s.Reset()
	return nil
}

func (s *dpm) Reset() {
	s.resetIndices()
	s.lowerNums = 0
}

func (s *dpm) Timesteps() []float64                             { return slices.Clone(s.timesteps) }
func (s *dpm) Sigmas() []float64                                { return slices.Clone(s.sigmas) }
func (s *dpm) SetBeginIndex(i int)                              { s.beginIndex = i }
func (s *dpm) InitNoiseSigma() float64                          { return 1 }
func (s *dpm) NeedsNoise() bool                                 { return false }
func (s *dpm) AlphasCumprod() []float64                         { return slices.Clone(s.train.alphasCumprod) }
func (s *dpm) ScaleModelInput(x []float32, _ float64) []float32 { return x }

func (s *dpm) AddNoise(x0, noise []float32, t float64) []float32 {
	return addNoiseVP(x0, noise, s.sigmas, s.noiseIndex(t))
}

func (s *dpm) Step(eps []float32, t float64, x []float32, _ []float32) ([]float32, error) {
	if s.timesteps == nil {
		return nil, fmt.Errorf("%w: SetTimesteps was not called", ErrStep)
	}
	if err := checkLens(eps, x); err != nil {
		return nil, err
	}
	if s.stepIndex < 0 {
		s.initStepIndex(t)
	}
	i, n := s.stepIndex, len(s.timesteps)
	if i < 0 || i >= n {
		return nil, fmt.Errorf("%w: step index %d outside the %d timesteps", ErrStep, i, n)
	}
	lowerFinal := i == n-1 && (s.p.EulerAtFinal || (s.p.LowerOrderFinal && n < 15) || s.p.FinalSigmasType == "zero")
	lowerSecond := i == n-2 && s.p.LowerOrderFinal && n < 15

	// Rotate m1 <- m0 and convert into the freed buffer.
	s.prev, s.cur = s.cur, s.prev
	if len(s.cur) != len(x) {
		s.cur = make([]float32, len(x))
	}
	alphaS0, sigmaS0 := alphaSigma(s.sigmas[i])
	convertOutput(s.cur, eps, x, alphaS0, sigmaS0, s.p.PredictionType, true)

	alphaT, sigmaT := alphaSigma(s.sigmas[i+1])
	lambdaT := math.Log(alphaT) - math.Log(sigmaT)
	lambdaS0 := math.Log(alphaS0) - math.Log(sigmaS0)
	h := lambdaT - lambdaS0
	cx, c0 := sigmaT/sigmaS0, -alphaT*(math.Exp(-h)-1)

	out := make([]float32, len(x))
	m0 := s.cur
	if s.lowerNums < 1 || lowerFinal {
		for k := range out {
			out[k] = float32(cx*float64(x[k]) + c0*float64(m0[k]))
		}
	} else {
		_ = lowerSecond // with solver_order 2 the second-order branch is taken either way
		m1 := s.prev
		lambdaS1 := lambda(s.sigmas[i-1])
		r0 := (lambdaS0 - lambdaS1) / h
		inv := 1 / r0
		var c1 float64
		if s.p.SolverType == "midpoint" {
			c1 = -0.5 * (alphaT * (math.Exp(-h) - 1))
		} else {
			c1 = alphaT * ((math.Exp(-h)-1)/h + 1)
		}
		for k := range out {
			d1 := inv * (float64(m0[k]) - float64(m1[k]))
			out[k] = float32(cx*float64(x[k]) + c0*float64(m0[k]) + c1*d1)
		}
	}
	if s.lowerNums < 2 {
		s.lowerNums++
	}
	s.stepIndex++
	return out, nil
}
