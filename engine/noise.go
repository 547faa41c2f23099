package engine

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"likeness/engine/npy"
)

// noiseStream is the documented noise generator: Go's PCG (math/rand/v2)
// seeded with (seed, stream), drawn with NormFloat64 and rounded to float32.
// The same seed, stream and size give the same noise on every platform.
// Stream 0 is the initial latent of an edit; stream 1+i is mask seed i.
func noise(seed uint64, stream uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x4c696b656e657373^stream))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// Noise is Gaussian noise supplied from outside in place of the seeded
// generator, so that another implementation (a PyTorch reference sampler)
// fed the same noise can be compared with the engine step for step. Rows[0]
// is the initial latent noise of an edit (for SDEdit, the noise added to
// z0), Rows[1+i] the noise of mask seed i; each is [4,h,w]. An edit that
// computes no mask needs only Rows[0]. The per-step noise of ancestral
// schedulers (euler_ancestral) still comes from the seed.
type Noise struct {
	Name string // where it came from (a file name), for messages and records
	Rows [][]float32
}

// check tests the rows against the latent size and the mask seeds.
func (n *Noise) check(latent, maskSeeds int) error {
	if n == nil {
		return nil
	}
	if len(n.Rows) != 1 && len(n.Rows) != 1+maskSeeds {
		return fmt.Errorf("noise %s has %d rows; want 1 + mask seeds = %d (or 1 for an edit without a computed mask)", n.Name, len(n.Rows), 1+maskSeeds)
	}
	for i, r := range n.Rows {
		if len(r) != 4*latent*latent {
			return fmt.Errorf("noise %s: row %d has %d values; want 4×%d×%d", n.Name, i, len(r), latent, latent)
		}
	}
	return nil
}

// initial is an edit's initial latent noise [4,h,w].
func (s *Settings) initial(n int) []float32 {
	if s.Noise != nil {
		return s.Noise.Rows[0]
	}
	return noise(s.Seed, 0, n)
}

// maskNoise is mask seed i's noise [4,h,w].
func (s *Settings) maskNoise(i, n int) ([]float32, error) {
	if s.Noise == nil {
		return noise(s.Seed, 1+uint64(i), n), nil
	}
	if len(s.Noise.Rows) != 1+s.MaskSeeds {
		return nil, fmt.Errorf("%w: noise %s has %d rows; the mask needs 1 + mask seeds = %d", ErrBadSettings, s.Noise.Name, len(s.Noise.Rows), 1+s.MaskSeeds)
	}
	return s.Noise.Rows[1+i], nil
}

// ErrNoiseFile is matched by every error about a noise file's contents.
var ErrNoiseFile = errors.New("bad noise file")

// ReadNoise reads noise for this engine from a NumPy .npy file: float32
// (little endian, C order) of shape [1 + maskSeeds, 4, h, w], where h = w is
// the pack's latent size. With editOnly, [1, 4, h, w] is accepted too (an
// edit that computes no mask). Values must be finite. Errors name the file.
func (e *Engine) ReadNoise(path string, maskSeeds int, editOnly bool) (*Noise, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("noise: %w", err)
	}
	lat := e.Sig.Latent
	rows := 1 + maskSeeds
	okRows := len(a.Shape) == 4 && (a.Shape[0] == rows || (editOnly && a.Shape[0] == 1))
	if !okRows || a.Shape[1] != 4 || a.Shape[2] != lat || a.Shape[3] != lat {
		want := fmt.Sprintf("[%d, 4, %d, %d]", rows, lat, lat)
		if editOnly {
			want += fmt.Sprintf(" or [1, 4, %d, %d]", lat, lat)
		}
		return nil, fmt.Errorf("%w: %s: shape %v, want %s: row 0 the edit's initial noise, row 1+i mask seed i's (mask seeds %d, latent %dx%d of pack %s)",
			ErrNoiseFile, path, a.Shape, want, maskSeeds, lat, lat, e.Pack.Name)
	}
	for i, v := range a.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: %s: value %d is %v; noise must be finite", ErrNoiseFile, path, i, v)
		}
	}
	n := &Noise{Name: path, Rows: make([][]float32, a.Shape[0])}
	size := 4 * lat * lat
	for i := range n.Rows {
		n.Rows[i] = a.Data[i*size : (i+1)*size : (i+1)*size]
	}
	return n, nil
}
