package onnxpb

import (
	"math"
	"slices"
	"testing"

	ortgo "github.com/yalue/onnxruntime_go"

	"likeness/internal/float16"
)

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s[%d] = %v, want %v (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

var batch = Dim{Param: "batch"}

func TestAddDynamicBatch(t *testing.T) {
	g := NewGraph("add")
	g.Input("a", Float, batch, Dim{Value: 3})
	g.Init("b", Float32s([]int64{3}, []float32{1, 2, 3}))
	g.Node("Add", []string{"a", "b"}, []string{"y"})
	g.Output("y", Float, batch, Dim{Value: 3})
	m := g.Model(17)

	ins, outs, err := ortgo.GetInputOutputInfoWithONNXData(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "a" || !slices.Equal(ins[0].Dimensions, ortgo.NewShape(-1, 3)) ||
		ins[0].DataType != ortgo.TensorElementDataTypeFloat {
		t.Fatalf("inputs %v", ins)
	}
	if len(outs) != 1 || outs[0].Name != "y" || !slices.Equal(outs[0].Dimensions, ortgo.NewShape(-1, 3)) {
		t.Fatalf("outputs %v", outs)
	}
	for _, b := range []int64{1, 2} {
		a := []float32{10, 20, 30, 40, 50, 60}[:3*b]
		r := run(t, m, []in{{name: "a", typ: Float, shape: []int64{b, 3}, f: a}},
			[]out{{"y", Float, []int64{b, 3}}})
		near(t, "add", r[0], []float32{11, 22, 33, 41, 52, 63}[:3*b], 0)
	}
}

func TestMatMul(t *testing.T) {
	g := NewGraph("matmul")
	g.Input("a", Float, Fixed(2, 3)...)
	g.Init("w", Float32s([]int64{3, 2}, []float32{1, 0, 0, 1, 1, -1}))
	g.Node("MatMul", []string{"a", "w"}, []string{"y"})
	g.Output("y", Float, Fixed(2, 2)...)
	r := run(t, g.Model(17), []in{{name: "a", typ: Float, shape: []int64{2, 3}, f: []float32{1, 2, 3, 4, 5, 6}}},
		[]out{{"y", Float, []int64{2, 2}}})
	near(t, "matmul", r[0], []float32{4, -1, 10, -1}, 1e-6)
}

func TestGather(t *testing.T) {
	for _, typ := range []DataType{Int64, Int32} {
		g := NewGraph("gather")
		g.Input("ids", typ, Fixed(2, 2)...)
		g.Init("table", Float32s([]int64{5, 2}, []float32{0, 1, 10, 11, 20, 21, 30, 31, 40, 41}))
		g.Node("Gather", []string{"table", "ids"}, []string{"y"}, AttrInt("axis", 0))
		g.Output("y", Float, Fixed(2, 2, 2)...)
		r := run(t, g.Model(17), []in{{name: "ids", typ: typ, shape: []int64{2, 2}, i: []int64{4, 0, 2, 2}}},
			[]out{{"y", Float, []int64{2, 2, 2}}})
		near(t, "gather "+typ.String(), r[0], []float32{40, 41, 0, 1, 20, 21, 20, 21}, 0)
	}
}

func TestConv(t *testing.T) {
	g := NewGraph("conv")
	g.Input("x", Float, Fixed(1, 1, 4, 4)...)
	g.Init("w", Float32s([]int64{1, 1, 2, 2}, []float32{1, 1, 1, 1}))
	g.Init("b", Float32s([]int64{1}, []float32{0.5}))
	g.Node("Conv", []string{"x", "w", "b"}, []string{"y"},
		AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2), AttrString("auto_pad", "NOTSET"))
	g.Output("y", Float, Fixed(1, 1, 2, 2)...)
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)
	}
	r := run(t, g.Model(17), []in{{name: "x", typ: Float, shape: []int64{1, 1, 4, 4}, f: x}},
		[]out{{"y", Float, []int64{1, 1, 2, 2}}})
	// blocks: {0,1,4,5}=10, {2,3,6,7}=18, {8,9,12,13}=42, {10,11,14,15}=50
	near(t, "conv", r[0], []float32{10.5, 18.5, 42.5, 50.5}, 1e-5)
}

func TestConvTranspose(t *testing.T) {
	g := NewGraph("convtranspose")
	g.Input("x", Float, Fixed(1, 1, 2, 2)...)
	g.Init("w", Float32s([]int64{1, 1, 2, 2}, []float32{1, 2, 3, 4}))
	g.Node("ConvTranspose", []string{"x", "w"}, []string{"y"},
		AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2))
	g.Output("y", Float, Fixed(1, 1, 4, 4)...)
	r := run(t, g.Model(17), []in{{name: "x", typ: Float, shape: []int64{1, 1, 2, 2}, f: []float32{1, 10, 100, -1}}},
		[]out{{"y", Float, []int64{1, 1, 4, 4}}})
	near(t, "convtranspose", r[0], []float32{
		1, 2, 10, 20,
		3, 4, 30, 40,
		100, 200, -1, -2,
		300, 400, -3, -4,
	}, 1e-5)
}

