package engine

import (
	"context"
	"fmt"
	"image"
	"math"
	"time"

	"likeness/engine/compose"
	"likeness/engine/scheduler"
	"likeness/models"
	"likeness/ort"
)

// Modes of an edit.
const (
	ModeMaskGuided = "mask-guided" // paper Eq. 3: edit inside the mask, reconstruct outside
	ModeBaseline   = "baseline"    // the paper's "w/o mask": ε̃(p_b) everywhere
	ModeSDEdit     = "sdedit"      // img2img from the photo with an sd pack
)

// FeatherPixels is how far blends ramp in an image 512 pixels wide; see
// FeatherRadius.
const FeatherPixels = 6

// FeatherRadius is the blend ramp, in pixels, for an image `width` pixels
// wide: FeatherPixels per 512, at least 1. The ramp lies inside the mask
// (outside it the input stays bit for bit), so it must scale with the image:
// a fixed 6 pixels at a 128-pixel model resolution faded the inner 6 pixels
// of every masked region, a cartoon's whole eye or mouth, and the learned
// expression packs' product output lost every edit (0% recognised).
func FeatherRadius(width int) int {
	return max(1, (FeatherPixels*width+256)/512)
}

// Result is one finished edit.
type Result struct {
	Mode     string
	Settings Settings
	Strength float64 // SDEdit only
	Mask     []bool  // latent-resolution mask used (mask-guided)
	// Crop is the square of the photo the model saw, in photo pixels.
	Crop   image.Rectangle
	Latent []float32
	// Paper is the plain model output: the decoded crop at model resolution.
	Paper *image.NRGBA
	// Preserved is Paper with the original crop composited outside the mask
	// (feathered inside it), so unedited pixels are bit-identical to the input.
	Preserved *image.NRGBA
	Stats     Stats

	full func() *image.NRGBA // see Full
}

// Edit runs mask-guided sampling with mask (latent resolution, from
// Mask.Threshold or painted by the user), or the baseline when mask is nil.
// Both start from the same seed and initial noise, so they can be compared.
// With s.MaskGuidance MaskGuidanceLatentBlend, after each step the latent
// outside the mask becomes the input's latent noised to the next timestep
// with the initial noise n, z ← M⊙z + (1−M)⊙add_noise(z0, n, t_next), and
// z0 itself after the last step.
func (e *Engine) Edit(ctx context.Context, enc *Encoded, s Settings, mask []bool, progress ProgressFunc) (*Result, error) {
	if e.Sig.Kind == models.KindSD {
		return nil, fmt.Errorf("pack %s is kind sd: it runs SDEdit baselines, not mask-guided edits", e.Pack.Name)
	}
	if err := e.Validate(s); err != nil {
		return nil, err
	}
	hw := e.Sig.Latent * e.Sig.Latent
	if mask != nil && len(mask) != hw {
		return nil, fmt.Errorf("%w: mask has %d cells, want %d", ErrBadSettings, len(mask), hw)
	}
	r, err := e.startRun(ctx, s, textNull|textSource|textTarget, progress)
	if err != nil {
		return nil, err
	}
	j, tnull, ta, tb := r.j, r.null, r.source, r.target
	mcdm := e.Sig.Kind == models.KindMCDM
	// Branches in order: (∅,∅,∅), (c_im,∅,∅) [mcdm only], (c_im,c_s,∅), then p_a and/or p_b.
	conds := []cond{{spatial: enc.CSNull, tokens: enc.TokensNull, text: tnull}}
	if mcdm {
		conds = append(conds, cond{spatial: enc.CSNull, tokens: enc.Tokens, text: tnull})
	}
	conds = append(conds, cond{spatial: enc.CS, tokens: enc.Tokens, text: tnull})
	if mask != nil {
		conds = append(conds, cond{spatial: enc.CS, tokens: enc.Tokens, text: ta})
	}
	conds = append(conds, cond{spatial: enc.CS, tokens: enc.Tokens, text: tb})
	m := make([]float32, 4*hw)
	for c := 0; c < 4 && mask != nil; c++ {
		for i, b := range mask {
			if b {
				m[c*hw+i] = 1
			}
		}
	}
	s1, s2, s3 := float32(s.S1), float32(s.S2), float32(s.S3)
	combine := func(eps [][]float32, out []float32) {
		e0 := eps[0]
		k := 1
		e1 := e0
		if mcdm {
			e1 = eps[1]
			k = 2
		}
		e2 := eps[k]
		if mask == nil {
			guide(out, e0, e1, e2, eps[k+1], s1, s2, s3)
			return
		}
		ea, eb := eps[k+1], eps[k+2]
		guide(out, e0, e1, e2, ea, s1, s2, s3)
		for i := range out {
			out[i] += s3 * m[i] * (eb[i] - ea[i])
		}
	}

	sc, err := e.newScheduler(s, 0)
	if err != nil {
		return nil, err
	}
	n0 := s.initial(4 * hw)
	z := scaled(n0, float32(sc.InitNoiseSigma()))
	mode := ModeBaseline
	var after func(i int, z []float32)
	if mask != nil {
		mode = ModeMaskGuided
		if s.MaskGuidance == MaskGuidanceLatentBlend {
			after = latentBlend(sc, enc.Z0, n0, m)
		}
	}
	z, err = e.denoise(j, sc, z, 0, conds, combine, after, mode)
	if err != nil {
		return nil, err
	}
	res, err := e.finish(j, enc, z, mask, mode)
	if err != nil {
		return nil, err
	}
	res.Settings = s
	res.Stats = e.stats(r)
	res.Stats.Phases, res.Stats.PhaseORT = j.phases, j.inORT
	return res, nil
}

