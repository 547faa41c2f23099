package ort

import (
	"encoding/binary"
	"fmt"
	"strings"

	ortgo "github.com/yalue/onnxruntime_go"

	"likeness/internal/float16"
)

// ElemType is a tensor element type Likeness converts at the boundary.
type ElemType int

// Element types the contract allows; Other is anything else (reported, never run).
const (
	Other ElemType = iota
	Float32
	Float16
	Int32
	Int64
)

func (e ElemType) String() string {
	switch e {
	case Float32:
		return "float32"
	case Float16:
		return "float16"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	}
	return "unsupported"
}

// IsFloat reports float32 or float16.
func (e ElemType) IsFloat() bool { return e == Float32 || e == Float16 }

// IsInt reports int32 or int64.
func (e ElemType) IsInt() bool { return e == Int32 || e == Int64 }

// TensorInfo is a declared model input or output. Shape uses -1 for a dynamic
// dimension; DimNames keeps symbolic names where ONNX Runtime reports none,
// so it is informational only.
type TensorInfo struct {
	Name    string
	Type    ElemType
	RawType string
	Shape   []int64
}

func (t TensorInfo) String() string {
	return fmt.Sprintf("%s %s%v", t.Name, t.Type, t.Shape)
}

// Signature is a model's declared inputs and outputs.
type Signature struct {
	Inputs, Outputs []TensorInfo
}

// ReadSignature reads a model's declared inputs and outputs. It reads them
// from the model's protobuf without loading its weights (readSignatureProto);
// a model that reader does not understand is opened by ONNX Runtime, with
// graph optimisations off, and only asked for names. So ONNX Runtime is
// needed only for models the protobuf reader does not understand: listing,
// installing and checking manifests work without the library.
func ReadSignature(path string) (ins, outs []TensorInfo, err error) {
	if ins, outs, err := readSignatureProto(path); err == nil {
		return ins, outs, nil
	}
	if err := Init(""); err != nil {
		return nil, nil, fmt.Errorf("%s: its inputs and outputs need onnx runtime to read: %w", path, err)
	}
	return readSignatureORT(path)
}

// readSignatureORT asks ONNX Runtime, which loads the whole model.
func readSignatureORT(path string) (ins, outs []TensorInfo, err error) {
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer so.Destroy()
	if err := so.SetGraphOptimizationLevel(ortgo.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, err
	}
	i, o, err := ortgo.GetInputOutputInfoWithOptions(path, so)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a loadable onnx model: %w", path, firstLine(err))
	}
	return convertInfo(i), convertInfo(o), nil
}

