package cli

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/models"
)

func TestModelsSynthAndCheck(t *testing.T) {
	useStore(t)
	for _, kind := range []string{"mcdm", "ip2p", "sd"} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "demo")
			must(t, "models", "synth", "--out", dir, "--resolution", "64", "--kind", kind)
			r := must(t, "models", "check", dir)
			want := []string{"pack Likeness demo (analytic, " + kind + "): ok", "kind:       " + kind, "resolution: 64 (latent 8, latent_factor 8)",
				"D=16", "unet batch: dynamic", "vae output: latent_sample",
				"input_ids", "last_hidden_state", "sample", "timestep", "encoder_hidden_states", "out_sample", "latent_sample"}
			roles := models.RequiredRoles(models.Kind(kind))
			if kind == "mcdm" {
				want = append(want, "K=4", "Dc=8", "pixel_values", "image_embeds", "latent", "image_tokens")
			}
			for _, w := range append(want, roles...) {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("models check output lacks %q:\n%s", w, r.stdout)
				}
			}
			// One "in" line per input and one "out" line per output of each model.
			if got, wantN := strings.Count(r.stdout, "      in  "), map[string]int{"mcdm": 9, "ip2p": 6, "sd": 6}[kind]; got != wantN {
				t.Errorf("%d input lines, want %d:\n%s", got, wantN, r.stdout)
			}
			// Synth refuses a folder that is not empty.
			if r := likeness(t, t.Context(), "models", "synth", "--out", dir, "--resolution", "64"); r.code != ExitFailed {
				t.Errorf("synth into a full folder: %v", r)
			}
		})
	}
	t.Run("into the store", func(t *testing.T) {
		store := useStore(t)
		r := must(t, "models", "synth", "--resolution", "64", "--kind", "sd")
		dir := filepath.Join(store, "likeness-demo-sd-64")
		if !strings.Contains(r.stdout, dir) {
			t.Errorf("synth without --out does not say where it wrote %s: %v", dir, r)
		}
		if r := must(t, "models", "list"); !strings.Contains(r.stdout, "likeness-demo-sd-64") {
			t.Errorf("models list does not show the pack synth wrote:\n%s", r.stdout)
		}
		if r := must(t, "models", "synth", "--resolution", "64", "--kind", "sd"); !strings.Contains(r.stdout, "already in the pack store") {
			t.Errorf("second synth: %v", r)
		}
		if got := synthFolder("mcdm", 512, 8); got != "likeness-demo" {
			t.Errorf("synthFolder of the defaults = %q, want the app's demo folder", got)
		}
		if got := synthFolder("ip2p", 256, 4); got != "likeness-demo-ip2p-256-f4" {
			t.Errorf("synthFolder = %q", got)
		}
	})
	t.Run("latent factor 4", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "demo")
		must(t, "models", "synth", "--out", dir, "--resolution", "64", "--latent-factor", "4")
		if r := must(t, "models", "check", dir); !strings.Contains(r.stdout, "resolution: 64 (latent 16, latent_factor 4)") {
			t.Errorf("models check output:\n%s", r.stdout)
		}
		r := must(t, "models", "check", "--json", dir)
		var rep struct {
			LatentFactor int `json:"latent_factor"`
			Latent       int `json:"latent"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.LatentFactor != 4 || rep.Latent != 16 {
			t.Errorf("report %+v (%v)", rep, err)
		}
		for _, f := range []string{"3", "1", "128"} {
			if r := likeness(t, t.Context(), "models", "synth", "--out", filepath.Join(t.TempDir(), "x"), "--latent-factor", f); r.code != ExitUsage || !strings.Contains(r.stderr, "--latent-factor "+f) {
				t.Errorf("--latent-factor %s: %v", f, r)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		r := must(t, "models", "check", "--json", sharedPack(t, "mcdm"))
		var rep struct {
			OK         bool   `json:"ok"`
			Kind       string `json:"kind"`
			Resolution int    `json:"resolution"`
			D, K, Dc   int
			Models     []struct{ Role string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if !rep.OK || rep.Kind != "mcdm" || rep.Resolution != 64 || rep.D != 16 || rep.K != 4 || rep.Dc != 8 || len(rep.Models) != 6 {
			t.Errorf("report %+v", rep)
		}
	})
}

func TestModelsCheckBroken(t *testing.T) {
	useStore(t)
	cases := []struct {
		name  string
		kind  string
		sums  bool // keep the manifest's checksums
		brk   func(t *testing.T, dir string)
		wants []string
	}{
		{"truncated unet", "mcdm", true, func(t *testing.T, dir string) {
			p := filepath.Join(dir, "unet", "model.onnx")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"unet/model.onnx", "truncated"}},
		{"4-channel unet in an mcdm pack", "mcdm", false, func(t *testing.T, dir string) {
			writeModel(t, dir, "unet", stubModel(
				map[string][]int64{"sample": {1, 4, 8, 8}, "timestep": {1}, "encoder_hidden_states": {1, 81, 16}},
				map[string][]int64{"out_sample": {1, 4, 8, 8}}))
		}, []string{"unet/model.onnx", `"sample"`, "want 8, got 4"}},
		{"vae at the wrong resolution", "sd", false, func(t *testing.T, dir string) {
			writeModel(t, dir, "vae_decoder", stubModel(
				map[string][]int64{"latent_sample": {1, 4, 8, 8}},
				map[string][]int64{"sample": {1, 3, 32, 32}}))
		}, []string{"vae_decoder/model.onnx", `"sample"`, "want 64, got 32"}},
		{"missing text encoder", "ip2p", false, func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "text_encoder")); err != nil {
				t.Fatal(err)
			}
		}, []string{"text_encoder/model.onnx", "missing"}},
		{"bad manifest", "sd", false, func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["resolution"] = 63 })
		}, []string{"likeness.json", "resolution"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := newPack(t, syntheticOptions(c.kind))
			if !c.sums {
				editManifest(t, dir, func(m map[string]any) { delete(m, "files") })
			}
			c.brk(t, dir)
			r := likeness(t, t.Context(), "models", "check", dir)
			if r.code != ExitFailed {
				t.Fatalf("want exit 1: %v", r)
			}
			for _, w := range c.wants {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %v", w, r)
				}
			}
		})
	}
}

func TestModelsInstallListRemove(t *testing.T) {
	root := useStore(t)
	r := must(t, "models", "list")
	if !strings.Contains(r.stdout, "no packs installed") {
		t.Errorf("empty store: %v", r)
	}
	src := newPack(t, syntheticOptions("ip2p"))
	r = must(t, "models", "install", src)
	if !strings.Contains(r.stdout, "installed Likeness demo (analytic, ip2p)") {
		t.Errorf("install: %v", r)
	}
	r = must(t, "models", "list")
	if !strings.Contains(r.stdout, "Likeness demo (analytic, ip2p)") || !strings.Contains(r.stdout, "ip2p") ||
		!strings.Contains(r.stdout, "angry,shocked,laughing,crying") || !strings.Contains(r.stdout, root) {
		t.Errorf("list after install: %v", r)
	}
	var list struct {
		Store string
		Packs []struct{ Name, Kind, Dir string }
	}
	r = must(t, "models", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	if list.Store != root || len(list.Packs) != 1 || list.Packs[0].Kind != "ip2p" {
		t.Fatalf("list --json: %+v", list)
	}

	// The installed pack is the default for edit.
	photo := filepath.Join(t.TempDir(), "p.png")
	writePhoto(t, photo, 64, 64)
	must(t, "edit", "--input", photo, "--out", filepath.Join(t.TempDir(), "e.png"), "--steps", "2", "--mask-seeds", "1")

	// Installing the same pack again is refused without --replace.
	if r := likeness(t, t.Context(), "models", "install", src); r.code != ExitFailed {
		t.Errorf("second install: %v", r)
	}
	must(t, "models", "install", "--replace", src)

	r = must(t, "models", "remove", "Likeness demo (analytic, ip2p)")
	if !strings.Contains(r.stdout, "removed") {
		t.Errorf("remove: %v", r)
	}
	r = must(t, "models", "list")
	if !strings.Contains(r.stdout, "no packs installed") {
		t.Errorf("list after remove: %v", r)
	}
	assertEmpty(t, root)
	if r := likeness(t, t.Context(), "models", "remove", "Likeness demo (analytic, ip2p)"); r.code != ExitFailed {
		t.Errorf("removing twice: %v", r)
	}
}

func TestModelsInstallRefusesBadSignature(t *testing.T) {
	root := useStore(t)
	src := newPack(t, syntheticOptions("mcdm"))
	editManifest(t, src, func(m map[string]any) { delete(m, "files") })
	writeModel(t, src, "unet", stubModel(
		map[string][]int64{"sample": {1, 4, 8, 8}, "timestep": {1}, "encoder_hidden_states": {1, 81, 16}},
		map[string][]int64{"out_sample": {1, 4, 8, 8}}))
	r := likeness(t, t.Context(), "models", "install", src)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "unet/model.onnx") || !strings.Contains(r.stderr, "removed again") {
		t.Fatalf("want exit 1 naming unet/model.onnx: %v", r)
	}
	assertEmpty(t, root)
}

func TestModelsInstallRefusesEscapingZip(t *testing.T) {
	root := useStore(t)
	src := newPack(t, syntheticOptions("sd"))
	tmp := t.TempDir()
	zipPath := filepath.Join(tmp, "sub", "evil.zip")
	if err := os.MkdirAll(filepath.Dir(zipPath), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		add(filepath.ToSlash(rel), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	add("../evil", []byte("gotcha"))
	add("../../evil", []byte("gotcha"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	r := likeness(t, t.Context(), "models", "install", zipPath)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "evil") {
		t.Fatalf("want exit 1 naming the bad entry: %v", r)
	}
	assertEmpty(t, root)
	for _, p := range []string{filepath.Join(tmp, "evil"), filepath.Join(tmp, "sub", "evil"), filepath.Join(filepath.Dir(root), "evil"), filepath.Join(root, "evil")} {
		if exists(p) {
			t.Errorf("%s was written", p)
		}
	}
	r = must(t, "models", "list")
	if !strings.Contains(r.stdout, "no packs installed") {
		t.Errorf("list after the refused install: %v", r)
	}
}

// assertEmpty checks that the store root holds nothing (not even a
// temporary folder); a missing root is empty.
func assertEmpty(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("store root holds %s", e.Name())
	}
}

// `likeness models -h` prints the subcommands and succeeds, like every
// other -h.
func TestModelsHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "help"} {
		r := must(t, "models", arg)
		for _, want := range []string{"list", "install PATH", "--starter", "check", "remove", "synth"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("models %s does not mention %q:\n%s", arg, want, r.stdout)
			}
		}
	}
}
