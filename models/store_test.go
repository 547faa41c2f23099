package models

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrg/xdg"
)

func TestDefaultStore(t *testing.T) {
	s := DefaultStore("/opt/packs")
	if want := filepath.Join(xdg.DataHome, "likeness", "packs"); s.Root != want {
		t.Errorf("Root = %q, want %q", s.Root, want)
	}
	if len(s.Extra) != 1 || s.Extra[0] != "/opt/packs" {
		t.Errorf("Extra = %q", s.Extra)
	}
}

// storeFixture builds a store: Root with packs "a" (named "Alpha"), broken
// "b" (no unet), leftovers that must stay hidden; an extra folder of packs
// with "c"; and an extra folder that is itself pack "d" (no manifest, sd).
func storeFixture(t *testing.T) *Store {
	t.Helper()
	tmp := t.TempDir()
	s := &Store{Root: filepath.Join(tmp, "packs"), Probe: func(string) (int, error) { return 4, nil }}
	goodPack(t, filepath.Join(s.Root, "a"), "Alpha")
	files := packFiles(KindSD)
	delete(files, "unet/model.onnx")
	makePack(t, filepath.Join(s.Root, "b"), files, manifestFor(t, KindSD, "Broken", nil))
	goodPack(t, filepath.Join(s.Root, ".install-123"), "Half installed")
	goodPack(t, filepath.Join(s.Root, ".old-xyz"), "Old")
	writeFile(t, filepath.Join(s.Root, "notes.txt"), []byte("not a pack"))
	extra := filepath.Join(tmp, "shared")
	goodPack(t, filepath.Join(extra, "c"), "Gamma")
	d := filepath.Join(tmp, "sd15-export")
	makePack(t, d, packFiles(KindSD), nil)
	s.Extra = []string{extra, d, s.Root}
	return s
}

func TestList(t *testing.T) {
	s := storeFixture(t)
	packs, errs := s.List()
	var names []string
	for _, p := range packs {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "Alpha,Gamma,sd15-export" {
		t.Errorf("packs %s, want Alpha,Gamma,sd15-export", got)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrMissingFile) || !strings.Contains(errs[0].Error(), `pack "Broken": missing unet/model.onnx`) {
		t.Errorf("errors %v, want one about the broken pack", errs)
	}
	// A missing extra folder is reported; a missing Root is just empty.
	s2 := &Store{Root: filepath.Join(t.TempDir(), "none"), Extra: []string{filepath.Join(t.TempDir(), "gone")}}
	packs, errs = s2.List()
	if len(packs) != 0 || len(errs) != 1 || !errors.Is(errs[0], os.ErrNotExist) {
		t.Errorf("missing folders: %v, %v", packs, errs)
	}
}

func TestFind(t *testing.T) {
	s := storeFixture(t)
	cases := map[string]string{
		"a":                            "Alpha", // folder name
		"Alpha":                        "Alpha", // manifest name
		"gamma":                        "Gamma", // manifest name, any case
		"c":                            "Gamma",
		"sd15-export":                  "sd15-export",
		filepath.Join(s.Extra[0], "c"): "Gamma", // a path
	}
	for q, want := range cases {
		p, err := s.Find(q)
		if err != nil || p.Name != want {
			t.Errorf("Find(%q) = %v, %v; want %s", q, p, err, want)
		}
	}
	for _, q := range []string{"Zeta", "", ".install-123"} {
		if p, err := s.Find(q); err == nil {
			t.Errorf("Find(%q) = %+v", q, p)
		}
	}
	if _, err := s.Find("Zeta"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `no pack named "Zeta"`) {
		t.Errorf("Find(Zeta): %v", err)
	}
	if _, err := s.Find("b"); !errors.Is(err, ErrMissingFile) {
		t.Errorf("Find(broken): %v", err)
	}
}

func TestRemove(t *testing.T) {
	s := storeFixture(t)
	if err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	assertRoot(t, s.Root, ".install-123", ".old-xyz", "b", "notes.txt")
	// By manifest name; a broken pack can be removed by folder name.
	goodPack(t, filepath.Join(s.Root, "z"), "Zeta")
	if err := s.Remove("Zeta"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("b"); err != nil {
		t.Fatal(err)
	}
	assertRoot(t, s.Root, ".install-123", ".old-xyz", "notes.txt")

	for _, name := range []string{"a", "Gamma", "c"} { // gone, or only in Extra
		if err := s.Remove(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Remove(%q): %v, want ErrNotFound", name, err)
		}
	}
	for _, name := range []string{"../shared", "/tmp", ".install-123", "", `..\x`} {
		if err := s.Remove(name); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("Remove(%q): %v, want ErrUnsafePath", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Extra[0], "c", ManifestFile)); err != nil {
		t.Errorf("extra pack touched: %v", err)
	}
}
