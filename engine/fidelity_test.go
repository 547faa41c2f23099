package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"likeness/models/synth"
)

// TestNonFiniteStopsTheRun: a UNet that returns NaN (here below t = 500, as
// an fp16 overflow might) stops the mask and the edit with an error naming
// the model, the step and the provider, instead of an empty mask and NaN
// pixels.
func TestNonFiniteStopsTheRun(t *testing.T) {
	f := newFixture(t, synth.Options{NaNBelowTimestep: 500}, nil)
	s := f.settings()
	sc, err := f.e.newScheduler(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := sc.Timesteps()
	first := -1
	for i, tt := range ts {
		if tt < 500 && first < 0 {
			first = i
		}
	}
	if first < 1 {
		t.Fatalf("timesteps %v: the test needs NaN to start mid-run", ts)
	}
	_, err = f.e.Edit(context.Background(), f.enc, s, nil, nil)
	wantStep := fmt.Sprintf("step %d of %d (t=%g)", first+1, len(ts), ts[first])
	for _, w := range []string{"unet", "NaN", wantStep, "cpu provider", f.e.Pack.Name} {
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), w) {
			t.Fatalf("edit: err = %v; want ErrNonFinite naming %q", err, w)
		}
	}
	s.MaskNoiseSteps = len(ts) - first // the mask's timestep is ts[first]
	_, err = f.e.ComputeMask(context.Background(), f.enc, s, nil)
	want := fmt.Sprintf("at mask seed 1 of %d (t=%g)", s.MaskSeeds, ts[first])
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "unet") {
		t.Fatalf("mask: err = %v; want ErrNonFinite naming %q", err, want)
	}
	// Above the threshold everything is finite and the mask is the region.
	s.MaskNoiseSteps = len(ts) - first + 1
	if m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil); err != nil || m.Reason != "" {
		t.Fatalf("mask above the NaN threshold: %v, %v", m, err)
	}
}

// TestSamplingVAEIsDeterministic: a vae_encoder exported from
// latent_dist.sample() draws new noise on every run of its session, so z0
// (and the mask and the edits) changed from one encoding to the next. With
// a Gaussian node the engine uses its mean, so z0 is the closed-form latent
// mean; with another random node it fixes the seed and restarts the
// encoder, so z0 repeats. Both are reported as warnings.
func TestSamplingVAEIsDeterministic(t *testing.T) {
	for _, c := range []struct {
		sampling, warn string
		mean           bool
	}{{"normal", "uses the noise's mean", true}, {"uniform", "one fixed sample", false}} {
		t.Run(c.sampling, func(t *testing.T) {
			f := newFixture(t, synth.Options{SamplingVAE: c.sampling}, nil)
			w := f.e.Warnings()
			if len(w) != 1 || !strings.Contains(w[0], c.warn) || !strings.Contains(w[0], "vae_encoder") {
				t.Fatalf("warnings %q, want one saying %q", w, c.warn)
			}
			again, err := f.e.Encode(context.Background(), testPhoto(200, 260), false, f.enc.Crop, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d, i := maxDiff(again.Z0, f.enc.Z0); d != 0 {
				t.Fatalf("z0[%d] differs by %g between two encodings of the same photo", i, d)
			}
			if d, _ := maxDiff(again.CSNull, f.enc.CSNull); d != 0 {
				t.Fatal("the null spatial condition changed")
			}
			mean := scaled(f.a.EncodeMean(photoPixels(f)), float32(f.e.Pack.Manifest.VAEScalingFactor))
			d, i := maxDiff(f.enc.Z0, mean)
			switch {
			case c.mean && d > 1e-5:
				t.Fatalf("z0[%d] is %g from the latent mean", i, d)
			case !c.mean && d < 1e-3:
				t.Fatal("a uniform-sampling encoder gave the mean: the test cannot tell the seeded path")
			}
		})
	}
	f := newFixture(t, synth.Options{}, nil)
	if w := f.e.Warnings(); len(w) != 0 {
		t.Fatalf("a mean-returning VAE has warnings %q", w)
	}
}

// photoPixels is the fixture photo's model input [3,H,W].
func photoPixels(f *fixture) []float32 {
	res := f.e.Sig.Resolution
	img := f.enc.Input
	n := res * res
	out := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			out[c*n+i] = float32(img.Pix[4*i+c])/127.5 - 1
		}
	}
	return out
}

