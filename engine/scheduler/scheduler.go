// Package scheduler ports the diffusers noise schedulers the editor uses
// (UniPC multistep, DDIM, Euler ancestral, DPM-Solver++ 2M) to Go, matching
// huggingface/diffusers at commit 58eb52c0 (0.40.0.dev0).
//
// Samples are flat float32 arrays; every schedule coefficient is float64.
// A Scheduler holds per-run state (step index, model output history) and is
// not safe for concurrent use; create one instance per denoising branch.
// Instances never share mutable state.
package scheduler

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Scheduler steps a latent through the reverse diffusion process.
type Scheduler interface {
	// SetTimesteps builds the inference schedule for n steps and resets
	// the run state.
	SetTimesteps(n int) error
	// Timesteps returns the inference timesteps (integers as float64;
	// Euler ancestral returns float32 values).
	Timesteps() []float64
	// Sigmas returns the N+1 inference sigmas, or nil for DDIM.
	Sigmas() []float64
	// SetBeginIndex makes the first Step start at Timesteps()[i] (img2img).
	SetBeginIndex(i int)
	// InitNoiseSigma is the scale of the initial noise.
	InitNoiseSigma() float64
	// ScaleModelInput returns the model input for sample x at timestep t.
	// It may return x itself when the scaling is the identity.
	ScaleModelInput(x []float32, t float64) []float32
	// Step returns the sample at the next timestep as a new slice; eps is
	// the model output. noise is the ancestral noise for Euler ancestral
	// and is ignored (may be nil) elsewhere. The inputs are not modified.
	Step(eps []float32, t float64, x []float32, noise []float32) ([]float32, error)
	// AddNoise noises x0 to timestep t (img2img start, inpainting). It
	// panics unless len(noise) == len(x0), a programming error; a timestep
	// or begin index diffusers would reject gives NaNs.
	AddNoise(x0, noise []float32, t float64) []float32
	// NeedsNoise reports whether Step consumes noise.
	NeedsNoise() bool
	// AlphasCumprod returns the training schedule's cumulative alphas.
	AlphasCumprod() []float64
	// Reset forgets the run state (step index, begin index, model output
	// history) and keeps the timesteps, like a fresh instance after
	// SetTimesteps.
	Reset()
}

// Sentinel errors.
var (
	// ErrUnknownScheduler: the name is not one of Names().
	ErrUnknownScheduler = errors.New("unknown scheduler")
	// ErrStep: Step was called in a state diffusers would reject (no
	// timesteps set, past the last timestep, mismatched lengths, ...).
	ErrStep = errors.New("scheduler step")
	// ErrSteps: SetTimesteps got a step count it cannot honour.
	ErrSteps = errors.New("invalid number of inference steps")
)