// newScheduler is the scheduler for a run of s.Steps steps that starts at
// timesteps[from], with its begin index set as diffusers' img2img and
// inpainting pipelines set it: add_noise during the run then uses the sigma
// of the step in progress even where timesteps repeat (Karras sigmas near
// t = 0), where looking the timestep up would take the later step's sigma.
func (e *Engine) newScheduler(s Settings, from int) (scheduler.Scheduler, error) {
	sc, err := scheduler.New(s.Scheduler, e.sched)
	if err != nil {
		return nil, err
	}
	if err := sc.SetTimesteps(s.Steps); err != nil {
		return nil, err
	}
	sc.SetBeginIndex(from)
	return sc, nil
}

// latentBlend is the step of mask_guidance eq3_latent_blend: after step i
// the latent outside the mask m (0/1 per value) becomes z0 noised with the
// initial noise n0 to the next timestep, z ← M⊙z + (1−M)⊙add_noise(z0, n0,
// t_{i+1}), and z0 itself after the last step.
func latentBlend(sc scheduler.Scheduler, z0, n0, m []float32) func(i int, z []float32) {
	ts := sc.Timesteps()
	return func(i int, z []float32) {
		ref := z0
		if i+1 < len(ts) {
			ref = sc.AddNoise(z0, n0, ts[i+1])
		}
		for k := range z {
			if m[k] == 0 {
				z[k] = ref[k]
			}
		}
	}
}

