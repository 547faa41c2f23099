package models

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/models/synth"
)

// FuzzCheckSignatures feeds arbitrary bytes as one model of an otherwise
// good pack (the analytic mcdm pack at 64) to the signature reader and
// checker: they read untrusted files. Whatever the bytes, the result is an
// error or a signature that holds together; never a panic. Seeds are the
// pack's own models.
func FuzzCheckSignatures(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "pack")
	if _, err := synth.Write(dir, synth.Options{Kind: "mcdm", Resolution: 64}); err != nil {
		f.Fatal(err)
	}
	roles := RequiredRoles(KindMCDM)
	for i, r := range roles {
		b, err := os.ReadFile(filepath.Join(dir, r, "model.onnx"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		if len(b) > 40 {
			f.Add(uint8(i), b[:len(b)/2]) // truncated
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		role := roles[int(which)%len(roles)]
		path := filepath.Join(dir, role, "model.onnx")
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, orig, 0o644) // inputs run one at a time per process
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := CheckSignatures(p)
		if err != nil {
			if !strings.Contains(err.Error(), p.Name) {
				t.Errorf("error %q does not name the pack", err)
			}
			return
		}
		if sig.Latent <= 0 || sig.Latent*sig.LatentFactor != sig.Resolution || sig.D <= 0 || len(sig.Models) != len(roles) {
			t.Errorf("accepted an inconsistent signature %+v", sig)
		}
	})
}

// FuzzInstallZip: arbitrary bytes as a .zip pack. Install either installs a
// pack whose files all lie inside its folder in the store, or fails and
// leaves the store as it was; never a panic. Seeds are a good pack, a pack
// in a top folder, and the hostile archives of the install tests.
func FuzzInstallZip(f *testing.F) {
	files := packFiles(KindIP2P)
	seed := func(entries []zipEntry) {
		p := filepath.Join(f.TempDir(), "seed.zip")
		writeZip(f, p, entries)
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	m := manifestFor(f, KindIP2P, "Fuzz", map[string]any{"files": sums(files)})
	seed(zipFiles("", files, m))
	seed(zipFiles("pack/", files, nil))
	seed(append(zipFiles("", files, m), zipEntry{name: "../evil", data: []byte("x")}))
	seed(append(zipFiles("", files, m), zipEntry{name: "unet/link", data: []byte("/etc"), mode: fs.ModeSymlink | 0o777}))
	seed(append(zipFiles("", files, m), zipEntry{name: "big", data: bytes.Repeat([]byte("x"), 10), compressed: 1 << 20}))
	f.Fuzz(func(t *testing.T, data []byte) {
		tmp := t.TempDir()
		src := filepath.Join(tmp, "pack.zip")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Store{Root: filepath.Join(tmp, "packs")}
		p, err := s.Install(context.Background(), src, InstallOptions{MaxBytes: 1 << 20})
		if err != nil {
			if entries, rerr := os.ReadDir(s.Root); rerr == nil && len(entries) > 0 {
				t.Fatalf("a failed install left %v in the store (%v)", entries, err)
			}
			return
		}
		if filepath.Dir(p.Dir) != s.Root {
			t.Fatalf("installed into %s, outside the store %s", p.Dir, s.Root)
		}
		err = filepath.WalkDir(s.Root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return errors.New(path + " is a symbolic link")
			}
			if rel, _ := filepath.Rel(p.Dir, path); path != s.Root && strings.HasPrefix(rel, "..") {
				return errors.New(path + " is outside the pack's folder")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
