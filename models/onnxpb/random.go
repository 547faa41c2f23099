package onnxpb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// RandomOps are the standard ONNX operators whose output is random. A VAE
// encoder exported from latent_dist.sample() (older Optimum exports) holds
// one, usually RandomNormalLike.
var RandomOps = []string{"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}

// RandomNode is one node of a model whose output is random.
type RandomNode struct {
	Op   string // one of RandomOps
	Name string // the node's name ("" when the export gave none)
}

func (n RandomNode) String() string {
	if n.Name == "" {
		return n.Op
	}
	return fmt.Sprintf("%s node %q", n.Op, n.Name)
}

// ErrMalformed means bytes that do not parse as the ONNX protobuf messages
// this package reads.
var ErrMalformed = errors.New("malformed onnx model")

// Field numbers of onnx.proto read here.
const (
	modelGraph     = 7  // ModelProto.graph
	modelFunctions = 14 // ModelProto.functions
	graphNode      = 1  // GraphProto.node
	funcNode       = 5  // FunctionProto.node
	nodeInput      = 1
	nodeOutput     = 2
	nodeName       = 3
	nodeOpType     = 4
	nodeAttribute  = 5
	nodeDomain     = 7
	attrName       = 1
	attrF          = 2
	attrI          = 3
	attrT          = 5
	attrG          = 6
	attrIntsField  = 8
	attrGraphs     = 11
)

// maxNodeBytes bounds a single node read into memory while scanning; nodes
// are small (their weights live in initializers), even with subgraphs.
const maxNodeBytes = 64 << 20

// ScanRandomNodes lists the random nodes of the model r holds: in the main
// graph, in subgraphs of If/Loop/Scan nodes, and in model-local functions.
// It streams the file and skips initializers, so the weights are never
// loaded. Only the default ONNX domain counts.
func ScanRandomNodes(r io.Reader) ([]RandomNode, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var out []RandomNode
	err := streamFields(br, -1, func(num protowire.Number, typ protowire.Type, n int64, br *bufio.Reader) (bool, error) {
		if typ != protowire.BytesType || (num != modelGraph && num != modelFunctions) {
			return false, nil
		}
		want := protowire.Number(graphNode)
		if num == modelFunctions {
			want = funcNode
		}
		return true, streamFields(br, n, func(num protowire.Number, typ protowire.Type, n int64, br *bufio.Reader) (bool, error) {
			if num != want || typ != protowire.BytesType {
				return false, nil
			}
			if n > maxNodeBytes {
				return false, fmt.Errorf("%w: a %d-byte node", ErrMalformed, n)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(br, b); err != nil {
				return true, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			found, err := randomInNode(b)
			out = append(out, found...)
			return true, err
		})
	})
	return out, err
}

// streamFields reads the fields of a message of length n (-1: to EOF) and
// calls fn for each: fn reports whether it consumed the value (bytes
// fields only); otherwise the value is skipped.
func streamFields(br *bufio.Reader, n int64, fn func(protowire.Number, protowire.Type, int64, *bufio.Reader) (bool, error)) error {
	var read int64
	for n < 0 || read < n {
		tag, tl, err := readVarint(br)
		if err == io.EOF && n < 0 && tl == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		read += int64(tl)
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return fmt.Errorf("%w: bad field tag", ErrMalformed)
		}
		var size int64
		switch typ {
		case protowire.VarintType:
			_, l, err := readVarint(br)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			read += int64(l)
			continue
		case protowire.Fixed32Type:
			size = 4
		case protowire.Fixed64Type:
			size = 8
		case protowire.BytesType:
			v, l, err := readVarint(br)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			read += int64(l)
			if v > math.MaxInt64/2 {
				return fmt.Errorf("%w: field of %d bytes", ErrMalformed, v)
			}
			size = int64(v)
			if n >= 0 && read+size > n {
				return fmt.Errorf("%w: field runs past its message", ErrMalformed)
			}
			used, err := fn(num, typ, size, br)
			if err != nil {
				return err
			}
			if used {
				read += size
				continue
			}
		default:
			return fmt.Errorf("%w: wire type %d", ErrMalformed, typ)
		}
		if n >= 0 && read+size > n {
			return fmt.Errorf("%w: field runs past its message", ErrMalformed)
		}
		if _, err := io.CopyN(io.Discard, br, size); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		read += size
	}
	if read != n {
		return fmt.Errorf("%w: field runs past its message", ErrMalformed)
	}
	return nil
}

// readVarint reads one varint and returns it with the number of bytes it
// took (a varint may be longer than its minimal form). A clean io.EOF comes
// back only before its first byte.
func readVarint(br *bufio.Reader) (uint64, int, error) {
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := br.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, i, err
		}
		if i == binary.MaxVarintLen64-1 && b > 1 {
			break
		}
		x |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return x, i + 1, nil
		}
	}
	return 0, binary.MaxVarintLen64, errors.New("varint overflows 64 bits")
}

// parsedNode is the part of a NodeProto this package reads.
type parsedNode struct {
	op, name, domain string
	inputs, outputs  []string
	attrs            [][]byte // raw AttributeProto messages
}

