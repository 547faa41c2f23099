package app

import (
	"context"
	"errors"
	"image"
	"sync"

	"likeness/engine"
	"likeness/engine/photo"
)

// Doc is one open photo: its crop, cached encodings per pack, the computed
// and painted mask, and the session's history of results.
type Doc struct {
	Path  string
	Photo *photo.Photo
	// Framing is what the last automatic crop found (ApplyCrop), for the
	// face guide and the status line; zero until then.
	Framing Framing

	mu      sync.Mutex
	crop    image.Rectangle
	enc     map[*engine.Engine]*engine.Encoded
	mask    *engine.Mask
	maskKey engine.Settings  // settings the mask was computed with, λ aside
	maskEng *engine.Engine   // the pack that computed it
	painted []bool           // nil = the thresholded mask
	undo    [][]bool         // painted states before each stroke
	history []*engine.Result // guarded by mu: read it with Results
}

// OpenPhoto loads a photo (EXIF orientation applied) with the default crop,
// photo.PortraitSquare.
func OpenPhoto(path string) (*Doc, error) {
	p, err := photo.Load(path)
	if err != nil {
		return nil, err
	}
	return &Doc{Path: path, Photo: p, crop: photo.PortraitSquare(p.Image.Bounds()), enc: map[*engine.Engine]*engine.Encoded{}}, nil
}

// Crop is the square the model sees, in photo pixels.
func (d *Doc) Crop() image.Rectangle {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.crop
}

// SetCrop moves the model's framing; encodings and the mask are dropped.
func (d *Doc) SetCrop(r image.Rectangle) error {
	if err := photo.ValidateCrop(r, d.Photo.Image.Bounds()); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r == d.crop {
		return nil
	}
	d.crop = r
	d.enc = map[*engine.Engine]*engine.Encoded{}
	d.mask, d.painted, d.undo = nil, nil, nil
	return nil
}

// Encoded returns the photo's encodings for a pack, computing them once.
func (d *Doc) Encoded(ctx context.Context, e *engine.Engine, progress engine.ProgressFunc) (*engine.Encoded, error) {
	d.mu.Lock()
	enc, ok := d.enc[e]
	crop := d.crop
	d.mu.Unlock()
	if ok {
		return enc, nil
	}
	enc, err := e.Encode(ctx, d.Photo.Image, d.Photo.HasAlpha, crop, progress)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crop == crop {
		d.enc[e] = enc
	}
	return enc, nil
}

// ComputeMask computes the model's mask and makes it current (dropping paint).
func (d *Doc) ComputeMask(ctx context.Context, e *engine.Engine, s engine.Settings, progress engine.ProgressFunc) (*engine.Mask, error) {
	enc, err := d.Encoded(ctx, e, progress)
	if err != nil {
		return nil, err
	}
	m, err := e.ComputeMask(ctx, enc, s, progress)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crop != enc.Crop { // the crop moved meanwhile: this mask belongs to no crop
		return nil, ErrCropChanged
	}
	d.mask, d.maskKey, d.maskEng, d.painted, d.undo = m, maskKey(s), e, nil, nil
	return m, nil
}

// ErrCropChanged means the crop moved while work for the old crop ran.
var ErrCropChanged = errors.New("the crop changed while the mask was computed; preview it again")

// DropMask forgets the computed and painted mask (for example when another
// pack is loaded: a mask belongs to the pack that computed it).
func (d *Doc) DropMask() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mask, d.maskEng, d.painted, d.undo = nil, nil, nil, nil
}

// Results is a copy of the session's history, safe to read while an edit runs.
func (d *Doc) Results() []*engine.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*engine.Result(nil), d.history...)
}

// maskFor returns the mask an edit with s on e should use without
// computing anything: the painted mask, or N > λ when the computed mask
// was made by e with the same settings; nil when a mask must be computed.
func (d *Doc) maskFor(e *engine.Engine, s engine.Settings) []bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mask == nil || d.maskEng != e {
		return nil
	}
	if d.painted != nil {
		return append([]bool(nil), d.painted...)
	}
	if d.maskKey != maskKey(s) {
		return nil
	}
	return d.mask.Threshold(s.Lambda)
}

