package scheduler

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustNew(t testing.TB, name string, cfg Config, n int) Scheduler {
	t.Helper()
	s, err := New(name, cfg)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	if err := s.SetTimesteps(n); err != nil {
		t.Fatalf("%s SetTimesteps(%d): %v", name, n, err)
	}
	return s
}

func withKeys(t testing.TB, kv ...any) Config {
	t.Helper()
	c := DefaultConfig()
	for i := 0; i < len(kv); i += 2 {
		if err := c.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// runAll drives s through its whole schedule with the fake model and
// returns every intermediate sample.
func runAll(t testing.TB, s Scheduler, x []float32, seed uint64) [][]float32 {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var traj [][]float32
	for _, tt := range s.Timesteps() {
		eps := fakeModel(s.ScaleModelInput(x, tt), tt)
		var noise []float32
		if s.NeedsNoise() {
			noise = randVec(r, len(x))
		}
		next, err := s.Step(eps, tt, x, noise)
		if err != nil {
			t.Fatalf("step t=%v: %v", tt, err)
		}
		traj = append(traj, next)
		x = next
	}
	return traj
}

func allFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

func closeTo(a, b []float32, tol float64) (int, bool) {
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol*(1+math.Abs(float64(b[i]))) {
			return i, false
		}
	}
	return -1, true
}

func TestTimesteps(t *testing.T) {
	tests := []struct {
		name  string
		sched string
		cfg   Config
		n     int
		want  []float64
	}{
		{"ddim leading", "ddim", DefaultConfig(), 10, []float64{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}},
		{"ddim trailing", "ddim", withKeys(t, "timestep_spacing", "trailing"), 4, []float64{999, 749, 499, 249}},
		{"ddim linspace", "ddim", withKeys(t, "timestep_spacing", "linspace"), 4, []float64{999, 666, 333, 0}},
		{"unipc linspace", "unipc", DefaultConfig(), 4, []float64{999, 749, 500, 250}},
		{"unipc leading", "unipc", withKeys(t, "timestep_spacing", "leading"), 4, []float64{801, 601, 401, 201}},
		{"unipc trailing", "unipc", withKeys(t, "timestep_spacing", "trailing"), 4, []float64{999, 749, 499, 249}},
		// numpy.arange's length rule gives 62 values for 61 trailing steps.
		{"unipc trailing 61 extra", "unipc", withKeys(t, "timestep_spacing", "trailing"), 61, nil},
		{"euler leading", "euler_ancestral", withKeys(t, "timestep_spacing", "leading"), 4, []float64{751, 501, 251, 1}},
		{"euler linspace 1", "euler_ancestral", DefaultConfig(), 1, []float64{0}},
		{"dpm linspace", "dpmpp_2m", DefaultConfig(), 4, []float64{999, 749, 500, 250}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustNew(t, tc.sched, tc.cfg, tc.n).Timesteps()
			if tc.want == nil {
				if len(got) != 62 || got[61] != -1 {
					t.Fatalf("got %d timesteps ending %v, want 62 ending -1", len(got), got[len(got)-1])
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// With eps-prediction UniPC's first step (order 1, no corrector) is a DDIM
// eta=0 step between the same two timesteps, whatever the solver settings.
func TestUniPCFirstStepIsDDIM(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randVec(r, 256)
	for _, tc := range []struct{ order, typ string }{{"1", "bh1"}, {"2", "bh2"}, {"3", "bh2"}, {"3", "bh1"}} {
		t.Run(tc.order+tc.typ, func(t *testing.T) {
			u := mustNew(t, "unipc", withKeys(t, "solver_order", int(tc.order[0]-'0'), "solver_type", tc.typ), 20)
			d := mustNew(t, "ddim", DefaultConfig(), 20)
			ts := u.Timesteps()
			eps := fakeModel(x, ts[0])
			got, err := u.Step(eps, ts[0], x, nil)
			if err != nil {
				t.Fatal(err)
			}
			// DDIM's previous timestep is t - 1000/20 = 949 = UniPC's ts[1].
			if ts[1] != ts[0]-50 {
				t.Fatalf("unexpected UniPC timesteps %v", ts[:2])
			}
			want, err := d.Step(eps, ts[0], x, nil)
			if err != nil {
				t.Fatal(err)
			}
			if i, ok := closeTo(got, want, 1e-6); !ok {
				t.Fatalf("[%d]: UniPC %v, DDIM %v", i, got[i], want[i])
			}
		})
	}
}

func TestAddNoiseAgreesWithDDIM(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x0, noise := randVec(r, 64), randVec(r, 64)
	d := mustNew(t, "ddim", DefaultConfig(), 20)
	for _, name := range []string{"unipc", "dpmpp_2m"} {
		s := mustNew(t, name, DefaultConfig(), 20)
		for i, tt := range s.Timesteps() {
			s.Reset()
			s.SetBeginIndex(i)
			got := s.AddNoise(x0, noise, tt)
			want := d.AddNoise(x0, noise, tt)
			if k, ok := closeTo(got, want, 1e-6); !ok {
				t.Errorf("%s t=%v [%d]: got %v, DDIM %v", name, tt, k, got[k], want[k])
			}
		}
	}
}

// A last step onto sigma 0 returns the x0 prediction of that step.
func TestLastStepReturnsX0(t *testing.T) {
	for _, name := range []string{"unipc", "dpmpp_2m", "dpmpp_2m_karras"} {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name, DefaultConfig(), 10)
			r := rand.New(rand.NewPCG(5, 6))
			x := randVec(r, 64)
			ts, sg := s.Timesteps(), s.Sigmas()
			if sg[len(sg)-1] != 0 {
				t.Fatalf("final sigma %v, want 0", sg[len(sg)-1])
			}
			for j, tt := range ts {
				eps := fakeModel(x, tt)
				next, err := s.Step(eps, tt, x, nil)
				if err != nil {
					t.Fatal(err)
				}
				if j == len(ts)-1 {
					a, st := alphaSigma(sg[j])
					want := make([]float32, len(x))
					for i := range want {
						want[i] = float32((float64(x[i]) - st*float64(eps[i])) / a)
					}
					if i, ok := closeTo(next, want, 1e-6); !ok {
						t.Fatalf("[%d]: got %v, x0 prediction %v", i, next[i], want[i])
					}
				}
				x = next
			}
		})
	}
}

func TestLongRuns(t *testing.T) {
	tests := []struct {
		name, sched string
		cfg         Config
		steps       int
		finite      bool
	}{
		{"unipc o2 trailing", "unipc", withKeys(t, "timestep_spacing", "trailing"), 1000, true},
		{"unipc o3 trailing", "unipc", withKeys(t, "timestep_spacing", "trailing", "solver_order", 3), 1000, true},
		{"unipc bh1 sigma_min trailing", "unipc", withKeys(t, "timestep_spacing", "trailing", "solver_type", "bh1", "final_sigmas_type", "sigma_min"), 1000, true},
		{"ddim trailing", "ddim", withKeys(t, "timestep_spacing", "trailing"), 1000, true},
		{"dpm trailing", "dpmpp_2m", withKeys(t, "timestep_spacing", "trailing"), 1000, true},
		{"dpm karras", "dpmpp_2m_karras", DefaultConfig(), 1000, true},
		{"euler linspace", "euler_ancestral", DefaultConfig(), 1000, true},
		{"unipc 999 linspace", "unipc", DefaultConfig(), 999, true},
		// diffusers: bh1 with a zero final sigma gives B(h) = -inf, NaN;
		// this port leaves out the zero term that makes it (see predict).
		{"unipc bh1 zero", "unipc", withKeys(t, "solver_type", "bh1"), 20, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.sched, tc.cfg, tc.steps)
			r := rand.New(rand.NewPCG(8, 9))
			x := randVec(r, 64)
			for i := range x {
				x[i] *= float32(s.InitNoiseSigma())
			}
			traj := runAll(t, s, x, 10)
			last := traj[len(traj)-1]
			if allFinite(last) != tc.finite {
				t.Fatalf("final sample finite = %v, want %v", allFinite(last), tc.finite)
			}
		})
	}
}

// Linspace spacing with 1000 of 1000 steps repeats t = 500, a step with
// h = 0 where diffusers' UniPC and DPM++ turn NaN half-way through a run;
// SetTimesteps refuses it before any model runs.
func TestRepeatedTimestepRefused(t *testing.T) {
	for _, name := range []string{"unipc", "dpmpp_2m"} {
		s, err := New(name, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		err = s.SetTimesteps(1000)
		if !errors.Is(err, ErrSteps) || !strings.Contains(err.Error(), "timestep 500 twice") {
			t.Errorf("%s SetTimesteps(1000) = %v, want ErrSteps naming t=500", name, err)
		}
		if err := s.SetTimesteps(999); err != nil {
			t.Errorf("%s SetTimesteps(999) = %v", name, err)
		}
	}
}

func TestSetTimestepsErrors(t *testing.T) {
	for _, name := range Names() {
		s, err := New(name, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, -3, 1001} {
			if err := s.SetTimesteps(n); !errors.Is(err, ErrSteps) {
				t.Errorf("%s SetTimesteps(%d) = %v, want ErrSteps", name, n, err)
			}
		}
		if _, err := s.Step(make([]float32, 4), 999, make([]float32, 4), make([]float32, 4)); !errors.Is(err, ErrStep) {
			t.Errorf("%s Step before SetTimesteps = %v, want ErrStep", name, err)
		}
	}
	// diffusers raises IndexError at t=1000 (leading, steps_offset 1).
	d, _ := New("ddim", DefaultConfig())
	if err := d.SetTimesteps(1000); !errors.Is(err, ErrSteps) {
		t.Errorf("ddim 1000 leading steps = %v, want ErrSteps", err)
	}
}

func TestStepErrors(t *testing.T) {
	e := mustNew(t, "euler_ancestral", DefaultConfig(), 10)
	x := make([]float32, 8)
	if _, err := e.Step(x, e.Timesteps()[0], x, nil); !errors.Is(err, ErrStep) {
		t.Errorf("Euler ancestral without noise = %v, want ErrStep", err)
	}
	if _, err := e.Step(x, 123.5, x, x); !errors.Is(err, ErrStep) {
		t.Errorf("Euler ancestral at an unknown timestep = %v, want ErrStep", err)
	}
	u := mustNew(t, "unipc", DefaultConfig(), 2)
	if _, err := u.Step(make([]float32, 3), 999, x, nil); !errors.Is(err, ErrStep) {
		t.Errorf("mismatched lengths = %v, want ErrStep", err)
	}
	for _, tt := range u.Timesteps() {
		if _, err := u.Step(x, tt, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := u.Step(x, 0, x, nil); !errors.Is(err, ErrStep) {
		t.Errorf("step past the end = %v, want ErrStep", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name, sched string
		cfg         Config
		want        error
	}{
		{"unknown name", "pndm", DefaultConfig(), ErrUnknownScheduler},
		{"beta schedule", "unipc", withKeys(t, "beta_schedule", "cubic"), ErrUnsupported},
		{"thresholding", "ddim", withKeys(t, "thresholding", true), ErrUnsupported},
		{"solver type", "unipc", withKeys(t, "solver_type", "rk4"), ErrUnsupported},
		{"algorithm", "dpmpp_2m", withKeys(t, "algorithm_type", "sde-dpmsolver++"), ErrUnsupported},
		{"euler sample", "euler_ancestral", withKeys(t, "prediction_type", "sample"), ErrUnsupported},
		{"spacing", "ddim", withKeys(t, "timestep_spacing", "random"), ErrUnsupported},
		{"final sigmas", "unipc", withKeys(t, "final_sigmas_type", "one"), ErrUnsupported},
		{"flow sigmas", "unipc", withKeys(t, "use_flow_sigmas", true), ErrUnsupported},
		{"dpm order 3", "dpmpp_2m", withKeys(t, "solver_order", 3), ErrUnsupported},
		{"unipc dynamic shifting", "unipc", withKeys(t, "use_dynamic_shifting", true), ErrUnsupported},
		{"unipc shift_terminal", "unipc", withKeys(t, "shift_terminal", 0.1), ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.sched, tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("New = %v, want %v", err, tc.want)
			}
		})
	}
}

// Reset must give bit-identical runs to a fresh instance, and interleaved
// instances must not disturb each other.
func TestResetAndIsolation(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := randVec(r, 128)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			cfg := withKeys(t, "solver_order", 3)
			if strings.HasPrefix(name, "dpmpp_2m") {
				cfg = withKeys(t, "solver_order", 2) // DPM++ 2M refuses other orders
			}
			fresh := runAll(t, mustNew(t, name, cfg, 12), x, 1)

			s := mustNew(t, name, cfg, 12)
			runAll(t, s, x, 99) // dirty the state with a different run
			s.Reset()
			again := runAll(t, s, x, 1)

			a, b := mustNew(t, name, cfg, 12), mustNew(t, name, cfg, 12)
			xa, xb := slices.Clone(x), slices.Clone(x)
			ra, rb := rand.New(rand.NewPCG(1, 7)), rand.New(rand.NewPCG(1, 7))
			for j, tt := range a.Timesteps() {
				var na, nb []float32
				if a.NeedsNoise() {
					na, nb = randVec(ra, len(x)), randVec(rb, len(x))
				}
				var err error
				if xa, err = a.Step(fakeModel(a.ScaleModelInput(xa, tt), tt), tt, xa, na); err != nil {
					t.Fatal(err)
				}
				if xb, err = b.Step(fakeModel(b.ScaleModelInput(xb, tt), tt), tt, xb, nb); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(xa, fresh[j]) || !slices.Equal(xb, fresh[j]) {
					t.Fatalf("interleaved instances diverge at step %d", j)
				}
			}
			for j := range fresh {
				if !slices.Equal(fresh[j], again[j]) {
					t.Fatalf("after Reset step %d differs from a fresh instance", j)
				}
			}
		})
	}
}

func TestStepDoesNotModifyInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, name := range Names() {
		s := mustNew(t, name, DefaultConfig(), 5)
		x, noise := randVec(r, 32), randVec(r, 32)
		for _, tt := range s.Timesteps() {
			eps := fakeModel(x, tt)
			x0, e0, n0 := slices.Clone(x), slices.Clone(eps), slices.Clone(noise)
			next, err := s.Step(eps, tt, x, noise)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x, x0) || !slices.Equal(eps, e0) || !slices.Equal(noise, n0) {
				t.Fatalf("%s: Step modified its inputs", name)
			}
			x = next
		}
	}
}

func TestKarrasSchedule(t *testing.T) {
	s := mustNew(t, "dpmpp_2m_karras", DefaultConfig(), 20)
	sg, ts := s.Sigmas(), s.Timesteps()
	acp := s.AlphasCumprod()
	maxS := math.Sqrt((1 - acp[999]) / acp[999])
	minS := math.Sqrt((1 - acp[0]) / acp[0])
	// diffusers takes the ends from its float32 training sigmas.
	if math.Abs(sg[0]/maxS-1) > 1e-4 || math.Abs(sg[19]/minS-1) > 1e-4 || sg[20] != 0 {
		t.Fatalf("karras sigmas %v, want %v .. %v then 0", sg, maxS, minS)
	}
	if ts[0] != 999 || ts[19] != 0 {
		t.Fatalf("karras timesteps %v, want 999 .. 0", ts)
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] > ts[i-1] || sg[i] >= sg[i-1] {
			t.Fatalf("karras schedule not decreasing at %d: %v %v", i, ts, sg)
		}
	}
}

func BenchmarkUniPC20(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x0 := randVec(r, 1*4*64*64)
	eps := randVec(r, len(x0))
	s := mustNew(b, "unipc", DefaultConfig(), 20)
	ts := s.Timesteps()
	b.ReportAllocs()
	for b.Loop() {
		s.Reset()
		x := x0
		for _, tt := range ts {
			var err error
			if x, err = s.Step(eps, tt, x, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func TestAffineStep(t *testing.T) {
	clip := DefaultConfig() // SD 1.5 sets clip_sample false
	if !AffineStep("ddim", clip) || !AffineStep("unipc", clip) {
		t.Fatal("SD 1.5 DDIM and UniPC steps are affine")
	}
	var bare Config // no keys: DDIM's own default clips
	if AffineStep("DDIMScheduler", bare) {
		t.Fatal("DDIM with its default clip_sample=true is not affine")
	}
	if err := clip.Set("clip_sample", true); err != nil {
		t.Fatal(err)
	}
	if AffineStep("ddim", clip) || !AffineStep("euler_ancestral", clip) {
		t.Fatal("clip_sample only concerns DDIM")
	}
}
