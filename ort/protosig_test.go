package ort

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	pb "likeness/models/onnxpb"
	"likeness/models/synth"
)

// TestProtoSignatureMatchesORT reads every model of the analytic packs (all
// kinds, float16 and fixed-batch variants, scalar timesteps) and a few
// small graphs both ways: the protobuf reader must say exactly what ONNX
// Runtime says.
func TestProtoSignatureMatchesORT(t *testing.T) {
	var paths []string
	for _, o := range []synth.Options{
		{Kind: "mcdm", Resolution: 64},
		{Kind: "ip2p", Resolution: 64, Float16: true, IDs32: true},
		{Kind: "sd", Resolution: 64, FixedBatch: true, ScalarTimestep: true, TimestepKind: "int64"},
	} {
		dir := filepath.Join(t.TempDir(), o.Kind)
		if _, err := synth.Write(dir, o); err != nil {
			t.Fatal(err)
		}
		models, _ := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
		if len(models) < 4 {
			t.Fatalf("%s: %v", dir, models)
		}
		paths = append(paths, models...)
	}
	paths = append(paths, addModel(t, pb.Float), addModel(t, pb.Float16))

	// An IR 3 style graph lists its initializer among the inputs: ONNX
	// Runtime leaves it out, and so must the reader.
	g := pb.NewGraph("init-input")
	g.Input("x", pb.Float, pb.Dim{Value: 2})
	g.Input("w", pb.Float, pb.Dim{Value: 2})
	g.Init("w", pb.Float32s([]int64{2}, []float32{1, 2}))
	g.Output("y", pb.Float, pb.Dim{Value: 2})
	g.Node("Mul", []string{"x", "w"}, []string{"y"})
	paths = append(paths, writeModel(t, g))

	// Weights in an external data file.
	g = pb.NewGraph("external")
	g.Input("x", pb.Float, pb.Dim{Param: "n"}, pb.Dim{Value: 256})
	g.Init("w", pb.Float32s([]int64{256}, make([]float32, 256)))
	g.Output("y", pb.Float, pb.Dim{Param: "n"}, pb.Dim{Value: 256})
	g.Node("Add", []string{"x", "w"}, []string{"y"})
	model, data := g.ModelExternal(17, "model.onnx_data", 64)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.onnx_data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join(dir, "model.onnx"))

	for _, p := range paths {
		pi, po, err := readSignatureProto(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		oi, oo, err := readSignatureORT(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !reflect.DeepEqual(pi, oi) || !reflect.DeepEqual(po, oo) {
			t.Errorf("%s:\nprotobuf %v -> %v\nORT      %v -> %v", p, pi, po, oi, oo)
		}
	}
}

// TestProtoSignatureRefusesDamage: a truncated or random file is left to
// ONNX Runtime, whose error ReadSignature then reports.
func TestProtoSignatureRefusesDamage(t *testing.T) {
	good := addModel(t, pb.Float)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"truncated": b[:len(b)*2/3],
		"random":    []byte("\x3a\xff\xff\xff\x0fnot a model at all"),
		"empty":     nil,
	} {
		p := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := readSignatureProto(p); err == nil {
			t.Errorf("%s: the protobuf reader accepted it", name)
		}
		if _, _, err := ReadSignature(p); err == nil {
			t.Errorf("%s: ReadSignature accepted it", name)
		}
	}
}

// FuzzReadSignatureProto: no input makes the reader panic or loop.
func FuzzReadSignatureProto(f *testing.F) {
	g := pb.NewGraph("add")
	g.Input("x", pb.Float, pb.Dim{Param: "batch"}, pb.Dim{Value: 3})
	g.Output("y", pb.Float, pb.Dim{Param: "batch"}, pb.Dim{Value: 3})
	g.Init("one", pb.Float32s([]int64{1}, []float32{1}))
	g.Node("Add", []string{"x", "one"}, []string{"y"})
	f.Add(g.Model(17))
	f.Add([]byte{0x3a, 0x02, 0x5a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m.onnx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, _ = readSignatureProto(p)
	})
}
