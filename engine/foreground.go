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

// ErrNoForeground means the pack has no foreground model.
var ErrNoForeground = errors.New("the pack has no foreground model")

// HasForeground reports whether the pack ships a foreground model.
func (e *Engine) HasForeground() bool {
	_, err := os.Stat(e.Pack.ModelPath(models.RoleForeground))
	return err == nil
}

// foreground opens the foreground model once and checks its tensors against
// the model contract: image float32 [1,3,S,S] in, alpha float32 [1,1,S,S] out.
func (e *Engine) foreground() (*ort.Session, int, error) {
	return e.helper(models.RoleForeground, "alpha", []int64{1, 1, 0, 0}, ErrNoForeground, &e.fgSess, &e.fgSize, &e.fgErr)
}

// CheckForeground opens the pack's foreground model, when it has one, and
// checks its tensors against the contract; it returns its input side S (0
// without one).
func (e *Engine) CheckForeground() (int, error) {
	if !e.HasForeground() {
		return 0, nil
	}
	_, size, err := e.foreground()
	return size, err
}

// Foreground runs the pack's foreground model on img (resampled to the
// model's square) and returns its matte at the model's side S: the coarse
// alpha that matte.Refine takes to the picture's own resolution. It returns
// ErrNoForeground (wrapped) for a pack without one.
func (e *Engine) Foreground(ctx context.Context, img *image.NRGBA) (*image.Alpha, error) {
	s, size, err := e.foreground()
	if err != nil {
		return nil, err
	}
	x := photo.SquareInput(img, img.Rect, size)
	n := int64(size)
	out, err := s.Run(ctx, map[string]ort.Value{"image": ort.Floats([]int64{1, 3, n, n}, x)},
		map[string][]int64{"alpha": {1, 1, n, n}})
	if err != nil {
		return nil, fmt.Errorf("foreground: %w", err)
	}
	v := out["alpha"].F32
	if len(v) != size*size {
		return nil, fmt.Errorf("foreground: alpha has %d values, want %d", len(v), size*size)
	}
	a := image.NewAlpha(image.Rect(0, 0, size, size))
	for i, f := range v {
		if math.IsNaN(float64(f)) {
			return nil, fmt.Errorf("foreground: alpha is not finite")
		}
		a.Pix[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, float64(f)))))
	}
	return a, nil
}
