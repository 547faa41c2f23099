package scheduler

import (
	"fmt"
	"math"
	"slices"
)

// uniPC ports UniPCMultistepScheduler (VP schedules, B(h) variants).
type uniPC struct {
	p     *Config
	train trainSchedule
	run

	// Model-output history, oldest first; the slots rotate, never realloc.
	outputs   [][]float32
	spare     []float32 // receives the next converted output
	lowerNums int
	thisOrder int
	last      []float32 // x_{t-1} for the corrector; nil when absent
	lastBuf   []float32
	corrBuf   []float32
	res       []float64 // scratch for the history sums
}

func (s *uniPC) resBuf(n int) []float64 {
	if len(s.res) != n {
		s.res = make([]float64, n)
	}
	return s.res
}

func newUniPC(p *Config) (*uniPC, error) {
	if err := refuse(p, "thresholding", "use_exponential_sigmas", "use_beta_sigmas", "use_flow_sigmas", "solver_p",
		"use_dynamic_shifting", "shift_terminal"); err != nil {
		return nil, err
	}
	switch p.SolverType {
	case "bh1", "bh2":
	case "midpoint", "heun", "logrho":
		p.SolverType = "bh2" // diffusers remaps DPM-Solver names
	default:
		return nil, fmt.Errorf("%w: key %q: %q is not one of bh1, bh2", ErrUnsupported, "solver_type", p.SolverType)
	}
	if p.SolverOrder < 1 || p.SolverOrder > 8 {
		return nil, fmt.Errorf("%w: key %q: %d, want 1 to 8", ErrUnsupported, "solver_order", p.SolverOrder)
	}
	train, err := newMultistepSchedule(p)
	if err != nil {
		return nil, err
	}
	s := &uniPC{p: p, train: train, outputs: make([][]float32, p.SolverOrder)}
	s.resetIndices()
	return s, nil
}

// newMultistepSchedule checks what UniPC and DPM-Solver share (prediction
// type, final sigma, spacing) and builds the training schedule.
func newMultistepSchedule(p *Config) (trainSchedule, error) {
	if err := checkPrediction(p); err != nil {
		return trainSchedule{}, err
	}
	if p.FinalSigmasType != "zero" && p.FinalSigmasType != "sigma_min" {
		return trainSchedule{}, fmt.Errorf("%w: key %q: %q is not one of zero, sigma_min", ErrUnsupported, "final_sigmas_type", p.FinalSigmasType)
	}
	if _, err := spacedTimesteps(p.TimestepSpacing, 1, 1, 1, 0); err != nil {
		return trainSchedule{}, err
	}
	train, err := newTrainSchedule(p)
	if err != nil {
		return trainSchedule{}, err
	}
	p.NumTrainTimesteps = len(train.alphasCumprod)
	return train, nil
}

func checkPrediction(p *Config) error {
	switch p.PredictionType {
	case "epsilon", "sample", "v_prediction":
		return nil
	}
	return fmt.Errorf("%w: key %q: %q is not one of epsilon, sample, v_prediction", ErrUnsupported, "prediction_type", p.PredictionType)
}

func (s *uniPC) SetTimesteps(n int) error {
	if err := checkSteps(n, s.p.NumTrainTimesteps); err != nil {
		return err
	}
	N := s.p.NumTrainTimesteps
	ts, err := spacedTimesteps(s.p.TimestepSpacing, N, N, n, s.p.StepsOffset)
	if err != nil {
		return err
	}
	var sigmas []float64
	if s.p.UseKarrasSigmas {
		d := newDiffusersSigmas(s.p, N)
		lo, hi := karrasEnds(d, s.p, true)
		ts, sigmas = karrasSchedule(d, lo, hi, n, true)
		last := 0.0
		if s.p.FinalSigmasType == "sigma_min" {
			last = sigmas[len(sigmas)-1]
		}
		sigmas = append(sigmas, last)
	} else {
		sigmas = make([]float64, 0, len(ts)+1)
		for _, t := range ts {
			sigmas = append(sigmas, npInterp(t, s.train.sigmas))
		}
		last := 0.0
		if s.p.FinalSigmasType == "sigma_min" {
			last = s.train.sigmas[0]
		}
		sigmas = append(sigmas, last)
	}
	if err := checkDistinctSigmas(ts, sigmas[:len(ts)], n); err != nil {
		return err
	}
	s.timesteps, s.sigmas = ts, sigmas
	s.Reset()
	return nil
}

