package engine

import (
	"context"
	"fmt"
	"math"
	"slices"

	"likeness/engine/scheduler"
	"likeness/models"
)

// ModeDiffEdit is the DiffEdit baseline with an sd pack.
const ModeDiffEdit = "diffedit"

// PhaseInvert is DiffEdit's DDIM inversion of the input latent.
const PhaseInvert = "invert"

// DiffEdit's mask settings: diffusers' StableDiffusionDiffEditPipeline
// defaults (mask_encode_strength, mask_thresholding_ratio) and the paper's
// threshold.
const (
	DiffEditMaskStrength = 0.5 // the mask's noise: timesteps[steps − int(steps·0.5)]
	DiffEditClampRatio   = 3.0 // the map is clamped at 3 × its mean ("extreme values removed")
	DiffEditThreshold    = 0.5 // on the map rescaled to [0,1]
)

// DiffEdit runs the training-free DiffEdit baseline (Couairon et al. 2022)
// with an sd pack:
//
//  1. mask: for each of s.MaskSeeds noises, z0 is noised to the timestep at
//     strength 0.5 and D += mean over channels of |ε̃(p_b) − ε̃(p_a)|, with
//     classifier-free guidance s3 (so ε̃(p_b) − ε̃(p_a) = s3·[ε(p_b) − ε(p_a)]:
//     two UNet evaluations per seed); D, averaged over seeds, is clamped at
//     3 × its mean, rescaled to [0,1] and thresholded at 0.5;
//  2. DDIM inversion of z0 with the source prompt (no guidance) up to the
//     encoding ratio, timesteps[steps − int(steps·ratio)], keeping the
//     latent at every timestep; ε is evaluated at the level being left, as
//     in the paper (diffusers' DDIMInverseScheduler uses the next one);
//  3. DDIM denoising from the inverted latent with the target prompt and
//     guidance s3; after each step the latent outside the mask becomes the
//     inverted latent of the same timestep (z0 after the last step).
//
// DiffEdit always samples with DDIM (eta 0) from the pack's scheduler
// config, as the paper and diffusers' pipeline do, whatever s.Scheduler
// says. Result.Mask is DiffEdit's own mask.
func (e *Engine) DiffEdit(ctx context.Context, enc *Encoded, s Settings, ratio float64, progress ProgressFunc) (*Result, error) {
	if e.Sig.Kind != models.KindSD {
		return nil, fmt.Errorf("pack %s is kind %s; DiffEdit needs an sd pack", e.Pack.Name, e.Sig.Kind)
	}
	s.Scheduler = "ddim"
	if err := e.Validate(s); err != nil {
		return nil, err
	}
	if !(ratio > 0 && ratio <= 1) {
		return nil, fmt.Errorf("%w: encoding ratio %g is outside (0,1]", ErrBadSettings, ratio)
	}
	from := s.Steps - min(int(float64(s.Steps)*ratio), s.Steps)
	if from >= s.Steps {
		return nil, fmt.Errorf("%w: encoding ratio %g with %d steps leaves no step to run", ErrBadSettings, ratio, s.Steps)
	}
	r, err := e.startRun(ctx, s, textNull|textSource|textTarget, progress)
	if err != nil {
		return nil, err
	}
	j, tnull, ta, tb := r.j, r.null, r.source, r.target
	mask, err := e.diffEditMask(j, enc, s, ta, tb)
	if err != nil {
		return nil, err
	}
	inv, err := e.ddimInvert(j, enc.Z0, s, from, ta)
	if err != nil {
		return nil, err
	}
	sc, err := e.newScheduler(s, from)
	if err != nil {
		return nil, err
	}
	hw := len(mask)
	keep := func(k int) bool { return !mask[k%hw] } // outside: the inverted trajectory
	after := func(i int, z []float32) {
		ref := enc.Z0
		if i+1 < len(inv) {
			ref = inv[i+1]
		}
		for k := range z {
			if keep(k) {
				z[k] = ref[k]
			}
		}
	}
	return e.textGuided(r, enc, s, sc, slices.Clone(inv[from]), from, tnull, tb, after, mask, ratio, ModeDiffEdit)
}

