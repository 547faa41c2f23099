package compose

import (
	"image"
	"image/color"
	"testing"
)

func TestSheet(t *testing.T) {
	imgs := []*image.NRGBA{
		solid(100, 100, color.NRGBA{200, 40, 40, 255}),
		solid(200, 100, color.NRGBA{40, 200, 40, 255}),
		solid(50, 100, color.NRGBA{40, 40, 200, 255}),
		solid(64, 64, color.NRGBA{220, 220, 40, 255}),
	}
	labels := []string{"input", "mask overlay", "baseline", "mask-guided"}
	tests := []struct {
		name       string
		cols, cell int
		rows       int
	}{
		{"2x2 sticker sheet", 2, 256, 2},
		{"compare strip", 4, 200, 1},
		{"cols larger than n", 9, 120, 1},
		{"three columns", 3, 160, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Sheet(imgs, labels, tt.cols, tt.cell, color.White)
			cols := min(tt.cols, len(imgs))
			pad := max(4, tt.cell/32)
			b := s.Bounds()
			if b.Dx() != cols*(tt.cell+pad)+pad {
				t.Errorf("width %d for %d cols of %d", b.Dx(), cols, tt.cell)
			}
			stepY := (b.Dy() - pad) / tt.rows
			if stepY <= tt.cell+pad || (b.Dy()-pad)%tt.rows != 0 {
				t.Errorf("height %d does not fit %d rows of %d plus labels", b.Dy(), tt.rows, tt.cell)
			}
			for i := range imgs {
				x0 := pad + (i%cols)*(tt.cell+pad)
				y0 := pad + (i/cols)*stepY
				// Panel centre shows the image.
				c := s.NRGBAAt(x0+tt.cell/2, y0+tt.cell/2)
				if c != imgs[i].NRGBAAt(0, 0) {
					t.Errorf("panel %d centre %v, want %v", i, c, imgs[i].NRGBAAt(0, 0))
				}
				// The label band under the panel has dark ink.
				dark := 0
				for y := y0 + tt.cell; y < y0+stepY-pad; y++ {
					for x := x0; x < x0+tt.cell; x++ {
						if p := s.NRGBAAt(x, y); p.R < 100 && p.G < 100 && p.B < 100 {
							dark++
						}
					}
				}
				if dark < 10 {
					t.Errorf("panel %d: %d dark label pixels", i, dark)
				}
			}
		})
	}
	t.Run("dark background gets light ink and long labels fit", func(t *testing.T) {
		s := Sheet(imgs[:1], []string{"a very long label that cannot possibly fit in such a small cell"}, 1, 100, color.Black)
		light := 0
		for y := 104; y < s.Bounds().Dy(); y++ {
			for x := range s.Bounds().Dx() {
				if s.NRGBAAt(x, y).R > 150 {
					light++
				}
			}
		}
		if light < 10 {
			t.Errorf("%d light pixels", light)
		}
	})
	if Sheet(nil, nil, 2, 100, nil) != nil {
		t.Error("no images: want nil")
	}
}

func TestSticker(t *testing.T) {
	// A 300x200 photo whose subject is an opaque disc on a transparent
	// background.
	img := solid(300, 200, color.NRGBA{30, 60, 200, 255})
	alpha := image.NewAlpha(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			if dx, dy := x-150, y-100; dx*dx+dy*dy <= 80*80 {
				alpha.Pix[y*alpha.Stride+x] = 255
			}
		}
	}
	t.Run("transparent with outline", func(t *testing.T) {
		s := Sticker(img, alpha, 512, 8)
		if s.Bounds() != image.Rect(0, 0, 512, 512) {
			t.Fatalf("bounds %v", s.Bounds())
		}
		for _, p := range []image.Point{{0, 0}, {511, 0}, {0, 511}, {511, 511}} {
			if a := s.NRGBAAt(p.X, p.Y).A; a != 0 {
				t.Errorf("corner %v alpha %d", p, a)
			}
		}
		if c := s.NRGBAAt(256, 256); c != (color.NRGBA{30, 60, 200, 255}) {
			t.Errorf("centre %v", c)
		}
		// Fitted into 496: scale 496/300, disc radius ~132 around the centre.
		// Just outside the shape, along a ray, there must be opaque white.
		white := 0
		for x := 256 + 133; x < 256+150; x++ {
			if c := s.NRGBAAt(x, 256); c.R > 240 && c.G > 240 && c.B > 240 && c.A > 240 {
				white++
			}
		}
		if white < 4 {
			t.Errorf("only %d outline pixels right of the shape", white)
		}
		if a := s.NRGBAAt(256+132+20, 256).A; a != 0 {
			t.Errorf("outline too wide: alpha %d at 20 px out", a)
		}
	})
	t.Run("opaque without alpha", func(t *testing.T) {
		s := Sticker(img, nil, 512, 8)
		if s.Bounds() != image.Rect(0, 0, 512, 512) {
			t.Fatalf("bounds %v", s.Bounds())
		}
		for i := 3; i < len(s.Pix); i += 4 {
			if s.Pix[i] != 255 {
				t.Fatalf("pixel %d not opaque", i/4)
			}
		}
		if c := s.NRGBAAt(256, 256); c != (color.NRGBA{30, 60, 200, 255}) {
			t.Errorf("centre %v", c)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if Sticker(nil, nil, 512, 8) != nil {
			t.Error("nil image")
		}
		s := Sticker(img, image.NewAlpha(image.Rect(0, 0, 3, 3)), 0, 8)
		if s.Bounds().Dx() != 512 || s.NRGBAAt(0, 0).A != 255 {
			t.Error("mismatched alpha should be ignored, default size 512")
		}
	})
}
