package synth

import (
	"fmt"
	"os"
	"testing"

	"likeness/engine/ort"
	. "likeness/models/onnxpb"

	ortgo "github.com/yalue/onnxruntime_go"
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

func newValue(typ DataType, shape []int64, f []float32, i []int64) (ortgo.Value, error) {
	if shape == nil {
		switch typ {
		case Float:
			return ortgo.NewScalar(f[0])
		case Int64:
			return ortgo.NewScalar(i[0])
		case Int32:
			return ortgo.NewScalar(int32(i[0]))
		}
		return nil, fmt.Errorf("no scalar of %v in onnxruntime_go", typ)
	}
	s := ortgo.NewShape(shape...)
	switch typ {
	case Float:
		return ortgo.NewTensor(s, append([]float32(nil), f...))
	case Float16:
		return ortgo.NewCustomDataTensor(s, Float16Bytes(f), ortgo.TensorElementDataTypeFloat16)
	case Int64:
		return ortgo.NewTensor(s, append([]int64(nil), i...))
	case Int32:
		v := make([]int32, len(i))
		for k, x := range i {
			v[k] = int32(x)
		}
		return ortgo.NewTensor(s, v)
	}
	return nil, fmt.Errorf("unsupported type %v", typ)
}

func emptyValue(typ DataType, shape []int64) (ortgo.Value, error) {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return newValue(typ, shape, make([]float32, n), make([]int64, n))
}

func values(v ortgo.Value) []float32 {
	switch t := v.(type) {
	case *ortgo.Tensor[float32]:
		return append([]float32(nil), t.GetData()...)
	case *ortgo.Tensor[int64]:
		r := make([]float32, len(t.GetData()))
		for i, x := range t.GetData() {
			r[i] = float32(x)
		}
		return r
	case *ortgo.Tensor[int32]:
		r := make([]float32, len(t.GetData()))
		for i, x := range t.GetData() {
			r[i] = float32(x)
		}
		return r
	case *ortgo.CustomDataTensor:
		return Float16sFromBytes(t.GetData())
	}
	panic(fmt.Sprintf("unexpected value %T", v))
}

// run loads the model file in ONNX Runtime, runs it once and returns every output as
// float32 values.
func run(t testing.TB, path string, ins []in, outs []out) [][]float32 {
	t.Helper()
	var inNames, outNames []string
	var inVals, outVals []ortgo.Value
	defer func() {
		for _, v := range append(inVals, outVals...) {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for _, x := range ins {
		v, err := newValue(x.typ, x.shape, x.f, x.i)
		if err != nil {
			t.Fatalf("input %s: %v", x.name, err)
		}
		inNames = append(inNames, x.name)
		inVals = append(inVals, v)
	}
	for _, x := range outs {
		v, err := emptyValue(x.typ, x.shape)
		if err != nil {
			t.Fatalf("output %s: %v", x.name, err)
		}
		outNames = append(outNames, x.name)
		outVals = append(outVals, v)
	}
	s, err := ortgo.NewDynamicAdvancedSession(path, inNames, outNames, nil)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	defer s.Destroy()
	if err := s.Run(inVals, outVals); err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	res := make([][]float32, len(outVals))
	for i, v := range outVals {
		res[i] = values(v)
	}
	return res
}
