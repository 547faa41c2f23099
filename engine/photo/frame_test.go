package photo

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestFaceSquare(t *testing.T) {
	box := [4]float64{0.265, 0.323, 0.735, 0.732} // the starter packs' face_box
	cases := []struct {
		name      string
		face      image.Rectangle
		bounds    image.Rectangle
		wantOff   float64 // at most
		wantScale float64
		fits      bool // the face lands on the box (centre within 2% of its width, width within 2%)
	}{
		{"room around the face", image.Rect(400, 300, 600, 480), image.Rect(0, 0, 1200, 1800), 0.01, 1, true},
		{"face near the left edge", image.Rect(10, 300, 210, 480), image.Rect(0, 0, 1200, 1800), 10, 1, false},
		{"photo tight around the face", image.Rect(20, 20, 480, 430), image.Rect(0, 0, 500, 500), 10, 2, false},
		{"offset bounds", image.Rect(1400, 1300, 1600, 1480), image.Rect(1000, 1000, 2200, 2800), 0.01, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr := FaceSquare(c.face, box, c.bounds)
			if fr.Crop.Dx() != fr.Crop.Dy() || !fr.Crop.In(c.bounds) || fr.Crop.Empty() {
				t.Fatalf("crop %v is not a square inside %v", fr.Crop, c.bounds)
			}
			if fr.Off > c.wantOff {
				t.Errorf("off %.3f face widths, want at most %.3f", fr.Off, c.wantOff)
			}
			if c.wantScale == 1 && fr.Scale != 1 {
				t.Errorf("scale %.3f, want 1 (room enough)", fr.Scale)
			}
			if c.wantScale > 1 && fr.Scale <= 1 {
				t.Errorf("scale %.3f, want above 1 (the photo is too tight)", fr.Scale)
			}
			s := float64(fr.Crop.Dx())
			fw := float64(c.face.Dx())
			gotCX := (float64(c.face.Min.X+c.face.Max.X)/2 - float64(fr.Crop.Min.X)) / s
			gotCY := (float64(c.face.Min.Y+c.face.Max.Y)/2 - float64(fr.Crop.Min.Y)) / s
			wantCX, wantCY := (box[0]+box[2])/2, (box[1]+box[3])/2
			centreErr := math.Hypot(gotCX-wantCX, gotCY-wantCY) * s / fw
			if math.Abs(centreErr-fr.Off) > 0.02 {
				t.Errorf("Off %.3f but the face's centre is %.3f face widths from the box's", fr.Off, centreErr)
			}
			if c.fits {
				if centreErr > 0.02 {
					t.Errorf("face centre %.3f face widths from the box's centre", centreErr)
				}
				// The side follows the face's width.
				want := fw / (box[2] - box[0])
				if math.Abs(s-want) > 1 {
					t.Errorf("side %v, want %.1f", s, want)
				}
			}
		})
	}
	// No face: the old rule.
	b := image.Rect(0, 0, 300, 600)
	if fr := FaceSquare(image.Rectangle{}, box, b); fr.Crop != PortraitSquare(b) {
		t.Errorf("no face: crop %v, want PortraitSquare %v", fr.Crop, PortraitSquare(b))
	}
}

func TestSquareInputPadsWithWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	for i := range img.Pix {
		img.Pix[i] = 0
	}
	for y := 0; y < 10; y++ {
		for x := 0; x < 10; x++ {
			img.SetNRGBA(x, y, color.NRGBA{R: 255, A: 255})
		}
	}
	// A square twice the image, centred: the image in the middle, white around.
	x := SquareInput(img, image.Rect(-5, -5, 15, 15), 20)
	if len(x) != 3*20*20 {
		t.Fatalf("len %d", len(x))
	}
	at := func(ch, y, xx int) float32 { return x[ch*400+y*20+xx] }
	if at(0, 0, 0) != 1 || at(1, 0, 0) != 1 || at(2, 0, 0) != 1 {
		t.Errorf("corner %v %v %v, want white", at(0, 0, 0), at(1, 0, 0), at(2, 0, 0))
	}
	if at(0, 10, 10) < 0.99 || at(1, 10, 10) > 0.01 {
		t.Errorf("centre %v %v, want red", at(0, 10, 10), at(1, 10, 10))
	}
	for _, v := range x {
		if v < 0 || v > 1 {
			t.Fatalf("value %v outside [0,1]", v)
		}
	}
}
