package ort

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	pb "likeness/models/onnxpb"
)

// TestOpenFromBytes: Options.Model loads the given bytes instead of the
// file at path, and still finds external data beside path.
func TestOpenFromBytes(t *testing.T) {
	g := pb.NewGraph("add")
	g.Input("x", pb.Float, pb.Fixed(1, 300)...)
	g.Output("y", pb.Float, pb.Fixed(1, 300)...)
	w := make([]float32, 300)
	for i := range w {
		w[i] = float32(i)
	}
	g.Init("w", pb.Float32s([]int64{1, 300}, w))
	g.Node("Add", []string{"x", "w"}, []string{"y"})
	model, data := g.ModelExternal(17, "model.onnx_data", 1024)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	// The file at path is something else entirely: only its folder counts.
	if err := os.WriteFile(path, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.onnx_data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sig := &Signature{Inputs: []TensorInfo{{Name: "x", Type: Float32, Shape: []int64{1, 300}}},
		Outputs: []TensorInfo{{Name: "y", Type: Float32, Shape: []int64{1, 300}}}}
	s, err := Open(path, Options{Provider: CPU, Model: model, Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), map[string]Value{"x": Floats([]int64{1, 300}, make([]float32, 300))}, map[string][]int64{"y": {1, 300}})
	if err != nil {
		t.Fatal(err)
	}
	if y := res["y"].F32; y[0] != 0 || y[299] != 299 {
		t.Fatalf("y = %v ... %v, want the external weights 0 ... 299", y[0], y[299])
	}
}
