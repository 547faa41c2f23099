package app

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"likeness/models/synth"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSamplesOpenFromReadOnlyCopy(t *testing.T) {
	one, two := pngBytes(t, 16, 16), pngBytes(t, 24, 24)
	fsys := fstest.MapFS{
		"s/README.md":        {Data: []byte("x")},
		"s/smiling-girl.png": {Data: one},
		"s/a_boy.PNG":        {Data: two},
	}
	if got := samplesIn(fsys, "s"); len(got) != 2 || got[0] != "a_boy.PNG" || got[1] != "smiling-girl.png" {
		t.Fatalf("samples %q", got)
	}
	if l := SampleLabel("smiling-girl.png"); l != "smiling girl" {
		t.Errorf("label %q", l)
	}
	// The built-in samples include two drawings nobody here made.
	if got := Samples(); !slices.Contains(got, "openclipart-signorina.png") || !slices.Contains(got, "openclipart-bad-guy.png") {
		t.Errorf("built-in samples %q lack the openclipart heads", got)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	p, err := samplePath(fsys, "s", cache, "smiling-girl.png")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, one) {
		t.Error("copy differs from the sample")
	}
	if st, _ := os.Stat(p); st.Mode().Perm()&0o222 != 0 {
		t.Errorf("copy is writable: %v", st.Mode())
	}
	doc, err := OpenPhoto(p)
	if err != nil || doc.Photo.Image.Bounds().Dx() != 16 {
		t.Fatalf("open the copy: %v", err)
	}
	// Again: the same file, untouched.
	st1, _ := os.Stat(p)
	if p2, err := samplePath(fsys, "s", cache, "smiling-girl.png"); err != nil || p2 != p {
		t.Fatalf("second call: %s, %v", p2, err)
	}
	if st2, _ := os.Stat(p); !os.SameFile(st1, st2) {
		t.Error("an identical copy was rewritten")
	}
	// Another build ships other bytes under that name: the copy follows.
	fsys["s/smiling-girl.png"] = &fstest.MapFile{Data: two}
	if _, err := samplePath(fsys, "s", cache, "smiling-girl.png"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, two) {
		t.Error("stale copy kept")
	}
	for _, bad := range []string{"README.md", "../x.png", "nope.png"} {
		if _, err := samplePath(fsys, "s", cache, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestInstallStarters(t *testing.T) {
	a, err := New(Options{Provider: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Store.Root, a.Store.Extra = filepath.Join(t.TempDir(), "store"), nil
	if _, err := a.InstallStarters(context.Background(), NewStarterSet(fstest.MapFS{}, "packs"), nil); !errors.Is(err, ErrNoStarters) {
		t.Errorf("empty set: %v", err)
	}
	root := t.TempDir()
	if _, err := synth.Write(filepath.Join(root, "packs", "tiny"), synth.Options{Resolution: 64, Name: "Tiny"}); err != nil {
		t.Fatal(err)
	}
	set := NewStarterSet(os.DirFS(root), "packs")
	if !HasStarters(set) || HasStarters(NewStarterSet(fstest.MapFS{}, ".")) {
		t.Error("HasStarters")
	}
	for _, want := range []StarterStatus{StarterInstalled, StarterUnchanged} {
		res, err := a.InstallStarters(context.Background(), set, nil)
		if err != nil || len(res) != 1 || res[0].Status != want {
			t.Fatalf("install: %+v, %v; want %v", res, err, want)
		}
	}
	if _, err := a.LoadPack(context.Background(), "Tiny", nil); err != nil {
		t.Error(err)
	}
}
