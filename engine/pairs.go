package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"time"

	"likeness/engine/scheduler"
	"likeness/models"
)

// Paired-data generation (the paper's section 3.2, Eq. 2, and supplementary
// 1.1): a plain Stable Diffusion pack generates a source x_A and a target x_B
// side by side in one double-width image, in one denoising process, so that
// identity and layout match. From a latent z_T of h × 2w × 4, every step
// predicts
//
//	ε̄ = s'_d·ε̃(z_t, c_p) + s'_a·M'_a ⊙ ε̃(z_t, c_pa) + s'_b·M'_b ⊙ ε̃(z_t, c_pb)
//
// where ε̃(c) = ε(∅) + g·(ε(c) − ε(∅)) is classifier-free guidance at scale
// g, and M'_a = [1, 0], M'_b = [0, 1] select the left and right halves. The
// three guided predictions share the unconditional one, so a step costs four
// UNet evaluations of the double-width latent.
//
// Adding a condition. The paper also conditions every prediction on a pose
// image (an OpenPose ControlNet) and on identity embeddings; neither is part
// of this generator. Each term of Eq. 2 is a pairBranch, evaluated through
// the engine's cond (one UNet input set): identity embeddings would change
// each branch's text embedding before it becomes a cond (the paper inserts
// two identity tokens before the subject word of p, p_a and p_b), and a
// ControlNet would add its residuals as a field of cond that unetCall feeds
// to the UNet. pairBranches is the one place that builds them.

// The paper's prompt templates (supplementary 1.1). {subject} is the person
// ("woman", "man"), {source} the source domain ("normal costume"), {target}
// the target domain ("Santa Claus costume").
const (
	PairSharedTemplate = "the same {subject} on the left and right"
	PairSourceTemplate = "a {subject}, {source}"
	PairTargetTemplate = "a {subject}, {target}"
)

// PairScheduler is the default sampler of pairs: Euler ancestral. The paper
// used a stochastic (Karras) sampler; Euler ancestral is the stochastic one
// the engine has, and, like the paper's, it draws fresh noise at every step
// (from the pair's seed), which adds variety between pairs.
const PairScheduler = "euler_ancestral"

// ErrPairSize means the pack's UNet (or VAE decoder) has fixed spatial sizes
// that the double-width latent of pairs does not fit.
var ErrPairSize = errors.New("model has a fixed size that pairs cannot use")

// PairSettings are everything that decides a generated pair.
type PairSettings struct {
	Subject string `json:"subject"`
	Source  string `json:"source"` // the source domain's text, e.g. "normal costume"
	Target  string `json:"target"` // the target domain's text, e.g. "Santa Claus costume"
	// Prompt templates with {subject}, {source} and {target}; empty means
	// the paper's (PairSharedTemplate, PairSourceTemplate, PairTargetTemplate).
	SharedTemplate string `json:"shared_template,omitempty"`
	SourceTemplate string `json:"source_template,omitempty"`
	TargetTemplate string `json:"target_template,omitempty"`
	// Guidance is the classifier-free guidance scale of each ε̃ (7.5).
	Guidance float64 `json:"guidance"`
	// SD, SA and SB are s'_d, s'_a and s'_b: the weights of the shared
	// prompt's prediction and of the source and target halves' (0.1, 0.9,
	// 0.9). With s'_d + s'_a = s'_d + s'_b = 1 each half is a convex blend.
	SD        float64 `json:"sd"`
	SA        float64 `json:"sa"`
	SB        float64 `json:"sb"`
	Steps     int     `json:"steps"`
	Scheduler string  `json:"scheduler"`
	// Resolution is each image's side in pixels; 0 means the pack's.
	Resolution int    `json:"resolution,omitempty"`
	Seed       uint64 `json:"seed"`
}

// DefaultPairSettings are the paper's: guidance 7.5, s'_d 0.1, s'_a = s'_b =
// 0.9, 20 steps. Source and Target are left for the caller.
func DefaultPairSettings() PairSettings {
	return PairSettings{Subject: "person", Guidance: 7.5, SD: 0.1, SA: 0.9, SB: 0.9, Steps: 20, Scheduler: PairScheduler, Seed: 1}
}

// Prompts returns p (shared), p_a (source) and p_b (target).
func (s PairSettings) Prompts() (shared, source, target string) {
	r := strings.NewReplacer("{subject}", strings.TrimSpace(s.Subject), "{source}", strings.TrimSpace(s.Source), "{target}", strings.TrimSpace(s.Target))
	tpl := func(t, def string) string {
		if t == "" {
			t = def
		}
		return r.Replace(t)
	}
	return tpl(s.SharedTemplate, PairSharedTemplate), tpl(s.SourceTemplate, PairSourceTemplate), tpl(s.TargetTemplate, PairTargetTemplate)
}

// pairSize is each image's side in pixels and its latent side.
func (e *Engine) pairSize(s PairSettings) (res, lat int) {
	res = s.Resolution
	if res == 0 {
		res = e.Sig.Resolution
	}
	return res, res / e.Sig.LatentFactor
}

