package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"likeness/models/onnxpb"
	"likeness/ort"
)

// ErrNonFinite marks a model output holding NaN or ±Inf. The run stops
// there: a NaN in the difference map would otherwise read as "the prompts
// agree everywhere" (an empty mask), and NaN pixels would reach the output.
var ErrNonFinite = errors.New("model output is not finite")

// finite checks one model output, once per call: role names the model,
// where the step ("at denoise step 3 of 20 (t=850)").
func (e *Engine) finite(role string, s *ort.Session, v []float32, where string) error {
	for i, x := range v {
		if x-x == 0 { // false for NaN and ±Inf only
			continue
		}
		kind := "NaN"
		if !math.IsNaN(float64(x)) {
			kind = fmt.Sprintf("%+v", x)
		}
		prov := ort.Provider("?")
		if s != nil {
			prov = s.Provider
		}
		return fmt.Errorf("%w: pack %s: %s returned %s (value %d of %d) %s on the %s provider; "+
			"float16 overflow on a GPU is the usual cause: try --provider cpu or a float32 export",
			ErrNonFinite, e.Pack.Name, role, kind, i, len(v), where, prov)
	}
	return nil
}

// finiteLatent checks a scheduler step's result: the models' outputs were
// finite, so a NaN here is the scheduler's (a repeated timestep, h = 0).
func finiteLatent(z []float32, where string) error {
	for _, x := range z {
		if x-x != 0 {
			return fmt.Errorf("%w: the scheduler's step %s gave %v; try another number of steps or another scheduler", ErrNonFinite, where, x)
		}
	}
	return nil
}

// prepareVAE makes a sampling vae_encoder (Sig.VAERandom) deterministic
// before its session is created: Gaussian nodes become their mean (for
// latent_dist.sample() = mean + std·ε that is exactly the latent mean the
// contract wants); other random nodes get a fixed seed, and since ONNX
// Runtime keeps a node's generator across the runs of a session, every
// encoding then gets a session of its own (vaeFresh), so the same photo
// always gives the same latent. opt gets the rewritten model.
func (e *Engine) prepareVAE(path string, opt *ort.Options) error {
	if len(e.Sig.VAERandom) == 0 {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	model, fixes, err := onnxpb.Derandomize(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	opt.Model = model
	e.vaeFixes, e.vaeOpt = fixes, *opt
	for _, f := range fixes {
		e.vaeFresh = e.vaeFresh || !f.Mean
	}
	return nil
}

// Warnings are what the user should know about the loaded pack that is not
// an error: today, a vae_encoder that samples and what the engine did
// about it. The app shows them; `likeness models check` prints them.
func (e *Engine) Warnings() []string {
	var mean, seeded []string
	for _, f := range e.vaeFixes {
		if f.Mean {
			mean = append(mean, f.Node.String())
		} else {
			seeded = append(seeded, f.Node.String())
		}
	}
	var out []string
	if len(mean) > 0 {
		out = append(out, fmt.Sprintf("vae_encoder samples its latent (%s): Likeness uses the noise's mean instead, "+
			"so z0 is the latent mean, as the contract asks; re-export the encoder to return the mean to drop this rewrite",
			strings.Join(mean, ", ")))
	}
	if len(seeded) > 0 {
		out = append(out, fmt.Sprintf("vae_encoder draws random numbers (%s) that Likeness cannot replace with their mean: "+
			"it fixes their seed and restarts the encoder for every photo, so results repeat, but z0 is one fixed sample, "+
			"not the latent mean; re-export the encoder to return latent_dist.mean",
			strings.Join(seeded, ", ")))
	}
	return out
}

// runVAE runs the vae_encoder: its session, or a fresh one per call when
// seeded random nodes must start over (see prepareVAE).
func (e *Engine) runVAE(ctx context.Context, in map[string]ort.Value, shapes map[string][]int64) (map[string]ort.Value, error) {
	if !e.vaeFresh {
		return e.vaeEnc.Run(ctx, in, shapes)
	}
	s, err := ort.Open(e.vaeEnc.Path, e.vaeOpt)
	if err != nil {
		return nil, err
	}
	out, err := s.Run(ctx, in, shapes)
	return out, errors.Join(err, s.Close())
}