func convertInfo(in []ortgo.InputOutputInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, x := range in {
		t := TensorInfo{Name: x.Name, RawType: x.DataType.String(), Shape: append([]int64(nil), x.Dimensions...)}
		if x.OrtValueType != ortgo.ONNXTypeTensor {
			t.RawType = x.OrtValueType.String()
		} else {
			switch x.DataType {
			case ortgo.TensorElementDataTypeFloat:
				t.Type = Float32
			case ortgo.TensorElementDataTypeFloat16:
				t.Type = Float16
			case ortgo.TensorElementDataTypeInt32:
				t.Type = Int32
			case ortgo.TensorElementDataTypeInt64:
				t.Type = Int64
			}
		}
		if t.Type != Other {
			t.RawType = t.Type.String()
		} else {
			t.RawType = strings.ToLower(strings.TrimPrefix(t.RawType, "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
		}
		out[i] = t
	}
	return out
}

// Value is a tensor on the Go side: floats travel as float32 and integers as
// int64, whatever the model declares. An empty Shape is a scalar.
type Value struct {
	Shape []int64
	F32   []float32
	I64   []int64
}

// Floats makes a float value.
func Floats(shape []int64, data []float32) Value { return Value{Shape: shape, F32: data} }

// Ints makes an integer value.
func Ints(shape []int64, data []int64) Value { return Value{Shape: shape, I64: data} }

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// buffer is a reusable native input tensor.
type buffer struct {
	typ   ElemType
	shape []int64
	value ortgo.Value
}

func (s *Session) inputBuffer(info TensorInfo, v Value) (*buffer, error) {
	shape := v.Shape
	n := numel(shape)
	if info.Type.IsFloat() && int64(len(v.F32)) != n || info.Type.IsInt() && int64(len(v.I64)) != n {
		if info.Type.IsFloat() && v.F32 == nil || info.Type.IsInt() && v.I64 == nil {
			return nil, fmt.Errorf("model wants %s, got the other kind of value", info.Type)
		}
		return nil, fmt.Errorf("shape %v holds %d values, got %d", shape, n, max(len(v.F32), len(v.I64)))
	}
	// A [B] value for a declared scalar (Optimum 1.24+ timesteps): all
	// branches of one call share it, so it must be uniform.
	if len(info.Shape) == 0 && len(shape) == 1 {
		for i := 1; i < int(n); i++ {
			if info.Type.IsFloat() && v.F32[i] != v.F32[0] || info.Type.IsInt() && v.I64[i] != v.I64[0] {
				return nil, fmt.Errorf("model declares a scalar but the batch has different values")
			}
		}
		shape = nil
		v = Value{F32: head(v.F32), I64: head(v.I64)}
	}
	if len(info.Shape) != len(shape) {
		return nil, fmt.Errorf("want rank %d %v, got %v", len(info.Shape), info.Shape, shape)
	}
	for i, d := range info.Shape {
		if d >= 0 && d != shape[i] {
			return nil, fmt.Errorf("want shape %v, got %v", info.Shape, shape)
		}
	}
	b := s.inBufs[info.Name]
	if b != nil && (len(shape) == 0 || !sameShape(b.shape, shape) || b.typ != info.Type) {
		b.value.Destroy()
		liveValues.Add(-1)
		delete(s.inBufs, info.Name)
		b = nil
	}
	if b == nil {
		var val ortgo.Value
		var err error
		if len(shape) == 0 {
			val, err = newScalar(info.Type, v) // scalars are made with their value
		} else {
			val, err = newValue(info.Type, shape)
		}
		if err != nil {
			return nil, err
		}
		liveValues.Add(1)
		b = &buffer{typ: info.Type, shape: append([]int64(nil), shape...), value: val}
		s.inBufs[info.Name] = b
		if len(shape) == 0 {
			return b, nil
		}
	}
	if err := fill(b.value, info.Type, v); err != nil {
		return nil, err
	}
	return b, nil
}

func head[T any](s []T) []T {
	if len(s) == 0 {
		return s
	}
	return s[:1]
}

// newScalar makes a scalar holding v. onnxruntime_go's Scalar.Set swaps the
// Go slice without moving the native pointer, so scalars are never refilled.
func newScalar(t ElemType, v Value) (ortgo.Value, error) {
	switch t {
	case Float32:
		return ortgo.NewScalar(v.F32[0])
	case Int32:
		if v.I64[0] != int64(int32(v.I64[0])) {
			return nil, fmt.Errorf("value %d does not fit int32", v.I64[0])
		}
		return ortgo.NewScalar(int32(v.I64[0]))
	case Int64:
		return ortgo.NewScalar(v.I64[0])
	}
	return nil, fmt.Errorf("a %s scalar is not supported; declare it with shape [1] or [batch]", t)
}

func newValue(t ElemType, shape []int64) (ortgo.Value, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("internal: scalar outputs are allocated by onnx runtime")
	}
	s := ortgo.NewShape(shape...)
	switch t {
	case Float32:
		return ortgo.NewEmptyTensor[float32](s)
	case Int32:
		return ortgo.NewEmptyTensor[int32](s)
	case Int64:
		return ortgo.NewEmptyTensor[int64](s)
	case Float16:
		return ortgo.NewCustomDataTensor(s, make([]byte, 2*numel(shape)), ortgo.TensorElementDataTypeFloat16)
	}
	return nil, fmt.Errorf("element type %s is not supported", t)
}

// fill copies v into a native value, converting element types.
func fill(dst ortgo.Value, t ElemType, v Value) error {
	switch d := dst.(type) {
	case *ortgo.Tensor[float32]:
		copy(d.GetData(), v.F32)
	case *ortgo.Tensor[int64]:
		copy(d.GetData(), v.I64)
	case *ortgo.Tensor[int32]:
		data := d.GetData()
		for i, x := range v.I64 {
			if x != int64(int32(x)) {
				return fmt.Errorf("value %d does not fit int32", x)
			}
			data[i] = int32(x)
		}
	case *ortgo.CustomDataTensor:
		b := d.GetData()
		for i, x := range v.F32 {
			binary.LittleEndian.PutUint16(b[2*i:], float16.FromFloat32(x))
		}
	default:
		return fmt.Errorf("internal: cannot fill %T as %s", dst, t)
	}
	return nil
}

// readValue copies a native value out, into dst when it has the room.
func readValue(v ortgo.Value, dst []float32) (Value, error) {
	shape := []int64(v.GetShape())
	switch d := v.(type) {
	case *ortgo.Tensor[float32]:
		return Value{Shape: shape, F32: append(dst[:0], d.GetData()...)}, nil
	case *ortgo.Tensor[int64]:
		return Value{Shape: shape, I64: append([]int64(nil), d.GetData()...)}, nil
	case *ortgo.Tensor[int32]:
		out := make([]int64, len(d.GetData()))
		for i, x := range d.GetData() {
			out[i] = int64(x)
		}
		return Value{Shape: shape, I64: out}, nil
	case *ortgo.Scalar[float32]:
		return Value{F32: []float32{d.GetData()}}, nil
	case *ortgo.Scalar[int64]:
		return Value{I64: []int64{d.GetData()}}, nil
	case *ortgo.CustomDataTensor:
		if d.DataType() != ortgo.TensorElementDataTypeFloat16 {
			return Value{}, fmt.Errorf("unsupported output element type %v", d.DataType())
		}
		b := d.GetData()
		out := dst[:0]
		if cap(out) < len(b)/2 {
			out = make([]float32, len(b)/2)
		}
		out = out[:len(b)/2]
		for i := range out {
			out[i] = float16.ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return Value{Shape: shape, F32: out}, nil
	}
	return Value{}, fmt.Errorf("unsupported output value %T", v)
}
