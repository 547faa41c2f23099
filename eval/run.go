package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strconv"
	"time"

	xdraw "golang.org/x/image/draw"

	"likeness/app"
	"likeness/engine"
	"likeness/engine/compose"
	"likeness/models"
)

// Output names, in report order: the baseline, mask-guided with each
// mask_guidance (OutputGuided(g)), and the product.
const (
	OutputBaseline = "baseline"
	OutputProduct  = "product" // mask-guided at the settings' mask_guidance, with Preserve
)

// OutputGuided names the plain mask-guided output with mask_guidance g.
func OutputGuided(g string) string { return "mask_guided_" + g }

// Options configure Run.
type Options struct {
	// Settings are the pack's defaults with the user's overrides; Direction
	// and Target are set per pair. Settings.MaskGuidance is the product's.
	Settings engine.Settings
	// Guidances are the mask_guidance values run plainly (default: all).
	Guidances []string
	// Thumbs makes one PNG strip per pair for the HTML page.
	Thumbs bool
	// Progress, when set, is called on the running goroutine.
	Progress func(Progress)
	// Judge, when set, also judges every output (JudgeFor), beside the
	// nearest-rendering rule.
	Judge *Judge
}

// Progress is where Run or Calibrate stands: pair Pair of Pairs (1-based)
// and the engine's own progress within it.
type Progress struct {
	Pair, Pairs int
	ID          string
	Engine      engine.Progress
}

// PairResult is one pair's metrics.
type PairResult struct {
	Pair Pair `json:"pair"`
	// MaskArea is the model's mask as a fraction of the image; MaskRecall
	// and MaskAreaRatio compare it with the true change (null when the
	// pair's mask is a difference map or shows no change).
	MaskArea      Num            `json:"mask_area"`
	MaskRecall    Num            `json:"mask_recall"`
	MaskAreaRatio Num            `json:"mask_area_ratio"`
	MaskEmpty     string         `json:"mask_empty_reason,omitempty"`
	Outputs       []OutputScores `json:"outputs"`
	Thumb         string         `json:"thumb,omitempty"` // file under thumbs/
	thumb         []byte
}

// OutputScores are one output's scores for one pair.
type OutputScores struct {
	Output string `json:"output"`
	Scores
}

// Num is a float64 that JSON writes as null when it is NaN or infinite.
type Num float64

// MarshalJSON writes null for NaN and ±Inf.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Num(f)
	return err
}

// pairInputs are one pair's images.
type pairInputs struct {
	doc    *app.Doc
	target *image.NRGBA
	truth  []bool
	cands  []Candidate
}

// loader reads pairs' images, keeping the renderings of the identity at hand.
type loader struct {
	f        *Folder
	identity string
	cands    []Candidate
}

func (l *loader) load(p Pair) (*pairInputs, error) {
	doc, err := app.OpenPhoto(l.f.Path(p.Source))
	if err != nil {
		return nil, err
	}
	if b := doc.Photo.Image.Bounds(); b.Dx() != p.Size || b.Dy() != p.Size {
		return nil, fmt.Errorf("%w: %s is %dx%d, the index says %d", ErrBadPairs, l.f.Path(p.Source), b.Dx(), b.Dy(), p.Size)
	}
	in := &pairInputs{doc: doc}
	if in.target, err = loadImage(l.f.Path(p.Target), p.Size); err != nil {
		return nil, err
	}
	if in.truth, err = loadMask(l.f.Path(p.Mask), p.Size, !p.TrueMask()); err != nil {
		return nil, err
	}
	if l.identity != p.Identity || l.cands == nil {
		if l.cands, err = l.renderings(p); err != nil {
			return nil, err
		}
		l.identity = p.Identity
	}
	in.cands = l.cands
	return in, nil
}