// diffEditMask is step 1 of DiffEdit: the mask from the difference of the
// guided noise predictions for the target and source prompts.
func (e *Engine) diffEditMask(j *job, enc *Encoded, s Settings, ta, tb []float32) ([]bool, error) {
	j.begin(PhaseMask)
	defer j.end()
	idx := min(s.Steps-int(float64(s.Steps)*DiffEditMaskStrength), s.Steps-1)
	n := len(enc.Z0)
	hw := n / 4
	D := make([]float64, hw)
	for seed := 0; seed < s.MaskSeeds; seed++ {
		if err := j.ctx.Err(); err != nil {
			return nil, err
		}
		sc, err := e.newScheduler(s, idx)
		if err != nil {
			return nil, err
		}
		t := sc.Timesteps()[idx]
		nz, err := s.maskNoise(seed, n)
		if err != nil {
			return nil, err
		}
		zt := sc.AddNoise(enc.Z0, nz, t)
		j.where = fmt.Sprintf("at DiffEdit mask seed %d of %d (t=%g)", seed+1, s.MaskSeeds, t)
		eps, err := e.evalUNet(j, sc.ScaleModelInput(zt, t), t, []cond{{text: ta}, {text: tb}})
		if err != nil {
			return nil, err
		}
		for c := 0; c < 4; c++ {
			for p := 0; p < hw; p++ {
				i := c*hw + p
				D[p] += math.Abs(s.S3*(float64(eps[1][i])-float64(eps[0][i]))) / float64(4*s.MaskSeeds)
			}
		}
		if j.progress != nil {
			j.progress(Progress{Phase: PhaseMask, Step: seed + 1, Steps: s.MaskSeeds, Label: ModeDiffEdit})
		}
	}
	return diffEditThreshold(D), nil
}

// diffEditThreshold clamps D at DiffEditClampRatio × its mean, rescales it
// to [0,1] and thresholds it: an all-zero D (s3 = 0, prompts that agree)
// gives an empty mask, so the result is the reconstruction.
func diffEditThreshold(D []float64) []bool {
	var mean float64
	for _, v := range D {
		mean += v / float64(len(D))
	}
	clamp := DiffEditClampRatio * mean
	out := make([]bool, len(D))
	if !(clamp > 0) {
		return out
	}
	for i, v := range D {
		out[i] = math.Min(v, clamp)/clamp > DiffEditThreshold
	}
	return out
}

// ddimInvert is step 2 of DiffEdit: the DDIM encoding of z0 with the
// prompt embedding text, from the level where a DDIM run ends up to
// timesteps[from]. inv[k] is the latent at timesteps[k] for k >= from.
func (e *Engine) ddimInvert(j *job, z0 []float32, s Settings, from int, text []float32) ([][]float32, error) {
	j.begin(PhaseInvert)
	defer j.end()
	sc, err := e.newScheduler(s, 0)
	if err != nil {
		return nil, err
	}
	aCur, err := scheduler.FinalAlphaCumprod(e.sched)
	if err != nil {
		return nil, err
	}
	ts, acp := sc.Timesteps(), sc.AlphasCumprod()
	inv := make([][]float32, len(ts))
	z, tCur := z0, 0.0
	steps := len(ts) - from
	for k := len(ts) - 1; k >= from; k-- {
		if err := j.ctx.Err(); err != nil {
			return nil, err
		}
		n := len(ts) - k
		j.where = fmt.Sprintf("at DDIM inversion step %d of %d (t=%g)", n, steps, tCur)
		eps, err := e.evalUNet(j, z, tCur, []cond{{text: text}})
		if err != nil {
			return nil, err
		}
		ti := int(ts[k])
		if ti < 0 || ti >= len(acp) {
			return nil, fmt.Errorf("%w: DDIM timestep %v outside the training schedule", ErrBadSettings, ts[k])
		}
		aNext := acp[ti]
		sc0, sc1 := math.Sqrt(aCur), math.Sqrt(1-aCur)
		sn0, sn1 := math.Sqrt(aNext), math.Sqrt(1-aNext)
		out := make([]float32, len(z))
		for i := range out {
			ep := float64(eps[0][i])
			x0 := (float64(z[i]) - sc1*ep) / sc0
			out[i] = float32(sn0*x0 + sn1*ep)
		}
		if err := finiteLatent(out, j.where); err != nil {
			return nil, err
		}
		inv[k], z, aCur, tCur = out, out, aNext, ts[k]
		if j.progress != nil {
			j.progress(Progress{Phase: PhaseInvert, Step: n, Steps: steps, Label: ModeDiffEdit})
		}
	}
	return inv, nil
}
