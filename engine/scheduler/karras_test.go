package scheduler

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKarrasFromConfig: DPMSolverMultistepScheduler.from_config of a config
// with use_karras_sigmas true spaces the timesteps by the Karras sigmas
// (999, 962, ...), not evenly (999, 949, ...); dpmpp_2m must do the same,
// and so must add_noise at a Karras step.
func TestKarrasFromConfig(t *testing.T) {
	k := mustNew(t, "dpmpp_2m", withKeys(t, "use_karras_sigmas", true), 20)
	named := mustNew(t, "dpmpp_2m_karras", DefaultConfig(), 20)
	ts := k.Timesteps()
	if ts[0] != 999 || ts[1] != 962 {
		t.Fatalf("timesteps %v, want Karras spacing 999, 962, ...", ts)
	}
	if !slices.Equal(ts, named.Timesteps()) || !slices.Equal(k.Sigmas(), named.Sigmas()) {
		t.Fatalf("dpmpp_2m with use_karras_sigmas differs from dpmpp_2m_karras:\n%v\n%v", ts, named.Timesteps())
	}
	// add_noise at step i uses the Karras sigma of step i.
	r := rand.New(rand.NewPCG(1, 1))
	x0, n := randVec(r, 16), randVec(r, 16)
	sg := k.Sigmas()
	for _, i := range []int{0, 7, 19} {
		k.Reset()
		k.SetBeginIndex(i)
		got := k.AddNoise(x0, n, ts[i])
		a, st := alphaSigma(sg[i])
		for j := range got {
			if want := a*float64(x0[j]) + st*float64(n[j]); math.Abs(float64(got[j])-want) > 1e-6 {
				t.Fatalf("add_noise at step %d: [%d] = %v, want %v (sigma %v)", i, j, got[j], want, sg[i])
			}
		}
	}
}

// TestZeroFinalSigmaFinite: UniPC's last step onto a zero sigma returns the
// x0 prediction and never NaN, whatever the solver type, order,
// lower_order_final and predict_x0 (diffusers returns NaN for bh1 and for
// lower_order_final false there).
func TestZeroFinalSigmaFinite(t *testing.T) {
	for _, kv := range [][]any{
		{"solver_type", "bh1"},
		{"solver_type", "bh1", "solver_order", 3},
		{"solver_type", "bh2", "lower_order_final", false},
		{"solver_type", "bh1", "lower_order_final", false, "solver_order", 3},
		{"predict_x0", false},
		{"predict_x0", false, "solver_type", "bh1", "lower_order_final", false},
		{"solver_type", "bh1", "use_karras_sigmas", true},
	} {
		t.Run(fmt.Sprint(kv), func(t *testing.T) {
			s := mustNew(t, "unipc", withKeys(t, kv...), 20)
			r := rand.New(rand.NewPCG(4, 4))
			x := randVec(r, 64)
			ts, sg := s.Timesteps(), s.Sigmas()
			for j, tt := range ts {
				eps := fakeModel(x, tt)
				next, err := s.Step(eps, tt, x, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !allFinite(next) {
					t.Fatalf("step %d (t=%v): non-finite sample", j, tt)
				}
				// With predict_x0 false the last step is the x0 prediction of
				// the corrected sample, which this test does not know.
				if j == len(ts)-1 && s.(*uniPC).p.PredictX0 {
					a, st := alphaSigma(sg[j])
					want := make([]float32, len(x))
					for i := range want {
						want[i] = float32((float64(x[i]) - st*float64(eps[i])) / a)
					}
					if i, ok := closeTo(next, want, 1e-5); !ok {
						t.Fatalf("[%d]: last step %v, x0 prediction %v", i, next[i], want[i])
					}
				}
				x = next
			}
		})
	}
}

// TestGoldenTestdata runs the golden cases kept in this package's testdata
// (written by testdata/gen_karras.py) with the shared cases' runner.
func TestGoldenTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		t.Run(c.Name, func(t *testing.T) { runGolden(t, c) })
	}
}

// TestKarrasSigmasInFloat64: the Karras sigma list is diffusers'
// _convert_to_karras computed in float64 (numpy's), between the float32
// training table's ends: no value is rounded to float32 on the way, so the
// steps' arithmetic sees the same sigmas as a float64 reference.
func TestKarrasSigmasInFloat64(t *testing.T) {
	for _, n := range []int{6, 10, 20, 45} {
		k := mustNew(t, "dpmpp_2m_karras", DefaultConfig(), n)
		sg := k.Sigmas()
		// The ends are the table's float32 values, as far as x^(1/7)^7 in
		// float64 gives them back.
		hi, lo := float64(float32(sg[0])), float64(float32(sg[n-1]))
		if math.Abs(sg[0]-hi) > 1e-12*hi || math.Abs(sg[n-1]-lo) > 1e-12*lo {
			t.Fatalf("%d steps: ends %v, %v are not the float32 table's values", n, sg[0], sg[n-1])
		}
		const rho = 7.0
		maxInv, minInv := math.Pow(hi, 1/rho), math.Pow(lo, 1/rho)
		for i := range n {
			r := float64(i) / float64(n-1)
			want := math.Pow(maxInv+r*(minInv-maxInv), rho)
			if rel := math.Abs(sg[i]-want) / want; rel > 1e-12 {
				t.Errorf("%d steps: sigma[%d] = %.17g, float64 reference %.17g (relative error %.2g)", n, i, sg[i], want, rel)
			}
		}
		if sg[n] != 0 {
			t.Errorf("%d steps: final sigma %v, want 0 (final_sigmas_type zero)", n, sg[n])
		}
	}
}
