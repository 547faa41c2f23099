package models

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fixtures are built in t.TempDir(): a pack is the contract's layout
// with small stand-in files (only presence, sizes and digests are checked
// here; ONNX contents are checked by signature checks elsewhere).

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// packFiles returns the files of a pack of the kind, by slash path.
func packFiles(kind Kind) map[string][]byte {
	files := map[string][]byte{
		TokenizerVocab:  []byte(`{"a</w>": 320}`),
		TokenizerMerges: []byte("#version: 0.2\na b\n"),
		SchedulerConfig: []byte(`{"_class_name": "PNDMScheduler"}`),
	}
	for _, r := range RequiredRoles(kind) {
		files[r+"/model.onnx"] = []byte("fake onnx model for " + r + strings.Repeat(".", 64))
	}
	return files
}

// sums is the "files" member for the given files.
func sums(files map[string][]byte) map[string]any {
	out := map[string]any{}
	for name, data := range files {
		h := sha256.Sum256(data)
		out[name] = map[string]any{"bytes": len(data), "sha256": hex.EncodeToString(h[:])}
	}
	return out
}

// manifestFor is a valid manifest of the kind; set adds or replaces members.
func manifestFor(t testing.TB, kind Kind, name string, set map[string]any) []byte {
	t.Helper()
	m := map[string]any{"format": 1, "kind": string(kind), "name": name,
		"source":     "neutral expression",
		"directions": []any{map[string]any{"id": "angry", "target": "angry"}}}
	for k, v := range set {
		m[k] = v
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// makePack writes a complete pack into dir. With checksums, the manifest
// lists every model file (and an external data file) with its digest.
// manifest nil means no likeness.json.
func makePack(t *testing.T, dir string, files map[string][]byte, manifest []byte) {
	t.Helper()
	for name, data := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), data)
	}
	if manifest != nil {
		writeFile(t, filepath.Join(dir, ManifestFile), manifest)
	}
}

// goodPack writes an mcdm pack with checksums of every file into dir.
func goodPack(t *testing.T, dir, name string) map[string][]byte {
	t.Helper()
	files := packFiles(KindMCDM)
	files["unet/model.onnx_data"] = []byte(strings.Repeat("w", 3000))
	makePack(t, dir, files, manifestFor(t, KindMCDM, name, map[string]any{"files": sums(files)}))
	return files
}

type zipEntry struct {
	name string
	data []byte
	mode fs.FileMode // 0: regular 0644
	// compressed, when set, is the compressed size the directory claims
	// (the data is stored as is): a lie for zip bomb tests.
	compressed uint64
}

// zipFiles lays out a pack's files (plus manifest) as zip entries under prefix.
func zipFiles(prefix string, files map[string][]byte, manifest []byte) []zipEntry {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []zipEntry
	if manifest != nil {
		out = append(out, zipEntry{name: prefix + ManifestFile, data: manifest})
	}
	for _, n := range names {
		out = append(out, zipEntry{name: prefix + n, data: files[n]})
	}
	return out
}

func writeZip(t testing.TB, path string, entries []zipEntry) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		if e.compressed != 0 {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(e.data),
				CompressedSize64: e.compressed, UncompressedSize64: uint64(len(e.data))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(e.data); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// dirNames lists the names in dir (none when it does not exist).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// assertRoot checks that root holds exactly the named packs: no temporary
// folders, nothing half-installed.
func assertRoot(t *testing.T, root string, want ...string) {
	t.Helper()
	got := dirNames(t, root)
	if !slices.Equal(got, want) {
		t.Errorf("store root holds %q, want %q", got, want)
	}
}
