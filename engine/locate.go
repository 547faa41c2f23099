package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"

	"likeness/engine/photo"
	"likeness/models"
	"likeness/ort"
)

// ErrNoLocator means the pack has no face_locator model.
var ErrNoLocator = errors.New("the pack has no face locator")

// FaceFound is a face the pack's locator found, in photo pixels, brows to
// chin and cheek to cheek, with its confidence in [0, 1].
type FaceFound struct {
	Rect       image.Rectangle
	Confidence float64
}

// HasFaceLocator reports whether the pack ships a face_locator model.
func (e *Engine) HasFaceLocator() bool {
	_, err := os.Stat(e.Pack.ModelPath(models.RoleFaceLocator))
	return err == nil
}

// locator opens the face locator once and checks its tensors against the
// model contract: image float32 [1,3,S,S] in, box float32 [1,5] out.
func (e *Engine) locator() (*ort.Session, int, error) {
	return e.helper(models.RoleFaceLocator, "box", []int64{1, 5}, ErrNoLocator, &e.locSess, &e.locSize, &e.locErr)
}

// helper opens an optional helper model of the pack once (the session,
// its side S or the error are kept in the fields given): role's model with
// input image float32 [1,3,S,S] and output out of shape outShape (0 = S);
// missing is the error a pack without it gets, wrapped.
func (e *Engine) helper(role, out string, outShape []int64, missing error, sess **ort.Session, size *int, errp *error) (*ort.Session, int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if *sess != nil || *errp != nil {
		return *sess, *size, *errp
	}
	path := e.Pack.ModelPath(role)
	if _, err := os.Stat(path); err != nil {
		*errp = fmt.Errorf("pack %s: %w", e.Pack.Name, missing)
		return nil, 0, *errp
	}
	s, n, err := openSquareModel(path, "image", out, outShape, e.locOpt)
	if err != nil {
		*errp = fmt.Errorf("pack %s: %s: %w", e.Pack.Name, role, err)
		return nil, 0, *errp
	}
	*sess, *size = s, n
	return s, n, nil
}

// CheckFaceLocator opens the pack's face locator, when it has one, and
// checks its tensors against the contract; it returns the locator's input
// side S (0 without one).
func (e *Engine) CheckFaceLocator() (int, error) {
	if !e.HasFaceLocator() {
		return 0, nil
	}
	_, size, err := e.locator()
	return size, err
}

// openSquareModel opens a helper model with one input `in` float32
// [1,3,S,S] (S fixed) and one output `out` float32 of shape outShape, where
// a 0 stands for S, and returns S.
func openSquareModel(path, in, out string, outShape []int64, opt ort.Options) (*ort.Session, int, error) {
	ins, outs, err := ort.ReadSignature(path)
	if err != nil {
		return nil, 0, err
	}
	var size int64
	for _, t := range ins {
		if t.Name != in {
			continue
		}
		if t.Type != ort.Float32 || len(t.Shape) != 4 || t.Shape[1] != 3 || t.Shape[2] <= 0 || t.Shape[2] != t.Shape[3] {
			return nil, 0, fmt.Errorf("input %q is %v, want float32 [1,3,S,S] with S fixed", in, t)
		}
		size = t.Shape[2]
	}
	if size == 0 {
		return nil, 0, fmt.Errorf("no input %q (want float32 [1,3,S,S])", in)
	}
	want := make([]int64, len(outShape))
	for i, d := range outShape {
		want[i] = d
		if d == 0 {
			want[i] = size
		}
	}
	found := false
	for _, t := range outs {
		if t.Name == out {
			found = true
			ok := t.Type == ort.Float32 && len(t.Shape) == len(want)
			for i := 1; ok && i < len(want); i++ { // the batch may be dynamic
				ok = t.Shape[i] <= 0 || t.Shape[i] == want[i]
			}
			if !ok {
				return nil, 0, fmt.Errorf("output %q is %v, want float32 %v", out, t, want)
			}
		}
	}
	if !found {
		return nil, 0, fmt.Errorf("no output %q (want float32 %v)", out, want)
	}
	opt.Outputs = []string{out}
	opt.Signature = &ort.Signature{Inputs: ins, Outputs: outs}
	s, err := ort.Open(path, opt)
	if err != nil {
		return nil, 0, err
	}
	return s, int(size), nil
}

