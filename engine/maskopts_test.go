package engine

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/engine/npy"
	"likeness/engine/scheduler"
	"likeness/models"
	"likeness/models/synth"
)

// TestGaussianBlurHandComputed checks cv2.GaussianBlur's kernels and its
// reflect-101 border against values worked out by hand. The input is one
// row with a 1 at x = 1 (so the vertical pass, over a single row, keeps it),
// and out[x] = Σ_i g[i]·src[reflect101(x+i−r)]. At x = 0 the taps left of
// the border mirror to x = 1, 2, … (not to x = 0, as replicated edges
// would), so the impulse is counted twice there.
func TestGaussianBlurHandComputed(t *testing.T) {
	// k = 9: σ = 0.3·((9−1)/2 − 1) + 0.8 = 1.7; g(d) = exp(−d²/5.78)/Σ with
	// Σ = 1 + 2·(0.841138 + 0.500574 + 0.210760 + 0.062776) = 4.230496:
	// g(0) = 0.236384, g(1) = 0.198829, g(2) = 0.118323, g(3) = 0.049817, g(4) = 0.014839.
	cases := []struct {
		k    int
		want []float64 // out[0..]
	}{
		{1, []float64{0, 1, 0, 0, 0, 0, 0}},
		// [1,2,1]/4: x0 taps (1,0,1) → 2/4; x1 taps (0,1,2) → 2/4; x2 → 1/4.
		{3, []float64{0.5, 0.5, 0.25, 0, 0, 0, 0}},
		// [1,4,6,4,1]/16: x0 taps (2,1,0,1,2) → (4+4)/16; x1 (1,0,1,2,3) → (1+6)/16;
		// x2 (0..4) → 4/16; x3 (1..5) → 1/16.
		{5, []float64{8.0 / 16, 7.0 / 16, 4.0 / 16, 1.0 / 16, 0, 0, 0}},
		// [2,7,14,18,14,7,2]/64: x0 taps (3,2,1,0,1,2,3) → (14+14)/64; x1 (2,1,0,1,2,3,4)
		// → (7+18)/64; x2 (1,0,1,…) → (2+14)/64; x3 → 7/64; x4 → 2/64; x6 taps
		// (3,4,5,6,5,4,3) never reach x = 1.
		{7, []float64{28.0 / 64, 25.0 / 64, 16.0 / 64, 7.0 / 64, 2.0 / 64, 0, 0}},
		// x0 taps (4,3,2,1,0,1,2,3,4) → 2·g(1); x1 (3,2,1,0,1,…) → g(2)+g(0);
		// x2 (2,1,0,1,2,…) → g(3)+g(1); x3 → g(4)+g(2); x4 → g(3); x5 → g(4).
		{9, []float64{0.397658, 0.354706, 0.248646, 0.133162, 0.049817, 0.014839, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		src := make([]float64, len(c.want))
		src[1] = 1
		got := GaussianBlur(src, len(src), 1, c.k)
		for x := range c.want {
			if math.Abs(got[x]-c.want[x]) > 1e-6 {
				t.Errorf("k=%d: out[%d] = %.6f, want %.6f (all: %.6f)", c.k, x, got[x], c.want[x], got)
			}
		}
		var sum float64
		for _, v := range GaussianKernel(c.k) {
			sum += v
		}
		if math.Abs(sum-1) > 1e-15 {
			t.Errorf("k=%d: kernel sums to %v", c.k, sum)
		}
	}
	// 2-D: an impulse in the corner of a 4×4 map, k = 3. Each axis gives the
	// corner 2/4 (taps 1,0,1), so out(0,0) = 1/4, out(1,0) = (1/4)(2/4), out(1,1) = 1/16.
	src := make([]float64, 16)
	src[0] = 1
	got := GaussianBlur(src, 4, 4, 3)
	for _, c := range []struct {
		x, y int
		want float64
	}{{0, 0, 0.25}, {1, 0, 0.125}, {0, 1, 0.125}, {1, 1, 1.0 / 16}, {2, 0, 0}, {3, 3, 0}} {
		if v := got[c.y*4+c.x]; math.Abs(v-c.want) > 1e-15 {
			t.Errorf("k=3 corner impulse: out(%d,%d) = %v, want %v", c.x, c.y, v, c.want)
		}
	}
	// A kernel wider than the map reflects more than once: width 2, k = 5,
	// src (1, 0): x0 taps (−2,−1,0,1,2) → (0,1,0,1,0) → (1+6+1)/16; x1 taps
	// (−1,0,1,2,3) → (1,0,1,0,1) → (4+4)/16.
	got = GaussianBlur([]float64{1, 0}, 2, 1, 5)
	if got[0] != 0.5 || got[1] != 0.5 {
		t.Errorf("k=5 on width 2: %v, want [0.5 0.5]", got)
	}
}

// TestMaskNormalizeOrders: on the analytic pack D is a constant times the
// planted region R, so the paper's order gives N = blur(R) and
// blur_then_normalize gives N = minmax(blur(R)). The cases are chosen so
// that blur(R) peaks below 1 (a kernel wider than R), where the two differ.
func TestMaskNormalizeOrders(t *testing.T) {
	cases := []struct {
		name string
		opt  synth.Options
		k    int
	}{
		{"factor 8, 3×3 region, k 5", synth.Options{Resolution: 64}, 5},
		{"factor 8, 6×6 region, k 9", synth.Options{}, 9},
		{"factor 4, 6×6 region, k 9", synth.Options{Resolution: 64, LatentFactor: 4}, 9},
		{"factor 4, 12×12 region, k 15", synth.Options{LatentFactor: 4}, 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opt, nil)
			n := f.a.LatentSize()
			blurred := blurRef(plantedMap(f.a), n, n, c.k)
			lo, hi := blurred[0], blurred[0]
			for _, v := range blurred {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			if hi > 0.99 {
				t.Fatalf("blur(R) peaks at %v: the two orders would agree and the test could not tell them apart", hi)
			}
			for _, order := range []string{MaskNormalizeThenBlur, MaskBlurThenNormalize} {
				s := f.settings()
				s.BlurKernel, s.MaskNormalize = c.k, order
				m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i, b := range blurred {
					want := b
					if order == MaskBlurThenNormalize {
						want = (b - lo) / (hi - lo)
					}
					if d := math.Abs(float64(m.Soft[i]) - want); d > 1e-5 {
						t.Fatalf("%s: cell %d = %v, want %v", order, i, m.Soft[i], want)
					}
				}
				// λ then thresholds the map of this order.
				lambda := 0.9 * hi
				area := 0.0
				for _, b := range blurred {
					v := b
					if order == MaskBlurThenNormalize {
						v = (b - lo) / (hi - lo)
					}
					if v > lambda {
						area++
					}
				}
				if got, want := m.Area(lambda), area/float64(len(blurred)); got != want {
					t.Errorf("%s: area at λ=%v is %v, want %v", order, lambda, got, want)
				}
			}
		})
	}
}

// TestLatentBlendClosedForm: with eq3_latent_blend the latent outside the
// mask is z0 exactly at the end, and inside it is what Eq. 3 alone gives,
// bit for bit, because the analytic UNet works cell by cell: the blend
// changes nothing a cell inside the mask sees. On the linear pack that is
// also the closed form X̃(p_b).
func TestLatentBlendClosedForm(t *testing.T) {
	cases := []struct {
		name  string
		opt   synth.Options
		sched string
	}{
		{"unipc", synth.Options{}, "unipc"},
		{"ddim", synth.Options{}, "ddim"},
		{"dpmpp_2m, latent factor 4", synth.Options{LatentFactor: 4}, "dpmpp_2m"},
		{"euler_ancestral, nonlinear", synth.Options{Nonlinear: true}, "euler_ancestral"},
		{"unipc, nonlinear, ip2p", synth.Options{Kind: "ip2p", Nonlinear: true}, "unipc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opt, nil)
			s := f.settings()
			s.Scheduler = c.sched
			mask := f.a.Mask()
			eq3, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.MaskGuidance = MaskGuidanceLatentBlend
			blend, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
			if err != nil {
				t.Fatal(err)
			}
			if blend.Stats.UNetEvals[PhaseDenoise] != eq3.Stats.UNetEvals[PhaseDenoise] {
				t.Errorf("the blend used %d UNet evaluations, Eq. 3 %d", blend.Stats.UNetEvals[PhaseDenoise], eq3.Stats.UNetEvals[PhaseDenoise])
			}
			hw := len(mask)
			outsideMoved := 0.0
			for i := range blend.Latent {
				if mask[i%hw] {
					if blend.Latent[i] != eq3.Latent[i] {
						t.Fatalf("latent %d inside the mask: %v with the blend, %v with Eq. 3", i, blend.Latent[i], eq3.Latent[i])
					}
					continue
				}
				if blend.Latent[i] != f.enc.Z0[i] {
					t.Fatalf("latent %d outside the mask: %v, want z0 = %v", i, blend.Latent[i], f.enc.Z0[i])
				}
				outsideMoved = math.Max(outsideMoved, math.Abs(float64(eq3.Latent[i]-f.enc.Z0[i])))
			}
			if outsideMoved == 0 {
				t.Fatal("Eq. 3 alone already ends at z0 outside the mask: the test cannot see the blend")
			}
			// Samplers that end at σ = 0 (not DDIM, which stops at ᾱ_0) reach
			// the clean latent of the guided prediction.
			if !c.opt.Nonlinear && (c.sched == "unipc" || c.sched == "dpmpp_2m") {
				_, idb := f.ids(t, s)
				xb := f.a.Guided(s.S1, s.S2, s.S3, f.enc.CS, f.enc.Tokens, idb)
				for i := range xb {
					if mask[i%hw] && math.Abs(float64(blend.Latent[i]-xb[i])) > 2e-4 {
						t.Fatalf("latent %d inside the mask: %v, closed form X̃(p_b) %v", i, blend.Latent[i], xb[i])
					}
				}
			}
			// Without a mask (the baseline) the option changes nothing.
			b1, err := f.e.Edit(context.Background(), f.enc, s, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.MaskGuidance = MaskGuidanceEq3
			b2, err := f.e.Edit(context.Background(), f.enc, s, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d, i := maxDiff(b1.Latent, b2.Latent); d != 0 {
				t.Fatalf("baseline latent %d differs by %g between the guidance options", i, d)
			}
		})
	}
}

// TestLatentBlendStep checks the blend's step formula, not only its end:
// after step i the latent outside the mask is the closed form of DDIM's
// add_noise at the next timestep, √ᾱ·z0 + √(1−ᾱ)·n with n the initial noise;
// inside, the sample is left alone; after the last step, outside is z0.
func TestLatentBlendStep(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	sc, err := scheduler.New("ddim", f.e.sched)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SetTimesteps(s.Steps); err != nil {
		t.Fatal(err)
	}
	n := len(f.enc.Z0)
	n0 := noise(s.Seed, 0, n)
	hw := n / 4
	mask := f.a.Mask()
	m := make([]float32, n)
	for i := range m {
		if mask[i%hw] {
			m[i] = 1
		}
	}
	blend := latentBlend(sc, f.enc.Z0, n0, m)
	ts := sc.Timesteps()
	for i := range ts {
		z := noise(99, uint64(i), n)
		before := append([]float32(nil), z...)
		blend(i, z)
		for k := range z {
			want := float64(f.enc.Z0[k])
			if i+1 < len(ts) {
				ab := f.a.AlphaBar(int(ts[i+1]))
				want = math.Sqrt(ab)*float64(f.enc.Z0[k]) + math.Sqrt(1-ab)*float64(n0[k])
			}
			switch {
			case mask[k%hw] && z[k] != before[k]:
				t.Fatalf("step %d: value %d inside the mask changed", i, k)
			case !mask[k%hw] && math.Abs(float64(z[k])-want) > 1e-6:
				t.Fatalf("step %d (t_next %v): value %d outside = %v, want %v", i, ts[min(i+1, len(ts)-1)], k, z[k], want)
			}
		}
	}
}

// TestSuppliedNoise: noise given in Settings.Noise replaces the seeded
// generator: the generator's own rows give the seeded run bit for bit, and
// other rows change both the mask and the edit.
func TestSuppliedNoise(t *testing.T) {
	f := newFixture(t, synth.Options{Nonlinear: true}, nil)
	s := f.settings()
	n := len(f.enc.Z0)
	seeded := &Noise{Name: "seeded.npy", Rows: [][]float32{noise(s.Seed, 0, n)}}
	for i := 0; i < s.MaskSeeds; i++ {
		seeded.Rows = append(seeded.Rows, noise(s.Seed, 1+uint64(i), n))
	}
	other := &Noise{Name: "other.npy"}
	for i := range seeded.Rows {
		other.Rows = append(other.Rows, noise(s.Seed+100, uint64(i), n))
	}
	run := func(nz *Noise) (*Mask, *Result) {
		t.Helper()
		s := s
		s.Noise = nz
		m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.e.Edit(context.Background(), f.enc, s, f.a.Mask(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return m, r
	}
	m0, r0 := run(nil)
	m1, r1 := run(seeded)
	m2, r2 := run(other)
	for i := range m0.Soft {
		if m0.Soft[i] != m1.Soft[i] {
			t.Fatalf("mask cell %d: %v seeded, %v with the same noise supplied", i, m0.Soft[i], m1.Soft[i])
		}
	}
	if d, i := maxDiff(r0.Latent, r1.Latent); d != 0 {
		t.Fatalf("latent %d differs by %g with the seeded noise supplied", i, d)
	}
	if d, _ := maxDiff(m0.Soft, m2.Soft); d == 0 {
		t.Error("other mask noise gave the same mask")
	}
	if d, _ := maxDiff(r0.Latent, r2.Latent); d == 0 {
		t.Error("other initial noise gave the same edit")
	}
	// One row serves an edit with a given mask, not a mask computation.
	s.Noise = &Noise{Name: "one-row.npy", Rows: seeded.Rows[:1]}
	if _, err := f.e.Edit(context.Background(), f.enc, s, f.a.Mask(), nil); err != nil {
		t.Fatalf("edit with one row: %v", err)
	}
	if _, err := f.e.ComputeMask(context.Background(), f.enc, s, nil); !errors.Is(err, ErrBadSettings) || !strings.Contains(err.Error(), "one-row.npy") {
		t.Fatalf("mask with one row: err = %v, want ErrBadSettings naming the noise", err)
	}
	// SDEdit starts from z0 noised with row 0.
	sd := newFixture(t, synth.Options{Kind: "sd", Nonlinear: true}, nil)
	ss := sd.settings()
	a, err := sd.e.SDEdit(context.Background(), sd.enc, ss, 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss.Noise = &Noise{Name: "sd.npy", Rows: [][]float32{noise(ss.Seed, 0, n)}}
	b, err := sd.e.SDEdit(context.Background(), sd.enc, ss, 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, i := maxDiff(a.Latent, b.Latent); d != 0 {
		t.Fatalf("SDEdit latent %d differs by %g with the seeded noise supplied", i, d)
	}
}

func writeNPY(t *testing.T, path string, shape []int, data []float32) {
	t.Helper()
	var buf bytes.Buffer
	if err := npy.Write(&buf, shape, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadNoise(t *testing.T) {
	f := newFixture(t, synth.Options{LatentFactor: 4}, nil) // latent 32×32
	lat := f.e.Sig.Latent
	if lat != testRes/4 {
		t.Fatalf("latent %d, want %d", lat, testRes/4)
	}
	dir := t.TempDir()
	full := make([]float32, 4*4*lat*lat) // mask seeds 3: 4 rows
	for i := range full {
		full[i] = float32(i%97) / 97
	}
	good := filepath.Join(dir, "good.npy")
	writeNPY(t, good, []int{4, 4, lat, lat}, full)
	nz, err := f.e.ReadNoise(good, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(nz.Rows) != 4 || nz.Rows[2][5] != full[2*4*lat*lat+5] || nz.Name != good {
		t.Fatalf("rows %d, row 2 value 5 %v", len(nz.Rows), nz.Rows[2][5])
	}
	oneRow := filepath.Join(dir, "one.npy")
	writeNPY(t, oneRow, []int{1, 4, lat, lat}, full[:4*lat*lat])
	if _, err := f.e.ReadNoise(oneRow, 3, true); err != nil {
		t.Errorf("one row for an edit without a mask: %v", err)
	}
	nan := append([]float32(nil), full...)
	nan[7] = float32(math.NaN())
	nanPath := filepath.Join(dir, "nan.npy")
	writeNPY(t, nanPath, []int{4, 4, lat, lat}, nan)
	truncated := filepath.Join(dir, "truncated.npy")
	raw, _ := os.ReadFile(good)
	os.WriteFile(truncated, raw[:len(raw)-10], 0o644)
	fortran := filepath.Join(dir, "fortran.npy")
	os.WriteFile(fortran, bytes.Replace(raw, []byte("'fortran_order': False"), []byte("'fortran_order': True "), 1), 0o644)
	f64 := filepath.Join(dir, "f64.npy")
	os.WriteFile(f64, bytes.Replace(raw, []byte("'<f4'"), []byte("'<f8'"), 1), 0o644)
	wrongLatent := filepath.Join(dir, "latent16.npy")
	writeNPY(t, wrongLatent, []int{4, 4, 16, 16}, make([]float32, 4*4*16*16))
	cases := []struct {
		name, path string
		seeds      int
		editOnly   bool
		want       []string
	}{
		{"rows for other mask seeds", good, 10, false, []string{"good.npy", "shape [4 4 32 32]", "want [11, 4, 32, 32]"}},
		{"one row for a mask", oneRow, 3, false, []string{"one.npy", "shape [1 4 32 32]", "want [4, 4, 32, 32]"}},
		{"factor-8 latent for a factor-4 pack", wrongLatent, 3, true, []string{"latent16.npy", "want [4, 4, 32, 32] or [1, 4, 32, 32]"}},
		{"NaN", nanPath, 3, false, []string{"nan.npy", "value 7 is NaN"}},
		{"truncated", truncated, 3, false, []string{"truncated.npy", "truncated"}},
		{"fortran order", fortran, 3, false, []string{"fortran.npy", "fortran_order"}},
		{"float64", f64, 3, false, []string{"f64.npy", "'<f4'"}},
		{"absent", filepath.Join(dir, "absent.npy"), 3, false, []string{"absent.npy", "no such file"}},
	}
	for _, c := range cases {
		_, err := f.e.ReadNoise(c.path, c.seeds, c.editOnly)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
	}
}

// TestPackMaskDefaults: the manifest's mask_normalize and mask_guidance
// become the default settings; a bad value is refused naming key and file.
func TestPackMaskDefaults(t *testing.T) {
	f := newFixture(t, synth.Options{MaskNormalize: MaskBlurThenNormalize, MaskGuidance: MaskGuidanceLatentBlend}, nil)
	s := f.e.DefaultSettings()
	if s.MaskNormalize != MaskBlurThenNormalize || s.MaskGuidance != MaskGuidanceLatentBlend {
		t.Errorf("defaults %q %q", s.MaskNormalize, s.MaskGuidance)
	}
	plain := newFixture(t, synth.Options{Resolution: 64}, nil).e.DefaultSettings()
	if plain.MaskNormalize != MaskNormalizeThenBlur || plain.MaskGuidance != MaskGuidanceEq3 {
		t.Errorf("contract defaults %q %q", plain.MaskNormalize, plain.MaskGuidance)
	}
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := synth.Write(dir, synth.Options{Resolution: 64, MaskGuidance: "latent_blend"}); err != nil {
		t.Fatal(err)
	}
	_, err := models.OpenWith(dir, models.OpenOptions{Probe: models.UNetChannels})
	if !errors.Is(err, models.ErrBadManifest) || !strings.Contains(err.Error(), `"defaults.mask_guidance"`) || !strings.Contains(err.Error(), "likeness.json") {
		t.Fatalf("err = %v, want a manifest error naming defaults.mask_guidance and the file", err)
	}
}
