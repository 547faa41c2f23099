package synth

import (
	"fmt"
	"os"
	"testing"

	"likeness/internal/modeltest"
	. "likeness/models/onnxpb"
	"likeness/ort"
)

func TestMain(m *testing.M) {
	if err := ort.Init(""); err != nil {
		fmt.Fprintln(os.Stderr, "synth tests need ONNX Runtime:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// in is one model input; F holds float data (Float, Float16), I integer data.
type in struct {
	name  string
	typ   DataType
	shape []int64 // nil: a scalar
	f     []float32
	i     []int64
}

type out struct {
	name  string
	typ   DataType
	shape []int64
}

// run loads the model file in ONNX Runtime, runs it once and returns every
// output as float32 values. Element types are converted by ort from
// the model's declared types; the signature tests check those types.
func run(t testing.TB, path string, ins []in, outs []out) [][]float32 {
	t.Helper()
	mi := make([]modeltest.In, len(ins))
	for k, x := range ins {
		mi[k] = modeltest.Input(x.name, x.typ == Int32 || x.typ == Int64, x.shape, x.f, x.i)
	}
	mo := make([]modeltest.Out, len(outs))
	for k, x := range outs {
		mo[k] = modeltest.Out{Name: x.name, Shape: x.shape}
	}
	return modeltest.Run(t, path, mi, mo)
}