func (s *uniPC) Reset() {
	s.resetIndices()
	s.lowerNums, s.thisOrder = 0, 0
	s.last = nil
}

func (s *uniPC) Timesteps() []float64                             { return slices.Clone(s.timesteps) }
func (s *uniPC) Sigmas() []float64                                { return slices.Clone(s.sigmas) }
func (s *uniPC) SetBeginIndex(i int)                              { s.beginIndex = i }
func (s *uniPC) InitNoiseSigma() float64                          { return 1 }
func (s *uniPC) NeedsNoise() bool                                 { return false }
func (s *uniPC) AlphasCumprod() []float64                         { return slices.Clone(s.train.alphasCumprod) }
func (s *uniPC) ScaleModelInput(x []float32, _ float64) []float32 { return x }

func (s *uniPC) AddNoise(x0, noise []float32, t float64) []float32 {
	return addNoiseVP(x0, noise, s.sigmas, s.noiseIndex(t))
}

// addNoiseVP is alpha*x0 + sigma_t*noise with s = sigmas[i]; an index
// outside the schedule (a bad begin index) gives NaNs, where diffusers
// raises IndexError.
func addNoiseVP(x0, noise []float32, sigmas []float64, i int) []float32 {
	mustSameLen(x0, noise)
	sigma := math.NaN()
	if i >= 0 && i < len(sigmas) {
		sigma = sigmas[i]
	}
	a, st := alphaSigma(sigma)
	out := make([]float32, len(x0))
	for i := range out {
		out[i] = float32(a*float64(x0[i]) + st*float64(noise[i]))
	}
	return out
}

// convert writes the data (predict_x0) or noise prediction into dst.
func (s *uniPC) convert(dst, eps, x []float32) {
	alpha, sigma := alphaSigma(s.sigmas[s.stepIndex])
	convertOutput(dst, eps, x, alpha, sigma, s.p.PredictionType, s.p.PredictX0)
}

// convertOutput is convert_model_output shared by UniPC and DPM-Solver++:
// every prediction type is dst = ce*eps + cx*x for some coefficients.
func convertOutput(dst, eps, x []float32, alpha, sigma float64, prediction string, toX0 bool) {
	var ce, cx float64
	switch {
	case toX0 && prediction == "epsilon":
		ce, cx = -sigma/alpha, 1/alpha
	case toX0 && prediction == "sample":
		ce, cx = 1, 0
	case toX0: // v_prediction
		ce, cx = -sigma, alpha
	case prediction == "epsilon":
		ce, cx = 1, 0
	case prediction == "sample":
		ce, cx = -alpha/sigma, 1/sigma
	default: // v_prediction to epsilon
		ce, cx = alpha, sigma
	}
	if cx == 0 {
		// Keep x out entirely so an inf/NaN sample cannot leak in via 0*x.
		for i := range dst {
			dst[i] = float32(ce * float64(eps[i]))
		}
		return
	}
	for i := range dst {
		dst[i] = float32(cx*float64(x[i]) + ce*float64(eps[i]))
	}
}

// combine returns sum_k w[k]*(ms[k][j] - m0[j]) for every j into res.
func combine(res []float64, w []float64, ms [][]float32, m0 []float32) {
	switch len(ms) {
	case 1:
		a, w0 := ms[0][:len(res)], w[0]
		for j := range res {
			res[j] = w0 * (float64(a[j]) - float64(m0[j]))
		}
	default:
		clear(res)
		for k, m := range ms {
			m, wk := m[:len(res)], w[k]
			for j := range res {
				res[j] += wk * (float64(m[j]) - float64(m0[j]))
			}
		}
	}
}

