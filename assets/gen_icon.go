//go:build ignore

// gen_icon draws Likeness's 256x256 app icon: a portrait silhouette on a
// rounded tile, with the edited region (the mask) tinted pink.
// Run: go run assets/gen_icon.go  (writes assets/icon.png)
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
)

const size = 256

func main() {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	ss := 4 // supersampling per axis
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					px := float64(x) + (float64(sx)+0.5)/float64(ss)
					py := float64(y) + (float64(sy)+0.5)/float64(ss)
					c := sample(px, py)
					r += c[0] * c[3]
					g += c[1] * c[3]
					b += c[2] * c[3]
					a += c[3]
				}
			}
			n := float64(ss * ss)
			if a > 0 {
				img.SetNRGBA(x, y, color.NRGBA{R: u8(r / a), G: u8(g / a), B: u8(b / a), A: u8(a / n)})
			}
		}
	}
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(filepath.Dir(file), "icon.png")
	f, err := os.Create(out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func u8(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v*255+0.5))) }

// sample returns RGBA in [0,1] at a point.
func sample(x, y float64) [4]float64 {
	// Rounded tile.
	const m, rad = 12.0, 48.0
	if !inRoundRect(x, y, m, m, size-m, size-m, rad) {
		return [4]float64{}
	}
	t := y / size
	bg := [4]float64{0.16 + 0.10*t, 0.20 + 0.12*t, 0.42 + 0.18*t, 1} // deep blue gradient
	c := bg
	// Head and shoulders.
	hx, hy, hr := 128.0, 104.0, 50.0
	head := sq(x-hx)/sq(hr*0.9)+sq(y-hy)/sq(hr*1.08) <= 1
	shoulders := y > 160 && sq(x-128)/sq(92)+sq(y-236)/sq(78) <= 1
	if head || shoulders {
		c = [4]float64{0.96, 0.93, 0.90, 1}
	}
	// The mask: only the hair region is edited (tinted pink), the rest kept.
	hair := head && y < hy-14
	if hair {
		c = [4]float64{1.0, 0.30, 0.63, 1}
	}
	// A thin square crop frame around the face.
	fx0, fy0, fx1, fy1 := 58.0, 40.0, 198.0, 180.0
	onFrame := (x >= fx0 && x <= fx1 && y >= fy0 && y <= fy1) && !(x > fx0+5 && x < fx1-5 && y > fy0+5 && y < fy1-5)
	corner := (x < fx0+26 || x > fx1-26) && (y < fy0+26 || y > fy1-26)
	if onFrame && corner {
		c = [4]float64{1, 0.84, 0.25, 1}
	}
	return c
}

func sq(v float64) float64 { return v * v }

func inRoundRect(x, y, x0, y0, x1, y1, r float64) bool {
	if x < x0 || x > x1 || y < y0 || y > y1 {
		return false
	}
	cx := math.Max(x0+r, math.Min(x, x1-r))
	cy := math.Max(y0+r, math.Min(y, y1-r))
	return sq(x-cx)+sq(y-cy) <= r*r
}
