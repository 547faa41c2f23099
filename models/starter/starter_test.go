package starter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"likeness/models"
	"likeness/models/synth"
	"likeness/ort"
)

func TestMain(m *testing.M) {
	// Checking the embedded packs' signatures reads their models.
	if err := ort.Init(""); err != nil {
		fmt.Fprintln(os.Stderr, "the starter tests need ONNX Runtime (run `make test`, or `bash packaging/install-ort.sh`):", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// synthSet writes an analytic pack at 64 px into root/packs/<folder> and
// returns the set over root, with a README beside the pack as the real
// folder has.
func synthSet(t *testing.T, folder, name string) (*Set, string) {
	t.Helper()
	root := t.TempDir()
	if _, err := synth.Write(filepath.Join(root, "packs", folder), synth.Options{Kind: "mcdm", Resolution: 64, Name: name}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "packs", "README.md"), []byte("starter packs"), 0o644); err != nil {
		t.Fatal(err)
	}
	return New(os.DirFS(root), "packs"), root
}

// mapFS copies a folder on disk into a MapFS.
func mapFS(t *testing.T, root string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func storeNames(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestInstallRoundTripAndIdempotent(t *testing.T) {
	set, _ := synthSet(t, "tiny-faces", "Tiny faces")
	packs, err := set.Packs()
	if err != nil || len(packs) != 1 {
		t.Fatalf("Packs = %+v, %v", packs, err)
	}
	if p := packs[0]; p.Name != "Tiny faces" || p.Folder != "tiny-faces" || p.Dir != "packs/tiny-faces" {
		t.Errorf("pack %+v", p)
	}
	st := &models.Store{Root: filepath.Join(t.TempDir(), "packs")}
	ctx := context.Background()
	res, err := set.InstallAll(ctx, st, nil)
	if err != nil || len(res) != 1 || res[0].Status != Installed {
		t.Fatalf("first install: %+v, %v", res, err)
	}
	p, err := models.Open(res[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckFiles(); err != nil {
		t.Errorf("installed pack: %v", err)
	}
	if _, err := models.CheckSignatures(p); err != nil {
		t.Errorf("installed pack: %v", err)
	}
	if got := storeNames(t, st.Root); strings.Join(got, ",") != "tiny-faces" {
		t.Errorf("store holds %v", got)
	}

	// Again: the same files are found, nothing is copied.
	unet := filepath.Join(res[0].Dir, "unet", "model.onnx")
	before, _ := os.Stat(unet)
	res, err = set.InstallAll(ctx, st, func(models.Progress) error { t.Error("second install copied files"); return nil })
	if err != nil || len(res) != 1 || res[0].Status != Unchanged {
		t.Fatalf("second install: %+v, %v", res, err)
	}
	if after, _ := os.Stat(unet); !os.SameFile(before, after) {
		t.Error("second install replaced the files")
	}

	// A changed installed file: the pack is replaced with the right one.
	if err := os.WriteFile(filepath.Join(res[0].Dir, "scheduler", "scheduler_config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = set.InstallAll(ctx, st, nil)
	if err != nil || res[0].Status != Updated {
		t.Fatalf("install over a changed pack: %+v, %v", res, err)
	}
	res, err = set.InstallAll(ctx, st, nil)
	if err != nil || res[0].Status != Unchanged {
		t.Fatalf("install after the update: %+v, %v", res, err)
	}
	if got := storeNames(t, st.Root); strings.Join(got, ",") != "tiny-faces" {
		t.Errorf("store holds %v", got)
	}
}

func TestInstallRefusesCorruptDigest(t *testing.T) {
	_, root := synthSet(t, "tiny", "Tiny")
	fsys := mapFS(t, root)
	f := fsys["packs/tiny/unet/model.onnx"]
	f.Data = append([]byte(nil), f.Data...)
	f.Data[len(f.Data)/2] ^= 0x55 // same size: only the SHA-256 tells
	set := New(fsys, "packs")
	st := &models.Store{Root: filepath.Join(t.TempDir(), "packs")}
	res, err := set.InstallAll(context.Background(), st, nil)
	if !errors.Is(err, models.ErrChecksum) || !strings.Contains(err.Error(), "unet/model.onnx") {
		t.Fatalf("want a checksum error naming unet/model.onnx, got %+v, %v", res, err)
	}
	if got := storeNames(t, st.Root); len(got) != 0 {
		t.Errorf("a refused install left %v", got)
	}
}

func TestPacksSkipsNonPacksAndReportsBadManifests(t *testing.T) {
	fsys := fstest.MapFS{
		"packs/README.md":               {Data: []byte("x")},
		"packs/notes/todo.txt":          {Data: []byte("x")},
		"packs/broken/likeness.json":    {Data: []byte(`{"format": 1, "kind": "mcdm", "resolution": "big"}`)},
		"packs/fine/likeness.json":      {Data: []byte(`{"format": 1, "kind": "mcdm"}`)},
		"packs/fine/unet/model.onnx":    {Data: []byte("x")},
		"elsewhere/other/likeness.json": {Data: []byte(`{"format": 1, "kind": "sd"}`)},
	}
	packs, err := New(fsys, "packs").Packs()
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "resolution") {
		t.Errorf("bad manifest: %v", err)
	}
	if len(packs) != 1 || packs[0].Name != "fine" {
		t.Errorf("packs %+v", packs)
	}
	if packs, err := New(fsys, "missing").Packs(); len(packs) != 0 || err != nil {
		t.Errorf("missing root: %v, %v", packs, err)
	}
}

// The packs committed to models/starter/packs: each parses, lists the
// size and digest of every file it holds, installs, and has the contract's
// signatures; together they stay within the 40 MB the repository allows.
func TestEmbeddedPacks(t *testing.T) {
	set := Embedded()
	packs, err := set.Packs()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	st := &models.Store{Root: filepath.Join(t.TempDir(), "packs")}
	for _, p := range packs {
		t.Run(p.Folder, func(t *testing.T) {
			err := fs.WalkDir(embedded, p.Dir, func(q string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				total += info.Size()
				rel := strings.TrimPrefix(q, p.Dir+"/")
				if _, ok := p.Manifest.Files[rel]; !ok && rel != models.ManifestFile {
					t.Errorf("%s is not listed in likeness.json's files", q)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := set.Install(context.Background(), st, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			ip, err := models.Open(r.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := models.CheckSignatures(ip); err != nil {
				t.Error(err)
			}
		})
	}
	if total > 40<<20 {
		t.Errorf("the starter packs hold %d bytes, more than 40 MB", total)
	}
}