func (s *uniPC) Step(eps []float32, t float64, x []float32, _ []float32) ([]float32, error) {
	if s.timesteps == nil {
		return nil, fmt.Errorf("%w: SetTimesteps was not called", ErrStep)
	}
	if err := checkLens(eps, x); err != nil {
		return nil, err
	}
	if s.stepIndex < 0 {
		s.initStepIndex(t)
	}
	i := s.stepIndex
	if i < 0 || i >= len(s.timesteps) {
		return nil, fmt.Errorf("%w: step index %d outside the %d timesteps", ErrStep, i, len(s.timesteps))
	}
	order := s.p.SolverOrder
	useCorrector := i > 0 && !slices.Contains(s.p.DisableCorrector, i-1) && s.last != nil

	if len(s.spare) != len(x) {
		s.spare = make([]float32, len(x))
	}
	converted := s.spare
	s.convert(converted, eps, x)

	sample := x
	if useCorrector {
		if len(s.corrBuf) != len(x) {
			s.corrBuf = make([]float32, len(x))
		}
		// The history still excludes the new output here, as in diffusers.
		if err := s.correct(s.corrBuf, converted, s.last, x, s.thisOrder); err != nil {
			return nil, err
		}
		sample = s.corrBuf
	}
	// Rotate the history; the dropped oldest buffer becomes the spare.
	s.spare = s.outputs[0]
	copy(s.outputs, s.outputs[1:])
	s.outputs[order-1] = converted

	thisOrder := order
	if s.p.LowerOrderFinal {
		thisOrder = min(order, len(s.timesteps)-i)
	}
	s.thisOrder = min(thisOrder, s.lowerNums+1)
	if s.sigmas[i+1] == 0 {
		// A step onto sigma 0 divides by r_k = 0 at order 2 and up (h is
		// infinite), where diffusers returns inf/NaN (lower_order_final
		// false). Order 1 there is the exact limit: the x0 prediction.
		s.thisOrder = 1
	}

	if len(s.lastBuf) != len(x) {
		s.lastBuf = make([]float32, len(x))
	}
	copy(s.lastBuf, sample)
	s.last = s.lastBuf

	out := make([]float32, len(x))
	if err := s.predict(out, sample, s.thisOrder); err != nil {
		return nil, err
	}
	if s.lowerNums < order {
		s.lowerNums++
	}
	s.stepIndex++
	return out, nil
}

// bhCoefficients returns h_phi_1, B(h) and the right-hand side b of the
// UniPC order conditions, computed exactly as diffusers does.
func (s *uniPC) bhCoefficients(h float64, order int) (hPhi1, bh float64, b []float64) {
	hh := h
	if s.p.PredictX0 {
		hh = -h
	}
	hPhi1 = math.Expm1(hh)
	hPhiK := hPhi1/hh - 1
	if s.p.SolverType == "bh1" {
		bh = hh
	} else {
		bh = math.Expm1(hh)
	}
	fact := 1.0
	for i := 1; i <= order; i++ {
		b = append(b, hPhiK*fact/bh)
		fact *= float64(i + 1)
		hPhiK = hPhiK/hh - 1/fact
	}
	return hPhi1, bh, b
}

// vandermonde is R[i][k] = rks[k]^i, i < n.
func vandermonde(rks []float64, n int) [][]float64 {
	R := make([][]float64, n)
	for i := range R {
		R[i] = make([]float64, n)
		for k := 0; k < n; k++ {
			R[i][k] = math.Pow(rks[k], float64(i))
		}
	}
	return R
}

// predict is multistep_uni_p_bh_update: it writes x_t into dst.
func (s *uniPC) predict(dst, x []float32, order int) error {
	i := s.stepIndex
	if i+1 >= len(s.sigmas) {
		return fmt.Errorf("%w: no sigma after step %d", ErrStep, i)
	}
	alphaT, sigmaT := alphaSigma(s.sigmas[i+1])
	alphaS0, sigmaS0 := alphaSigma(s.sigmas[i])
	lambdaT := math.Log(alphaT) - math.Log(sigmaT)
	lambdaS0 := math.Log(alphaS0) - math.Log(sigmaS0)
	h := lambdaT - lambdaS0

	n := len(s.outputs)
	m0 := s.outputs[n-1]
	var rks []float64
	var ms [][]float32
	for k := 1; k < order; k++ {
		rk := (lambda(s.sigmas[i-k]) - lambdaS0) / h
		rks = append(rks, rk)
		ms = append(ms, s.outputs[n-1-k])
	}
	rks = append(rks, 1)
	hPhi1, bh, b := s.bhCoefficients(h, order)

	var rhos []float64
	switch {
	case len(ms) == 0:
	case order == 2:
		rhos = []float64{0.5} // diffusers' simplified order-2 predictor
	default:
		var err error
		rhos, err = solve(vandermonde(rks, order-1), b[:order-1])
		if err != nil {
			return fmt.Errorf("%w: UniPC predictor: %v", ErrStep, err)
		}
	}

	var cx, cm, cres float64
	if s.p.PredictX0 {
		cx, cm, cres = sigmaT/sigmaS0, -alphaT*hPhi1, -alphaT*bh
	} else {
		cx, cm, cres = alphaT/alphaS0, -sigmaT*hPhi1, -sigmaT*bh
		if sigmaT == 0 {
			// σ_t·(e^h − 1) = α_t·σ_s0/α_s0 − σ_t, without 0·inf.
			cm = -alphaT * sigmaS0 / alphaS0
		}
	}
	if len(ms) == 0 {
		// With no history diffusers adds the scalar pred_res 0 times
		// α_t·B(h), which is NaN when B(h) is infinite (bh1 at a zero final
		// sigma); the term is zero, so it is left out.
		for j := range dst {
			dst[j] = float32(cx*float64(x[j]) + cm*float64(m0[j]))
		}
		return nil
	}
	res := s.resBuf(len(dst))
	combine(res, weights(rhos, rks[:len(ms)]), ms, m0)
	for j := range dst {
		dst[j] = float32(cx*float64(x[j]) + cm*float64(m0[j]) + cres*res[j])
	}
	return nil
}

