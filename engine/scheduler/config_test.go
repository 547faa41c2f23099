package scheduler

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sd15 is Stable Diffusion 1.5's scheduler_config.json.
const sd15 = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(sd15))
	if err != nil {
		t.Fatal(err)
	}
	if c.ClassName != "PNDMScheduler" || c.BetaStart != 0.00085 || c.StepsOffset != 1 || c.ClipSample {
		t.Fatalf("parsed %+v", c)
	}
	if c.IsSet("trained_betas") || !c.IsSet("clip_sample") || c.IsSet("timestep_spacing") {
		t.Fatal("IsSet: null must not count as set; present keys must")
	}
	if _, ok := c.Raw["skip_prk_steps"]; !ok {
		t.Fatal("unknown key missing from Raw")
	}
	// The SD 1.5 pack config and DefaultConfig must drive identical runs.
	for _, name := range Names() {
		a := runAll(t, mustNew(t, name, c, 8), make([]float32, 16), 1)
		b := runAll(t, mustNew(t, name, DefaultConfig(), 8), make([]float32, 16), 1)
		for j := range a {
			if _, ok := closeTo(a[j], b[j], 0); !ok {
				t.Fatalf("%s: SD 1.5 config and DefaultConfig differ at step %d", name, j)
			}
		}
	}
}

