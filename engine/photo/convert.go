package photo

import (
	"image"
	"image/color"
	"image/draw"
)

// toNRGBA converts any decoded image to straight-alpha 8-bit NRGBA with its
// origin at (0,0). Common decoder outputs take fast paths.
func toNRGBA(src image.Image) *image.NRGBA {
	b := src.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch s := src.(type) {
	case *image.NRGBA:
		for y := 0; y < b.Dy(); y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			copy(dst.Pix[y*dst.Stride:], s.Pix[i:i+b.Dx()*4])
		}
	case *image.YCbCr, *image.Gray, *image.CMYK:
		// Opaque: the premultiplied RGBA bytes are the NRGBA bytes, and
		// image/draw has fast paths for these into *image.RGBA.
		rgba := &image.RGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect}
		draw.Draw(rgba, rgba.Rect, src, b.Min, draw.Src)
	case *image.RGBA:
		for y := 0; y < b.Dy(); y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			sp, dp := s.Pix[i:i+b.Dx()*4], dst.Pix[y*dst.Stride:]
			for x := 0; x < len(sp); x += 4 {
				a := sp[x+3]
				switch a {
				case 0:
					// fully transparent: colour is undefined, leave zero
				case 255:
					copy(dp[x:x+4], sp[x:x+4])
				default:
					dp[x] = unpremul8(sp[x], a)
					dp[x+1] = unpremul8(sp[x+1], a)
					dp[x+2] = unpremul8(sp[x+2], a)
					dp[x+3] = a
				}
			}
		}
	case *image.NRGBA64:
		for y := 0; y < b.Dy(); y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			sp, dp := s.Pix[i:i+b.Dx()*8], dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				for c := 0; c < 4; c++ {
					dp[4*x+c] = round16to8(uint32(sp[8*x+2*c])<<8 | uint32(sp[8*x+2*c+1]))
				}
			}
		}
	case *image.Paletted:
		pal := make([]color.NRGBA, 256)
		for i, c := range s.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		for y := 0; y < b.Dy(); y++ {
			i := s.PixOffset(b.Min.X, b.Min.Y+y)
			sp, dp := s.Pix[i:i+b.Dx()], dst.Pix[y*dst.Stride:]
			for x, ci := range sp {
				c := pal[ci]
				dp[4*x], dp[4*x+1], dp[4*x+2], dp[4*x+3] = c.R, c.G, c.B, c.A
			}
		}
	case *image.NYCbCrA:
		// Go through YCbCr->RGB and keep alpha straight; color.NRGBAModel
		// would premultiply first and lose precision at low alpha.
		for y := 0; y < b.Dy(); y++ {
			dp := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				yi := s.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := s.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				dp[4*x], dp[4*x+1], dp[4*x+2], dp[4*x+3] = r, g, bl, s.A[s.AOffset(b.Min.X+x, b.Min.Y+y)]
			}
		}
	default:
		// Gray16, RGBA64, Alpha and anything else: premultiplied 16-bit via
		// RGBA(), unpremultiplied at 16 bits before rounding to 8.
		for y := 0; y < b.Dy(); y++ {
			dp := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				r, g, bl, a := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
				if a != 0 && a != 0xffff {
					r, g, bl = min(r*0xffff/a, 0xffff), min(g*0xffff/a, 0xffff), min(bl*0xffff/a, 0xffff)
				}
				dp[4*x], dp[4*x+1], dp[4*x+2], dp[4*x+3] = round16to8(r), round16to8(g), round16to8(bl), round16to8(a)
			}
		}
	}
	return dst
}

func unpremul8(c, a uint8) uint8 {
	if c >= a { // malformed premultiplied data
		return 255
	}
	return uint8((uint32(c)*255 + uint32(a)/2) / uint32(a))
}

// round16to8 maps 0..65535 to 0..255 with rounding (v/257, rounded).
func round16to8(v uint32) uint8 {
	return uint8((v*255 + 32767) / 65535)
}

func hasAlpha(img *image.NRGBA) bool {
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+img.Rect.Dx()*4]
		for x := 3; x < len(row); x += 4 {
			if row[x] != 255 {
				return true
			}
		}
	}
	return false
}

// Flatten composites img over bg ("over" operator, straight alpha) and
// returns a new image; with an opaque bg the result is opaque.
func Flatten(img *image.NRGBA, bg color.NRGBA) *image.NRGBA {
	b := img.Rect
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	ba := uint32(bg.A)
	for y := 0; y < b.Dy(); y++ {
		i := img.PixOffset(b.Min.X, b.Min.Y+y)
		sp, dp := img.Pix[i:i+b.Dx()*4], dst.Pix[y*dst.Stride:]
		for x := 0; x < len(sp); x += 4 {
			a := uint32(sp[x+3])
			// Work in premultiplied units of 255*255.
			bw := ba * (255 - a) // background weight
			outA := a*255 + bw
			if outA == 0 {
				continue
			}
			dp[x] = uint8((uint32(sp[x])*a*255 + uint32(bg.R)*bw + outA/2) / outA)
			dp[x+1] = uint8((uint32(sp[x+1])*a*255 + uint32(bg.G)*bw + outA/2) / outA)
			dp[x+2] = uint8((uint32(sp[x+2])*a*255 + uint32(bg.B)*bw + outA/2) / outA)
			dp[x+3] = uint8((outA + 127) / 255)
		}
	}
	return dst
}