// LocateFace runs the pack's face locator on img: once on the whole photo
// (as a square, padded with white), then again on a square around what it
// found, which sees the face at several times the pixels. It returns
// ErrNoLocator (wrapped) for a pack without one.
func (e *Engine) LocateFace(ctx context.Context, img *image.NRGBA) (FaceFound, error) {
	s, size, err := e.locator()
	if err != nil {
		return FaceFound{}, err
	}
	b := img.Rect
	side := max(b.Dx(), b.Dy())
	sq := image.Rect(b.Min.X-(side-b.Dx())/2, b.Min.Y-(side-b.Dy())/2, 0, 0)
	sq.Max = sq.Min.Add(image.Pt(side, side))
	f, err := locateIn(ctx, s, size, img, sq)
	if err != nil || f.Confidence < 0.5 || f.Rect.Empty() {
		return f, err
	}
	// The refining square: the face at about the size the locator was trained on.
	w := max(f.Rect.Dx(), f.Rect.Dy())
	c := f.Rect.Min.Add(f.Rect.Max).Div(2)
	rs := int(math.Round(float64(w) * 2.2))
	if rs < side {
		sq2 := image.Rect(c.X-rs/2, c.Y-rs/2, c.X-rs/2+rs, c.Y-rs/2+rs)
		f2, err := locateIn(ctx, s, size, img, sq2)
		if err != nil {
			return FaceFound{}, err
		}
		if f2.Confidence >= 0.5 && !f2.Rect.Empty() {
			f2.Confidence = math.Min(f.Confidence, f2.Confidence)
			return f2, nil
		}
	}
	return f, nil
}

// RefineFace runs the pack's face locator once on a square around near
// (a face another detector found, photo pixels): the locator sees the face
// at the scale it was trained on and returns its own box, brows to chin.
func (e *Engine) RefineFace(ctx context.Context, img *image.NRGBA, near image.Rectangle) (FaceFound, error) {
	s, size, err := e.locator()
	if err != nil {
		return FaceFound{}, err
	}
	w := max(near.Dx(), near.Dy())
	c := near.Min.Add(near.Max).Div(2)
	rs := int(math.Round(float64(w) * 2.2))
	return locateIn(ctx, s, size, img, image.Rect(c.X-rs/2, c.Y-rs/2, c.X-rs/2+rs, c.Y-rs/2+rs))
}

func locateIn(ctx context.Context, s *ort.Session, size int, img *image.NRGBA, sq image.Rectangle) (FaceFound, error) {
	x := photo.SquareInput(img, sq, size)
	out, err := s.Run(ctx, map[string]ort.Value{"image": ort.Floats([]int64{1, 3, int64(size), int64(size)}, x)},
		map[string][]int64{"box": {1, 5}})
	if err != nil {
		return FaceFound{}, fmt.Errorf("face locator: %w", err)
	}
	v := out["box"].F32
	if len(v) != 5 {
		return FaceFound{}, fmt.Errorf("face locator: box has %d values, want 5", len(v))
	}
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return FaceFound{}, fmt.Errorf("face locator: box %v is not finite", v)
		}
	}
	side := float64(sq.Dx())
	r := image.Rect(
		sq.Min.X+int(math.Round(float64(v[0])*side)), sq.Min.Y+int(math.Round(float64(v[1])*side)),
		sq.Min.X+int(math.Round(float64(v[2])*side)), sq.Min.Y+int(math.Round(float64(v[3])*side)))
	return FaceFound{Rect: r.Intersect(img.Rect), Confidence: float64(v[4])}, nil
}
