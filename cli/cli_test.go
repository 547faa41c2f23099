package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/adrg/xdg"

	pb "likeness/models/onnxpb"
	"likeness/models/synth"
	"likeness/ort"
)

// The command-line tests run the real commands (run, not a subprocess) on
// analytic packs written by models/synth at resolution 64, so each edit
// takes milliseconds. Photos are drawn here or come from shared/testimages.

func TestMain(m *testing.M) {
	if err := ort.Init(""); err != nil {
		fmt.Fprintln(os.Stderr, "the cli tests need ONNX Runtime (run `make test`, or `bash packaging/install-ort.sh`):", err)
		os.Exit(1)
	}
	// Never touch the user's own pack store: every test that does not
	// choose a store gets an empty one.
	home, err := os.MkdirTemp("", "likeness-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_DATA_HOME", home)
	xdg.Reload()
	code := m.Run()
	os.RemoveAll(home)
	packs.Lock()
	for _, d := range packs.dirs {
		os.RemoveAll(filepath.Dir(d)) // the shared packs' temporary roots
	}
	packs.Unlock()
	os.Exit(code)
}

// result is one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// likeness runs the command line with args; a panic fails the test.
func likeness(t *testing.T, ctx context.Context, args ...string) (r result) {
	t.Helper()
	var out, errb bytes.Buffer
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("likeness %s panicked: %v\n%s", strings.Join(args, " "), p, debug.Stack())
		}
	}()
	r.code = run(ctx, &env{stdout: &out, stderr: &errb}, args)
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// must runs the command line and fails the test unless it exits 0.
func must(t *testing.T, args ...string) result {
	t.Helper()
	r := likeness(t, context.Background(), args...)
	if r.code != ExitOK {
		t.Fatalf("likeness %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// useStore points the default store at an empty folder for this test and
// returns the store's root.
func useStore(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Cleanup(xdg.Reload) // runs after Setenv's own cleanup restored the variable
	t.Setenv("XDG_DATA_HOME", home)
	xdg.Reload()
	return filepath.Join(home, "likeness", "packs")
}

var packs struct {
	sync.Mutex
	dirs map[string]string
}

// sharedPack is an analytic pack of the kind at resolution 64, written
// once per test binary: tests only read it.
func sharedPack(t *testing.T, kind string) string {
	t.Helper()
	packs.Lock()
	defer packs.Unlock()
	if d, ok := packs.dirs[kind]; ok {
		return d
	}
	root, err := os.MkdirTemp("", "likeness-pack-")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, kind)
	if _, err := synth.Write(dir, synth.Options{Kind: kind, Resolution: 64}); err != nil {
		t.Fatal(err)
	}
	if packs.dirs == nil {
		packs.dirs = map[string]string{}
	}
	packs.dirs[kind] = dir
	return dir
}

// newPack writes an analytic pack into a fresh folder (for tests that
// change it).
func newPack(t *testing.T, o synth.Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := synth.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writePhoto draws a w x h RGB gradient with a face-like disc as a PNG.
func writePhoto(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(40 + 180*x/w), uint8(60 + 150*y/h), 120, 255}
			dx, dy := x-w/2, y-h/2
			if dx*dx+dy*dy < (min(w, h)/3)*(min(w, h)/3) {
				c = color.NRGBA{230, 180, 150, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// stubModel is a valid ONNX model with the given inputs (unused) and
// outputs (constant zeros), all float32 with fixed dims.
func stubModel(ins, outs map[string][]int64) []byte {
	g := pb.NewGraph("stub")
	for name, dims := range ins {
		g.Input(name, pb.Float, pb.Fixed(dims...)...)
	}
	for name, dims := range outs {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		g.Init(name+"_const", pb.Float32s(dims, make([]float32, n)))
		g.Node("Identity", []string{name + "_const"}, []string{name})
		g.Output(name, pb.Float, pb.Fixed(dims...)...)
	}
	return g.Model(17)
}

func TestUsageAndExitCodes(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	photo := filepath.Join(t.TempDir(), "face.png")
	writePhoto(t, photo, 80, 80)
	out := filepath.Join(t.TempDir(), "out.png")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"help"}, ExitOK, ""},
		{"version", []string{"version"}, ExitOK, ""},
		{"unknown command", []string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{"mistyped photo", []string{"portriat.jpg"}, ExitFailed, "no such file: portriat.jpg"},
		{"mistyped photo, upper case", []string{"IMG_001.JPEG"}, ExitFailed, "no such file: IMG_001.JPEG"},
		{"mistyped path", []string{filepath.Join("photos", "face")}, ExitFailed, "no such file: " + filepath.Join("photos", "face")},
		{"a folder", []string{filepath.Dir(photo) + string(filepath.Separator)}, ExitFailed, "is a folder, not a photo"},
		{"unknown flag", []string{"edit", "--bogus"}, ExitUsage, "bogus"},
		{"flag help", []string{"edit", "-h"}, ExitOK, "-no-mask"},
		{"stray argument", []string{"edit", "--input", photo, "extra"}, ExitUsage, `unexpected argument "extra"`},
		{"missing input", []string{"edit", "--pack", pack}, ExitUsage, "--input is required"},
		{"mask missing out", []string{"mask", "--pack", pack, "--input", photo}, ExitUsage, "--out is required"},
		{"bad crop shape", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--crop", "1,2,3"}, ExitUsage, "--crop"},
		{"bad crop number", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--crop", "a,0,10,10"}, ExitUsage, "--crop"},
		{"negative crop", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--crop", "0,0,-5,10"}, ExitUsage, "--crop"},
		{"crop outside the photo", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--crop", "60,60,50,50"}, ExitFailed, "face.png"},
		{"lambda 2", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--lambda", "2"}, ExitUsage, "lambda"},
		{"zero steps", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--steps", "0"}, ExitUsage, "steps"},
		{"unknown direction", []string{"edit", "--pack", pack, "--input", photo, "--out", out, "--direction", "sleepy"}, ExitUsage, "sleepy"},
		{"bad provider", []string{"edit", "--pack", pack, "--input", photo, "--provider", "tpu"}, ExitUsage, "provider"},
		{"bad output format", []string{"edit", "--pack", pack, "--input", photo, "--out", filepath.Join(t.TempDir(), "x.gif")}, ExitUsage, "x.gif"},
		{"models install help", []string{"models", "install", "-h"}, ExitOK, "-replace"},
		{"models check help", []string{"models", "check", "-h"}, ExitOK, "-provider"},
		{"models remove help", []string{"models", "remove", "-h"}, ExitOK, "-packs"},
		{"models list help", []string{"models", "list", "-h"}, ExitOK, "-json"},
		{"models install unknown flag", []string{"models", "install", "--bogus", "x"}, ExitUsage, "bogus"},
		{"models without subcommand", []string{"models"}, ExitUsage, "subcommand"},
		{"models unknown subcommand", []string{"models", "polish"}, ExitUsage, "polish"},
		{"models check no dir", []string{"models", "check"}, ExitUsage, "DIR"},
		{"synth bad kind", []string{"models", "synth", "--out", filepath.Join(t.TempDir(), "p"), "--kind", "sdxl"}, ExitUsage, "sdxl"},
		{"missing photo", []string{"edit", "--pack", pack, "--input", filepath.Join(t.TempDir(), "nope.png"), "--out", out}, ExitFailed, "nope.png"},
		{"missing pack", []string{"edit", "--pack", filepath.Join(t.TempDir(), "nopack"), "--input", photo, "--out", out}, ExitFailed, "nopack"},
		{"no pack installed", []string{"edit", "--input", photo, "--out", out}, ExitUsage, "no pack is installed; install the starter packs with `likeness models install --starter`, or make the analytic demo pack with `likeness models synth`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := likeness(t, context.Background(), c.args...)
			if r.code != c.code {
				t.Fatalf("want exit %d, got %v", c.code, r)
			}
			if !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("stderr lacks %q: %v", c.stderr, r)
			}
		})
	}
	if exists(out) {
		t.Errorf("%s was written by a failing command", out)
	}
}

// syntheticOptions is the analytic pack the tests use: resolution 64.
func syntheticOptions(kind string) synth.Options {
	return synth.Options{Kind: kind, Resolution: 64}
}

// writeModel replaces the ONNX file of a role.
func writeModel(t *testing.T, dir, role string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, role, "model.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editManifest rewrites a pack's likeness.json through fn.
func editManifest(t *testing.T, dir string, fn func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "likeness.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpensWindow: main opens the desktop app for no arguments or one
// existing photo, and runs everything else headless.
func TestOpensWindow(t *testing.T) {
	photo := filepath.Join(t.TempDir(), "face.png")
	writePhoto(t, photo, 8, 8)
	cases := []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{photo}, true},
		{[]string{"version"}, false},
		{[]string{"help"}, false},
		{[]string{"--help"}, false},
		{[]string{filepath.Join(t.TempDir(), "nope.png")}, false}, // Main says "no such file"
		{[]string{filepath.Dir(photo)}, false},                    // a folder: Main says so
		{[]string{photo, "extra"}, false},
		{[]string{"edit", "--input", photo}, false},
	}
	for _, c := range cases {
		if got := OpensWindow(c.args); got != c.want {
			t.Errorf("OpensWindow(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
