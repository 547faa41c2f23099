package models

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallRefusesZipBombs: a bomb is refused from the archive's
// directory, before any byte is unpacked, and nothing is left behind.
func TestInstallRefusesZipBombs(t *testing.T) {
	files := packFiles(KindMCDM)
	m := manifestFor(t, KindMCDM, "Bomb", nil)
	cases := []struct {
		name   string
		make   func(t *testing.T, path string)
		free   int64 // what the store's disk reports free (0: the real disk)
		substr []string
	}{
		{"zeros compress 1000:1", func(t *testing.T, path string) {
			// 64 MiB of zeros deflate to about 64 KB: the shape of the
			// 3 MB archive that held 3.2 GB.
			writeZip(t, path, append(zipFiles("", files, m), zipEntry{name: "unet/model.onnx_data", data: make([]byte, 64<<20)}))
		}, 0, []string{`"unet/model.onnx_data" declares 64.0 MiB`, "more than 50:1", "zip bomb"}},
		{"more than the disk holds", func(t *testing.T, path string) {
			writeZip(t, path, zipFiles("", files, m))
		}, 100 << 10, []string{"only 100.0 KiB is free on the disk of"}},
		{"entries sharing data", func(t *testing.T, path string) {
			writeZip(t, path, overlappingZip(t, zipFiles("", files, m)))
		}, 0, []string{"claim more compressed data than the archive", "zip bomb"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.free > 0 {
				old := diskFree
				diskFree = func(string) (int64, bool) { return c.free, true }
				t.Cleanup(func() { diskFree = old })
			}
			s := newStore(t)
			src := filepath.Join(t.TempDir(), "bomb.zip")
			c.make(t, src)
			var unpacked int64
			_, err := s.Install(context.Background(), src, InstallOptions{Progress: func(p Progress) error {
				if p.Phase == "extract" {
					unpacked = p.Done
				}
				return nil
			}})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Install: %v, want ErrTooLarge", err)
			}
			for _, s := range c.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if unpacked > 0 {
				t.Errorf("%d bytes were unpacked before the refusal", unpacked)
			}
			assertRoot(t, s.Root)
		})
	}
}

// overlappingZip adds an entry whose directory claims more compressed bytes
// than the archive has: what entries that share their data (the overlapping
// zip bomb) look like from the directory. archive/zip cannot write shared
// data itself.
func overlappingZip(t *testing.T, entries []zipEntry) []zipEntry {
	t.Helper()
	return append(entries, zipEntry{name: "extra/shared", data: bytes.Repeat([]byte("x"), 10), compressed: 1 << 30})
}

// TestInstallZipRatioRule: a real pack compresses far below the limit, and
// an entry under the size the rule starts at may compress any amount (the
// analytic demo's text encoder deflates 955:1).
func TestInstallZipRatioRule(t *testing.T) {
	files := packFiles(KindMCDM)
	files["text_encoder/model.onnx_data"] = make([]byte, 3<<20) // a 3 MiB, mostly zero table
	m := manifestFor(t, KindMCDM, "Ratio", map[string]any{"files": sums(files)})
	src := filepath.Join(t.TempDir(), "ok.zip")
	writeZip(t, src, zipFiles("", files, m))
	s := newStore(t)
	if _, err := s.Install(context.Background(), src, InstallOptions{}); err != nil {
		t.Fatalf("Install: %v", err)
	}
}

// TestDeclaredReader: an entry is written up to its declared size and not
// one byte further.
func TestDeclaredReader(t *testing.T) {
	var out bytes.Buffer
	n, err := io.Copy(&out, &declaredReader{r: bytes.NewReader(make([]byte, 5000)), left: 10})
	if !errors.Is(err, errOverDeclared) || n != 10 || out.Len() != 10 {
		t.Errorf("copied %d (%d written), %v; want 10 and errOverDeclared", n, out.Len(), err)
	}
	out.Reset()
	n, err = io.Copy(&out, &declaredReader{r: bytes.NewReader(make([]byte, 10)), left: 10})
	if err != nil || n != 10 {
		t.Errorf("exact size: %d, %v", n, err)
	}
}

func TestCheckArchive(t *testing.T) {
	zf := func(name string, comp, size uint64) entry {
		return entry{rel: name, size: int64(size), zf: &zip.File{FileHeader: zip.FileHeader{Name: name, CompressedSize64: comp, UncompressedSize64: size}}}
	}
	cases := []struct {
		name    string
		entries []entry
		archive int64
		ok      bool
	}{
		{"onnx weights 1.1:1", []entry{zf("w", 900<<20, 1000<<20)}, 901 << 20, true},
		{"small and very compressible", []entry{zf("w", 3<<10, 3<<20)}, 4 << 10, true},
		{"exactly 50:1", []entry{zf("w", 1<<20, 50<<20)}, 2 << 20, true},
		{"over 50:1", []entry{zf("w", 1<<20, 51<<20)}, 2 << 20, false},
		{"zero compressed size", []entry{zf("w", 0, 17<<20)}, 1 << 20, false},
		{"more compressed data than the archive", []entry{zf("a", 600, 600), zf("b", 600, 600)}, 1000, false},
	}
	for _, c := range cases {
		if err := checkArchive(c.entries, c.archive); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
