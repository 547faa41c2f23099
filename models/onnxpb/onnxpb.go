// Package onnxpb writes ONNX models: a small builder for the subset of
// onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
// ValueInfoProto) that Likeness needs to generate its analytic model packs,
// encoded directly with protowire. Half-precision values come from
// likeness/internal/float16.
//
// Field numbers follow onnx/onnx.proto (proto2, IR version 8).
package onnxpb

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"likeness/internal/float16"
)

// DataType is TensorProto.DataType.
type DataType int32

// Element types (onnx.proto TensorProto.DataType).
const (
	Float   DataType = 1
	Uint8   DataType = 2
	Int8    DataType = 3
	Int32   DataType = 6
	Int64   DataType = 7
	Bool    DataType = 9
	Float16 DataType = 10
	Double  DataType = 11
)

func (t DataType) String() string {
	switch t {
	case Float:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	case Float16:
		return "float16"
	case Double:
		return "float64"
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// Size is the element size in bytes (0 for unknown types).
func (t DataType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Float16:
		return 2
	case Float, Int32:
		return 4
	case Int64, Double:
		return 8
	}
	return 0
}

// Dim is one dimension of a graph input or output: a fixed size (Value) or,
// when Param is set, a named dynamic dimension such as "batch".
type Dim struct {
	Value int64
	Param string
}

// Fixed returns fixed dimensions.
func Fixed(values ...int64) []Dim {
	d := make([]Dim, len(values))
	for i, v := range values {
		d[i].Value = v
	}
	return d
}

// Tensor is a constant tensor: dims, element type and little-endian raw data.
type Tensor struct {
	Dims []int64
	Type DataType
	Raw  []byte
	// External, when set, stores the data in a separate file instead of Raw
	// (ONNX external data, as Optimum writes for models over 2 GB).
	External *External
}

// External locates a tensor's data in a file beside the model.
type External struct {
	Location       string // file name, relative to the model
	Offset, Length int64
}

func count(dims []int64) int {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	return n
}

func checkCount(dims []int64, n int) {
	if count(dims) != n {
		panic(fmt.Sprintf("onnxpb: %d values for dims %v", n, dims))
	}
}

// Float32s builds a float32 tensor. It panics when len(v) does not match dims
// (a programming error in the graph builder, never a data error).
func Float32s(dims []int64, v []float32) Tensor {
	checkCount(dims, len(v))
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return Tensor{Dims: dims, Type: Float, Raw: raw}
}

// Float16s builds a float16 tensor from float32 values, rounded to nearest even.
func Float16s(dims []int64, v []float32) Tensor {
	checkCount(dims, len(v))
	return Tensor{Dims: dims, Type: Float16, Raw: float16.Bytes(v)}
}

// Int64s builds an int64 tensor.
func Int64s(dims []int64, v []int64) Tensor {
	checkCount(dims, len(v))
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	return Tensor{Dims: dims, Type: Int64, Raw: raw}
}

// Int32s builds an int32 tensor.
func Int32s(dims []int64, v []int32) Tensor {
	checkCount(dims, len(v))
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
	}
	return Tensor{Dims: dims, Type: Int32, Raw: raw}
}

// AttributeProto.AttributeType values.
const (
	attrFloat  = 1
	attrInt    = 2
	attrString = 3
	attrTensor = 4
	attrFloats = 6
	attrInts   = 7
)

// Attr is a node attribute; build one with AttrInt, AttrFloat, AttrString,
// AttrTensor, AttrInts or AttrFloats.
type Attr struct {
	name   string
	typ    int
	f      float32
	i      int64
	s      string
	t      Tensor
	floats []float32
	ints   []int64
}

// AttrInt is an INT attribute.
func AttrInt(name string, v int64) Attr { return Attr{name: name, typ: attrInt, i: v} }

// AttrFloat is a FLOAT attribute.
func AttrFloat(name string, v float32) Attr { return Attr{name: name, typ: attrFloat, f: v} }

// AttrString is a STRING attribute.
func AttrString(name, v string) Attr { return Attr{name: name, typ: attrString, s: v} }

// AttrTensor is a TENSOR attribute (as used by Constant).
func AttrTensor(name string, t Tensor) Attr { return Attr{name: name, typ: attrTensor, t: t} }

// AttrInts is an INTS attribute.
func AttrInts(name string, v ...int64) Attr { return Attr{name: name, typ: attrInts, ints: v} }

// AttrFloats is a FLOATS attribute.
func AttrFloats(name string, v ...float32) Attr { return Attr{name: name, typ: attrFloats, floats: v} }

type valueInfo struct {
	name string
	elem DataType
	dims []Dim
}

type node struct {
	op      string
	name    string
	inputs  []string
	outputs []string
	attrs   []Attr
}

type initializer struct {
	name string
	t    Tensor
}

// Graph accumulates a graph; Model encodes it. Nodes must be added in
// topological order, as ONNX requires.
type Graph struct {
	name     string
	producer string
	inputs   []valueInfo
	outputs  []valueInfo
	inits    []initializer
	nodes    []node
}

// NewGraph starts an empty graph.
func NewGraph(name string) *Graph { return &Graph{name: name, producer: "likeness"} }

// Input declares a graph input.
func (g *Graph) Input(name string, elem DataType, dims ...Dim) {
	g.inputs = append(g.inputs, valueInfo{name, elem, dims})
}

