package synth

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	. "likeness/models/onnxpb"

	ortgo "github.com/yalue/onnxruntime_go"
)

// TestAnySizeUNet: with AnySize the UNet declares height and width dynamic,
// runs on latents of any size, and matches UNetAt, whose region repeats
// every h rows and columns; on h×h inputs it equals the square UNet.
func TestAnySizeUNet(t *testing.T) {
	for _, o := range []Options{{Kind: KindSD, AnySize: true, TimestepKind: "int64"},
		{AnySize: true, Nonlinear: true}, {Kind: KindIP2P, AnySize: true, Float16: true}} {
		t.Run(fmt.Sprintf("%s-nonlinear%v-f16%v", o.Kind, o.Nonlinear, o.Float16), func(t *testing.T) {
			dir, a := writePack(t, o)
			path := filepath.Join(dir, "unet", "model.onnx")
			ins, outs, err := ortgo.GetInputOutputInfo(path)
			if err != nil {
				t.Fatal(err)
			}
			C, L, n := a.Channels(), a.HiddenLen(), a.LatentSize()
			if !slices.Equal([]int64(ins[0].Dimensions), []int64{-1, int64(C), -1, -1}) || !slices.Equal([]int64(outs[0].Dimensions), []int64{-1, 4, -1, -1}) {
				t.Fatalf("sample %v, out_sample %v: want [-1,%d,-1,-1] and [-1,4,-1,-1]", ins[0].Dimensions, outs[0].Dimensions, C)
			}
			square := o
			square.AnySize = false
			_, sq := writePack(t, square)
			r := rand.New(rand.NewPCG(5, 6))
			ft := floatType(a)
			tsType := map[string]DataType{"float32": Float, "int64": Int64, "float16": Float16}[a.TimestepKind]
			for _, hw := range [][2]int{{n, n}, {n, 2 * n}, {n + 3, 3*n + 1}} {
				h, w := hw[0], hw[1]
				sample := quantize(a, randn(r, C*h*w, 1))
				ehs := quantize(a, append(a.TextEncode(promptIDs(a, "person", "angry", "neutral")), randn(r, (L-77)*16, 0.3)...))
				got := run(t, path, []in{
					{name: "sample", typ: ft, shape: []int64{1, int64(C), int64(h), int64(w)}, f: sample},
					{name: "timestep", typ: tsType, shape: []int64{1}, f: []float32{421}, i: []int64{421}},
					{name: "encoder_hidden_states", typ: ft, shape: []int64{1, int64(L), 16}, f: ehs},
				}, []out{{"out_sample", ft, []int64{1, 4, int64(h), int64(w)}}})[0]
				want := a.UNetAt(sample, ehs, 421, h, w)
				closeTo(t, fmt.Sprintf("out_sample %dx%d", h, w), got, want, tol(a))
				if h == n && w == n {
					closeTo(t, "out_sample against the square pack's closed form", got, sq.UNet(sample, ehs, 421), tol(a))
				}
				if w == 2*n && h == n { // each half has its own face region
					for row := range h {
						for col := range n {
							if a.InRegion(row, col) != a.InRegion(row, col+n) || a.InRegion(row, col) != sq.InRegion(row, col) {
								t.Fatalf("cell (%d,%d): the halves' regions differ", row, col)
							}
						}
					}
				}
			}
		})
	}
}