func TestParseConfigValues(t *testing.T) {
	tests := []struct {
		json  string
		check func(Config) bool
	}{
		{`{"lambda_min_clipped": "-inf"}`, func(c Config) bool { return math.IsInf(c.LambdaMinClipped, -1) }},
		{`{"lambda_min_clipped": -Infinity, "name": "NaN-Infinity"}`, func(c Config) bool {
			return math.IsInf(c.LambdaMinClipped, -1) && string(c.Raw["name"]) == `"NaN-Infinity"`
		}},
		{`{"lambda_min_clipped": -5.1}`, func(c Config) bool { return c.LambdaMinClipped == -5.1 }},
		{`{"num_train_timesteps": 1000.0}`, func(c Config) bool { return c.NumTrainTimesteps == 1000 }},
		{`{"disable_corrector": [0, 1]}`, func(c Config) bool { return len(c.DisableCorrector) == 2 }},
		{`{"trained_betas": [0.1, 0.2]}`, func(c Config) bool { return len(c.TrainedBetas) == 2 }},
		{`{"solver_p": null, "sigma_min": null}`, func(c Config) bool { return !c.SolverP && !c.IsSet("sigma_min") }},
		{`{}`, func(c Config) bool { return c.Raw != nil && !c.IsSet("beta_start") }},
	}
	for _, tc := range tests {
		c, err := ParseConfig([]byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s: parsed %+v", tc.json, c)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ json, key string }{
		{`{"beta_start": "x"}`, "beta_start"},
		{`{"num_train_timesteps": 1.5}`, "num_train_timesteps"},
		{`{"steps_offset": "1"}`, "steps_offset"},
		{`{"clip_sample": 1}`, "clip_sample"},
		{`{"timestep_spacing": 3}`, "timestep_spacing"},
		{`{"disable_corrector": ["a"]}`, "disable_corrector"},
		{`{"trained_betas": {"a": 1}}`, "trained_betas"},
		{`{"lambda_min_clipped": "minus infinity"}`, "lambda_min_clipped"},
		{`[1, 2]`, ""},
		{`null`, ""},
		{`{"beta_start": `, ""},
	}
	for _, tc := range tests {
		_, err := ParseConfig([]byte(tc.json))
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", tc.json, err)
			continue
		}
		if tc.key != "" && !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Errorf("%s: error %q does not name the key", tc.json, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.json")
	_, err := LoadConfig(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"beta_end": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(bad); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file: %v", err)
	}
	good := filepath.Join(dir, "scheduler_config.json")
	if err := os.WriteFile(good, []byte(sd15), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadConfig(good); err != nil || c.BetaEnd != 0.012 {
		t.Fatalf("good file: %+v, %v", c, err)
	}
}

func TestSetDoesNotAlias(t *testing.T) {
	a := DefaultConfig()
	b := a
	if err := b.Set("timestep_spacing", "trailing"); err != nil {
		t.Fatal(err)
	}
	if a.IsSet("timestep_spacing") || !b.IsSet("timestep_spacing") {
		t.Fatal("Set on a copy changed the original")
	}
	if err := b.Set("timestep_spacing", nil); err != nil || b.IsSet("timestep_spacing") {
		t.Fatalf("Set(nil) must unset the key: %v", err)
	}
	if err := b.Set("beta_end", "high"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Set with a wrong type: %v", err)
	}
}

// Per-scheduler defaults apply where the config is silent: DDIM's class
// defaults are leading spacing and clip_sample true, UniPC's linspace.
func TestPerSchedulerDefaults(t *testing.T) {
	d := mustNew(t, "ddim", Config{}, 10).(*ddim)
	if d.p.TimestepSpacing != "leading" || !d.p.ClipSample || !d.p.SetAlphaToOne || d.p.BetaSchedule != "linear" {
		t.Fatalf("ddim defaults: %+v", d.p)
	}
	u := mustNew(t, "unipc", DefaultConfig(), 10).(*uniPC)
	if u.p.TimestepSpacing != "linspace" || u.p.SolverType != "bh2" || u.p.SolverOrder != 2 || u.p.BetaSchedule != "scaled_linear" {
		t.Fatalf("unipc defaults: %+v", u.p)
	}
	p := mustNew(t, "dpmpp_2m", withKeys(t, "solver_order", 2, "use_karras_sigmas", true, "solver_type", "bh2"), 10).(*dpm)
	if p.p.SolverOrder != 2 || !p.p.UseKarrasSigmas || p.p.SolverType != "midpoint" || !math.IsInf(p.p.LambdaMinClipped, -1) {
		t.Fatalf("dpmpp_2m settings: %+v", p.p)
	}
	if p := mustNew(t, "dpmpp_2m", DefaultConfig(), 10).(*dpm); p.p.UseKarrasSigmas {
		t.Fatal("dpmpp_2m without use_karras_sigmas in its config uses Karras sigmas")
	}
	if p := mustNew(t, "dpmpp_2m_karras", withKeys(t, "use_karras_sigmas", false), 10).(*dpm); !p.p.UseKarrasSigmas {
		t.Fatal("dpmpp_2m_karras must use Karras sigmas whatever the config says")
	}
}

func TestBetaSchedules(t *testing.T) {
	for _, sched := range []string{"linear", "scaled_linear", "squaredcos_cap_v2"} {
		for _, name := range []string{"unipc", "ddim", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_karras"} {
			s := mustNew(t, name, withKeys(t, "beta_schedule", sched, "lambda_min_clipped", -5.1), 25)
			acp := s.AlphasCumprod()
			for i := 1; i < len(acp); i++ {
				if !(acp[i] < acp[i-1]) || acp[i] <= 0 {
					t.Fatalf("%s/%s: alphas_cumprod not decreasing positive at %d", sched, name, i)
				}
			}
			x := make([]float32, 16)
			for i := range x {
				x[i] = float32(i%5) - 2
			}
			if traj := runAll(t, s, x, 3); !allFinite(traj[len(traj)-1]) {
				t.Fatalf("%s/%s: non-finite result", sched, name)
			}
		}
	}
	s := mustNew(t, "ddim", withKeys(t, "trained_betas", []float64{0.1, 0.2, 0.3, 0.4}, "steps_offset", 0), 2)
	if acp := s.AlphasCumprod(); len(acp) != 4 || math.Abs(acp[1]-0.72) > 1e-15 {
		t.Fatalf("trained betas: %v", acp)
	}
	z := mustNew(t, "unipc", withKeys(t, "rescale_betas_zero_snr", true, "timestep_spacing", "trailing"), 10)
	if acp := z.AlphasCumprod(); acp[len(acp)-1] != math.Pow(2, -24) {
		t.Fatalf("zero-SNR terminal alpha %v", acp[len(acp)-1])
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(sd15))
	f.Add([]byte(`{"lambda_min_clipped": -Infinity, "disable_corrector": [1]}`))
	f.Add([]byte(`{"trained_betas": [0.1, "x"]}`))
	f.Add([]byte(`"NaN"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		for _, name := range Names() {
			s, err := New(name, c)
			if err != nil {
				continue
			}
			// Huge training schedules are legal but too slow to fuzz.
			if len(s.AlphasCumprod()) <= 2000 {
				_ = s.SetTimesteps(3)
			}
		}
	})
}