func parseNode(b []byte) (parsedNode, error) {
	var n parsedNode
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case nodeInput:
			n.inputs = append(n.inputs, string(v))
		case nodeOutput:
			n.outputs = append(n.outputs, string(v))
		case nodeName:
			n.name = string(v)
		case nodeOpType:
			n.op = string(v)
		case nodeDomain:
			n.domain = string(v)
		case nodeAttribute:
			n.attrs = append(n.attrs, v)
		}
		return nil
	})
	return n, err
}

// eachField calls fn for every field of message b: bytes fields get their
// value in v, varint and fixed fields their value in x.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func defaultDomain(d string) bool { return d == "" || d == "ai.onnx" }

func isRandom(n parsedNode) bool {
	if !defaultDomain(n.domain) {
		return false
	}
	for _, op := range RandomOps {
		if n.op == op {
			return true
		}
	}
	return false
}

// randomInNode lists the random nodes of a node and of its subgraphs.
func randomInNode(b []byte) ([]RandomNode, error) {
	n, err := parseNode(b)
	if err != nil {
		return nil, err
	}
	if isRandom(n) {
		return []RandomNode{{Op: n.op, Name: n.name}}, nil // random ops have no subgraphs
	}
	var out []RandomNode
	for _, a := range n.attrs {
		err := eachField(a, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			if typ != protowire.BytesType || (num != attrG && num != attrGraphs) {
				return nil
			}
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != graphNode || typ != protowire.BytesType {
					return nil
				}
				found, err := randomInNode(v)
				out = append(out, found...)
				return err
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// attr is the part of an AttributeProto Derandomize reads.
type attr struct {
	name string
	f    float32
	i    int64
	ints []int64
	hasF bool
	hasI bool
}

func parseAttr(b []byte) (attr, error) {
	var a attr
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == attrName && typ == protowire.BytesType:
			a.name = string(v)
		case num == attrF && typ == protowire.Fixed32Type:
			a.f, a.hasF = math.Float32frombits(uint32(x)), true
		case num == attrI && typ == protowire.VarintType:
			a.i, a.hasI = int64(x), true
		case num == attrIntsField && typ == protowire.VarintType:
			a.ints = append(a.ints, int64(x))
		case num == attrIntsField && typ == protowire.BytesType: // packed
			for len(v) > 0 {
				x, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
				}
				a.ints, v = append(a.ints, int64(x)), v[n:]
			}
		}
		return nil
	})
	return a, err
}

// Fix says how Derandomize made one random node deterministic.
type Fix struct {
	Node RandomNode
	// Mean is true when the node now outputs its distribution's mean (a
	// Gaussian's mean: for mean + std·ε that is the distribution mean
	// exactly); false when only its seed was fixed (the same draws for the
	// same session, not the mean).
	Mean bool
}

// DerandomSeed is the seed Derandomize gives the random nodes it cannot
// replace by their mean.
const DerandomSeed = 0

// maxConstValues bounds the constant that replaces a RandomNormal node (its
// shape is an attribute); larger ones get a fixed seed instead.
const maxConstValues = 1 << 24

// Derandomize rewrites model so that its output is deterministic:
// RandomNormalLike(X) becomes its mean, computed as Cast(X − X) (+ mean) of
// the node's dtype, and RandomNormal a constant of its shape filled with
// its mean; the other random operators (and Gaussian ones whose output type
// cannot be known) keep their op with the seed attribute set to
// DerandomSeed. Everything else in the model is copied byte for byte.
func Derandomize(model []byte) ([]byte, []Fix, error) {
	var fixes []Fix
	out, err := rewriteFields(model, func(num protowire.Number, v []byte) ([][]byte, bool, error) {
		switch num {
		case modelGraph:
			g, err := rewriteGraph(v, graphNode, &fixes)
			return [][]byte{g}, true, err
		case modelFunctions:
			f, err := rewriteGraph(v, funcNode, &fixes)
			return [][]byte{f}, true, err
		}
		return nil, false, nil
	})
	return out, fixes, err
}

// rewriteFields copies message b field by field; fn may replace a bytes
// field by zero or more values of the same field number.
func rewriteFields(b []byte, fn func(num protowire.Number, v []byte) ([][]byte, bool, error)) ([]byte, error) {
	out := make([]byte, 0, len(b)+256)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
		}
		field := b[:n+m]
		b = b[n+m:]
		if typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(field[n:])
			repl, ok, err := fn(num, v)
			if err != nil {
				return nil, err
			}
			if ok {
				for _, r := range repl {
					out = protowire.AppendTag(out, num, protowire.BytesType)
					out = protowire.AppendBytes(out, r)
				}
				continue
			}
		}
		out = append(out, field...)
	}
	return out, nil
}

// rewriteGraph rewrites the nodes (field nodeField) of a GraphProto or
// FunctionProto.
func rewriteGraph(g []byte, nodeField protowire.Number, fixes *[]Fix) ([]byte, error) {
	k := 0
	return rewriteFields(g, func(num protowire.Number, v []byte) ([][]byte, bool, error) {
		if num != nodeField {
			return nil, false, nil
		}
		k++
		nodes, err := rewriteNode(v, k, fixes)
		return nodes, true, err
	})
}

