package models

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	return &Store{Root: filepath.Join(t.TempDir(), "packs")}
}

// assertInstalled checks that the pack in dir holds exactly files.
func assertInstalled(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: got %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}
}

func TestInstallFromFolder(t *testing.T) {
	src := filepath.Join(t.TempDir(), "download")
	files := goodPack(t, src, "Cartoon expressions")
	writeFile(t, filepath.Join(src, ".DS_Store"), []byte("junk"))
	s := newStore(t)
	var events []Progress
	p, err := s.Install(context.Background(), src, InstallOptions{Progress: func(pr Progress) error {
		events = append(events, pr)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(s.Root, "cartoon-expressions")
	if p.Dir != want || p.Name != "Cartoon expressions" || p.Kind() != KindMCDM {
		t.Errorf("got %+v", p)
	}
	assertRoot(t, s.Root, "cartoon-expressions")
	assertInstalled(t, want, files)
	if _, err := os.Stat(filepath.Join(want, ".DS_Store")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(".DS_Store was copied: %v", err)
	}
	// Progress: per file in both phases, ending with Done == Total.
	seen := map[string]map[string]bool{"copy": {}, "verify": {}}
	last := map[string]Progress{}
	for _, e := range events {
		if seen[e.Phase] == nil {
			t.Fatalf("unexpected phase %q", e.Phase)
		}
		seen[e.Phase][e.File] = true
		if e.Done > e.Total {
			t.Errorf("progress %+v: done beyond total", e)
		}
		last[e.Phase] = e
	}
	for _, phase := range []string{"copy", "verify"} {
		if !seen[phase]["unet/model.onnx_data"] || !seen[phase]["image_projector/model.onnx"] {
			t.Errorf("%s: files reported %v", phase, seen[phase])
		}
		if l := last[phase]; l.Done != l.Total || l.Total == 0 {
			t.Errorf("%s: last progress %+v", phase, l)
		}
	}
	// The installed pack is found and checks out.
	got, err := s.Find("Cartoon expressions")
	if err != nil || got.Dir != want {
		t.Fatalf("Find = %+v, %v", got, err)
	}
	if err := got.CheckFiles(); err != nil {
		t.Error(err)
	}
}

func TestInstallFromZip(t *testing.T) {
	files := packFiles(KindIP2P)
	named := manifestFor(t, KindIP2P, "Costumes", map[string]any{"files": sums(files)})
	unnamed := manifestFor(t, KindIP2P, "", nil)
	cases := []struct {
		name     string
		entries  []zipEntry
		opts     InstallOptions
		wantDir  string
		wantName string
	}{
		{"root layout", zipFiles("", files, named), InstallOptions{}, "costumes", "Costumes"},
		{"one top folder", append([]zipEntry{{name: "costume-pack/", mode: fs.ModeDir | 0o755}},
			zipFiles("costume-pack/", files, named)...), InstallOptions{}, "costumes", "Costumes"},
		{"top folder with mac junk", append(zipFiles("x/", files, named),
			zipEntry{name: "__MACOSX/x/._unet", data: []byte("junk")},
			zipEntry{name: "x/.DS_Store", data: []byte("junk")}), InstallOptions{}, "costumes", "Costumes"},
		{"name from zip", zipFiles("", files, unnamed), InstallOptions{}, "my-pack-v2", "my-pack-v2"},
		{"name option", zipFiles("", files, named), InstallOptions{Name: "Mine 2"}, "Mine 2", "Costumes"},
		{"export without manifest", zipFiles("./", files, nil),
			InstallOptions{Probe: func(string) (int, error) { return 8, nil }}, "my-pack-v2", "my-pack-v2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			zipPath := filepath.Join(t.TempDir(), "My Pack v2.zip")
			writeZip(t, zipPath, c.entries)
			s := newStore(t)
			var phases []string
			c.opts.Progress = func(p Progress) error {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
				return nil
			}
			p, err := s.Install(context.Background(), zipPath, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Dir != filepath.Join(s.Root, c.wantDir) || p.Name != c.wantName || p.Kind() != KindIP2P {
				t.Errorf("got %+v", p)
			}
			assertRoot(t, s.Root, c.wantDir)
			assertInstalled(t, p.Dir, files)
			if _, err := os.Stat(filepath.Join(p.Dir, "__MACOSX")); err == nil {
				t.Error("__MACOSX was extracted")
			}
			if strings.Join(phases, ",") != "extract,verify" {
				t.Errorf("phases %v", phases)
			}
		})
	}
}

func TestInstallReplace(t *testing.T) {
	s := newStore(t)
	v1 := filepath.Join(t.TempDir(), "v1")
	goodPack(t, v1, "Faces")
	if _, err := s.Install(context.Background(), v1, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(t.TempDir(), "v2")
	files2 := packFiles(KindSD)
	makePack(t, v2, files2, manifestFor(t, KindSD, "Faces", nil))

	_, err := s.Install(context.Background(), v2, InstallOptions{})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"faces" is already installed`) {
		t.Fatalf("install over an existing pack: %v", err)
	}
	if p, err := Open(filepath.Join(s.Root, "faces")); err != nil || p.Kind() != KindMCDM {
		t.Fatalf("old pack damaged: %+v, %v", p, err)
	}
	assertRoot(t, s.Root, "faces")

	p, err := s.Install(context.Background(), v2, InstallOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind() != KindSD {
		t.Errorf("replaced pack kind %s", p.Kind())
	}
	assertRoot(t, s.Root, "faces")
	assertInstalled(t, p.Dir, files2)
	if _, err := os.Stat(filepath.Join(p.Dir, "image_encoder")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old pack's files left behind: %v", err)
	}
	// Replace also works when nothing is installed yet.
	s2 := newStore(t)
	if _, err := s2.Install(context.Background(), v2, InstallOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	assertRoot(t, s2.Root, "faces")
}

// rawZip writes one stored entry whose header declares `declared` bytes
// while the archive holds data.
func rawZip(t *testing.T, path string, prefix []zipEntry, name string, data []byte, declared uint64) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range prefix {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	h := &zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(len(data)), UncompressedSize64: declared}
	w, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func TestInstallRejectsBadSources(t *testing.T) {
	good := func(t *testing.T) (map[string][]byte, []byte) {
		files := packFiles(KindMCDM)
		return files, manifestFor(t, KindMCDM, "Bad", map[string]any{"files": sums(files)})
	}
	cases := []struct {
		name    string
		make    func(t *testing.T, dir string) string // returns the source path
		opts    InstallOptions
		wantErr error
		substr  []string
	}{
		{"missing file", func(t *testing.T, dir string) string {
			files := packFiles(KindMCDM)
			delete(files, "vae_decoder/model.onnx")
			makePack(t, dir, files, manifestFor(t, KindMCDM, "Bad", nil))
			return dir
		}, InstallOptions{}, ErrMissingFile, []string{`pack "Bad": missing vae_decoder/model.onnx`}},
		{"truncated with checksums", func(t *testing.T, dir string) string {
			files, m := good(t)
			files["unet/model.onnx"] = files["unet/model.onnx"][:10]
			makePack(t, dir, files, m)
			return dir
		}, InstallOptions{}, ErrChecksum, []string{`pack "Bad": unet/model.onnx has 10 bytes`, "expects 88"}},
		{"checksum mismatch", func(t *testing.T, dir string) string {
			files, m := good(t)
			files[TokenizerVocab] = []byte(`{"b</w>": 320}`)
			makePack(t, dir, files, m)
			return dir
		}, InstallOptions{}, ErrChecksum, []string{`pack "Bad": tokenizer/vocab.json has sha256`}},
		{"manifest wrong type", func(t *testing.T, dir string) string {
			makePack(t, dir, packFiles(KindSD), []byte(`{"format":1,"kind":"sd","defaults":{"steps":"20"}}`))
			return dir
		}, InstallOptions{}, ErrBadManifest, []string{`likeness.json: "defaults.steps": want a number, got string`}},
		{"symlink in folder", func(t *testing.T, dir string) string {
			files, m := good(t)
			makePack(t, dir, files, m)
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "tokenizer", "extra.txt")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, InstallOptions{}, ErrUnsafePath, []string{"extra.txt is a symbolic link"}},
		{"folder over MaxBytes", func(t *testing.T, dir string) string {
			files, m := good(t)
			makePack(t, dir, files, m)
			return dir
		}, InstallOptions{MaxBytes: 100}, ErrTooLarge, []string{"more than 100 bytes"}},
		{"zip ../evil", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, append(zipFiles("", files, m), zipEntry{name: "unet/../../evil", data: []byte("x")}))
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{`"unet/../../evil" leaves the pack folder`}},
		{"zip absolute path", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, append(zipFiles("", files, m), zipEntry{name: "/tmp/evil", data: []byte("x")}))
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{`"/tmp/evil" is an absolute path`}},
		{"zip drive letter", func(t *testing.T, dir string) string {
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, []zipEntry{{name: "C:/Windows/evil", data: []byte("x")}})
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{"is an absolute path"}},
		{"zip backslash", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, append(zipFiles("", files, m), zipEntry{name: `..\..\evil`, data: []byte("x")}))
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{"has a backslash"}},
		{"zip symlink", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, append(zipFiles("", files, m),
				zipEntry{name: "unet/weights", data: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}))
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{`"unet/weights" is a symbolic link`}},
		{"zip device file", func(t *testing.T, dir string) string {
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, []zipEntry{{name: "dev", mode: fs.ModeDevice | 0o644}})
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{`"dev" is a device file`}},
		{"zip bomb declared size", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			rawZip(t, zp, zipFiles("", files, m), "unet/model.onnx_data", []byte("tiny"), 20<<30)
			return zp
		}, InstallOptions{}, ErrTooLarge, []string{"declares 20.0 GiB", "zip bomb"}},
		{"zip over MaxBytes", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, zipFiles("", files, m))
			return zp
		}, InstallOptions{MaxBytes: 1000}, ErrTooLarge, []string{"more than 1000 bytes"}},
		{"zip entry bigger than declared", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			rawZip(t, zp, zipFiles("", files, m), "unet/model.onnx_data", bytes.Repeat([]byte("x"), 5000), 10)
			return zp
		}, InstallOptions{}, ErrTooLarge, []string{"unet/model.onnx_data holds more", "declares (10)"}},
		{"zip duplicate entry", func(t *testing.T, dir string) string {
			files, m := good(t)
			zp := filepath.Join(dir, "p.zip")
			writeZip(t, zp, append(zipFiles("", files, m), zipEntry{name: "unet/model.onnx", data: []byte("other")}))
			return zp
		}, InstallOptions{}, ErrUnsafePath, []string{"unet/model.onnx appears twice"}},
		{"not a zip", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "pack.zip")
			writeFile(t, p, []byte("not a zip at all"))
			return p
		}, InstallOptions{}, zip.ErrFormat, []string{"not a folder or a readable .zip"}},
		{"missing source", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "nope")
		}, InstallOptions{}, fs.ErrNotExist, nil},
		{"bad name", func(t *testing.T, dir string) string {
			files, m := good(t)
			makePack(t, dir, files, m)
			return dir
		}, InstallOptions{Name: "../escape"}, ErrUnsafePath, []string{`pack name "../escape"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			src := c.make(t, filepath.Join(t.TempDir(), "src"))
			p, err := s.Install(context.Background(), src, c.opts)
			if err == nil {
				t.Fatalf("installed %+v", p)
			}
			if !errors.Is(err, c.wantErr) {
				t.Errorf("got %v, want %v", err, c.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "install "+src+": ") {
				t.Errorf("error %q does not name the source", err)
			}
			for _, sub := range c.substr {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q lacks %q", err, sub)
				}
			}
			assertRoot(t, s.Root)
			if _, err := os.Stat(filepath.Join(filepath.Dir(s.Root), "evil")); err == nil {
				t.Error("a file escaped the store")
			}
		})
	}
}

func TestInstallCancelled(t *testing.T) {
	errStop := errors.New("user pressed cancel")
	cases := []struct {
		name    string
		zip     bool
		opts    func(cancel context.CancelFunc) InstallOptions
		wantErr error
	}{
		{"ctx during copy", false, func(cancel context.CancelFunc) InstallOptions {
			return InstallOptions{Progress: func(p Progress) error {
				if p.File == "unet/model.onnx" {
					cancel()
				}
				return nil
			}}
		}, context.Canceled},
		{"ctx during extract", true, func(cancel context.CancelFunc) InstallOptions {
			return InstallOptions{Progress: func(p Progress) error {
				if p.File == "text_encoder/model.onnx" {
					cancel()
				}
				return nil
			}}
		}, context.Canceled},
		{"ctx during verify", false, func(cancel context.CancelFunc) InstallOptions {
			return InstallOptions{Progress: func(p Progress) error {
				if p.Phase == "verify" && p.File != "" {
					cancel()
				}
				return nil
			}}
		}, context.Canceled},
		{"progress error", true, func(context.CancelFunc) InstallOptions {
			return InstallOptions{Progress: func(p Progress) error {
				if p.Done > 0 {
					return errStop
				}
				return nil
			}}
		}, errStop},
		{"cancelled before start", false, func(cancel context.CancelFunc) InstallOptions {
			cancel()
			return InstallOptions{}
		}, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			files := goodPack(t, src, "Faces")
			if c.zip {
				zp := src + ".zip"
				m, _ := os.ReadFile(filepath.Join(src, ManifestFile))
				writeZip(t, zp, zipFiles("", files, m))
				src = zp
			}
			s := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.Install(ctx, src, c.opts(cancel))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			assertRoot(t, s.Root)
		})
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Cartoon expressions": "cartoon-expressions",
		"  SD 1.5 (ONNX) ":    "sd-1-5-onnx",
		"Ausdrücke!":          "ausdrücke",
		"../../etc":           "etc",
		"":                    "",
		"---":                 "",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// cancelReader cancels its context after the first read.
type cancelReader struct {
	cancel context.CancelFunc
	reads  int
}

func (r *cancelReader) Read(b []byte) (int, error) {
	r.reads++
	r.cancel()
	return len(b), nil
}

// Cancellation is checked between the chunks of one big file.
func TestCopyChunksStopsMidFile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelReader{cancel: cancel}
	n, err := copyChunks(ctx, io.Discard, io.LimitReader(r, 1<<40), nil)
	if !errors.Is(err, context.Canceled) || r.reads != 1 || n != chunkSize {
		t.Errorf("copied %d bytes in %d reads, err %v; want one chunk then context.Canceled", n, r.reads, err)
	}
}

// Progress inside one file is throttled to about one report per 50 ms.
func TestReporterThrottles(t *testing.T) {
	var calls int
	rep := &reporter{fn: func(Progress) error { calls++; return nil }}
	rep.start("copy", 1000)
	if err := rep.file("a"); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		rep.add(1)
	}
	rep.done()
	// Two (file start, end) unless the machine stalls for 50 ms in between.
	if calls < 2 || calls > 20 {
		t.Errorf("%d reports for one file and 1000 quick chunks, want about 2", calls)
	}
	var nilRep *reporter
	if nilRep.file("x") != nil || nilRep.add(1) != nil || nilRep.done() != nil {
		t.Error("nil reporter reported")
	}
}