// Mask returns the computed mask, or nil before one was computed.
func (d *Doc) Mask() *engine.Mask {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mask
}

// EffectiveMask is what an edit uses: the painted mask, else N > λ.
func (d *Doc) EffectiveMask(lambda float64) []bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.painted != nil {
		return append([]bool(nil), d.painted...)
	}
	if d.mask == nil {
		return nil
	}
	return d.mask.Threshold(lambda)
}

// ErrNoMask means an operation needs a computed mask first.
var ErrNoMask = errors.New("no mask yet: preview the mask first")

// Paint adds (or erases) a disc of latent cells centred at (cx, cy) with the
// given radius in cells. The first stroke starts from N > λ.
func (d *Doc) Paint(cx, cy, radius float64, add bool, lambda float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mask == nil {
		return ErrNoMask
	}
	cur := d.painted
	if cur == nil {
		cur = d.mask.Threshold(lambda)
	}
	d.undo = append(d.undo, append([]bool(nil), cur...))
	next := append([]bool(nil), cur...)
	w, h := d.mask.W, d.mask.H
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			if dx*dx+dy*dy <= radius*radius {
				next[y*w+x] = add
			}
		}
	}
	d.painted = next
	return nil
}

// Undo reverts the last paint stroke; it reports whether there was one.
func (d *Doc) Undo() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.undo) == 0 {
		return false
	}
	last := d.undo[len(d.undo)-1]
	d.undo = d.undo[:len(d.undo)-1]
	if len(d.undo) == 0 {
		d.painted = nil // back to the computed mask, which follows λ again
	} else {
		d.painted = last
	}
	return true
}

// ResetMask drops all paint.
func (d *Doc) ResetMask() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.painted, d.undo = nil, nil
}

// Painted reports whether the user changed the computed mask.
func (d *Doc) Painted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.painted != nil
}

// Edit runs mask-guided editing with the effective mask (computing the mask
// first when there is none), or the baseline when useMask is false, and adds
// the result to the history.
func (d *Doc) Edit(ctx context.Context, e *engine.Engine, s engine.Settings, useMask bool, progress engine.ProgressFunc) (*engine.Result, error) {
	enc, err := d.Encoded(ctx, e, progress)
	if err != nil {
		return nil, err
	}
	var mask []bool
	if useMask {
		if mask = d.maskFor(e, s); mask == nil {
			m, err := d.ComputeMask(ctx, e, s, progress)
			if err != nil {
				return nil, err
			}
			mask = m.Threshold(s.Lambda)
		}
	}
	r, err := e.Edit(ctx, enc, s, mask, progress)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.history = append(d.history, r)
	d.mu.Unlock()
	return r, nil
}

// MaskReady reports whether an edit with s on e would reuse the mask the
// doc holds (painted, or computed with the same mask inputs) and so spend
// no UNet passes on it. The contract's mask reads the guidance scales, the
// steps, the seed and the mask options; λ and the mask guidance it does not.
func (d *Doc) MaskReady(e *engine.Engine, s engine.Settings) bool {
	return d.maskFor(e, s) != nil
}

// maskKey drops what does not change N: λ only re-thresholds it, and the
// mask guidance acts only on the edit.
func maskKey(s engine.Settings) engine.Settings {
	s.Lambda = 0
	s.MaskGuidance = ""
	return s
}

// SyntheticDoc wraps an in-memory image (benchmarks, tests, the demo).
func SyntheticDoc(img *image.NRGBA) *Doc {
	return &Doc{Path: "", Photo: &photo.Photo{Image: img, Format: "memory", Orientation: 1}, crop: photo.PortraitSquare(img.Bounds()), enc: map[*engine.Engine]*engine.Encoded{}}
}
