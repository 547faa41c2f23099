package onnxpb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"likeness/ort"
)

// sampling is y = x + 0.5·rnd, rnd from one random node with attrs.
func sampling(op string, withInput bool, attrs ...Attr) []byte {
	g := NewGraph("sampling")
	g.Input("x", Float, Fixed(1, 4, 2, 2)...)
	var ins []string
	if withInput {
		ins = []string{"x"}
	}
	g.Node(op, ins, []string{"rnd"}, attrs...)
	g.Init("half", Float32s(nil, []float32{0.5}))
	g.Node("Mul", []string{"rnd", "half"}, []string{"noise"})
	g.Node("Add", []string{"x", "noise"}, []string{"y"})
	g.Output("y", Float, Fixed(1, 4, 2, 2)...)
	return g.Model(17)
}

var xs = []float32{1, -2, 3, -4, 5, -6, 7, -8, 0.5, 0.25, -0.125, 9, 10, 11, -12, 13}

func runY(t *testing.T, model []byte) []float32 {
	t.Helper()
	return run(t, model, []in{{name: "x", typ: Float, shape: []int64{1, 4, 2, 2}, f: xs}}, []out{{"y", Float, []int64{1, 4, 2, 2}}})[0]
}

// runTwice runs the model twice in one session: ONNX Runtime keeps a
// random node's generator in the session, so the draws differ.
func runTwice(t *testing.T, model []byte) (a, b []float32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ort.Open(path, ort.Options{Provider: ort.CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got [2][]float32
	for i := range got {
		res, err := s.Run(context.Background(), map[string]ort.Value{"x": ort.Floats([]int64{1, 4, 2, 2}, xs)}, map[string][]int64{"y": {1, 4, 2, 2}})
		if err != nil {
			t.Fatal(err)
		}
		got[i] = slices.Clone(res["y"].F32)
	}
	return got[0], got[1]
}

// TestDerandomize: a Gaussian node becomes its mean (so y = x + 0.5·mean
// exactly); the others keep their op with a fixed seed, so two fresh
// sessions draw the same numbers; the scan finds every node.
func TestDerandomize(t *testing.T) {
	shape := AttrInts("shape", 1, 4, 2, 2)
	cases := []struct {
		name     string
		model    []byte
		mean     bool
		wantMean float32 // the node's mean, when mean
	}{
		{"RandomNormalLike with dtype (torch's randn_like)", sampling("RandomNormalLike", true, AttrInt("dtype", int64(Float))), true, 0},
		{"RandomNormalLike without dtype", sampling("RandomNormalLike", true), true, 0},
		{"RandomNormalLike with dtype and mean", sampling("RandomNormalLike", true, AttrInt("dtype", int64(Float)), AttrFloat("mean", 0.75), AttrFloat("seed", 3)), true, 0.75},
		{"RandomNormal", sampling("RandomNormal", false, shape, AttrFloat("mean", -1), AttrFloat("scale", 2)), true, -1},
		{"RandomNormalLike, mean, no dtype: seed", sampling("RandomNormalLike", true, AttrFloat("mean", 0.3)), false, 0},
		{"RandomUniformLike: seed", sampling("RandomUniformLike", true, AttrFloat("seed", 12)), false, 0},
		{"RandomUniform: seed", sampling("RandomUniform", false, shape), false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found, err := ScanRandomNodes(bytes.NewReader(c.model))
			if err != nil || len(found) != 1 || !slices.Contains(RandomOps, found[0].Op) {
				t.Fatalf("scan: %v, %v", found, err)
			}
			// Unfixed, the model is random: each run of a session draws anew.
			if a, b := runTwice(t, c.model); slices.Equal(a, b) {
				t.Fatalf("the test model is not random: %v", a)
			}
			fixed, fixes, err := Derandomize(c.model)
			if err != nil {
				t.Fatal(err)
			}
			if len(fixes) != 1 || fixes[0].Mean != c.mean || fixes[0].Node != found[0] {
				t.Fatalf("fixes %+v, want one with Mean %v for %v", fixes, c.mean, found[0])
			}
			if left, err := ScanRandomNodes(bytes.NewReader(fixed)); err != nil || (c.mean && len(left) != 0) || (!c.mean && len(left) != 1) {
				t.Fatalf("after the fix the scan finds %v (%v)", left, err)
			}
			// Fixed: the mean, the same on every run; or seeded draws, the
			// same in every fresh session (the engine opens one per call).
			a, b := runY(t, fixed), runY(t, fixed)
			if !slices.Equal(a, b) {
				t.Fatalf("two fresh sessions differ:\n%v\n%v", a, b)
			}
			if a2, b2 := runTwice(t, fixed); c.mean && (!slices.Equal(a2, a) || !slices.Equal(b2, a)) {
				t.Fatalf("the mean changes between runs of one session:\n%v\n%v", a2, b2)
			}
			if !c.mean {
				// A fresh session of the unfixed model draws from a seed
				// ONNX Runtime takes from the clock at start-up; fixed, the
				// seed is ours, so other processes draw the same too.
				if seeds := seedsOf(t, fixed); !slices.Equal(seeds, []float32{DerandomSeed}) {
					t.Fatalf("seed attributes %v, want [%v]", seeds, DerandomSeed)
				}
			}
			if c.mean {
				for i, x := range xs {
					if want := x + 0.5*c.wantMean; a[i] != want {
						t.Fatalf("y[%d] = %v, want the mean %v", i, a[i], want)
					}
				}
			}
		})
	}
}

// TestRandomInSubgraphs: nodes inside an If branch and inside a model-local
// function are found and fixed; other bytes are kept.
func TestRandomInSubgraphs(t *testing.T) {
	branch := NewGraph("then")
	branch.Node("RandomNormal", nil, []string{"r"}, AttrInts("shape", 2), AttrInt("dtype", int64(Float)))
	branch.Output("r", Float, Fixed(2)...)
	var attr []byte // AttributeProto{name: "then_branch", g: branch, type: GRAPH}
	attr = protowire.AppendTag(attr, attrName, protowire.BytesType)
	attr = protowire.AppendString(attr, "then_branch")
	attr = protowire.AppendTag(attr, attrG, protowire.BytesType)
	attr = protowire.AppendBytes(attr, branch.encodeGraph())
	attr = protowire.AppendTag(attr, 20, protowire.VarintType)
	attr = protowire.AppendVarint(attr, 5)
	ifNode := encodeNode(node{op: "If", name: "if0", inputs: []string{"c"}, outputs: []string{"r"}})
	ifNode = protowire.AppendTag(ifNode, nodeAttribute, protowire.BytesType)
	ifNode = protowire.AppendBytes(ifNode, attr)
	var graph []byte
	graph = protowire.AppendTag(graph, graphNode, protowire.BytesType)
	graph = protowire.AppendBytes(graph, ifNode)
	var fn []byte // FunctionProto{node: Bernoulli}
	fn = protowire.AppendTag(fn, funcNode, protowire.BytesType)
	fn = protowire.AppendBytes(fn, encodeNode(node{op: "Bernoulli", name: "coin", inputs: []string{"p"}, outputs: []string{"b"}}))
	var model []byte
	model = protowire.AppendTag(model, 1, protowire.VarintType)
	model = protowire.AppendVarint(model, 8)
	model = protowire.AppendTag(model, modelGraph, protowire.BytesType)
	model = protowire.AppendBytes(model, graph)
	model = protowire.AppendTag(model, modelFunctions, protowire.BytesType)
	model = protowire.AppendBytes(model, fn)

	found, err := ScanRandomNodes(bytes.NewReader(model))
	want := []RandomNode{{Op: "RandomNormal", Name: "RandomNormal_0"}, {Op: "Bernoulli", Name: "coin"}}
	if err != nil || !slices.Equal(found, want) {
		t.Fatalf("scan = %v, %v; want %v", found, err, want)
	}
	fixed, fixes, err := Derandomize(model)
	if err != nil || len(fixes) != 2 || !fixes[0].Mean || fixes[1].Mean {
		t.Fatalf("fixes %+v, %v", fixes, err)
	}
	left, err := ScanRandomNodes(bytes.NewReader(fixed))
	if err != nil || !slices.Equal(left, want[1:]) {
		t.Fatalf("after the fix: %v, %v", left, err)
	}
	if !bytes.Contains(fixed, []byte("then_branch")) || !bytes.Contains(fixed, []byte("seed")) {
		t.Fatal("the rewrite lost the branch or did not seed the Bernoulli node")
	}
}

func TestScanRandomNodesMalformed(t *testing.T) {
	good := sampling("RandomNormalLike", true)
	for _, b := range [][]byte{good[:len(good)/2], {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, {0x07}, {0xff}} {
		if _, err := ScanRandomNodes(bytes.NewReader(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("scan of % x...: %v, want ErrMalformed", b[:min(len(b), 8)], err)
		}
		if _, _, err := Derandomize(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Derandomize of % x...: %v, want ErrMalformed", b[:min(len(b), 8)], err)
		}
	}
	if found, err := ScanRandomNodes(bytes.NewReader(nil)); err != nil || found != nil {
		t.Errorf("empty model: %v, %v", found, err)
	}
}

// FuzzRandomNodes: the scanner and the rewrite read untrusted model bytes;
// they must not panic, and they must agree on what is random.
func FuzzRandomNodes(f *testing.F) {
	f.Add(sampling("RandomNormalLike", true, AttrInt("dtype", int64(Float))))
	f.Add(sampling("RandomUniform", false, AttrInts("shape", 2, 2)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		found, err := ScanRandomNodes(bytes.NewReader(b))
		_, fixes, err2 := Derandomize(b)
		if err == nil && err2 == nil && len(found) != len(fixes) {
			t.Fatalf("scan found %d random nodes, the rewrite fixed %d", len(found), len(fixes))
		}
	})
}

// seedsOf lists the seed attributes of the main graph's nodes.
func seedsOf(t *testing.T, model []byte) []float32 {
	t.Helper()
	var seeds []float32
	err := eachField(model, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		if num != modelGraph {
			return nil
		}
		return eachField(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
			if num != graphNode {
				return nil
			}
			n, err := parseNode(v)
			for _, raw := range n.attrs {
				if a, _ := parseAttr(raw); a.name == "seed" && a.hasF {
					seeds = append(seeds, a.f)
				}
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return seeds
}
