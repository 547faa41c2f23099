package models

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// mapPack lays out a pack's files (plus manifest) in a MapFS under dir.
func mapPack(fsys fstest.MapFS, dir string, files map[string][]byte, manifest []byte) {
	for name, data := range files {
		fsys[dir+"/"+name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	if manifest != nil {
		fsys[dir+"/"+ManifestFile] = &fstest.MapFile{Data: manifest, Mode: 0o644}
	}
}

func TestInstallFS(t *testing.T) {
	files := packFiles(KindMCDM)
	fsys := fstest.MapFS{"README.md": {Data: []byte("starter packs")}}
	mapPack(fsys, "packs/faces", files, manifestFor(t, KindMCDM, "Cartoon faces", map[string]any{"files": sums(files)}))
	s := newStore(t)
	var phases []string
	p, err := s.InstallFS(context.Background(), fsys, "packs/faces", "embedded faces", InstallOptions{Progress: func(pr Progress) error {
		if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
			phases = append(phases, pr.Phase)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Cartoon faces" || p.Kind() != KindMCDM {
		t.Errorf("got %+v", p)
	}
	assertRoot(t, s.Root, "cartoon-faces")
	assertInstalled(t, p.Dir, files)
	if err := p.CheckFiles(); err != nil {
		t.Error(err)
	}
	if strings.Join(phases, ",") != "copy,verify" {
		t.Errorf("phases %v", phases)
	}
	// A second install is refused without Replace, and leaves the first.
	if _, err := s.InstallFS(context.Background(), fsys, "packs/faces", "embedded faces", InstallOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second install: %v", err)
	}
	assertRoot(t, s.Root, "cartoon-faces")
}

func TestInstallFSRefusesBadDigest(t *testing.T) {
	files := packFiles(KindMCDM)
	sum := sums(files)
	bad := map[string][]byte{}
	for k, v := range files {
		bad[k] = v
	}
	// Same size, other bytes: only the digest tells.
	u := []byte(string(files["unet/model.onnx"]))
	u[0] ^= 1
	bad["unet/model.onnx"] = u
	fsys := fstest.MapFS{}
	mapPack(fsys, "p", bad, manifestFor(t, KindMCDM, "Damaged", map[string]any{"files": sum}))
	s := newStore(t)
	_, err := s.InstallFS(context.Background(), fsys, "p", "p", InstallOptions{})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "unet/model.onnx") {
		t.Fatalf("want a checksum error naming the file, got %v", err)
	}
	assertRoot(t, s.Root) // nothing, not even a temporary folder

	// The root of the file system works too, and a missing folder fails.
	fsys = fstest.MapFS{}
	mapPack(fsys, ".", files, manifestFor(t, KindMCDM, "Root pack", nil))
	for k, f := range fsys {
		delete(fsys, k)
		fsys[strings.TrimPrefix(k, "./")] = f
	}
	if _, err := s.InstallFS(context.Background(), fsys, ".", "root", InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	assertRoot(t, s.Root, "root-pack")
	if _, err := s.InstallFS(context.Background(), fsys, "nope", "nope", InstallOptions{}); err == nil {
		t.Error("a missing folder installed")
	}
	// Cancelled before it starts: nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s2 := newStore(t)
	if _, err := s2.InstallFS(ctx, fsys, ".", "root", InstallOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled install: %v", err)
	}
	assertRoot(t, s2.Root)
}