// ValidatePairs checks the settings and that the pack can run them: kind sd,
// and a UNet (and VAE decoder) whose spatial sizes are dynamic or fit.
func (e *Engine) ValidatePairs(s PairSettings) error {
	if e.Sig.Kind != models.KindSD {
		return fmt.Errorf("pack %s is kind %s: pairs are generated with a plain Stable Diffusion pack (kind sd)", e.Pack.Name, e.Sig.Kind)
	}
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrBadSettings, fmt.Sprintf(f, a...)) }
	for name, v := range map[string]float64{"guidance": s.Guidance, "sd": s.SD, "sa": s.SA, "sb": s.SB} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return bad("%s %v: want a number >= 0", name, v)
		}
	}
	for name, v := range map[string]string{"subject": s.Subject, "source": s.Source, "target": s.Target} {
		if strings.TrimSpace(v) == "" {
			return bad("the %s text is empty", name)
		}
	}
	switch {
	case s.SD+s.SA == 0 || s.SD+s.SB == 0:
		return bad("s'_d %g, s'_a %g, s'_b %g leave a half with no prediction", s.SD, s.SA, s.SB)
	case s.Steps < 1 || s.Steps > 1000:
		return bad("steps %d is outside 1..1000", s.Steps)
	}
	if _, err := scheduler.New(s.Scheduler, e.sched); err != nil {
		return bad("scheduler: %v", err)
	}
	res, lat := e.pairSize(s)
	f := e.Sig.LatentFactor
	if res < f || res%f != 0 || res > 4096 {
		return bad("resolution %d: want a multiple of the pack's latent factor %d, at most 4096", res, f)
	}
	return e.checkPairShapes(lat, res)
}

