package ort

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	pb "likeness/models/onnxpb"
)

func TestMain(m *testing.M) {
	if err := Init(""); err != nil {
		fmt.Println("FAIL: the ONNX Runtime tests need the library:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func writeModel(t testing.TB, g *pb.Graph) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, g.Model(17), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// addModel: y = x + 1 with x [B,3] of the given float type.
func addModel(t testing.TB, typ pb.DataType) string {
	g := pb.NewGraph("add")
	g.Input("x", typ, pb.Dim{Param: "batch"}, pb.Dim{Value: 3})
	g.Output("y", typ, pb.Dim{Param: "batch"}, pb.Dim{Value: 3})
	if typ == pb.Float16 {
		g.Init("one", pb.Float16s([]int64{1}, []float32{1}))
	} else {
		g.Init("one", pb.Float32s([]int64{1}, []float32{1}))
	}
	g.Node("Add", []string{"x", "one"}, []string{"y"})
	return writeModel(t, g)
}

func TestRunConvertsFloatTypes(t *testing.T) {
	for _, typ := range []pb.DataType{pb.Float, pb.Float16} {
		t.Run(typ.String(), func(t *testing.T) {
			s, err := Open(addModel(t, typ), Options{Provider: CPU})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			in := []float32{0.5, -2, 1000, 3, 4, 5}
			out, err := s.Run(context.Background(), map[string]Value{"x": Floats([]int64{2, 3}, in)}, map[string][]int64{"y": {2, 3}})
			if err != nil {
				t.Fatal(err)
			}
			y := out["y"]
			if len(y.F32) != 6 || y.Shape[0] != 2 {
				t.Fatalf("got %v", y)
			}
			for i, v := range in {
				if y.F32[i] != v+1 {
					t.Errorf("y[%d] = %v, want %v", i, y.F32[i], v+1)
				}
			}
		})
	}
}

func TestRunConvertsIntTypesAndScalars(t *testing.T) {
	// ids int32 [B,2] -> Cast to int64 -> out; timestep declared scalar int64.
	g := pb.NewGraph("ids")
	g.Input("ids", pb.Int32, pb.Dim{Param: "batch"}, pb.Dim{Value: 2})
	g.Input("t", pb.Int64)
	g.Output("out", pb.Int64, pb.Dim{Param: "batch"}, pb.Dim{Value: 2})
	g.Node("Cast", []string{"ids"}, []string{"ids64"}, pb.AttrInt("to", int64(pb.Int64)))
	g.Node("Add", []string{"ids64", "t"}, []string{"out"})
	s, err := Open(writeModel(t, g), Options{Provider: CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A [B] timestep for a declared scalar is accepted when uniform.
	out, err := s.Run(context.Background(), map[string]Value{"ids": Ints([]int64{2, 2}, []int64{1, 2, 3, 49407}), "t": Ints([]int64{2}, []int64{10, 10})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{11, 12, 13, 49417}
	for i := range want {
		if out["out"].I64[i] != want[i] {
			t.Fatalf("out = %v, want %v", out["out"].I64, want)
		}
	}
	_, err = s.Run(context.Background(), map[string]Value{"ids": Ints([]int64{2, 2}, []int64{1, 2, 3, 4}), "t": Ints([]int64{2}, []int64{10, 11})}, nil)
	if err == nil || !strings.Contains(err.Error(), "scalar") {
		t.Fatalf("non-uniform batch for a scalar: err = %v", err)
	}
	_, err = s.Run(context.Background(), map[string]Value{"ids": Ints([]int64{1, 2}, []int64{1 << 40, 2}), "t": Ints(nil, []int64{1})}, nil)
	if err == nil || !strings.Contains(err.Error(), "int32") {
		t.Fatalf("overflowing int32: err = %v", err)
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	s, err := Open(addModel(t, pb.Float), Options{Provider: CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, in := range map[string]map[string]Value{
		"missing input": {},
		"wrong rank":    {"x": Floats([]int64{6}, make([]float32, 6))},
		"wrong dim":     {"x": Floats([]int64{1, 4}, make([]float32, 4))},
		"short data":    {"x": Floats([]int64{1, 3}, make([]float32, 2))},
		"ints for f32":  {"x": Ints([]int64{1, 3}, make([]int64, 3))},
	} {
		if _, err := s.Run(context.Background(), in, nil); err == nil || !strings.Contains(err.Error(), s.Path) {
			t.Errorf("%s: err = %v, want an error naming the model", name, err)
		}
	}
}

func TestSignature(t *testing.T) {
	ins, outs, err := ReadSignature(addModel(t, pb.Float16))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Name != "x" || ins[0].Type != Float16 || ins[0].Shape[0] != -1 || ins[0].Shape[1] != 3 {
		t.Fatalf("inputs %v", ins)
	}
	if len(outs) != 1 || outs[0].Name != "y" {
		t.Fatalf("outputs %v", outs)
	}
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	if _, _, err := ReadSignature(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt model: err = %v", err)
	}
}

func TestProviders(t *testing.T) {
	p := addModel(t, pb.Float)
	s, err := Open(p, Options{Provider: Auto})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Provider == CPU && len(s.Refused) == 0 {
		t.Fatal("auto fell back to cpu without recording why the others were refused")
	}
	for _, r := range s.Refused {
		if r.Reason == "" {
			t.Errorf("%s refused with no reason", r.Provider)
		}
	}
	if runtime.GOOS != "windows" {
		if _, err := Open(p, Options{Provider: DirectML}); !errors.Is(err, ErrProviderUnavailable) {
			t.Errorf("forced directml off Windows: err = %v", err)
		}
	}
	if s.Provider == CPU { // this library has no CUDA, so forcing it must fail clearly
		if _, err := Open(p, Options{Provider: CUDA}); !errors.Is(err, ErrProviderUnavailable) {
			t.Errorf("forced cuda: err = %v", err)
		}
	}
	if _, err := ParseProvider("tpu"); err == nil {
		t.Error("unknown provider accepted")
	}
}

// slowModel chains MatMuls so one run takes seconds.
func slowModel(t testing.TB, n int) string {
	g := pb.NewGraph("slow")
	g.Input("x", pb.Float, pb.Dim{Value: 256}, pb.Dim{Value: 512})
	g.Output("y", pb.Float, pb.Dim{Value: 256}, pb.Dim{Value: 512})
	w := make([]float32, 512*512)
	for i := range w {
		w[i] = float32(math.Sin(float64(i))) / 512
	}
	g.Init("w", pb.Float32s([]int64{512, 512}, w))
	prev := "x"
	for i := 0; i < n; i++ {
		next := fmt.Sprintf("h%d", i)
		if i == n-1 {
			next = "y"
		}
		g.Node("MatMul", []string{prev, "w"}, []string{next})
		prev = next
	}
	return writeModel(t, g)
}

func TestCancelTerminatesNativeRun(t *testing.T) {
	s, err := Open(slowModel(t, 3000), Options{Provider: CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]Value{"x": Floats([]int64{256, 512}, make([]float32, 256*512))}
	start := time.Now()
	if _, err := s.Run(context.Background(), in, nil); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(full/10, cancel)
	start = time.Now()
	_, err = s.Run(ctx, in, nil)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if took > full/2 {
		t.Fatalf("a cancelled run took %v of a full %v: the native run was not terminated", took, full)
	}
	// The session stays usable after a terminated run.
	if _, err := s.Run(context.Background(), in, nil); err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return res * int64(os.Getpagesize())
}

// TestNoLeaks: 100 create/run/close cycles leave no session or tensor behind.
func TestNoLeaks(t *testing.T) {
	p := addModel(t, pb.Float16)
	cycle := func() {
		s, err := Open(p, Options{Provider: CPU})
		if err != nil {
			t.Fatal(err)
		}
		for b := int64(1); b <= 3; b++ { // shape changes reallocate buffers
			if _, err := s.Run(context.Background(), map[string]Value{"x": Floats([]int64{b, 3}, make([]float32, 3*b))}, map[string][]int64{"y": {b, 3}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ { // warm up allocators
		cycle()
	}
	before := rss()
	for i := 0; i < 100; i++ {
		cycle()
	}
	if s, v := Live(); s != 0 || v != 0 {
		t.Fatalf("after 100 cycles %d sessions and %d tensors are still held", s, v)
	}
	if grew := rss() - before; before > 0 && grew > 64<<20 {
		t.Fatalf("resident memory grew by %d MiB over 100 cycles", grew>>20)
	}
}

func BenchmarkRunSmall(b *testing.B) {
	s, err := Open(addModel(b, pb.Float), Options{Provider: CPU})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	in := map[string]Value{"x": Floats([]int64{1, 3}, []float32{1, 2, 3})}
	for b.Loop() {
		if _, err := s.Run(context.Background(), in, nil); err != nil {
			b.Fatal(err)
		}
	}
}