// correct is multistep_uni_c_bh_update: it writes the corrected x_t into
// dst. modelT is the converted output at x_t; the history does not hold it
// yet.
func (s *uniPC) correct(dst, modelT, last, xt []float32, order int) error {
	i := s.stepIndex
	alphaT, sigmaT := alphaSigma(s.sigmas[i])
	alphaS0, sigmaS0 := alphaSigma(s.sigmas[i-1])
	lambdaT := math.Log(alphaT) - math.Log(sigmaT)
	lambdaS0 := math.Log(alphaS0) - math.Log(sigmaS0)
	h := lambdaT - lambdaS0

	n := len(s.outputs)
	m0 := s.outputs[n-1]
	var rks []float64
	var ms [][]float32
	for k := 1; k < order; k++ {
		rk := (lambda(s.sigmas[i-(k+1)]) - lambdaS0) / h
		rks = append(rks, rk)
		ms = append(ms, s.outputs[n-1-k])
	}
	rks = append(rks, 1)
	hPhi1, bh, b := s.bhCoefficients(h, order)

	rhos := []float64{0.5} // diffusers' simplified order-1 corrector
	if order != 1 {
		var err error
		rhos, err = solve(vandermonde(rks, order), b)
		if err != nil {
			return fmt.Errorf("%w: UniPC corrector: %v", ErrStep, err)
		}
	}
	var cx, cm, cres float64
	if s.p.PredictX0 {
		cx, cm, cres = sigmaT/sigmaS0, -alphaT*hPhi1, -alphaT*bh
	} else {
		cx, cm, cres = alphaT/alphaS0, -sigmaT*hPhi1, -sigmaT*bh
	}
	rhoT := rhos[len(rhos)-1]
	_ = xt // diffusers passes x_t but only uses it for its device
	res := s.resBuf(len(dst))
	if len(ms) > 0 {
		combine(res, weights(rhos, rks[:len(ms)]), ms, m0)
	} else {
		clear(res)
	}
	for j := range dst {
		m0j := float64(m0[j])
		d1t := float64(modelT[j]) - m0j
		dst[j] = float32(cx*float64(last[j]) + cm*m0j + cres*(res[j]+rhoT*d1t))
	}
	return nil
}

// weights folds diffusers' D1_k = (m_k - m0)/r_k into rho_k/r_k. A zero r_k
// (zero final sigma without lower_order_final) still gives inf/NaN.
func weights(rhos, rks []float64) []float64 {
	w := make([]float64, len(rks)) // rks without the trailing 1
	for k := range w {
		w[k] = rhos[k] / rks[k]
	}
	return w
}

// solve solves A x = b by Gaussian elimination with partial pivoting, as
// LAPACK's gesv behind torch.linalg.solve does; an exactly singular matrix
// is an error there too. NaNs propagate.
func solve(A [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	a := make([][]float64, n)
	for i := range a {
		a[i] = append(slices.Clone(A[i]), b[i])
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		if a[c][c] == 0 {
			return nil, fmt.Errorf("singular %dx%d system", n, n)
		}
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k <= n; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		v := a[r][n]
		for k := r + 1; k < n; k++ {
			v -= a[r][k] * x[k]
		}
		x[r] = v / a[r][r]
	}
	return x, nil
}