// TestLatentBlendKarrasRepeatedTimesteps: with 45 Karras steps timesteps 42
// and 43 are both t = 1. After step 41 the blend noises z0 to step 42's
// sigma; looking t = 1 up in the schedule (no begin index, as Edit once
// ran) takes step 43's instead, which diffusers' inpainting pipeline does
// not do.
func TestLatentBlendKarrasRepeatedTimesteps(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	s := f.settings()
	s.Scheduler, s.Steps = "dpmpp_2m_karras", 45
	sc, err := f.e.newScheduler(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts, sg := sc.Timesteps(), sc.Sigmas()
	if ts[42] != ts[43] || sg[42] == sg[43] {
		t.Fatalf("timesteps %v: the test needs steps 42 and 43 to share t", ts[40:])
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
	z := scaled(n0, float32(sc.InitNoiseSigma()))
	for i, tt := range ts {
		eps := make([]float32, n)
		for k := range eps {
			eps[k] = float32(math.Sin(float64(k) + tt/100))
		}
		next, err := sc.Step(eps, tt, z, nil)
		if err != nil {
			t.Fatal(err)
		}
		blend(i, next)
		if i+1 < len(ts) {
			a := 1 / math.Sqrt(sg[i+1]*sg[i+1]+1)
			for k := range next {
				want := a*float64(f.enc.Z0[k]) + sg[i+1]*a*float64(n0[k])
				if !mask[k%hw] && math.Abs(float64(next[k])-want) > 1e-5 {
					t.Fatalf("after step %d (next t=%v): outside value %d = %v, want z0 noised to sigma %v: %v",
						i, ts[i+1], k, next[k], sg[i+1], want)
				}
			}
		}
		z = next
	}
	// And a whole edit with these settings runs and ends at z0 outside.
	s.MaskGuidance = MaskGuidanceLatentBlend
	r, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range r.Latent {
		if !mask[k%hw] && r.Latent[k] != f.enc.Z0[k] {
			t.Fatalf("latent %d outside the mask: %v, want z0 %v", k, r.Latent[k], f.enc.Z0[k])
		}
	}
}

// TestDiffEditClosedForm: on the analytic sd pack every ε is the noise that
// takes its branch's clean latent X_p = m + R⊙T(p) to z_t, so each DiffEdit
// stage has a closed form. The mask is the region R (ε(p_b) − ε(p_a) is
// zero outside it). DDIM inversion with the source prompt keeps the noise
// ν0 = (z0 − √ᾱ_f·X_a)/√(1−ᾱ_f) of z0 at the final level ᾱ_f, so the
// inverted latent at every timestep is √ᾱ·X_a + √(1−ᾱ)·ν0. Denoising
// inside R with guidance s3 targets X̃_b = m + s3·R⊙T(p_b) and keeps the
// noise of its start, so it ends at √ᾱ_f·X̃_b + √(1−ᾱ_f)·ν′ with
// ν′ = ν0 + √ᾱ_r·(X_a − X̃_b)/√(1−ᾱ_r); outside R the latent is z0.
func TestDiffEditClosedForm(t *testing.T) {
	f := newFixture(t, synth.Options{Kind: "sd"}, nil)
	s := f.settings()
	s.S3 = 7.5
	s.Scheduler = "unipc" // DiffEdit samples with DDIM whatever this says
	const ratio = 0.8
	r, err := f.e.DiffEdit(context.Background(), f.enc, s, ratio, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != ModeDiffEdit || r.Strength != ratio {
		t.Fatalf("mode %q strength %v", r.Mode, r.Strength)
	}
	region := f.a.Mask()
	for i := range region {
		if r.Mask[i] != region[i] {
			t.Fatalf("mask cell %d = %v, want the region R", i, r.Mask[i])
		}
	}
	ida, idb := f.ids(t, s)
	null := f.a.NullIDs()
	xa := f.a.CleanLatent(nil, nil, ida)
	xn := f.a.CleanLatent(nil, nil, null)
	xb := f.a.CleanLatent(nil, nil, idb)
	ddim := s
	ddim.Scheduler = "ddim"
	sc, err := f.e.newScheduler(ddim, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := sc.Timesteps()
	from := s.Steps - int(float64(s.Steps)*ratio)
	af := f.a.AlphaBar(0) // SD 1.5: set_alpha_to_one false
	ar := f.a.AlphaBar(int(ts[from]))
	hw := len(region)
	for i, got := range r.Latent {
		z0 := float64(f.enc.Z0[i])
		want := z0
		if region[i%hw] {
			xt := float64(xn[i]) + s.S3*(float64(xb[i])-float64(xn[i]))
			nu0 := (z0 - math.Sqrt(af)*float64(xa[i])) / math.Sqrt(1-af)
			nu := nu0 + math.Sqrt(ar)*(float64(xa[i])-xt)/math.Sqrt(1-ar)
			want = math.Sqrt(af)*xt + math.Sqrt(1-af)*nu
		}
		if math.Abs(float64(got)-want) > 2e-4 {
			t.Fatalf("latent %d (inside R: %v) = %v, closed form %v", i, region[i%hw], got, want)
		}
	}
	steps := s.Steps - from
	for phase, want := range map[string]int{PhaseMask: 2 * s.MaskSeeds, PhaseInvert: steps, PhaseDenoise: 2 * steps} {
		if got := r.Stats.UNetEvals[phase]; got != want {
			t.Errorf("%s: %d UNet evaluations, want %d", phase, got, want)
		}
	}
	// The edit is the tint inside R: a real change, absent outside.
	if d, _ := maxDiff(r.Latent, f.enc.Z0); d < 0.05 {
		t.Fatalf("DiffEdit changed nothing (max %g)", d)
	}
	// With s3 = 0 the prompts do not matter: an empty mask, the input back.
	s.S3 = 0
	r0, err := f.e.DiffEdit(context.Background(), f.enc, s, ratio, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, i := maxDiff(r0.Latent, f.enc.Z0); d != 0 || slices.Contains(r0.Mask, true) {
		t.Fatalf("s3 = 0: latent %d differs from z0 by %g, mask %v", i, d, r0.Mask)
	}
}

func TestDiffEditRefusals(t *testing.T) {
	f := newFixture(t, synth.Options{Kind: "sd"}, nil)
	s := f.settings()
	for _, ratio := range []float64{0, -0.5, 1.5, math.NaN(), 0.1} { // 0.1 of 6 steps is no step
		if _, err := f.e.DiffEdit(context.Background(), f.enc, s, ratio, nil); !errors.Is(err, ErrBadSettings) {
			t.Errorf("ratio %v: err = %v, want ErrBadSettings", ratio, err)
		}
	}
	m := newFixture(t, synth.Options{}, nil)
	if _, err := m.e.DiffEdit(context.Background(), m.enc, m.settings(), 0.8, nil); err == nil || !strings.Contains(err.Error(), "sd pack") {
		t.Fatalf("DiffEdit on an mcdm pack: %v", err)
	}
}