// renderings are the identity's source and the true target of every
// direction the folder holds for it (whatever their split).
func (l *loader) renderings(p Pair) ([]Candidate, error) {
	src, err := loadImage(l.f.Path(p.Source), p.Size)
	if err != nil {
		return nil, err
	}
	cands := []Candidate{{Label: CandidateSource, Image: src}}
	for _, q := range l.f.Pairs {
		if q.Identity != p.Identity || slices.ContainsFunc(cands, func(c Candidate) bool { return c.Label == q.Direction }) {
			continue
		}
		img, err := loadImage(l.f.Path(q.Target), p.Size)
		if err != nil {
			return nil, err
		}
		cands = append(cands, Candidate{Label: q.Direction, Image: img})
	}
	return cands, nil
}

// checkDirections refuses pairs whose direction the pack does not have.
func checkDirections(eng *engine.Engine, pairs []Pair) error {
	var missing []string
	for _, p := range pairs {
		if _, ok := eng.Manifest().Direction(p.Direction); !ok && !slices.Contains(missing, p.Direction) {
			missing = append(missing, p.Direction)
		}
	}
	if len(missing) > 0 {
		var ids []string
		for _, d := range eng.Manifest().Directions {
			ids = append(ids, d.ID)
		}
		return fmt.Errorf("%w: pack %s has no direction %q (it has %q); use pairs of the pack's task", ErrBadPairs, eng.Pack.Name, missing, ids)
	}
	return nil
}

// Run evaluates every pair through the engine, in order. On cancellation
// it returns ctx's error and no report.
func Run(ctx context.Context, eng *engine.Engine, f *Folder, pairs []Pair, opt Options) (*Report, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("%w: no pairs to evaluate", ErrBadPairs)
	}
	if err := checkDirections(eng, pairs); err != nil {
		return nil, err
	}
	if len(opt.Guidances) == 0 {
		opt.Guidances = models.MaskGuidances
	}
	base := opt.Settings
	base.Target = ""
	if err := eng.Validate(base); err != nil {
		return nil, err
	}
	rep := &Report{Pack: eng.Pack.Name, PackDir: eng.Pack.Dir, PairsDir: f.Dir, Resolution: eng.Sig.Resolution,
		Settings: base, Guidances: opt.Guidances, Created: time.Now().UTC()}
	rep.Outputs = append([]string{OutputBaseline}, mapSlice(opt.Guidances, OutputGuided)...)
	rep.Outputs = append(rep.Outputs, OutputProduct)
	l := &loader{f: f}
	for i, p := range pairs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		progress := func(ep engine.Progress) {
			if opt.Progress != nil {
				opt.Progress(Progress{Pair: i + 1, Pairs: len(pairs), ID: p.ID(), Engine: ep})
			}
		}
		progress(engine.Progress{Phase: "load"})
		r, err := runPair(ctx, eng, l, p, base, opt, progress)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("pair %s (%s line %d): %w", p.ID(), IndexFile, p.Line, err)
		}
		rep.Results = append(rep.Results, *r)
	}
	rep.summarise()
	return rep, nil
}