// rewriteNode returns the nodes that replace node b (b itself, with any
// subgraph rewritten, when it is not random).
func rewriteNode(b []byte, k int, fixes *[]Fix) ([][]byte, error) {
	n, err := parseNode(b)
	if err != nil {
		return nil, err
	}
	if !isRandom(n) {
		// Subgraphs: rewrite every attribute's g and graphs.
		out, err := rewriteFields(b, func(num protowire.Number, v []byte) ([][]byte, bool, error) {
			if num != nodeAttribute {
				return nil, false, nil
			}
			a, err := rewriteFields(v, func(num protowire.Number, v []byte) ([][]byte, bool, error) {
				if num != attrG && num != attrGraphs {
					return nil, false, nil
				}
				g, err := rewriteGraph(v, graphNode, fixes)
				return [][]byte{g}, true, err
			})
			return [][]byte{a}, true, err
		})
		return [][]byte{out}, err
	}
	attrs := map[string]attr{}
	for _, raw := range n.attrs {
		a, err := parseAttr(raw)
		if err != nil {
			return nil, err
		}
		attrs[a.name] = a
	}
	rn := RandomNode{Op: n.op, Name: n.name}
	if nodes, ok := meanNodes(n, attrs, k); ok {
		*fixes = append(*fixes, Fix{Node: rn, Mean: true})
		return nodes, nil
	}
	*fixes = append(*fixes, Fix{Node: rn})
	// Keep the node; drop its seed attribute and append a fixed one.
	out, err := rewriteFields(b, func(num protowire.Number, v []byte) ([][]byte, bool, error) {
		if num != nodeAttribute {
			return nil, false, nil
		}
		if a, err := parseAttr(v); err != nil || a.name != "seed" {
			return [][]byte{v}, true, err
		}
		return nil, true, nil
	})
	if err != nil {
		return nil, err
	}
	out = protowire.AppendTag(out, nodeAttribute, protowire.BytesType)
	out = protowire.AppendBytes(out, encodeAttr(AttrFloat("seed", DerandomSeed)))
	return [][]byte{out}, nil
}

// meanNodes returns nodes computing a Gaussian node's mean into its output,
// or false when that cannot be done without knowing types the graph does
// not state.
func meanNodes(n parsedNode, attrs map[string]attr, k int) ([][]byte, bool) {
	if len(n.outputs) != 1 {
		return nil, false
	}
	y := n.outputs[0]
	mean := attrs["mean"].f
	dt, hasDT := attrs["dtype"]
	dtype := Float
	if hasDT && dt.hasI {
		dtype = DataType(dt.i)
	}
	if dtype != Float && dtype != Float16 && dtype != Double {
		return nil, false
	}
	prefix := fmt.Sprintf("likeness_mean_%d_", k)
	name := func(s string) string { return prefix + s }
	mk := func(op string, ins, outs []string, as ...Attr) []byte {
		return encodeNode(node{op: op, name: name(op), inputs: ins, outputs: outs, attrs: as})
	}
	scalar := func(v float32) Tensor {
		switch dtype {
		case Float16:
			return Float16s(nil, []float32{v})
		case Double:
			raw := make([]byte, 8)
			binary.LittleEndian.PutUint64(raw, math.Float64bits(float64(v)))
			return Tensor{Type: Double, Raw: raw}
		}
		return Float32s(nil, []float32{v})
	}
	switch n.op {
	case "RandomNormal":
		shape := attrs["shape"].ints
		size := int64(1)
		for _, d := range shape {
			if d < 0 || d > maxConstValues || size*max(d, 1) > maxConstValues {
				return nil, false
			}
			size *= d
		}
		vals := make([]float32, size)
		for i := range vals {
			vals[i] = mean
		}
		var t Tensor
		switch dtype {
		case Float16:
			t = Float16s(shape, vals)
		case Double:
			raw := make([]byte, 8*len(vals))
			for i, v := range vals {
				binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(float64(v)))
			}
			t = Tensor{Dims: shape, Type: Double, Raw: raw}
		default:
			t = Float32s(shape, vals)
		}
		return [][]byte{mk("Constant", nil, []string{y}, AttrTensor("value", t))}, true
	case "RandomNormalLike":
		if len(n.inputs) != 1 || (!hasDT && mean != 0) {
			return nil, false // the output type is the input's, which the node does not state
		}
		x := n.inputs[0]
		var nodes [][]byte
		zero := y
		if hasDT || mean != 0 {
			zero = name("zero")
		}
		nodes = append(nodes, mk("Sub", []string{x, x}, []string{zero}))
		if hasDT {
			cast := y
			if mean != 0 {
				cast = name("cast")
			}
			nodes = append(nodes, mk("Cast", []string{zero}, []string{cast}, AttrInt("to", int64(dtype))))
			zero = cast
		}
		if mean != 0 {
			nodes = append(nodes, mk("Constant", nil, []string{name("m")}, AttrTensor("value", scalar(mean))),
				mk("Add", []string{zero, name("m")}, []string{y}))
		}
		return nodes, true
	}
	return nil, false
}
