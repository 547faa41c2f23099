// Package modeltest runs one ONNX model once, for tests that check models
// the project writes: inputs go through ort, which converts them to
// the element types the model declares.
package modeltest

import (
	"context"
	"testing"

	"likeness/ort"
)

// In is one input: integer data when I is set, else float data F. A nil
// Shape is a scalar.
type In struct {
	Name  string
	Shape []int64
	F     []float32
	I     []int64
}

// Out names an output and its shape.
type Out struct {
	Name  string
	Shape []int64
}

// Run loads the model on the CPU, runs it once and returns every output as
// float32 values, failing the test on any error.
func Run(t testing.TB, path string, ins []In, outs []Out) [][]float32 {
	t.Helper()
	names := make([]string, len(outs))
	shapes := map[string][]int64{}
	for i, o := range outs {
		names[i], shapes[o.Name] = o.Name, o.Shape
	}
	s, err := ort.Open(path, ort.Options{Provider: ort.CPU, Outputs: names})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	defer s.Close()
	vals := map[string]ort.Value{}
	for _, x := range ins {
		if x.I != nil {
			vals[x.Name] = ort.Ints(x.Shape, x.I)
		} else {
			vals[x.Name] = ort.Floats(x.Shape, x.F)
		}
	}
	res, err := s.Run(context.Background(), vals, shapes)
	if err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	out := make([][]float32, len(outs))
	for i, o := range outs {
		v := res[o.Name]
		out[i] = v.F32
		if v.I64 != nil {
			out[i] = make([]float32, len(v.I64))
			for k, x := range v.I64 {
				out[i][k] = float32(x)
			}
		}
	}
	return out
}

// Input builds an In from test data that carries both kinds: integer data
// when isInt, else float data; a nil shape (a scalar) keeps the first value.
func Input(name string, isInt bool, shape []int64, f []float32, i []int64) In {
	in := In{Name: name, Shape: shape}
	if isInt {
		in.I = append([]int64{}, i...)
	} else {
		in.F = f
	}
	if shape == nil && len(in.I) > 1 {
		in.I = in.I[:1]
	}
	if shape == nil && len(in.F) > 1 {
		in.F = in.F[:1]
	}
	return in
}
