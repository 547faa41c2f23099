package face

import "image"

// grayImage is an 8-bit luma plane with no gaps between rows.
type grayImage struct {
	w, h int
	pix  []uint8
}

// toGray converts img to luma with the BT.601 weights OpenCV's BGR2GRAY and
// Go's color.GrayModel share. Colours are composited over black, as
// color.GrayModel does, so every image type gives the same plane; the common
// decoder outputs take fast paths because At costs an allocation per pixel.
func toGray(img image.Image) grayImage {
	b := img.Bounds()
	g := grayImage{w: b.Dx(), h: b.Dy(), pix: make([]uint8, b.Dx()*b.Dy())}
	switch m := img.(type) {
	case *image.Gray:
		for y := range g.h {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*g.w:(y+1)*g.w], m.Pix[i:i+g.w])
		}
	case *image.YCbCr:
		// JPEG's Y is already this luma (full range, same weights).
		for y := range g.h {
			i := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*g.w:(y+1)*g.w], m.Y[i:i+g.w])
		}
	case *image.RGBA:
		for y := range g.h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			out := g.pix[y*g.w : (y+1)*g.w]
			for x := range out {
				p := row[4*x : 4*x+3 : 4*x+3]
				out[x] = luma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
			}
		}
	case *image.NRGBA:
		for y := range g.h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			out := g.pix[y*g.w : (y+1)*g.w]
			for x := range out {
				p := row[4*x : 4*x+4 : 4*x+4]
				a := uint32(p[3])
				if a == 0xff {
					out[x] = luma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
					continue
				}
				// Premultiply exactly as color.NRGBA.RGBA does, in 16 bits.
				a |= a << 8
				r := (uint32(p[0]) | uint32(p[0])<<8) * a / 0xffff
				gg := (uint32(p[1]) | uint32(p[1])<<8) * a / 0xffff
				bb := (uint32(p[2]) | uint32(p[2])<<8) * a / 0xffff
				out[x] = luma16(r, gg, bb)
			}
		}
	default:
		for y := range g.h {
			out := g.pix[y*g.w : (y+1)*g.w]
			for x := range out {
				r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				out[x] = luma16(r, gg, bb)
			}
		}
	}
	return g
}

// luma is color.GrayModel's formula for 8-bit channels.
func luma(r, g, b uint32) uint8 {
	return luma16(r|r<<8, g|g<<8, b|b<<8)
}

// luma16 is color.GrayModel's formula for 16-bit channels.
func luma16(r, g, b uint32) uint8 {
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 24)
}

// shrink averages g down to w x h (each no larger than g's). A box filter is
// used for the one large reduction of a big photo, where sampling would alias
// fine texture into the false edges a Haar cascade reacts to.
func shrink(g grayImage, w, h int) grayImage {
	out := grayImage{w: w, h: h, pix: make([]uint8, w*h)}
	// Column spans, computed once.
	x0 := make([]int, w+1)
	for x := range x0 {
		x0[x] = x * g.w / w
	}
	acc := make([]uint32, w)
	for y := range h {
		sy, ey := y*g.h/h, (y+1)*g.h/h
		clear(acc)
		for sy2 := sy; sy2 < ey; sy2++ {
			row := g.pix[sy2*g.w : (sy2+1)*g.w]
			for x := range acc {
				var s uint32
				for _, v := range row[x0[x]:x0[x+1]] {
					s += uint32(v)
				}
				acc[x] += s
			}
		}
		for x := range acc {
			n := uint32((ey - sy) * (x0[x+1] - x0[x]))
			out.pix[y*w+x] = uint8((acc[x] + n/2) / n)
		}
	}
	return out
}

// resizeLinear resamples src to w x h into dst (reused between pyramid
// levels) with the pixel-centre mapping and bilinear weights of OpenCV's
// INTER_LINEAR, which produced the pyramids the cascade was tuned on.
func resizeLinear(dst []uint8, src grayImage, w, h int) {
	const bits = 11
	const one = 1 << bits
	xi := make([]int, w)
	xf := make([]int32, w)
	fx := float64(src.w) / float64(w)
	for x := range w {
		xi[x], xf[x] = coord(float64(x), fx, src.w, one)
	}
	fy := float64(src.h) / float64(h)
	for y := range h {
		sy, wy := coord(float64(y), fy, src.h, one)
		sy1 := min(sy+1, src.h-1)
		r0 := src.pix[sy*src.w : (sy+1)*src.w]
		r1 := src.pix[sy1*src.w : (sy1+1)*src.w]
		out := dst[y*w : (y+1)*w]
		for x := range out {
			sx := xi[x]
			sx1 := min(sx+1, src.w-1)
			wx := xf[x]
			top := int32(r0[sx])*(one-wx) + int32(r0[sx1])*wx
			bot := int32(r1[sx])*(one-wx) + int32(r1[sx1])*wx
			out[x] = uint8((int64(top)*int64(one-wy) + int64(bot)*int64(wy) + 1<<(2*bits-1)) >> (2 * bits))
		}
	}
}

// coord maps destination index d to a source index and a fixed-point
// fraction toward the next source pixel, clamped at the borders.
func coord(d, scale float64, n int, one int32) (int, int32) {
	s := (d+0.5)*scale - 0.5
	if s <= 0 {
		return 0, 0
	}
	i := int(s)
	if i >= n-1 {
		return n - 1, 0
	}
	return i, int32((s - float64(i)) * float64(one))
}
