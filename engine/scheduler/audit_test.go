package scheduler

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// constructorKeys are the __init__ arguments of the diffusers classes the
// schedulers port (commit 58eb52c0). from_config passes a scheduler exactly
// these keys and ignores the rest of a shared scheduler_config.json.
var constructorKeys = map[string][]string{
	"unipc": {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order",
		"prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "predict_x0", "solver_type",
		"lower_order_final", "disable_corrector", "solver_p", "use_karras_sigmas", "use_exponential_sigmas",
		"use_beta_sigmas", "use_flow_sigmas", "flow_shift", "timestep_spacing", "steps_offset", "final_sigmas_type",
		"rescale_betas_zero_snr", "use_dynamic_shifting", "time_shift_type", "sigma_min", "sigma_max", "shift_terminal"},
	"ddim": {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "clip_sample",
		"set_alpha_to_one", "steps_offset", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
		"clip_sample_range", "sample_max_value", "timestep_spacing", "rescale_betas_zero_snr"},
	"euler_ancestral": {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
		"prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"},
	"dpmpp_2m": {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order",
		"prediction_type", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type",
		"solver_type", "lower_order_final", "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas",
		"use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas", "flow_shift", "final_sigmas_type",
		"lambda_min_clipped", "variance_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr",
		"use_dynamic_shifting", "time_shift_type"},
}

// onlyThrough are constructor keys the parser does not model because they
// act only through a switch New refuses (or a pipeline argument SD
// pipelines never pass), so they can change nothing here.
var onlyThrough = map[string]string{
	"dynamic_thresholding_ratio": "thresholding",
	"sample_max_value":           "thresholding",
	"flow_shift":                 "use_flow_sigmas or a dynamic-shifting mu",
	"time_shift_type":            "use_dynamic_shifting with a mu",
}

// probe is a non-default value for a key, with the keys that make it
// matter (steps_offset moves only leading timesteps).
type probe struct {
	value any
	with  []any
	steps int
}

var probes = map[string]probe{
	"_class_name":            {value: "Whatever"},
	"num_train_timesteps":    {value: 500},
	"beta_start":             {value: 0.001},
	"beta_end":               {value: 0.02},
	"beta_schedule":          {value: "linear"},
	"trained_betas":          {value: linearBetas(1000)},
	"prediction_type":        {value: "v_prediction"},
	"timestep_spacing":       {value: "trailing"},
	"steps_offset":           {value: 3, with: []any{"timestep_spacing", "leading"}},
	"rescale_betas_zero_snr": {value: true, with: []any{"timestep_spacing", "trailing"}},
	"thresholding":           {value: true},
	"clip_sample":            {value: true},
	"clip_sample_range":      {value: 0.5, with: []any{"clip_sample", true}},
	"set_alpha_to_one":       {value: true},
	"solver_order":           {value: 3},
	"solver_type":            {value: "bh1"},
	"predict_x0":             {value: false},
	"lower_order_final":      {value: false, with: []any{"final_sigmas_type", "sigma_min"}, steps: 10},
	"disable_corrector":      {value: []int{1}},
	"final_sigmas_type":      {value: "sigma_min"},
	"use_karras_sigmas":      {value: true},
	"euler_at_final":         {value: true, with: []any{"final_sigmas_type", "sigma_min"}},
	"lambda_min_clipped":     {value: -2.0},
	"algorithm_type":         {value: "dpmsolver"},
	"sigma_min":              {value: 0.1, with: []any{"use_karras_sigmas", true}},
	"sigma_max":              {value: 10.0, with: []any{"use_karras_sigmas", true}},
	"use_exponential_sigmas": {value: true},
	"use_beta_sigmas":        {value: true},
	"use_flow_sigmas":        {value: true},
	"use_lu_lambdas":         {value: true},
	"variance_type":          {value: "learned"},
	"solver_p":               {value: map[string]any{"_class_name": "DPMSolverMultistepScheduler"}},
	"use_dynamic_shifting":   {value: true},
	"shift_terminal":         {value: 0.02},
}

func linearBetas(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 0.0001 + (0.02-0.0001)*float64(i)/float64(n-1)
	}
	return out
}

// noEffect lists, per scheduler, the parsed keys that cannot change its
// result, and why. Every other key must change the result or be refused.
var noEffect = map[string]map[string]string{
	"unipc":           {"_class_name": "informative"},
	"ddim":            {"_class_name": "informative"},
	"euler_ancestral": {"_class_name": "informative"},
	"dpmpp_2m": {
		"_class_name":          "informative",
		"sigma_min":            "not a key of DPMSolverMultistepScheduler: its Karras sigmas span the training sigmas",
		"sigma_max":            "not a key of DPMSolverMultistepScheduler: its Karras sigmas span the training sigmas",
		"use_dynamic_shifting": "acts only with a shift mu, which SD pipelines never pass",
	},
}

