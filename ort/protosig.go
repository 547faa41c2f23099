package ort

import (
	"errors"
	"fmt"
	"io"
	"os"

	ortgo "github.com/yalue/onnxruntime_go"
)

// Reading a model's inputs and outputs straight from its protobuf, without
// ONNX Runtime: creating a session (even with graph optimisation off) loads
// every weight, which for a Stable Diffusion UNet means gigabytes read and
// held for seconds just to learn a few tensor names. The reader walks the
// file with ReadAt and skips what it does not need (node lists, weight
// bytes) by their length prefixes. Anything it does not understand makes
// ReadSignature fall back to ONNX Runtime, so the answer is always ONNX
// Runtime's.

// errProtoUnsupported marks a model the reader leaves to ONNX Runtime.
var errProtoUnsupported = errors.New("not understood by the protobuf reader")

// ONNX field numbers (onnx.proto3).
const (
	modelGraph = 7 // ModelProto.graph

	graphInitializer       = 5  // GraphProto.initializer (TensorProto)
	graphInput             = 11 // GraphProto.input (ValueInfoProto)
	graphOutput            = 12 // GraphProto.output (ValueInfoProto)
	graphSparseInitializer = 15 // GraphProto.sparse_initializer (SparseTensorProto)

	tensorName         = 8 // TensorProto.name
	sparseTensorValues = 1 // SparseTensorProto.values (TensorProto)

	valueInfoName = 1 // ValueInfoProto.name
	valueInfoType = 2 // ValueInfoProto.type (TypeProto)

	typeTensor     = 1 // TypeProto.tensor_type
	tensorElemType = 1 // TypeProto.Tensor.elem_type
	tensorShape    = 2 // TypeProto.Tensor.shape
	shapeDim       = 1 // TensorShapeProto.dim
	dimValue       = 1 // TensorShapeProto.Dimension.dim_value
	dimParam       = 2 // TensorShapeProto.Dimension.dim_param
)

// pbFile reads a protobuf file through a window, so that walking a graph of
// thousands of nodes costs a handful of reads.
type pbFile struct {
	r      io.ReaderAt
	size   int64
	win    []byte
	winOff int64
}

const pbWindow = 64 << 10