// Output declares a graph output.
func (g *Graph) Output(name string, elem DataType, dims ...Dim) {
	g.outputs = append(g.outputs, valueInfo{name, elem, dims})
}

// Init adds a named constant (an initializer).
func (g *Graph) Init(name string, t Tensor) {
	g.inits = append(g.inits, initializer{name, t})
}

// Node appends a node; its name is the op type and its index.
func (g *Graph) Node(op string, inputs, outputs []string, attrs ...Attr) {
	g.nodes = append(g.nodes, node{
		op:      op,
		name:    fmt.Sprintf("%s_%d", op, len(g.nodes)),
		inputs:  inputs,
		outputs: outputs,
		attrs:   attrs,
	})
}

// IRVersion returns the IR version of the ONNX release that introduced the
// given default-domain opset (onnx/docs/Versioning.md): opset 17 -> IR 8.
func IRVersion(opset int64) int64 {
	switch {
	case opset <= 8:
		return 3
	case opset == 9:
		return 4
	case opset == 10:
		return 5
	case opset == 11:
		return 6
	case opset <= 14:
		return 7
	case opset <= 18:
		return 8
	case opset <= 20:
		return 9
	case opset <= 22:
		return 10
	}
	return 11
}

// Model encodes a ModelProto importing the default domain at the given opset,
// with the matching IR version (see IRVersion).
func (g *Graph) Model(opset int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType) // ir_version
	b = protowire.AppendVarint(b, uint64(IRVersion(opset)))
	b = appendString(b, 2, g.producer) // producer_name
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, g.encodeGraph())
	var op []byte // OperatorSetIdProto: domain "" (default), version
	op = appendString(op, 1, "")
	op = protowire.AppendTag(op, 2, protowire.VarintType)
	op = protowire.AppendVarint(op, uint64(opset))
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, op)
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func (g *Graph) encodeGraph() []byte {
	var b []byte
	for _, n := range g.nodes {
		b = appendMessage(b, 1, encodeNode(n))
	}
	b = appendString(b, 2, g.name)
	for _, in := range g.inits {
		b = appendMessage(b, 5, encodeTensor(in.name, in.t))
	}
	for _, v := range g.inputs {
		b = appendMessage(b, 11, encodeValueInfo(v))
	}
	for _, v := range g.outputs {
		b = appendMessage(b, 12, encodeValueInfo(v))
	}
	return b
}

func encodeNode(n node) []byte {
	var b []byte
	for _, s := range n.inputs {
		b = appendString(b, 1, s)
	}
	for _, s := range n.outputs {
		b = appendString(b, 2, s)
	}
	b = appendString(b, 3, n.name)
	b = appendString(b, 4, n.op)
	for _, a := range n.attrs {
		b = appendMessage(b, 5, encodeAttr(a))
	}
	return b
}

func encodeAttr(a Attr) []byte {
	var b []byte
	b = appendString(b, 1, a.name)
	switch a.typ {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrString:
		b = appendString(b, 4, a.s)
	case attrTensor:
		b = appendMessage(b, 5, encodeTensor("", a.t))
	case attrFloats:
		// proto2 repeated scalars are unpacked unless declared packed.
		for _, f := range a.floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case attrInts:
		for _, i := range a.ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType) // type
	b = protowire.AppendVarint(b, uint64(a.typ))
	return b
}

func encodeTensor(name string, t Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.Type))
	if name != "" {
		b = appendString(b, 8, name)
	}
	if t.External != nil {
		entry := func(k, v string) {
			var e []byte // StringStringEntryProto
			e = appendString(e, 1, k)
			e = appendString(e, 2, v)
			b = appendMessage(b, 13, e) // external_data
		}
		entry("location", t.External.Location)
		entry("offset", strconv.FormatInt(t.External.Offset, 10))
		entry("length", strconv.FormatInt(t.External.Length, 10))
		b = protowire.AppendTag(b, 14, protowire.VarintType) // data_location = EXTERNAL
		b = protowire.AppendVarint(b, 1)
		return b
	}
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, t.Raw)
	return b
}

// ModelExternal is Model with every initializer of at least minBytes moved
// into one data file (its bytes are returned), named location beside the
// model, at 64-byte aligned offsets.
func (g *Graph) ModelExternal(opset int64, location string, minBytes int) (model, data []byte) {
	saved := append([]initializer(nil), g.inits...)
	defer func() { g.inits = saved }()
	for i, in := range g.inits {
		if len(in.t.Raw) < minBytes {
			continue
		}
		for len(data)%64 != 0 {
			data = append(data, 0)
		}
		t := in.t
		t.External = &External{Location: location, Offset: int64(len(data)), Length: int64(len(t.Raw))}
		data = append(data, t.Raw...)
		t.Raw = nil
		g.inits[i].t = t
	}
	return g.Model(opset), data
}

func encodeValueInfo(v valueInfo) []byte {
	var shape []byte // TensorShapeProto
	for _, d := range v.dims {
		var dim []byte
		if d.Param != "" {
			dim = appendString(dim, 2, d.Param)
		} else {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d.Value))
		}
		shape = appendMessage(shape, 1, dim)
	}
	var tensor []byte // TypeProto.Tensor
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, uint64(v.elem))
	tensor = appendMessage(tensor, 2, shape) // present even when empty: a scalar
	typ := appendMessage(nil, 1, tensor)     // TypeProto.tensor_type
	var b []byte
	b = appendString(b, 1, v.name)
	b = appendMessage(b, 2, typ)
	return b
}
