package scheduler

import (
	"math"
	"slices"
	"testing"
)

// TestDiffusersUnitValues reproduces the result means diffusers' own tests
// assert (tests/schedulers/test_scheduler_{unipc,ddim,dpm_multi}.py): 10
// steps of the dummy model sample*t/(t+1) from arange(768)/768. Their mean
// of |x| is independent of the tensor layout, so a flat array suffices.
func TestDiffusersUnitValues(t *testing.T) {
	base := []any{"num_train_timesteps", 1000, "beta_start", 0.0001, "beta_end", 0.02, "beta_schedule", "linear"}
	unipc := slices.Concat(base, []any{"solver_order", 2, "solver_type", "bh2", "final_sigmas_type", "sigma_min"})
	dpmKeys := slices.Concat(base, []any{"lower_order_final", false, "final_sigmas_type", "sigma_min"})
	tests := []struct {
		name, sched string
		keys        []any
		want        float64
	}{
		{"unipc", "unipc", unipc, 0.2464},
		{"unipc karras", "unipc", slices.Concat(unipc, []any{"use_karras_sigmas", true}), 0.2925},
		{"unipc v", "unipc", slices.Concat(unipc, []any{"prediction_type", "v_prediction"}), 0.1014},
		{"unipc karras v", "unipc", slices.Concat(unipc, []any{"use_karras_sigmas", true, "prediction_type", "v_prediction"}), 0.1966},
		{"ddim", "ddim", slices.Concat(base, []any{"clip_sample", true}), 0.223967},
		{"dpm", "dpmpp_2m", dpmKeys, 0.3301},
		{"dpm v", "dpmpp_2m", slices.Concat(dpmKeys, []any{"prediction_type", "v_prediction"}), 0.2251},
		{"dpm karras v", "dpmpp_2m_karras", slices.Concat(dpmKeys, []any{"prediction_type", "v_prediction"}), 0.2096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			for i := 0; i < len(tc.keys); i += 2 {
				if err := cfg.Set(tc.keys[i].(string), tc.keys[i+1]); err != nil {
					t.Fatal(err)
				}
			}
			s := mustNew(t, tc.sched, cfg, 10)
			x := make([]float32, 768)
			for i := range x {
				x[i] = float32(i) / 768
			}
			for _, tt := range s.Timesteps() {
				eps := make([]float32, len(x))
				for i, v := range x {
					eps[i] = v * float32(tt) / float32(tt+1)
				}
				var err error
				if x, err = s.Step(eps, tt, x, nil); err != nil {
					t.Fatal(err)
				}
			}
			sum := 0.0
			for _, v := range x {
				sum += math.Abs(float64(v))
			}
			if got := sum / float64(len(x)); math.Abs(got-tc.want) >= 1e-3 {
				t.Fatalf("mean |x| = %.6f, diffusers' test asserts %.4f ± 1e-3", got, tc.want)
			}
		})
	}
}