var names = []string{"unipc", "ddim", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_karras"}

// Names lists the scheduler names New accepts.
func Names() []string { return slices.Clone(names) }

// New builds the named scheduler from cfg. Keys cfg did not set take the
// defaults of the corresponding diffusers constructor; a key the scheduler's
// diffusers class takes is either honoured as diffusers honours it or
// refused with an error naming the key (ErrUnsupported), never ignored.
// Keys the class does not take are ignored, as diffusers' from_config
// ignores them (see the audit in config_test.go).
//
// dpmpp_2m and dpmpp_2m_karras are DPMSolverMultistepScheduler with
// algorithm_type dpmsolver++ and solver_order 2 (a config asking for
// another order is refused). dpmpp_2m takes use_karras_sigmas from cfg, as
// DPMSolverMultistepScheduler.from_config does; dpmpp_2m_karras turns it on
// whatever cfg says, the user's explicit choice.
func New(name string, cfg Config) (Scheduler, error) {
	switch name = Canonical(name); name {
	case "unipc":
		return newUniPC(resolve(unipcDefaults(), cfg))
	case "ddim":
		return newDDIM(resolve(ddimDefaults(), cfg))
	case "euler_ancestral":
		return newEulerAncestral(resolve(eulerDefaults(), cfg))
	case "dpmpp_2m", "dpmpp_2m_karras":
		p := resolve(dpmDefaults(), cfg)
		if p.SolverOrder != 2 {
			return nil, fmt.Errorf("%w: key %q: %d, but %s is DPM-Solver++ of order 2 (unipc takes other orders)",
				ErrUnsupported, "solver_order", p.SolverOrder, name)
		}
		if name == "dpmpp_2m_karras" {
			p.UseKarrasSigmas = true
		}
		return newDPM(p)
	}
	return nil, fmt.Errorf("%w %q (want one of %v)", ErrUnknownScheduler, name, names)
}

// resolve overlays the keys cfg set onto a scheduler's defaults.
func resolve(def, cfg Config) *Config {
	p := def
	p.set = map[string]bool{}
	for k, f := range fields {
		if cfg.IsSet(k) {
			f.copy(&p, &cfg)
			p.set[k] = true
		}
	}
	return &p
}

func baseDefaults() Config {
	return Config{
		NumTrainTimesteps: 1000,
		BetaStart:         0.0001,
		BetaEnd:           0.02,
		BetaSchedule:      "linear",
		PredictionType:    "epsilon",
		TimestepSpacing:   "linspace",
		ClipSampleRange:   1.0,
	}
}

func unipcDefaults() Config {
	c := baseDefaults()
	c.SolverOrder = 2
	c.PredictX0 = true
	c.SolverType = "bh2"
	c.LowerOrderFinal = true
	c.FinalSigmasType = "zero"
	return c
}

func ddimDefaults() Config {
	c := baseDefaults()
	c.ClipSample = true
	c.SetAlphaToOne = true
	c.TimestepSpacing = "leading"
	return c
}

func eulerDefaults() Config { return baseDefaults() }

func dpmDefaults() Config {
	c := baseDefaults()
	c.SolverOrder = 2
	c.AlgorithmType = "dpmsolver++"
	c.SolverType = "midpoint"
	c.LowerOrderFinal = true
	c.FinalSigmasType = "zero"
	c.LambdaMinClipped = math.Inf(-1)
	return c
}

// refuse returns an error for switches a scheduler's diffusers class takes
// but this port does not implement.
func refuse(p *Config, keys ...string) error {
	for _, k := range keys {
		bad := false
		switch k {
		case "thresholding":
			bad = p.Thresholding
		case "use_exponential_sigmas":
			bad = p.UseExponentialSigmas
		case "use_beta_sigmas":
			bad = p.UseBetaSigmas
		case "use_flow_sigmas":
			bad = p.UseFlowSigmas
		case "use_lu_lambdas":
			bad = p.UseLuLambdas
		case "solver_p":
			bad = p.SolverP
		case "variance_type":
			bad = p.VarianceType != ""
		case "use_dynamic_shifting":
			bad = p.UseDynamicShifting
		case "shift_terminal":
			bad = p.ShiftTerminal
		}
		if bad {
			return fmt.Errorf("%w: key %q: only the diffusers default is implemented", ErrUnsupported, k)
		}
	}
	return nil
}

func checkSteps(n, numTrain int) error {
	if n < 1 {
		return fmt.Errorf("%w: %d (need at least 1)", ErrSteps, n)
	}
	if n > numTrain {
		return fmt.Errorf("%w: %d exceeds num_train_timesteps %d", ErrSteps, n, numTrain)
	}
	return nil
}

func mustSameLen(x0, noise []float32) {
	if len(x0) != len(noise) {
		panic(fmt.Sprintf("scheduler: AddNoise with %d samples and %d noise values", len(x0), len(noise)))
	}
}

func checkLens(eps, x []float32) error {
	if len(eps) != len(x) {
		return fmt.Errorf("%w: model output has %d values, sample has %d", ErrStep, len(eps), len(x))
	}
	return nil
}

// run is the state shared by the sigma-indexed schedulers (UniPC, DPM,
// Euler ancestral): the inference schedule and the step counters diffusers
// keeps in _step_index and _begin_index (-1 for None).
type run struct {
	timesteps  []float64
	sigmas     []float64
	stepIndex  int
	beginIndex int
}

func (r *run) resetIndices() { r.stepIndex, r.beginIndex = -1, -1 }

// indexForTimestep mirrors DPMSolverMultistepScheduler.index_for_timestep:
// the second match when t repeats (so img2img never skips a sigma), the
// last index when t is absent.
func (r *run) indexForTimestep(t float64) int {
	var found []int
	for i, v := range r.timesteps {
		if v == t {
			found = append(found, i)
			if len(found) == 2 {
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return len(r.timesteps) - 1
	case 1:
		return found[0]
	}
	return found[1]
}

func (r *run) initStepIndex(t float64) {
	if r.beginIndex >= 0 {
		r.stepIndex = r.beginIndex
		return
	}
	r.stepIndex = r.indexForTimestep(t)
}

// noiseIndex mirrors the sigma-index choice of the multistep add_noise.
func (r *run) noiseIndex(t float64) int {
	switch {
	case r.beginIndex < 0:
		return r.indexForTimestep(t)
	case r.stepIndex >= 0:
		return r.stepIndex
	}
	return r.beginIndex
}

// alphaSigma is _sigma_to_alpha_sigma_t for VP schedules.
func alphaSigma(sigma float64) (alpha, sigmaT float64) {
	alpha = 1 / math.Sqrt(sigma*sigma+1)
	return alpha, sigma * alpha
}

func lambda(sigma float64) float64 {
	a, s := alphaSigma(sigma)
	return math.Log(a) - math.Log(s)
}

// Canonical maps the names users and other tools write (diffusers class
// names, common UI spellings, any case) to this package's names; unknown
// names come back unchanged.
func Canonical(name string) string {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "unipc", "unipcmultistepscheduler", "unipc_multistep":
		return "unipc"
	case "ddim", "ddimscheduler":
		return "ddim"
	case "euler_ancestral", "euler_a", "euler-a", "eulerancestraldiscretescheduler", "euler ancestral":
		return "euler_ancestral"
	case "dpmpp_2m", "dpm++2m", "dpm++ 2m", "dpmsolvermultistepscheduler", "dpm_solver_multistep":
		return "dpmpp_2m"
	case "dpmpp_2m_karras", "dpm++2m karras", "dpm++ 2m karras":
		return "dpmpp_2m_karras"
	}
	return name
}

// AffineStep reports whether a fresh scheduler's first step is affine in the
// model output (as the contract's two-evaluation mask relies on): true for
// every scheduler here except DDIM with clip_sample, which clamps the x0
// prediction.
func AffineStep(name string, cfg Config) bool {
	if Canonical(name) != "ddim" {
		return true
	}
	return !resolve(ddimDefaults(), cfg).ClipSample
}

// checkDistinctSigmas refuses a schedule in which two consecutive steps have
// the same sigma. A multistep solver divides by the step's log-SNR change,
// which is then zero: diffusers' UniPC and DPM++ return NaN there. It
// happens with linspace spacing when the step count nears
// num_train_timesteps (1000 of 1000 rounds two steps to t = 500).
func checkDistinctSigmas(ts, sigmas []float64, n int) error {
	for i := 1; i < len(ts); i++ {
		if sigmas[i] == sigmas[i-1] {
			return fmt.Errorf("%w: %d steps give timestep %g twice (steps %d and %d); use fewer steps", ErrSteps, n, ts[i], i, i+1)
		}
	}
	return nil
}