// denoise runs the sampler from timesteps[from] and reports each step with a
// throttled preview. after, when set, may change the sample in place after
// step from+i.
func (e *Engine) denoise(j *job, sc scheduler.Scheduler, z []float32, from int, conds []cond,
	combine func(eps [][]float32, out []float32), after func(i int, z []float32), label string) ([]float32, error) {
	j.begin(PhaseDenoise)
	defer j.end()
	ts := sc.Timesteps()[from:]
	eps := make([]float32, len(z))
	th := throttle{every: 250 * time.Millisecond}
	acp := sc.AlphasCumprod()
	lh, lw := e.latentHW(j)
	for i, t := range ts {
		if err := j.ctx.Err(); err != nil {
			return nil, err
		}
		zin := sc.ScaleModelInput(z, t)
		j.where = fmt.Sprintf("at %s step %d of %d (t=%g)", label, i+1, len(ts), t)
		out, err := e.evalUNet(j, zin, t, conds)
		if err != nil {
			return nil, err
		}
		combine(out, eps)
		var stepNoise []float32
		if sc.NeedsNoise() {
			stepNoise = noise(j.seed, 2<<32+uint64(from+i), len(z))
		}
		next, err := sc.Step(eps, t, z, stepNoise)
		if err != nil {
			return nil, err
		}
		if err := finiteLatent(next, j.where); err != nil {
			return nil, err
		}
		if after != nil {
			after(from+i, next) // Step returns a new slice: its state holds no reference to it
		}
		if j.progress != nil {
			p := Progress{Phase: PhaseDenoise, Step: i + 1, Steps: len(ts), Label: label}
			if th.due(i == len(ts)-1) {
				// Predicted clean latent from the VP-form input.
				a := acp[min(max(int(math.Round(t)), 0), len(acp)-1)]
				sa, sb := float32(math.Sqrt(a)), float32(math.Sqrt(1-a))
				x0 := make([]float32, len(z))
				for k := range x0 {
					x0[k] = (zin[k] - sb*eps[k]) / sa
				}
				p.Preview = latentPreview(x0, lh, lw)
			}
			j.progress(p)
		}
		z = next
	}
	return z, nil
}

// decode turns a scaled latent into RGB at model resolution.
func (e *Engine) decode(ctx context.Context, z []float32) (*image.NRGBA, error) {
	return e.decodeAt(ctx, z, e.Sig.Latent, e.Sig.Resolution)
}

// decodeAt decodes a scaled square latent [4,lat,lat] into res×res RGB.
func (e *Engine) decodeAt(ctx context.Context, z []float32, latent, resolution int) (*image.NRGBA, error) {
	res, lat := int64(resolution), int64(latent)
	out, err := e.vaeDec.Run(ctx, map[string]ort.Value{
		"latent_sample": ort.Floats([]int64{1, 4, lat, lat}, scaled(z, float32(1/e.Pack.Manifest.VAEScalingFactor))),
	}, map[string][]int64{"sample": {1, 3, res, res}})
	if err != nil {
		return nil, err
	}
	if err := e.finite("vae_decoder", e.vaeDec, out["sample"].F32, "while decoding the result"); err != nil {
		return nil, err
	}
	return tensorImage(out["sample"].F32, int(res)), nil
}

// finish decodes and builds the composites.
func (e *Engine) finish(j *job, enc *Encoded, z []float32, mask []bool, mode string) (*Result, error) {
	j.begin(PhaseDecode)
	defer j.end()
	if j.progress != nil {
		j.progress(Progress{Phase: PhaseDecode, Step: 1, Steps: 1})
	}
	img, err := e.decode(j.ctx, z)
	if err != nil {
		return nil, err
	}
	j.end()
	j.begin(PhaseCompose)
	res := e.Sig.Resolution
	r := &Result{Mode: mode, Mask: mask, Crop: enc.Crop, Latent: z, Paper: img}
	if mask != nil {
		pix := compose.UpsampleMask(mask, e.Sig.Latent, e.Sig.Latent, res, res)
		r.Preserved = compose.Blend(enc.Input, img, compose.Feather(pix, res, res, FeatherRadius(res)))
	} else {
		r.Preserved = img
	}
	// The full-resolution blend costs most on big photos and only exports
	// need it, so it is made on request and not kept: a history of results
	// would otherwise hold a full-size copy of the photo per export.
	r.full = func() *image.NRGBA {
		cw, ch := enc.Crop.Dx(), enc.Crop.Dy()
		radius := FeatherRadius(cw)
		var weights []float32
		if mask != nil {
			weights = compose.Feather(compose.UpsampleMask(mask, e.Sig.Latent, e.Sig.Latent, cw, ch), cw, ch, radius)
		} else {
			weights = compose.BorderFeather(cw, ch, radius)
		}
		full := compose.IntoFull(enc.Photo, enc.Crop, img, weights)
		if enc.HasAlpha {
			// The model sees the photo flattened on white; an edit changes
			// colours, not the shape, so the photo keeps its transparency.
			b := full.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					full.Pix[full.PixOffset(x, y)+3] = enc.Photo.Pix[enc.Photo.PixOffset(x, y)+3]
				}
			}
		}
		return full
	}
	return r, nil
}