func init() {
	// Keys that are not constructor arguments of a class have no effect
	// there (from_config drops them): fill those in from constructorKeys.
	for name, keys := range constructorKeys {
		m := noEffect[name]
		for k := range fields {
			if !slices.Contains(keys, k) && m[k] == "" {
				m[k] = "not a key of the diffusers class"
			}
		}
	}
	noEffect["dpmpp_2m_karras"] = maps.Clone(noEffect["dpmpp_2m"])
	noEffect["dpmpp_2m_karras"]["use_karras_sigmas"] = "the name dpmpp_2m_karras turns Karras sigmas on"
	noEffect["dpmpp_2m_karras"]["timestep_spacing"] = "Karras sigmas replace the spaced timesteps, as in diffusers"
	noEffect["dpmpp_2m_karras"]["steps_offset"] = "Karras sigmas replace the spaced timesteps, as in diffusers"
	noEffect["dpmpp_2m_karras"]["lambda_min_clipped"] = "Karras sigmas span all training sigmas, as in diffusers"
	// The probes set final_sigmas_type sigma_min, the last Karras sigma:
	// the last step has h = 0 and is the identity at any order.
	noEffect["dpmpp_2m_karras"]["euler_at_final"] = "Karras with sigma_min: the last step is from sigma_min to sigma_min"
	noEffect["dpmpp_2m_karras"]["lower_order_final"] = "Karras with sigma_min: the last step is from sigma_min to sigma_min"
	constructorKeys["dpmpp_2m_karras"] = constructorKeys["dpmpp_2m"]
}

// TestConfigKeysAudit: every key the parser reads is, for every scheduler,
// either honoured (a non-default value changes the timesteps, sigmas or
// trajectory), refused with an error that names the key, or listed in
// noEffect with the reason it cannot matter; a listed key really changes
// nothing. Every constructor key of the four diffusers classes is either
// parsed or acts only through a refused switch.
func TestConfigKeysAudit(t *testing.T) {
	for name, keys := range constructorKeys {
		for _, k := range keys {
			if _, ok := fields[k]; !ok && onlyThrough[k] == "" {
				t.Errorf("%s: constructor key %q is neither parsed nor covered by a refused switch", name, k)
			}
		}
	}
	for k := range fields {
		if _, ok := probes[k]; !ok {
			t.Errorf("key %q has no probe", k)
		}
	}
	for _, name := range Names() {
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			p := probes[k]
			if strings.HasPrefix(name, "dpmpp_2m") && k == "solver_type" {
				p = probe{value: "heun"} // diffusers remaps bh1 to midpoint for DPM
			}
			if strings.HasPrefix(name, "dpmpp_2m") && k == "solver_order" {
				p = probe{value: 1} // refused as well, with another value
			}
			t.Run(name+"/"+k, func(t *testing.T) {
				auditKey(t, name, k, p)
			})
		}
	}
}

func auditKey(t *testing.T, name, key string, p probe) {
	steps := p.steps
	if steps == 0 {
		steps = 20
	}
	base := withKeys(t, p.with...)
	probed := withKeys(t, append(slices.Clone(p.with), key, p.value)...)
	reason := noEffect[name][key]
	s, err := New(name, probed)
	if err != nil {
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Fatalf("%s = %v: refusals must wrap ErrUnsupported and name the key", key, err)
		}
		if reason != "" {
			t.Fatalf("%s is refused but listed as having no effect (%s)", key, reason)
		}
		return
	}
	if err := s.SetTimesteps(steps); err != nil {
		t.Fatalf("SetTimesteps: %v", err)
	}
	b := mustNew(t, name, base, steps)
	same := slices.Equal(s.Timesteps(), b.Timesteps()) && slices.Equal(s.Sigmas(), b.Sigmas())
	if same {
		x := make([]float32, 16)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		ta, tb := runAll(t, s, x, 1), runAll(t, b, x, 1)
		for j := range ta {
			same = same && slices.Equal(ta[j], tb[j])
		}
	}
	switch {
	case same && reason == "":
		t.Fatalf("%s = %v is silently ignored: it changes nothing and is not refused", key, p.value)
	case !same && reason != "":
		t.Fatalf("%s = %v changes the result but is listed as having no effect (%s)", key, p.value, reason)
	}
}