// checkPairShapes refuses models whose fixed spatial sizes cannot take a
// lat × 2·lat latent (UNet) or decode a lat × lat half to res × res pixels.
func (e *Engine) checkPairShapes(lat, res int) error {
	type want struct {
		role, io, name string
		h, w           int
		fix            string
	}
	unetFix := "export the UNet with dynamic height and width (`optimum-cli export onnx` does; with torch.onnx.export, give sample and out_sample dynamic_axes {2: \"height\", 3: \"width\"})"
	vaeFix := fmt.Sprintf("use the pack's resolution (%d), or export the VAE decoder with dynamic height and width", e.Sig.Resolution)
	checks := []want{
		{models.RoleUNet, "input", "sample", lat, 2 * lat, unetFix},
		{models.RoleUNet, "output", "out_sample", lat, 2 * lat, unetFix},
		{models.RoleVAEDecoder, "input", "latent_sample", lat, lat, vaeFix},
		{models.RoleVAEDecoder, "output", "sample", res, res, vaeFix},
	}
	var errs []error
	for _, c := range checks {
		ms, ok := e.Sig.Model(c.role)
		if !ok {
			continue
		}
		list := ms.Inputs
		if c.io == "output" {
			list = ms.Outputs
		}
		for _, t := range list {
			if t.Name != c.name || len(t.Shape) != 4 {
				continue
			}
			for i, dim := range []struct {
				what string
				want int
			}{{"height", c.h}, {"width", c.w}} {
				if d := t.Shape[2+i]; d > 0 && int(d) != dim.want {
					errs = append(errs, fmt.Errorf("%w: pack %s: %s: %s %q has a fixed %s (dimension %d) of %d; pairs need %d (a %d×%d latent: the source and target halves side by side): %s",
						ErrPairSize, e.Pack.Name, ms.Path, c.io, c.name, dim.what, 2+i, d, dim.want, lat, 2*lat, c.fix))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Pair is one generated pair.
type Pair struct {
	Index int
	Seed  uint64 // the pair's own seed, PairSeed(settings seed, index)
	// Prompts are p, p_a and p_b.
	Prompts [3]string
	// Source and Target are x_A (the left half) and x_B (the right half).
	Source, Target *image.NRGBA
	// Latent is the final double-width latent [4,h,2w] (scaled).
	Latent []float32
	Stats  Stats
}

// PairSeed is pair index's own seed: SplitMix64 of seed + (index+1)·φ, so
// that neighbouring run seeds give unrelated pairs. The pair's initial noise
// is the engine's noise stream 0 of this seed, and its ancestral step noise
// the streams the denoiser draws for every edit.
func PairSeed(seed uint64, index int) uint64 {
	z := seed + uint64(index+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// GeneratePair makes pair index of the settings: the same settings and index
// give the same pair on the same machine and provider.
func (e *Engine) GeneratePair(ctx context.Context, s PairSettings, index int, progress ProgressFunc) (*Pair, error) {
	if err := e.ValidatePairs(s); err != nil {
		return nil, err
	}
	_, lat := e.pairSize(s)
	return e.generatePair(ctx, s, index, halfMasks(lat), progress)
}

// halfMasks are M'_a = [1, 0] and M'_b = [0, 1] over an h × 2h latent, one
// value per cell (the same for all 4 channels).
func halfMasks(h int) [2][]float32 {
	a, b := make([]float32, 2*h*h), make([]float32, 2*h*h)
	for r := range h {
		for c := range 2 * h {
			if c < h {
				a[r*2*h+c] = 1
			} else {
				b[r*2*h+c] = 1
			}
		}
	}
	return [2][]float32{a, b}
}

// pairBranch is one term of Eq. 2: a guided prediction with its weight and
// the cells it acts on (mask nil: everywhere).
type pairBranch struct {
	prompt string
	weight float32
	mask   []float32
}

// pairBranches lists Eq. 2's terms: the shared prompt over the whole latent,
// the source prompt on the left half, the target prompt on the right.
func pairBranches(s PairSettings, masks [2][]float32) []pairBranch {
	p, pa, pb := s.Prompts()
	return []pairBranch{{p, float32(s.SD), nil}, {pa, float32(s.SA), masks[0]}, {pb, float32(s.SB), masks[1]}}
}

func (e *Engine) generatePair(ctx context.Context, s PairSettings, index int, masks [2][]float32, progress ProgressFunc) (*Pair, error) {
	start := time.Now()
	ort0 := e.ortTime()
	res, lat := e.pairSize(s)
	seed := PairSeed(s.Seed, index)
	j := newJob(ctx, progress)
	j.seed, j.ortTime = seed, e.ortTime
	j.latH, j.latW = lat, 2*lat
	branches := pairBranches(s, masks)
	tnull, err := e.textEmbedding(ctx, "")
	if err != nil {
		return nil, err
	}
	// conds[0] is the unconditional branch every ε̃ shares, conds[1+k] branch k's.
	conds := []cond{{text: tnull}}
	for _, b := range branches {
		t, err := e.textEmbedding(ctx, b.prompt)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond{text: t})
	}
	g := float32(s.Guidance)
	cells := lat * 2 * lat
	combine := func(eps [][]float32, out []float32) {
		e0 := eps[0]
		for i := range out {
			var v float32
			for k, b := range branches {
				m := float32(1)
				if b.mask != nil {
					m = b.mask[i%cells]
				}
				v += b.weight * m * (e0[i] + g*(eps[1+k][i]-e0[i]))
			}
			out[i] = v
		}
	}
	sc, err := scheduler.New(s.Scheduler, e.sched)
	if err != nil {
		return nil, err
	}
	if err := sc.SetTimesteps(s.Steps); err != nil {
		return nil, err
	}
	z := scaled(noise(seed, 0, 4*cells), float32(sc.InitNoiseSigma()))
	z, err = e.denoise(j, sc, z, 0, conds, combine, nil, fmt.Sprintf("pair %d", index))
	if err != nil {
		return nil, err
	}
	xa, xb, err := e.decodePair(j, z, lat, res, index)
	if err != nil {
		return nil, err
	}
	pr := &Pair{Index: index, Seed: seed, Source: xa, Target: xb, Latent: z}
	pr.Prompts[0], pr.Prompts[1], pr.Prompts[2] = s.Prompts()
	pr.Stats = newStats(j, start, e.ortTime()-ort0)
	pr.Stats.Phases, pr.Stats.PhaseORT = j.phases, j.inORT
	return pr, nil
}

// decodePair decodes the halves of a [4,h,2h] latent into x_A and x_B. Each
// half is decoded on its own, not the double-width image at once: every
// image is then what a square decode of its latent gives (no pixel depends
// on the other half), and a VAE decoder with fixed sizes works.
func (e *Engine) decodePair(j *job, z []float32, lat, res, index int) (xa, xb *image.NRGBA, err error) {
	j.begin(PhaseDecode)
	defer j.end()
	if j.progress != nil {
		j.progress(Progress{Phase: PhaseDecode, Step: 1, Steps: 1, Label: fmt.Sprintf("pair %d", index)})
	}
	left, right := splitWidth(z, lat)
	if xa, err = e.decodeAt(j.ctx, left, lat, res); err != nil {
		return nil, nil, err
	}
	if xb, err = e.decodeAt(j.ctx, right, lat, res); err != nil {
		return nil, nil, err
	}
	return xa, xb, nil
}

// splitWidth cuts a [4,h,2h] latent into its left and right [4,h,h] halves.
func splitWidth(z []float32, h int) (left, right []float32) {
	left, right = make([]float32, 4*h*h), make([]float32, 4*h*h)
	for c := range 4 {
		for r := range h {
			row := z[(c*h+r)*2*h:]
			copy(left[(c*h+r)*h:], row[:h])
			copy(right[(c*h+r)*h:], row[h:2*h])
		}
	}
	return left, right
}

// PairUNetEvals is the number of UNet evaluations (of the double-width
// latent) one pair costs: the unconditional prediction and the three
// prompts', at every step.
func PairUNetEvals(steps int) int { return 4 * steps }