func (f *pbFile) bytes(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > f.size {
		return nil, fmt.Errorf("%w: field past the end of the file", errProtoUnsupported)
	}
	if off >= f.winOff && off+n <= f.winOff+int64(len(f.win)) {
		return f.win[off-f.winOff : off-f.winOff+n], nil
	}
	if n > pbWindow {
		b := make([]byte, n)
		if _, err := f.r.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	m := min(int64(pbWindow), f.size-off)
	if cap(f.win) < pbWindow {
		f.win = make([]byte, pbWindow)
	}
	f.win = f.win[:m]
	if _, err := f.r.ReadAt(f.win, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	f.winOff = off
	return f.win[:n], nil
}

func (f *pbFile) varint(off, end int64) (v uint64, next int64, err error) {
	for i := 0; i < 10; i++ {
		if off+int64(i) >= end {
			return 0, 0, fmt.Errorf("%w: truncated varint", errProtoUnsupported)
		}
		b, err := f.bytes(off+int64(i), 1)
		if err != nil {
			return 0, 0, err
		}
		v |= uint64(b[0]&0x7f) << (7 * i)
		if b[0] < 0x80 {
			return v, off + int64(i) + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: varint too long", errProtoUnsupported)
}

// field is one field of a message: a varint's value, or a length-delimited
// field's extent.
type field struct {
	num      int
	wire     int
	v        uint64 // wire type 0
	off, len int64  // wire type 2
}

// walk calls fn for each field of the message in [start, end).
func (f *pbFile) walk(start, end int64, fn func(field) error) error {
	for off := start; off < end; {
		tag, next, err := f.varint(off, end)
		if err != nil {
			return err
		}
		fd := field{num: int(tag >> 3), wire: int(tag & 7)}
		off = next
		switch fd.wire {
		case 0:
			if fd.v, off, err = f.varint(off, end); err != nil {
				return err
			}
		case 1:
			off += 8
		case 5:
			off += 4
		case 2:
			n, next, err := f.varint(off, end)
			if err != nil {
				return err
			}
			if n > uint64(end-next) {
				return fmt.Errorf("%w: field %d runs past its message", errProtoUnsupported, fd.num)
			}
			fd.off, fd.len = next, int64(n)
			off = next + int64(n)
		default:
			return fmt.Errorf("%w: wire type %d", errProtoUnsupported, fd.wire)
		}
		if off > end {
			return fmt.Errorf("%w: field %d runs past its message", errProtoUnsupported, fd.num)
		}
		if fd.num == 0 {
			return fmt.Errorf("%w: field number 0", errProtoUnsupported)
		}
		if err := fn(fd); err != nil {
			return err
		}
	}
	return nil
}

func (f *pbFile) str(fd field) (string, error) {
	if fd.wire != 2 {
		return "", fmt.Errorf("%w: field %d is not a string", errProtoUnsupported, fd.num)
	}
	b, err := f.bytes(fd.off, fd.len)
	return string(b), err
}

// tensorNameOf reads TensorProto.name.
func (f *pbFile) tensorNameOf(off, n int64) (string, error) {
	name := ""
	err := f.walk(off, off+n, func(fd field) error {
		if fd.num == tensorName && fd.wire == 2 {
			s, err := f.str(fd)
			name = s
			return err
		}
		return nil
	})
	return name, err
}

// valueInfo reads a ValueInfoProto of a tensor type.
func (f *pbFile) valueInfo(off, n int64) (TensorInfo, error) {
	var t TensorInfo
	tensor := false
	err := f.walk(off, off+n, func(fd field) error {
		switch {
		case fd.num == valueInfoName && fd.wire == 2:
			s, err := f.str(fd)
			t.Name = s
			return err
		case fd.num == valueInfoType && fd.wire == 2:
			return f.walk(fd.off, fd.off+fd.len, func(tp field) error {
				if tp.wire != 2 {
					return nil // denotation and friends
				}
				if tp.num != typeTensor {
					return fmt.Errorf("%w: a non-tensor value (type field %d)", errProtoUnsupported, tp.num)
				}
				tensor = true
				hasShape := false
				if err := f.walk(tp.off, tp.off+tp.len, func(tt field) error {
					switch {
					case tt.num == tensorElemType && tt.wire == 0:
						setElemType(&t, int32(tt.v))
					case tt.num == tensorShape && tt.wire == 2:
						hasShape = true
						t.Shape = nil // a scalar: no dimensions, as ONNX Runtime reports it
						return f.walk(tt.off, tt.off+tt.len, func(sd field) error {
							if sd.num != shapeDim || sd.wire != 2 {
								return nil
							}
							d := int64(-1)
							err := f.walk(sd.off, sd.off+sd.len, func(dd field) error {
								if dd.num == dimValue && dd.wire == 0 {
									d = int64(dd.v)
								}
								return nil
							})
							t.Shape = append(t.Shape, d)
							return err
						})
					}
					return nil
				}); err != nil {
					return err
				}
				if !hasShape {
					return fmt.Errorf("%w: %q has no shape", errProtoUnsupported, t.Name)
				}
				return nil
			})
		}
		return nil
	})
	if err == nil && (!tensor || t.RawType == "") {
		err = fmt.Errorf("%w: %q is not a typed tensor", errProtoUnsupported, t.Name)
	}
	return t, err
}

// setElemType fills Type and RawType as convertInfo does from ONNX Runtime's
// answer (ONNX's TensorProto.DataType and ONNX Runtime's element types are
// the same numbers).
func setElemType(t *TensorInfo, elem int32) {
	if elem <= 0 {
		return
	}
	info := convertInfo([]ortgo.InputOutputInfo{{Name: t.Name, OrtValueType: ortgo.ONNXTypeTensor,
		DataType: ortgo.TensorElementDataType(elem)}})
	t.Type, t.RawType = info[0].Type, info[0].RawType
}

// readSignatureProto reads the graph's inputs (those without an initializer
// of the same name, as ONNX Runtime reports them) and outputs.
func readSignatureProto(path string) (ins, outs []TensorInfo, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	f := &pbFile{r: fh, size: st.Size()}
	var graph *field
	if err := f.walk(0, f.size, func(fd field) error {
		if fd.num == modelGraph && fd.wire == 2 {
			if graph != nil {
				return fmt.Errorf("%w: two graphs", errProtoUnsupported)
			}
			g := fd
			graph = &g
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if graph == nil {
		return nil, nil, fmt.Errorf("%w: no graph", errProtoUnsupported)
	}
	inits := map[string]bool{}
	var allIns []TensorInfo
	err = f.walk(graph.off, graph.off+graph.len, func(fd field) error {
		if fd.wire != 2 {
			return nil
		}
		switch fd.num {
		case graphInitializer:
			name, err := f.tensorNameOf(fd.off, fd.len)
			inits[name] = true
			return err
		case graphSparseInitializer:
			return f.walk(fd.off, fd.off+fd.len, func(sp field) error {
				if sp.num == sparseTensorValues && sp.wire == 2 {
					name, err := f.tensorNameOf(sp.off, sp.len)
					inits[name] = true
					return err
				}
				return nil
			})
		case graphInput, graphOutput:
			t, err := f.valueInfo(fd.off, fd.len)
			if err != nil {
				return err
			}
			if fd.num == graphInput {
				allIns = append(allIns, t)
			} else {
				outs = append(outs, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, t := range allIns {
		if !inits[t.Name] {
			ins = append(ins, t)
		}
	}
	if len(ins) == 0 || len(outs) == 0 {
		return nil, nil, fmt.Errorf("%w: no inputs or no outputs", errProtoUnsupported)
	}
	return ins, outs, nil
}
