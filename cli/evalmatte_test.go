package cli

import (
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/models/synth"
)

// eval --matte scores the pack's cut-out against true alphas, per group.
// The analytic foreground model mattes dark on white exactly, so a figure
// on white scores near 1 and the same figure on a dark background (where
// it sees everything as foreground) scores its area share.
func TestEvalMatte(t *testing.T) {
	dir := t.TempDir()
	const n = 96
	truth := image.NewGray(image.Rect(0, 0, n, n))
	onWhite := image.NewNRGBA(truth.Rect)
	onDark := image.NewNRGBA(truth.Rect)
	for y := range n {
		for x := range n {
			in := (x-48)*(x-48)+(y-48)*(y-48) < 30*30
			bgW, bgD := color.NRGBA{255, 255, 255, 255}, color.NRGBA{30, 30, 30, 255}
			if in {
				truth.SetGray(x, y, color.Gray{255})
				bgW, bgD = color.NRGBA{120, 40, 60, 255}, color.NRGBA{120, 40, 60, 255}
			}
			onWhite.SetNRGBA(x, y, bgW)
			onDark.SetNRGBA(x, y, bgD)
		}
	}
	writeImagePNG(t, filepath.Join(dir, "a.alpha.png"), truth)
	writeImagePNG(t, filepath.Join(dir, "white.png"), onWhite)
	writeImagePNG(t, filepath.Join(dir, "dark.png"), onDark)
	idx := "file\talpha\tgroup\nwhite.png\ta.alpha.png\tflat\ndark.png\ta.alpha.png\tdark\n"
	if err := os.WriteFile(filepath.Join(dir, "index.tsv"), []byte(idx), 0o644); err != nil {
		t.Fatal(err)
	}
	pack := newPack(t, synth.Options{Kind: "mcdm", Resolution: 64, Foreground: true})
	r := must(t, "eval", "--pack", pack, "--matte", dir, "--json")
	var got struct {
		Groups []matteGroup
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	by := map[string]matteGroup{}
	for _, g := range got.Groups {
		by[g.Group] = g
	}
	if g := by["flat"]; g.N != 1 || g.IoU < 0.95 || g.Leak > 0.05 {
		t.Errorf("figure on white: %+v, want IoU >= 0.95 and no leak", g)
	}
	// The disc covers pi*30²/96² = 31% of the square.
	if g := by["dark"]; g.IoU > 0.4 || g.Leak < 0.5 {
		t.Errorf("figure on dark: %+v, want the whole square cut out (IoU ~0.31, most alpha on the background)", g)
	}
	if g := by["all"]; g.N != 2 {
		t.Errorf("all: %+v", g)
	}
	plain := sharedPack(t, "mcdm")
	r = likeness(t, t.Context(), "eval", "--pack", plain, "--matte", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "no foreground model") {
		t.Errorf("eval --matte with a pack without one: %v", r)
	}
}
