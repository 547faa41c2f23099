package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"testing"
	"time"

	"likeness/engine/scheduler"
	"likeness/models"
	"likeness/models/synth"
	"likeness/ort"
)

// testRes keeps the analytic packs small: a 16×16 latent.
const testRes = 128

func TestMain(m *testing.M) {
	if err := ort.Init(""); err != nil {
		// Fail, never skip: the engine cannot be tested without the library.
		fmt.Println("FAIL: ONNX Runtime is needed for the engine tests:", err)
		fmt.Println("run `make test` (it installs the library) or `bash packaging/install-ort.sh`")
		// os.Exit in TestMain is the documented way to fail the package.
		exit(1)
	}
	exit(m.Run())
}

type fixture struct {
	e   *Engine
	a   *synth.Analytic
	enc *Encoded
}

func newFixture(t testing.TB, o synth.Options, batch *bool) *fixture {
	t.Helper()
	if o.Resolution == 0 {
		o.Resolution = testRes
	}
	dir := filepath.Join(t.TempDir(), "pack")
	a, err := synth.Write(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := models.OpenWith(dir, models.OpenOptions{Probe: models.UNetChannels})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Load(context.Background(), p, LoadOptions{Provider: ort.CPU, BatchBranches: batch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	enc, err := e.Encode(context.Background(), testPhoto(200, 260), false, image.Rectangle{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{e: e, a: a, enc: enc}
}

// testPhoto is a smooth portrait-sized stand-in with structure in every channel.
func testPhoto(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(40 + 180*x/w)
			img.Pix[i+1] = uint8(30 + 200*y/h)
			img.Pix[i+2] = uint8(128 + 100*math.Sin(float64(x+y)/23))
			img.Pix[i+3] = 255
		}
	}
	return img
}

func (f *fixture) settings() Settings {
	s := f.e.DefaultSettings()
	s.Steps, s.MaskSeeds, s.MaskNoiseSteps, s.Seed = 6, 3, 3, 7
	if s.Direction == "" { // a pack without a manifest has no directions
		s.Target = "angry"
	}
	return s
}

func (f *fixture) ids(t testing.TB, s Settings) (pa, pb []int64) {
	t.Helper()
	a, b, err := f.e.Prompts(s)
	if err != nil {
		t.Fatal(err)
	}
	return f.e.tok.Encode(a), f.e.tok.Encode(b)
}

// cvKernel is cv2.getGaussianKernel(k, 0), written out independently of the
// engine: OpenCV's fixed tables for k ≤ 7, else the σ rule.
func cvKernel(k int) []float64 {
	switch k {
	case 1:
		return []float64{1}
	case 3:
		return []float64{1.0 / 4, 2.0 / 4, 1.0 / 4}
	case 5:
		return []float64{1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16}
	case 7:
		return []float64{2.0 / 64, 7.0 / 64, 14.0 / 64, 18.0 / 64, 14.0 / 64, 7.0 / 64, 2.0 / 64}
	}
	sigma := 0.3*(float64(k-1)/2-1) + 0.8
	out := make([]float64, k)
	var sum float64
	for i := range out {
		d := float64(i - k/2)
		out[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// blurRef is an independent cv2.GaussianBlur(src, (k,k), 0): the direct k×k
// sum of the outer product of cvKernel, borders reflect-101 (… c b | a b c …).
func blurRef(src []float64, w, h, k int) []float64 {
	g := cvKernel(k)
	r := k / 2
	mirror := func(p, n int) int {
		if n == 1 {
			return 0
		}
		for p < 0 || p >= n {
			if p < 0 {
				p = -p
			} else {
				p = 2*n - 2 - p
			}
		}
		return p
	}
	out := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					acc += g[dy+r] * g[dx+r] * src[mirror(y+dy, h)*w+mirror(x+dx, w)]
				}
			}
			out[y*w+x] = acc
		}
	}
	return out
}

// plantedMap is the analytic pack's region R as a 0/1 map.
func plantedMap(a *synth.Analytic) []float64 {
	region := a.Mask()
	planted := make([]float64, len(region))
	for i, b := range region {
		if b {
			planted[i] = 1
		}
	}
	return planted
}

func TestMaskEqualsPlantedRegion(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  synth.Options
	}{
		{"latent factor 8", synth.Options{}},
		{"latent factor 4", synth.Options{LatentFactor: 4}},
		{"latent factor 16 ip2p", synth.Options{Kind: "ip2p", LatentFactor: 16, Resolution: 256}},
	} {
		t.Run(c.name, func(t *testing.T) { testMaskEqualsPlantedRegion(t, c.opt) })
	}
}

func testMaskEqualsPlantedRegion(t *testing.T, opt synth.Options) {
	f := newFixture(t, opt, nil)
	n := f.a.LatentSize()
	if f.e.Sig.Latent != n || f.e.Sig.Resolution/f.e.Sig.LatentFactor != n {
		t.Fatalf("engine latent %d (resolution %d, factor %d), pack's %d", f.e.Sig.Latent, f.e.Sig.Resolution, f.e.Sig.LatentFactor, n)
	}
	want := blurRef(plantedMap(f.a), n, n, 5)
	for _, dir := range []string{"angry", "shocked", "laughing", "crying"} {
		s := f.settings()
		s.Direction = dir
		m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Reason != "" {
			t.Fatalf("%s: empty mask: %s", dir, m.Reason)
		}
		for i := range want {
			if d := math.Abs(float64(m.Soft[i]) - want[i]); d > 1e-5 {
				t.Fatalf("%s: soft map cell %d = %v, want blurred planted region %v", dir, i, m.Soft[i], want[i])
			}
		}
		for _, lambda := range []float64{0.05, 0.2, 0.35, 0.5, 0.7, 0.9} {
			got := m.Threshold(lambda)
			area := 0
			for i := range got {
				if got[i] != (want[i] > lambda) {
					t.Fatalf("%s λ=%v: cell %d = %v, want %v (N=%v)", dir, lambda, i, got[i], want[i] > lambda, want[i])
				}
				if got[i] {
					area++
				}
			}
			if lambda == 0.5 && area == 0 {
				t.Fatalf("%s: mask empty at λ=0.5", dir)
			}
		}
	}
}

func TestMaskDegenerateWhenTextHasNoEffect(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	s.S3 = 0
	m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Reason == "" || m.Area(0) != 0 {
		t.Fatalf("want an empty mask with a reason, got reason %q area %v", m.Reason, m.Area(0))
	}
}

// TestMaskShortcutEqualsLiteral checks the 2-evaluations-per-seed mask against
// the contract's literal computation (both guided predictions, eight
// evaluations, two scheduler steps) on a pack whose UNet is nonlinear in z_t,
// so that the map depends on the noise and differs between channels.
func TestMaskShortcutEqualsLiteral(t *testing.T) {
	for _, sched := range []string{"unipc", "ddim", "dpmpp_2m", "euler_ancestral", "ddim clip_sample"} {
		t.Run(sched, func(t *testing.T) {
			f := newFixture(t, synth.Options{Nonlinear: true}, nil)
			s := f.settings()
			s.Scheduler = sched
			perSeed := 2
			if sched == "ddim clip_sample" {
				// Clipping makes the step nonlinear in ε: the engine must fall
				// back to the literal five evaluations per seed.
				s.Scheduler, perSeed = "ddim", 5
				if err := f.e.sched.Set("clip_sample", true); err != nil {
					t.Fatal(err)
				}
				if err := f.e.sched.Set("clip_sample_range", 0.3); err != nil {
					t.Fatal(err)
				}
			}
			s.S1, s.S2, s.S3 = 1.5, 2.5, 4
			m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Stats.UNetEvals[PhaseMask]; got != perSeed*s.MaskSeeds {
				t.Errorf("mask used %d UNet evaluations, want %d", got, perSeed*s.MaskSeeds)
			}
			lit := literalMask(t, f, s)
			distinct := map[float32]bool{}
			for i := range lit {
				distinct[float32(lit[i])] = true
				if d := math.Abs(float64(m.Soft[i]) - lit[i]); d > 2e-4 {
					t.Fatalf("cell %d: shortcut %v, literal %v", i, m.Soft[i], lit[i])
				}
			}
			if len(distinct) < 10 {
				t.Fatalf("the nonlinear pack gave only %d distinct values; the test cannot tell implementations apart", len(distinct))
			}
		})
	}
}

func literalMask(t *testing.T, f *fixture, s Settings) []float64 {
	ctx := context.Background()
	j := newJob(ctx, nil)
	pa, pb, _ := f.e.Prompts(s)
	tn, _ := f.e.textEmbedding(ctx, "")
	ta, _ := f.e.textEmbedding(ctx, pa)
	tb, _ := f.e.textEmbedding(ctx, pb)
	enc := f.enc
	idx := s.Steps - s.MaskNoiseSteps
	n := len(enc.Z0)
	hw := n / 4
	D := make([]float64, hw)
	for seed := 0; seed < s.MaskSeeds; seed++ {
		var z [2][]float32
		var zt []float32
		for k, text := range [][]float32{ta, tb} {
			sc, err := scheduler.New(s.Scheduler, f.e.sched)
			if err != nil {
				t.Fatal(err)
			}
			sc.SetTimesteps(s.Steps)
			sc.SetBeginIndex(idx)
			tt := sc.Timesteps()[idx]
			zt = sc.AddNoise(enc.Z0, noise(s.Seed, 1+uint64(seed), n), tt)
			zin := sc.ScaleModelInput(zt, tt)
			eps, err := f.e.evalUNet(j, zin, tt, []cond{
				{enc.CSNull, enc.TokensNull, tn}, {enc.CSNull, enc.Tokens, tn}, {enc.CS, enc.Tokens, tn}, {enc.CS, enc.Tokens, text}})
			if err != nil {
				t.Fatal(err)
			}
			g := make([]float32, n)
			guide(g, eps[0], eps[1], eps[2], eps[3], float32(s.S1), float32(s.S2), float32(s.S3))
			var sn []float32
			if sc.NeedsNoise() {
				sn = noise(s.Seed, 1<<32+uint64(seed), n)
			}
			z[k], err = sc.Step(g, tt, zt, sn)
			if err != nil {
				t.Fatal(err)
			}
		}
		for c := 0; c < 4; c++ {
			for i := 0; i < hw; i++ {
				D[i] += math.Abs(float64(z[1][c*hw+i])-float64(z[0][c*hw+i])) / 4 / float64(s.MaskSeeds)
			}
		}
	}
	lo, hi := D[0], D[0]
	for _, v := range D {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	for i := range D {
		D[i] = (D[i] - lo) / (hi - lo)
	}
	lat := f.e.Sig.Latent
	return blurRef(D, lat, lat, 5)
}

func maxDiff(a, b []float32) (float64, int) {
	var worst float64
	at := -1
	for i := range a {
		if d := math.Abs(float64(a[i]) - float64(b[i])); d > worst {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestEditsMatchClosedForms: with the analytic oracle the sampler ends at the
// clean latent of the guided prediction, for any seed, so the baseline and
// the mask-guided outputs are known exactly for every s1/s2/s3. A swapped
// branch or coefficient moves them.
func TestEditsMatchClosedForms(t *testing.T) {
	cases := []struct {
		name   string
		opt    synth.Options
		batch  bool
		tol    float64
		scales [][3]float64
	}{
		{"mcdm", synth.Options{}, false, 2e-4, [][3]float64{{3, 3, 5}, {0, 1, 1}, {1.5, 0, 7.5}, {7, 2, 0.5}}},
		{"mcdm batched", synth.Options{}, true, 2e-4, [][3]float64{{3, 3, 5}, {2, 5, 1}}},
		{"mcdm fixed batch int32 fp16 latent_parameters scalar t", synth.Options{FixedBatch: true, IDs32: true, Float16: true, LatentParameters: true, ScalarTimestep: true, TimestepKind: "int64"}, false, 0.05, [][3]float64{{3, 3, 5}}},
		{"ip2p", synth.Options{Kind: "ip2p"}, true, 2e-4, [][3]float64{{0, 1.5, 7.5}, {0, 3, 2}}},
		{"optimum-style ip2p without manifest", synth.Options{Kind: "ip2p", NoManifest: true, OptimumDims: true, IDs32: true, TimestepKind: "int64", LatentParameters: true, Resolution: 512}, true, 2e-4, [][3]float64{{0, 1.5, 7.5}}},
		{"optimum-style mcdm fp16", synth.Options{OptimumDims: true, Float16: true, TimestepKind: "float32"}, true, 0.05, [][3]float64{{3, 3, 5}, {1, 4, 2}}},
		{"external weights", synth.Options{ExternalData: true}, false, 2e-4, [][3]float64{{3, 3, 5}}},
		{"text encoder with attention_mask", synth.Options{AttentionMask: true, IDs32: true}, false, 2e-4, [][3]float64{{3, 3, 5}}},
		{"mcdm latent factor 4", synth.Options{LatentFactor: 4}, true, 2e-4, [][3]float64{{3, 3, 5}, {1.5, 0, 7.5}}},
		{"ip2p latent factor 4 without manifest", synth.Options{Kind: "ip2p", LatentFactor: 4, NoManifest: true}, false, 2e-4, [][3]float64{{0, 1.5, 7.5}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.batch
			f := newFixture(t, c.opt, &b)
			if f.e.Batched() != c.batch {
				t.Fatalf("batched = %v, want %v", f.e.Batched(), c.batch)
			}
			for _, sc := range c.scales {
				s := f.settings()
				s.S1, s.S2, s.S3 = sc[0], sc[1], sc[2]
				ida, idb := f.ids(t, s)
				xa := f.a.Guided(s.S1, s.S2, s.S3, f.enc.CS, f.enc.Tokens, ida)
				xb := f.a.Guided(s.S1, s.S2, s.S3, f.enc.CS, f.enc.Tokens, idb)

				base, err := f.e.Edit(context.Background(), f.enc, s, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d, i := maxDiff(base.Latent, xb); d > c.tol {
					t.Errorf("s=%v baseline: latent %d differs from the closed form by %g", sc, i, d)
				}
				evalsPerStep := 4
				if c.opt.Kind == "ip2p" {
					evalsPerStep = 3 // no image tokens: the s1 branch is the null one
				}
				if got := base.Stats.UNetEvals[PhaseDenoise]; got != evalsPerStep*s.Steps {
					t.Errorf("baseline used %d UNet evaluations, want %d", got, evalsPerStep*s.Steps)
				}

				mask := f.a.Mask()
				guided, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float32, len(xa))
				hw := len(mask)
				for i := range want {
					want[i] = xa[i]
					if mask[i%hw] {
						want[i] = xb[i]
					}
				}
				if d, i := maxDiff(guided.Latent, want); d > c.tol {
					t.Errorf("s=%v mask-guided: latent %d differs from the closed form by %g", sc, i, d)
				}
				if got := guided.Stats.UNetEvals[PhaseDenoise]; got != (evalsPerStep+1)*s.Steps {
					t.Errorf("mask-guided used %d UNet evaluations, want %d", got, (evalsPerStep+1)*s.Steps)
				}
			}
		})
	}
}

// TestMaskGuidedOutsideIsReconstruction: outside the mask, mask-guided
// sampling is the reconstruction ε̃(p_a) step for step, so from the same
// noise its latent equals an all-outside run's bit for bit there.
func TestMaskGuidedOutsideIsReconstruction(t *testing.T) {
	f := newFixture(t, synth.Options{Nonlinear: true}, nil)
	s := f.settings()
	mask := f.a.Mask()
	guided, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	recon, err := f.e.Edit(context.Background(), f.enc, s, make([]bool, len(mask)), nil)
	if err != nil {
		t.Fatal(err)
	}
	hw := len(mask)
	inside := 0.0
	for i := range guided.Latent {
		if mask[i%hw] {
			inside = math.Max(inside, math.Abs(float64(guided.Latent[i]-recon.Latent[i])))
			continue
		}
		if guided.Latent[i] != recon.Latent[i] {
			t.Fatalf("latent %d outside the mask: %v, reconstruction %v", i, guided.Latent[i], recon.Latent[i])
		}
	}
	if inside < 0.05 {
		t.Fatalf("inside the mask the edit changed nothing (max %g)", inside)
	}
	// Preserve pixels: outside the mask the output is the input, bit for bit.
	pix := guided.Preserved
	res := f.e.Sig.Resolution
	cell := res / f.e.Sig.Latent
	for y := 0; y < res; y++ {
		for x := 0; x < res; x++ {
			if mask[(y/cell)*f.e.Sig.Latent+x/cell] {
				continue
			}
			i := pix.PixOffset(x, y)
			for k := 0; k < 4; k++ {
				if pix.Pix[i+k] != f.enc.Input.Pix[i+k] {
					t.Fatalf("preserved pixel (%d,%d) differs from the input", x, y)
				}
			}
		}
	}
	// Full resolution: everything outside the crop is the photo's own pixels.
	full, c := guided.Full(), f.enc.Crop
	if full.Bounds() != f.enc.Photo.Bounds() {
		t.Fatalf("full output %v, photo %v", full.Bounds(), f.enc.Photo.Bounds())
	}
	for y := 0; y < full.Bounds().Dy(); y++ {
		for x := 0; x < full.Bounds().Dx(); x++ {
			if image.Pt(x, y).In(c) {
				continue
			}
			i := full.PixOffset(x, y)
			if string(full.Pix[i:i+4]) != string(f.enc.Photo.Pix[i:i+4]) {
				t.Fatalf("pixel (%d,%d) outside the crop changed", x, y)
			}
		}
	}
}

func TestDecodeMatchesClosedForm(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	r, err := f.e.Edit(context.Background(), f.enc, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	unscaled := scaled(r.Latent, float32(1/f.e.Pack.Manifest.VAEScalingFactor))
	rgb := f.a.Decode(unscaled)
	want := tensorImage(rgb, f.e.Sig.Resolution)
	for i := range want.Pix {
		if d := int(want.Pix[i]) - int(r.Paper.Pix[i]); d > 1 || d < -1 {
			t.Fatalf("decoded byte %d = %d, closed form %d", i, r.Paper.Pix[i], want.Pix[i])
		}
	}
}

func TestSDEditClosedForm(t *testing.T) {
	f := newFixture(t, synth.Options{Kind: "sd"}, nil)
	s := f.settings()
	s.S3 = 7.5
	_, idb := f.ids(t, s)
	want := f.a.Guided(0, 0, s.S3, nil, nil, idb)
	for _, strength := range []float64{0.5, 0.8} {
		r, err := f.e.SDEdit(context.Background(), f.enc, s, strength, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d, i := maxDiff(r.Latent, want); d > 2e-4 {
			t.Errorf("strength %v: latent %d off by %g", strength, i, d)
		}
		steps := s.Steps - (s.Steps - int(float64(s.Steps)*strength))
		if got := r.Stats.UNetEvals[PhaseDenoise]; got != 2*steps {
			t.Errorf("strength %v: %d UNet evaluations, want %d", strength, got, 2*steps)
		}
	}
}

func TestDeterministic(t *testing.T) {
	f := newFixture(t, synth.Options{Nonlinear: true}, nil)
	s := f.settings()
	s.Scheduler = "euler_ancestral" // uses fresh noise every step
	a, err := f.e.Edit(context.Background(), f.enc, s, f.a.Mask(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.e.Edit(context.Background(), f.enc, s, f.a.Mask(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Latent {
		if a.Latent[i] != b.Latent[i] {
			t.Fatalf("same seed, latent %d differs: %v vs %v", i, a.Latent[i], b.Latent[i])
		}
	}
	s.Seed++
	c, err := f.e.Edit(context.Background(), f.enc, s, f.a.Mask(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := maxDiff(a.Latent, c.Latent); d == 0 {
		t.Fatal("a different seed gave the identical result")
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	s.Steps = 200
	s.MaskNoiseSteps = 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var steps int
	var cancelledAt time.Time
	_, err := f.e.Edit(ctx, f.enc, s, nil, func(p Progress) {
		if p.Phase == PhaseDenoise {
			steps++
			if p.Step == 3 {
				cancelledAt = time.Now()
				cancel()
			}
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if steps != 3 {
		t.Fatalf("ran %d steps after cancelling at step 3", steps)
	}
	if time.Since(cancelledAt) > 2*time.Second {
		t.Fatalf("took %v to stop", time.Since(cancelledAt))
	}
}

func TestProgressReportsEveryPhase(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	seen := map[string]int{}
	previews := 0
	m, err := f.e.ComputeMask(context.Background(), f.enc, s, func(p Progress) { seen[p.Phase]++ })
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.e.Edit(context.Background(), f.enc, s, m.Threshold(s.Lambda), func(p Progress) {
		seen[p.Phase]++
		if p.Preview != nil {
			previews++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen[PhaseMask] != s.MaskSeeds || seen[PhaseDenoise] != s.Steps || seen[PhaseDecode] != 1 {
		t.Fatalf("progress reports %v", seen)
	}
	if previews == 0 {
		t.Fatal("no preview was sent (the last step always gets one)")
	}
}

func TestBadSettings(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	for name, mut := range map[string]func(*Settings){
		"negative s1":       func(s *Settings) { s.S1 = -1 },
		"lambda above 1":    func(s *Settings) { s.Lambda = 1.5 },
		"no steps":          func(s *Settings) { s.Steps = 0 },
		"unknown sched":     func(s *Settings) { s.Scheduler = "pndm2" },
		"unknown dir":       func(s *Settings) { s.Direction = "sleepy" },
		"even blur":         func(s *Settings) { s.BlurKernel = 4 },
		"NaN s3":            func(s *Settings) { s.S3 = math.NaN() },
		"infinite lambda":   func(s *Settings) { s.Lambda = math.Inf(1) },
		"mask noise > all":  func(s *Settings) { s.MaskNoiseSteps = s.Steps + 1 },
		"mask normalize":    func(s *Settings) { s.MaskNormalize = "blur" },
		"no mask normalize": func(s *Settings) { s.MaskNormalize = "" },
		"mask guidance":     func(s *Settings) { s.MaskGuidance = "eq4" },
		"repeated t":        func(s *Settings) { s.Scheduler, s.Steps, s.MaskNoiseSteps = "unipc", 1000, 10 },
		"noise rows":        func(s *Settings) { s.Noise = &Noise{Name: "n.npy", Rows: make([][]float32, 2)} },
		"noise row size": func(s *Settings) {
			s.Noise = &Noise{Name: "n.npy", Rows: [][]float32{make([]float32, 7)}}
		},
	} {
		s := f.settings()
		mut(&s)
		if _, err := f.e.Edit(context.Background(), f.enc, s, nil, nil); !errors.Is(err, ErrBadSettings) {
			t.Errorf("%s: err = %v, want ErrBadSettings", name, err)
		}
	}
	s := f.settings()
	if _, err := f.e.Edit(context.Background(), f.enc, s, make([]bool, 3), nil); err == nil {
		t.Error("a mask of the wrong size was accepted")
	}
	s.Direction, s.Target = "", "wearing a wizard hat"
	if _, err := f.e.Edit(context.Background(), f.enc, s, nil, nil); err != nil {
		t.Errorf("free-text target: %v", err)
	}
}

func TestGaussianBlurMatchesReference(t *testing.T) {
	for _, size := range [][2]int{{9, 7}, {16, 16}, {3, 2}, {1, 5}} {
		w, h := size[0], size[1]
		src := make([]float64, w*h)
		for i := range src {
			src[i] = math.Sin(float64(i) * 1.7)
		}
		for _, k := range []int{1, 3, 5, 7, 9, 11, 15} {
			got := GaussianBlur(src, w, h, k)
			want := blurRef(src, w, h, k)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Fatalf("%dx%d k=%d cell %d: %v, want %v", w, h, k, i, got[i], want[i])
				}
			}
		}
	}
}

// TestLoadFailureFreesSessions: a cancelled or failing load returns an error,
// never a panic, and leaves no session open.
func TestLoadFailureFreesSessions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := synth.Write(dir, synth.Options{Resolution: 64}); err != nil {
		t.Fatal(err)
	}
	p, err := models.OpenWith(dir, models.OpenOptions{Probe: models.UNetChannels})
	if err != nil {
		t.Fatal(err)
	}
	sessions, _ := ort.Live()
	ctx, cancel := context.WithCancel(context.Background())
	loaded := 0
	_, err = Load(ctx, p, LoadOptions{Provider: ort.CPU, Progress: func(pr Progress) {
		if loaded++; loaded == 3 {
			cancel() // after two models are open
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s, _ := ort.Live(); s != sessions {
		t.Fatalf("%d sessions left open after a cancelled load", s-sessions)
	}
	if _, err := Load(context.Background(), p, LoadOptions{Provider: ort.CUDA}); err == nil && ort.InitializedPath() != "" {
		t.Log("this ONNX Runtime has CUDA; the forced-provider failure path was not exercised")
	} else if err != nil && !errors.Is(err, ort.ErrProviderUnavailable) {
		t.Fatalf("forced cuda: %v", err)
	}
	if s, _ := ort.Live(); s != sessions {
		t.Fatalf("%d sessions left open after a failed load", s-sessions)
	}
}

func TestFeatherRadiusScalesWithWidth(t *testing.T) {
	for _, tt := range []struct{ width, want int }{
		{512, FeatherPixels}, {1024, 2 * FeatherPixels}, {128, 2}, {64, 1}, {1, 1}, {4000, 47},
	} {
		if got := FeatherRadius(tt.width); got != tt.want {
			t.Errorf("FeatherRadius(%d) = %d, want %d", tt.width, got, tt.want)
		}
	}
}

// TestPreserveKeepsSmallEditsAtLowResolution: at a 128-pixel model
// resolution, the middle of a one-latent-cell mask (8×8 pixels) is the
// edit itself in the preserved output, not a blend that fades it away.
func TestPreserveKeepsSmallEditsAtLowResolution(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	n := f.e.Sig.Latent
	mask := make([]bool, n*n)
	cx, cy := n/2, n/3
	mask[cy*n+cx] = true
	r, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	cell := f.e.Sig.Resolution / n
	x, y := cx*cell+cell/2, cy*cell+cell/2
	got, want := r.Preserved.NRGBAAt(x, y), r.Paper.NRGBAAt(x, y)
	if got != want {
		t.Fatalf("centre of the masked cell (%d,%d): preserved %v, edit %v (input %v)", x, y, got, want, f.enc.Input.NRGBAAt(x, y))
	}
	if in := f.enc.Input.NRGBAAt(x, y); in == want {
		t.Fatalf("the edit left the masked cell as the input (%v): the test shows nothing", in)
	}
}