// runPair computes the model's mask once, then the baseline, mask-guided
// with each guidance, and the product.
func runPair(ctx context.Context, eng *engine.Engine, l *loader, p Pair, base engine.Settings, opt Options, progress engine.ProgressFunc) (*PairResult, error) {
	in, err := l.load(p)
	if err != nil {
		return nil, err
	}
	s := base
	s.Direction = p.Direction
	enc, err := in.doc.Encoded(ctx, eng, progress)
	if err != nil {
		return nil, err
	}
	m, err := eng.ComputeMask(ctx, enc, s, progress)
	if err != nil {
		return nil, err
	}
	bits := m.Threshold(s.Lambda)
	pred := compose.UpsampleMask(bits, m.W, m.H, p.Size, p.Size)
	r := &PairResult{Pair: p, MaskArea: Num(m.Area(s.Lambda)), MaskRecall: Num(math.NaN()), MaskAreaRatio: Num(math.NaN()), MaskEmpty: m.Reason}
	if p.TrueMask() {
		r.MaskRecall, r.MaskAreaRatio = Num(Recall(pred, in.truth)), Num(AreaRatio(pred, in.truth))
	}
	var judgeErr error
	score := func(name string, img *image.NRGBA) {
		sc := Score(img, in.target, in.truth, in.cands, p.Direction, p.Box())
		if opt.Judge != nil && judgeErr == nil {
			got, _, err := opt.Judge.Classify(ctx, img, rendererBrowsToChin(p.Box()), img.Rect)
			judgeErr = err
			ok := got == p.Direction
			sc.Judged, sc.JudgeOK = got, &ok
		}
		r.Outputs = append(r.Outputs, OutputScores{Output: name, Scores: sc})
	}
	baseline, err := eng.Edit(ctx, enc, s, nil, progress)
	if err != nil {
		return nil, err
	}
	thumbs := []*image.NRGBA{enc.Photo, in.target, compose.Overlay(enc.Photo, bits, m.W, m.H, app.MaskColour, 0.5), atSize(baseline.Paper, p.Size), nil, nil}
	score(OutputBaseline, thumbs[3])
	var product *image.NRGBA
	runs := slices.Clone(opt.Guidances)
	if !slices.Contains(runs, s.MaskGuidance) {
		runs = append(runs, s.MaskGuidance) // the product's guidance, not reported plainly
	}
	for _, g := range runs {
		sg := s
		sg.MaskGuidance = g
		res, err := eng.Edit(ctx, enc, sg, bits, progress)
		if err != nil {
			return nil, err
		}
		plain := atSize(res.Paper, p.Size)
		if slices.Contains(opt.Guidances, g) {
			score(OutputGuided(g), plain)
		}
		if g == s.MaskGuidance {
			// The photo is the whole crop, so Full is the product at the
			// pair's size: the input outside the mask, bit for bit.
			product = res.Full()
			thumbs[4] = plain
		}
	}
	score(OutputProduct, product)
	if judgeErr != nil {
		return nil, judgeErr
	}
	thumbs[5] = product
	if opt.Thumbs {
		labels := []string{"input", "true target", fmt.Sprintf("mask λ=%.2f", s.Lambda), "baseline", "mask-guided", "product"}
		var b bytes.Buffer
		if err := png.Encode(&b, compose.Sheet(thumbs, labels, len(thumbs), min(max(p.Size, 128), 160), color.White)); err != nil {
			return nil, err
		}
		r.thumb = b.Bytes()
		r.Thumb = thumbName(p)
	}
	return r, nil
}

// rendererBrowsToChin turns a generated pair's face box (the renderer's
// whole face oval) into the brows-to-chin box the judge sees: the renderer
// draws the brows 0.45 of the oval's half-height above its centre
// (render.py BROW_V), so they sit 0.275 of its height below its top.
func rendererBrowsToChin(oval image.Rectangle) image.Rectangle {
	return image.Rect(oval.Min.X, oval.Min.Y+int(0.275*float64(oval.Dy())+0.5), oval.Max.X, oval.Max.Y)
}

// atSize scales a model output to the pair's size (Catmull-Rom, as exports
// do); an image of that size already is returned as it is.
func atSize(img *image.NRGBA, size int) *image.NRGBA {
	if img == nil {
		return nil
	}
	if img.Rect.Dx() == size && img.Rect.Dy() == size {
		return img
	}
	out := image.NewNRGBA(image.Rect(0, 0, size, size))
	xdraw.CatmullRom.Scale(out, out.Rect, img, img.Rect, xdraw.Src, nil)
	return out
}

func mapSlice(in []string, fn func(string) string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = fn(v)
	}
	return out
}

// errNoMaskPairs means calibration found no pair with a true change mask.
var errNoMaskPairs = errors.New("no pair has a true change mask")