func TestCastAndFloat16(t *testing.T) {
	g := NewGraph("cast")
	g.Input("x", Float, Fixed(3)...)
	g.Input("h", Float16, Fixed(3)...)
	g.Input("n", Int64, Fixed(2)...)
	g.Init("c16", Float16s([]int64{3}, []float32{0.1, -2.5, 65504}))
	g.Node("Cast", []string{"x"}, []string{"x16"}, AttrInt("to", int64(Float16)))
	g.Node("Cast", []string{"c16"}, []string{"c32"}, AttrInt("to", int64(Float)))
	g.Node("Cast", []string{"h"}, []string{"h32"}, AttrInt("to", int64(Float)))
	g.Node("Add", []string{"c32", "h32"}, []string{"sum"})
	g.Node("Cast", []string{"n"}, []string{"n32"}, AttrInt("to", int64(Float)))
	g.Output("x16", Float16, Fixed(3)...)
	g.Output("sum", Float, Fixed(3)...)
	g.Output("n32", Float, Fixed(2)...)
	r := run(t, g.Model(17), []in{
		{name: "x", typ: Float, shape: []int64{3}, f: []float32{1.0 / 3, 1e5, -1e-8}},
		{name: "h", typ: Float16, shape: []int64{3}, f: []float32{1, 0.5, -65504}},
		{name: "n", typ: Int64, shape: []int64{2}, i: []int64{7, -3}},
	}, []out{{"x16", Float16, []int64{3}}, {"sum", Float, []int64{3}}, {"n32", Float, []int64{2}}})
	near(t, "x16", r[0], []float32{float16.ToFloat32(0x3555), float32(math.Inf(1)), 0}, 0)
	near(t, "sum", r[1], []float32{float16.ToFloat32(float16.FromFloat32(0.1)) + 1, -2, 0}, 0)
	near(t, "n32", r[2], []float32{7, -3}, 0)
}

func TestSliceReshapeConstant(t *testing.T) {
	g := NewGraph("slice")
	g.Input("x", Float, Dim{Param: "batch"}, Dim{Value: 6})
	g.Init("starts", Int64s([]int64{1}, []int64{1}))
	g.Init("ends", Int64s([]int64{1}, []int64{4}))
	g.Init("axes", Int64s([]int64{1}, []int64{1}))
	g.Init("shape", Int64s([]int64{2}, []int64{-1, 1}))
	g.Node("Slice", []string{"x", "starts", "ends", "axes"}, []string{"s"})
	g.Node("Reshape", []string{"s", "shape"}, []string{"r"})
	g.Node("Constant", nil, []string{"k"}, AttrFloats("value_floats", 2, 3))
	g.Node("Constant", nil, []string{"k2"}, AttrTensor("value", Float32s([]int64{1, 2}, []float32{100, 200})))
	g.Node("Mul", []string{"r", "k"}, []string{"m"})
	g.Node("Add", []string{"m", "k2"}, []string{"y"})
	g.Node("LeakyRelu", []string{"y"}, []string{"z"}, AttrFloat("alpha", 0.5))
	g.Output("z", Float, Dim{Param: "n"}, Dim{Value: 2})
	r := run(t, g.Model(17), []in{{name: "x", typ: Float, shape: []int64{1, 6}, f: []float32{0, 1, 2, -300, 4, 5}}},
		[]out{{"z", Float, []int64{3, 2}}})
	near(t, "slice", r[0], []float32{102, 203, 104, 206, -250, -350}, 1e-4)
}

func TestReduceMean(t *testing.T) {
	g := NewGraph("reducemean")
	g.Input("x", Float, Fixed(2, 2, 3)...)
	g.Node("ReduceMean", []string{"x"}, []string{"y"}, AttrInts("axes", 1, 2), AttrInt("keepdims", 0))
	g.Output("y", Float, Fixed(2)...)
	r := run(t, g.Model(17), []in{{name: "x", typ: Float, shape: []int64{2, 2, 3},
		f: []float32{1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, 5}}},
		[]out{{"y", Float, []int64{2}}})
	near(t, "reducemean", r[0], []float32{3.5, 0}, 1e-6)
}

func TestScalarInput(t *testing.T) {
	g := NewGraph("scalar")
	g.Input("t", Int64)
	g.Init("table", Float32s([]int64{3}, []float32{5, 6, 7}))
	g.Node("Gather", []string{"table", "t"}, []string{"y"})
	g.Output("y", Float)
	m := g.Model(17)
	ins, _, err := ortgo.GetInputOutputInfoWithONNXData(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins[0].Dimensions) != 0 {
		t.Fatalf("scalar input has dims %v", ins[0].Dimensions)
	}
	s, err := ortgo.NewDynamicAdvancedSessionWithONNXData(m, []string{"t"}, []string{"y"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	x, _ := ortgo.NewScalar(int64(2))
	defer x.Destroy()
	y, _ := ortgo.NewEmptyScalar[float32]()
	defer y.Destroy()
	if err := s.Run([]ortgo.Value{x}, []ortgo.Value{y}); err != nil {
		t.Fatal(err)
	}
	if y.GetData() != 7 {
		t.Fatalf("got %v, want 7", y.GetData())
	}
}

func TestIRVersion(t *testing.T) {
	for opset, ir := range map[int64]int64{7: 3, 11: 6, 13: 7, 17: 8, 19: 9, 21: 10, 23: 11} {
		if got := IRVersion(opset); got != ir {
			t.Errorf("IRVersion(%d) = %d, want %d", opset, got, ir)
		}
	}
}
