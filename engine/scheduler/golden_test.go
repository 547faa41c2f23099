package scheduler

import (
	"encoding/json"
	"likeness/internal/shared"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenCase is one file of testdata/golden/schedulers (README section 2).
type goldenCase struct {
	Name              string          `json:"name"`
	Scheduler         string          `json:"scheduler"`
	Kind              string          `json:"kind"`
	Config            json.RawMessage `json:"config"`
	NumInferenceSteps int             `json:"num_inference_steps"`
	StartIndex        int             `json:"start_index"`
	Timesteps         []float64       `json:"timesteps"`
	Sigmas            []float64       `json:"sigmas"`
	InitNoiseSigma    float64         `json:"init_noise_sigma"`
	XInit             []float64       `json:"x_init"`
	StepNoise         [][]float64     `json:"step_noise"`
	Trajectory        [][]float64     `json:"trajectory"`
	Timestep          float64         `json:"timestep"`
	StepIndex         int             `json:"step_index"`
	X0                []float64       `json:"x0"`
	Noise             []float64       `json:"noise"`
	Expected          []float64       `json:"expected"`
	Tolerance         struct {
		Abs float64 `json:"abs"`
		Rel float64 `json:"rel"`
	} `json:"tolerance"`
}

func goldenDir(t testing.TB) string { return shared.Golden(t) }

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	files := shared.GoldenFiles(t, "schedulers/*.json") // the repository's, then $LIKENESS_GOLDEN's
	if len(files) == 0 {
		t.Fatalf("no golden scheduler cases in %s", filepath.Join(goldenDir(t), "schedulers"))
	}
	var cases []goldenCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Name == "" {
			c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		cases = append(cases, c)
	}
	return cases
}

// fakeModel is the golden cases' stand-in for the UNet.
func fakeModel(x []float32, t float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(0.8*math.Tanh(float64(v)) + 0.2*math.Sin(t/137.0+0.01*float64(i)))
	}
	return out
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// worstRatio returns the largest |got-want| / (abs + rel*|want|) and where;
// NaN compares as infinitely bad unless both sides are NaN.
func worstRatio(got []float32, want []float64, abs, rel float64) (float64, int) {
	worst, at := 0.0, -1
	for i := range want {
		g, w := float64(got[i]), want[i]
		var r float64
		switch {
		case math.IsNaN(g) && math.IsNaN(w):
			continue
		case math.IsNaN(g) || math.IsNaN(w):
			r = math.Inf(1)
		default:
			r = math.Abs(g-w) / (abs + rel*math.Abs(w))
		}
		if r > worst || at < 0 {
			worst, at = r, i
		}
	}
	return worst, at
}

func TestGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) { runGolden(t, c) })
	}
}

// runGolden checks one case: a trajectory, or an add_noise result.
func runGolden(t *testing.T, c goldenCase) {
	cfg, err := ParseConfig(c.Config)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s, err := New(c.Scheduler, cfg)
	if err != nil {
		t.Fatalf("New(%q): %v", c.Scheduler, err)
	}
	if err := s.SetTimesteps(c.NumInferenceSteps); err != nil {
		t.Fatalf("SetTimesteps(%d): %v", c.NumInferenceSteps, err)
	}
	if c.Kind == "add_noise" {
		runAddNoise(t, s, c)
		return
	}
	runTrajectory(t, s, c)
}

func runAddNoise(t *testing.T, s Scheduler, c goldenCase) {
	if c.Scheduler != "ddim" {
		s.SetBeginIndex(c.StepIndex)
	}
	got := s.AddNoise(f32s(c.X0), f32s(c.Noise), c.Timestep)
	if r, at := worstRatio(got, c.Expected, c.Tolerance.Abs, c.Tolerance.Rel); r > 1 {
		t.Errorf("add_noise: worst error ratio %.3g at [%d]: got %v want %v", r, at, got[at], c.Expected[at])
	}
}

func runTrajectory(t *testing.T, s Scheduler, c goldenCase) {
	ts := s.Timesteps()
	if len(ts) != len(c.Timesteps) {
		t.Fatalf("timesteps: got %d values %v, want %d %v", len(ts), ts, len(c.Timesteps), c.Timesteps)
	}
	for i := range ts {
		if ts[i] != c.Timesteps[i] {
			t.Fatalf("timesteps[%d] = %v, want %v (got %v)", i, ts[i], c.Timesteps[i], ts)
		}
	}
	if c.Sigmas != nil {
		sg := s.Sigmas()
		if r, at := worstRatio(f32s(sg), c.Sigmas, 1e-6, 1e-6); len(sg) != len(c.Sigmas) || r > 1 {
			t.Errorf("sigmas: worst ratio %.3g at %d: got %v want %v", r, at, sg, c.Sigmas)
		}
	}
	if d := math.Abs(s.InitNoiseSigma() - c.InitNoiseSigma); d > 1e-6*c.InitNoiseSigma {
		t.Errorf("init_noise_sigma = %v, want %v", s.InitNoiseSigma(), c.InitNoiseSigma)
	}
	if c.StartIndex > 0 {
		s.SetBeginIndex(c.StartIndex)
	}
	x := f32s(c.XInit)
	worst, worstStep := 0.0, -1
	for j, tt := range c.Timesteps[c.StartIndex:] {
		in := s.ScaleModelInput(x, tt)
		eps := fakeModel(in, tt)
		var noise []float32
		if c.StepNoise != nil {
			noise = f32s(c.StepNoise[j])
		}
		next, err := s.Step(eps, tt, x, noise)
		if err != nil {
			t.Fatalf("step %d (t=%v): %v", j, tt, err)
		}
		r, at := worstRatio(next, c.Trajectory[j], c.Tolerance.Abs, c.Tolerance.Rel)
		if r > 1 {
			t.Errorf("step %d (t=%v): error ratio %.3g at [%d]: got %v want %v", j, tt, r, at, next[at], c.Trajectory[j][at])
		}
		if r > worst || worstStep < 0 {
			worst, worstStep = r, j
		}
		x = next
	}
	t.Logf("worst error ratio %.3g (of the tolerance) at step %d", worst, worstStep)
}