// Full is the whole original photo with the edit blended into the crop:
// through the feathered mask, or the whole crop feathered at its border for
// modes without a mask. Everything the edit did not touch keeps the photo's
// own pixels and resolution. Each call computes it anew; callers keep it.
func (r *Result) Full() *image.NRGBA {
	if r.full == nil {
		return nil
	}
	return r.full()
}

func tensorImage(chw []float32, res int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, res, res))
	n := res * res
	for i := 0; i < n; i++ {
		img.Pix[4*i] = to8(chw[i])
		img.Pix[4*i+1] = to8(chw[n+i])
		img.Pix[4*i+2] = to8(chw[2*n+i])
		img.Pix[4*i+3] = 255
	}
	return img
}

// SDEdit runs the training-free baseline with an sd pack: img2img from the
// photo at the given strength with the target prompt and classic CFG (s3).
func (e *Engine) SDEdit(ctx context.Context, enc *Encoded, s Settings, strength float64, progress ProgressFunc) (*Result, error) {
	if e.Sig.Kind != models.KindSD {
		return nil, fmt.Errorf("pack %s is kind %s; SDEdit needs an sd pack", e.Pack.Name, e.Sig.Kind)
	}
	if err := e.Validate(s); err != nil {
		return nil, err
	}
	if strength <= 0 || strength > 1 {
		return nil, fmt.Errorf("%w: strength %g is outside (0,1]", ErrBadSettings, strength)
	}
	r, err := e.startRun(ctx, s, textNull|textTarget, progress)
	if err != nil {
		return nil, err
	}
	tnull, tb := r.null, r.target
	// diffusers img2img: init_timestep = min(int(steps·strength), steps).
	from := s.Steps - min(int(float64(s.Steps)*strength), s.Steps)
	if from >= s.Steps {
		return nil, fmt.Errorf("%w: strength %g with %d steps leaves no step to run", ErrBadSettings, strength, s.Steps)
	}
	sc, err := e.newScheduler(s, from)
	if err != nil {
		return nil, err
	}
	t0 := sc.Timesteps()[from]
	z := sc.AddNoise(enc.Z0, s.initial(len(enc.Z0)), t0)
	return e.textGuided(r, enc, s, sc, z, from, tnull, tb, nil, nil, strength, ModeSDEdit)
}

// textGuided is the sampling half SDEdit and DiffEdit share: plain
// classifier-free text guidance, ε = ε(∅) + s3·(ε(p_b) − ε(∅)), from
// timestep index from; after (may be nil) changes the sample after each step
// and mask (may be nil) is the result's mask.
func (e *Engine) textGuided(r *run, enc *Encoded, s Settings, sc scheduler.Scheduler, z []float32, from int,
	tnull, tb []float32, after func(i int, z []float32), mask []bool, strength float64, mode string) (*Result, error) {
	j := r.j
	s3 := float32(s.S3)
	z, err := e.denoise(j, sc, z, from, []cond{{text: tnull}, {text: tb}}, func(eps [][]float32, out []float32) {
		for i := range out {
			out[i] = eps[0][i] + s3*(eps[1][i]-eps[0][i])
		}
	}, after, mode)
	if err != nil {
		return nil, err
	}
	res, err := e.finish(j, enc, z, mask, mode)
	if err != nil {
		return nil, err
	}
	res.Settings, res.Strength = s, strength
	res.Stats = e.stats(r)
	res.Stats.Phases, res.Stats.PhaseORT = j.phases, j.inORT
	return res, nil
}
