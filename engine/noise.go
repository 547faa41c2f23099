package engine

import "math/rand/v2"

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
