package models

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOpenWithManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cartoon")
	goodPack(t, dir, "Cartoon expressions")
	p, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Cartoon expressions" || !p.HasManifest || p.Kind() != KindMCDM || p.Dir != dir {
		t.Errorf("got %+v", p)
	}
	if got, want := p.ModelPath(RoleImageProjector), filepath.Join(dir, "image_projector", "model.onnx"); got != want {
		t.Errorf("ModelPath = %q, want %q", got, want)
	}
	if got, want := p.Path(TokenizerVocab), filepath.Join(dir, "tokenizer", "vocab.json"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	if err := p.CheckFiles(); err != nil {
		t.Errorf("CheckFiles: %v", err)
	}

	// Without a name in the manifest, the folder name.
	dir2 := filepath.Join(t.TempDir(), "plain")
	makePack(t, dir2, packFiles(KindIP2P), manifestFor(t, KindIP2P, "", nil))
	if p, err := Open(dir2); err != nil || p.Name != "plain" || p.Kind() != KindIP2P {
		t.Errorf("Open(plain) = %+v, %v", p, err)
	}
}

func TestRequiredRoles(t *testing.T) {
	base := []string{"text_encoder", "unet", "vae_encoder", "vae_decoder"}
	if got := RequiredRoles(KindSD); !slices.Equal(got, base) {
		t.Errorf("sd: %v", got)
	}
	if got := RequiredRoles(KindIP2P); !slices.Equal(got, base) {
		t.Errorf("ip2p: %v", got)
	}
	if got := RequiredRoles(KindMCDM); !slices.Equal(got, append(base, "image_encoder", "image_projector")) {
		t.Errorf("mcdm: %v", got)
	}
}

func TestOpenInfersKind(t *testing.T) {
	probe := func(ch int, err error) ChannelProbe {
		return func(unet string) (int, error) {
			if filepath.Base(filepath.Dir(unet)) != "unet" {
				t.Errorf("probe called with %s", unet)
			}
			return ch, err
		}
	}
	cases := []struct {
		name      string
		kind      Kind // files to write
		probe     ChannelProbe
		want      Kind
		wantErr   error
		errSubstr string
	}{
		{"ip2p", KindIP2P, probe(8, nil), KindIP2P, nil, ""},
		{"sd", KindSD, probe(4, nil), KindSD, nil, ""},
		{"mcdm needs manifest", KindMCDM, probe(8, nil), "", ErrNoManifest, "looks like an mcdm pack"},
		{"odd channels", KindSD, probe(9, nil), "", ErrNoManifest, "has 9 channels"},
		{"probe fails", KindSD, probe(0, errors.New("onnxruntime not found")), "", ErrNoManifest, "onnxruntime not found"},
		{"no probe", KindSD, nil, "", ErrNoManifest, "add a likeness.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "export")
			makePack(t, dir, packFiles(c.kind), nil)
			p, err := OpenWith(dir, OpenOptions{Probe: c.probe})
			if c.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Kind() != c.want || p.HasManifest || p.Name != "export" {
					t.Errorf("got %+v", p)
				}
				if !reflectEqualManifest(p.Manifest, NewManifest(c.want)) {
					t.Errorf("manifest %+v, want defaults", p.Manifest)
				}
				return
			}
			if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.errSubstr) || !strings.Contains(err.Error(), `"export"`) {
				t.Errorf("got %v, want %v containing %q and the pack name", err, c.wantErr, c.errSubstr)
			}
		})
	}
}

func reflectEqualManifest(a, b *Manifest) bool {
	return a.Kind == b.Kind && a.NullSpatial == b.NullSpatial && a.Defaults == b.Defaults && a.Resolution == b.Resolution
}

func TestOpenErrors(t *testing.T) {
	tmp := t.TempDir()
	if _, err := Open(filepath.Join(tmp, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
	file := filepath.Join(tmp, "file")
	writeFile(t, file, []byte("x"))
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("file: %v", err)
	}
	empty := filepath.Join(tmp, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := Open(empty); !errors.Is(err, ErrMissingFile) || !strings.Contains(err.Error(), "not a model pack") {
		t.Errorf("empty folder: %v", err)
	}
	// A manifest with a wrong type: the error names the pack, the file and the key.
	bad := filepath.Join(tmp, "bad")
	makePack(t, bad, packFiles(KindSD), []byte(`{"format":1,"kind":"sd","resolution":"512"}`))
	_, err := Open(bad)
	want := `pack "bad": ` + filepath.Join(bad, ManifestFile) + `: "resolution": want a number, got string`
	if !errors.Is(err, ErrBadManifest) || err == nil || err.Error() != want {
		t.Errorf("wrong type:\n got %v\nwant %s", err, want)
	}
}

func TestCheckFiles(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(t *testing.T, dir string, files map[string][]byte)
		wantErr error
		substr  []string
	}{
		{"missing unet", func(t *testing.T, dir string, _ map[string][]byte) {
			os.Remove(filepath.Join(dir, "unet", "model.onnx"))
		}, ErrMissingFile, []string{`pack "p"`, "missing unet/model.onnx"}},
		{"missing image encoder", func(t *testing.T, dir string, _ map[string][]byte) {
			os.RemoveAll(filepath.Join(dir, "image_encoder"))
		}, ErrMissingFile, []string{"missing image_encoder/model.onnx", "mcdm pack needs it"}},
		{"missing merges", func(t *testing.T, dir string, _ map[string][]byte) {
			os.Remove(filepath.Join(dir, "tokenizer", "merges.txt"))
		}, ErrMissingFile, []string{"missing tokenizer/merges.txt"}},
		{"empty vae decoder", func(t *testing.T, dir string, _ map[string][]byte) {
			writeFile(t, filepath.Join(dir, "vae_decoder", "model.onnx"), nil)
		}, ErrMissingFile, []string{"vae_decoder/model.onnx is empty"}},
		{"model is a folder", func(t *testing.T, dir string, _ map[string][]byte) {
			p := filepath.Join(dir, "text_encoder", "model.onnx")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, ErrMissingFile, []string{"text_encoder/model.onnx is not a regular file"}},
		{"missing external data", func(t *testing.T, dir string, _ map[string][]byte) {
			os.Remove(filepath.Join(dir, "unet", "model.onnx_data"))
		}, ErrMissingFile, []string{"missing unet/model.onnx_data", "likeness.json lists"}},
		{"truncated", func(t *testing.T, dir string, files map[string][]byte) {
			writeFile(t, filepath.Join(dir, "unet", "model.onnx_data"), files["unet/model.onnx_data"][:1000])
		}, ErrChecksum, []string{`pack "p"`, "unet/model.onnx_data has 1000 bytes", "expects 3000", "truncated"}},
		{"changed byte", func(t *testing.T, dir string, files map[string][]byte) {
			data := slices.Clone(files["vae_encoder/model.onnx"])
			data[3] ^= 1
			writeFile(t, filepath.Join(dir, "vae_encoder", "model.onnx"), data)
		}, ErrChecksum, []string{`pack "p"`, "vae_encoder/model.onnx has sha256 ", "expects "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			files := goodPack(t, dir, "")
			// Open first (it stats the files too), then break the pack.
			p, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			c.break_(t, dir, files)
			err = p.CheckFiles()
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			for _, s := range c.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestCheckFilesWithoutSums(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	makePack(t, dir, packFiles(KindSD), manifestFor(t, KindSD, "", nil))
	os.RemoveAll(filepath.Join(dir, "scheduler")) // optional
	p, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckFiles(); err != nil {
		t.Errorf("CheckFiles: %v", err)
	}
}
