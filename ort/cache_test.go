package ort

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	pb "likeness/models/onnxpb"
)

// TestGraphCache: the first session stores the optimised graph, the second
// loads it and computes the same; a changed key rebuilds it, and a damaged
// entry is rebuilt rather than failing the session.
func TestGraphCache(t *testing.T) {
	model := addModel(t, pb.Float)
	dir := filepath.Join(t.TempDir(), "cache", "pack", "add")
	c := &Cache{Dir: dir, Key: "add v1"}
	run := func(want string) []float32 {
		t.Helper()
		s, err := Open(model, Options{Provider: CPU, Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Cache != want {
			t.Errorf("cache %q, want %q", s.Cache, want)
		}
		if s.Created <= 0 {
			t.Error("no session-creation time")
		}
		out, err := s.Run(context.Background(), map[string]Value{"x": Floats([]int64{1, 3}, []float32{1, 2, 3})}, map[string][]int64{"y": {1, 3}})
		if err != nil {
			t.Fatal(err)
		}
		return out["y"].F32
	}
	first := run(CacheStored)
	if _, err := os.Stat(filepath.Join(dir+"-cpu", cacheModel)); err != nil {
		t.Fatalf("no cached graph: %v", err)
	}
	if got := run(CacheHit); !slices.Equal(got, first) || !slices.Equal(first, []float32{2, 3, 4}) {
		t.Fatalf("cached graph computes %v, the model %v", got, first)
	}
	c.Key = "add v2" // the model changed: the old entry is stale
	run(CacheStored)
	run(CacheHit)
	if err := os.WriteFile(filepath.Join(dir+"-cpu", cacheModel), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(CacheStored)
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*partial*")); len(left) > 0 {
		t.Errorf("temporary folders left behind: %v", left)
	}
	if s, err := Open(model, Options{Provider: CPU}); err != nil || s.Cache != CacheOff {
		t.Errorf("no cache asked for: %v, %q", err, s.Cache)
	} else {
		s.Close()
	}
}

func TestMemoryConfig(t *testing.T) {
	for _, tt := range []struct {
		p    Provider
		env  string
		key  string
		want string
	}{
		{CPU, "", "cpu_arena", "0"},
		{CPU, "", "session.use_device_allocator_for_initializers", "1"},
		{CPU, "cpu_arena=1", "cpu_arena", "1"},
		{CPU, " mem_pattern = 0 ; cpu_arena=1", "mem_pattern", "0"},
		{CUDA, "", "cpu_arena", ""},
	} {
		if got := memoryConfig(tt.p, tt.env)[tt.key]; got != tt.want {
			t.Errorf("memoryConfig(%s, %q)[%s] = %q, want %q", tt.p, tt.env, tt.key, got, tt.want)
		}
	}
}
