package float16

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKnown(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
		{65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00}, {1e6, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{0.1, 0x2e66}, {1.0 / 3, 0x3555},
		{0x1p-14, 0x0400}, {0x1p-24, 0x0001}, {0x1p-25, 0}, {0x1.8p-25, 0x0001}, {0x1p-26, 0},
		{0x3p-25, 0x0002},                            // 1.5 subnormal units: tie -> even (2)
		{1 + 0x1p-11, 0x3c00}, {1 + 0x3p-11, 0x3c02}, // ties to even
		{1 + 0x1p-11 + 0x1p-20, 0x3c01},                         // just above a tie
		{0x1.ffcp-15, 0x0400}, {2047 * 0x1p-24 / 2, 0x03ff + 1}, // rounding up into the normals
	}
	for _, c := range cases {
		if got := FromFloat32(c.f); got != c.h {
			t.Errorf("FromFloat32(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if h := FromFloat32(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x, not a NaN", h)
	}
	if f := ToFloat32(0x7e00); !math.IsNaN(float64(f)) {
		t.Errorf("0x7e00 -> %v, not NaN", f)
	}
}

// Every non-NaN half converts to float32 and back unchanged.
func TestRoundTripAll(t *testing.T) {
	for h := range 1 << 16 {
		h := uint16(h)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue
		}
		if got := FromFloat32(ToFloat32(h)); got != h {
			t.Fatalf("%#04x -> %v -> %#04x", h, ToFloat32(h), got)
		}
	}
	// ToFloat32 agrees with the definition value = (-1)^s 2^(e-15) (1 + m/1024).
	for h := range 0x7c00 {
		e, m := h>>10, float64(h&0x3ff)
		want := math.Ldexp(m, -24)
		if e > 0 {
			want = math.Ldexp(1+m/1024, e-15)
		}
		if got := float64(ToFloat32(uint16(h))); got != want {
			t.Fatalf("%#04x -> %v, want %v", h, got, want)
		}
	}
}

// Random float32 values round to the nearest half, ties to even.
func TestNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(f float32) {
		h := FromFloat32(f)
		got := float64(ToFloat32(h))
		x := float64(f)
		for _, n := range []uint16{h - 1, h + 1} {
			if n&0x7fff >= 0x7c00 || (n^h)&0x8000 != 0 {
				continue
			}
			d, dn := math.Abs(got-x), math.Abs(float64(ToFloat32(n))-x)
			if dn < d || (dn == d && h&1 == 1) {
				t.Fatalf("%g -> %#04x (%g), but %#04x (%g) is nearer or even", f, h, got, n, ToFloat32(n))
			}
		}
	}
	for range 200000 {
		check(float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-25))))
	}
	for h := range 0x7bff { // every midpoint between neighbours
		a, b := float64(ToFloat32(uint16(h))), float64(ToFloat32(uint16(h+1)))
		check(float32((a + b) / 2))
	}
	b := Bytes([]float32{1, -0.5})
	if !slices.Equal(b, []byte{0x00, 0x3c, 0x00, 0xb8}) || !slices.Equal(FromBytes(b), []float32{1, -0.5}) {
		t.Fatalf("bytes %x", b)
	}
}
