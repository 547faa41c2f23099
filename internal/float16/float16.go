// Package float16 converts between float32 and IEEE 754 binary16 ("half"),
// the one definition the ONNX Runtime adapter (float16 tensors) and the ONNX
// writer (float16 initializers) share.
package float16

import (
	"encoding/binary"
	"math"
)

// FromFloat32 converts to IEEE 754 binary16 bits, rounding to nearest
// with ties to even; overflow gives ±Inf, NaN stays a (quiet) NaN, and values
// below the smallest subnormal round to ±0.
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 { // below half the smallest subnormal (2^-25)
			return sign
		}
		m := man | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++ // may carry into the smallest normal: still correct
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(h)
}

// ToFloat32 converts IEEE 754 binary16 bits to float32 (exact).
func ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		v := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// Bytes encodes float32 values as little-endian float16 bytes.
func Bytes(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint16(b[2*i:], FromFloat32(f))
	}
	return b
}

// FromBytes decodes little-endian float16 bytes (an odd trailing byte
// is ignored).
func FromBytes(b []byte) []float32 {
	v := make([]float32, len(b)/2)
	for i := range v {
		v[i] = ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return v
}
