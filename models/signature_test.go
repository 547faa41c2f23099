package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "likeness/models/onnxpb"
	"likeness/models/synth"
	"likeness/ort"
)

// The signature tests read real ONNX files: analytic packs from
// models/synth, with single models replaced by small stub graphs written
// with models/onnxpb (the generator of every fixture is in this file).

func TestMain(m *testing.M) {
	if err := ort.Init(""); err != nil {
		fmt.Fprintln(os.Stderr, "the models tests need ONNX Runtime (run `make test`, or `bash packaging/install-ort.sh`):", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// synthPack writes an analytic pack into a new folder and returns it.
func synthPack(t *testing.T, o synth.Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := synth.Write(dir, o); err != nil {
		t.Fatalf("synth.Write(%+v): %v", o, err)
	}
	return dir
}

func TestCheckSignaturesSynth(t *testing.T) {
	cases := []struct {
		name string
		o    synth.Options
		// want
		kind    Kind
		res     int
		k, dc   int
		ch      int
		dynamic bool
		encOut  string
	}{
		{"mcdm", synth.Options{Kind: "mcdm", Resolution: 64}, KindMCDM, 64, 4, 8, 8, true, "latent_sample"},
		{"mcdm 128", synth.Options{Kind: "mcdm", Resolution: 128}, KindMCDM, 128, 4, 8, 8, true, "latent_sample"},
		{"mcdm fixed batch", synth.Options{Kind: "mcdm", Resolution: 64, FixedBatch: true}, KindMCDM, 64, 4, 8, 8, false, "latent_sample"},
		{"ip2p", synth.Options{Kind: "ip2p", Resolution: 64}, KindIP2P, 64, 0, 0, 8, true, "latent_sample"},
		{"ip2p fixed batch", synth.Options{Kind: "ip2p", Resolution: 64, FixedBatch: true}, KindIP2P, 64, 0, 0, 8, false, "latent_sample"},
		{"sd", synth.Options{Kind: "sd", Resolution: 64}, KindSD, 64, 0, 0, 4, true, "latent_sample"},
		{"sd fixed batch", synth.Options{Kind: "sd", Resolution: 64, FixedBatch: true}, KindSD, 64, 0, 0, 4, false, "latent_sample"},
		{"int32 ids", synth.Options{Kind: "mcdm", Resolution: 64, IDs32: true}, KindMCDM, 64, 4, 8, 8, true, "latent_sample"},
		{"float16", synth.Options{Kind: "mcdm", Resolution: 64, Float16: true}, KindMCDM, 64, 4, 8, 8, true, "latent_sample"},
		{"float16 fixed", synth.Options{Kind: "ip2p", Resolution: 64, Float16: true, FixedBatch: true}, KindIP2P, 64, 0, 0, 8, false, "latent_sample"},
		{"latent_parameters", synth.Options{Kind: "mcdm", Resolution: 64, LatentParameters: true}, KindMCDM, 64, 4, 8, 8, true, "latent_parameters"},
		{"scalar timestep", synth.Options{Kind: "mcdm", Resolution: 64, ScalarTimestep: true}, KindMCDM, 64, 4, 8, 8, true, "latent_sample"},
		{"int64 timestep", synth.Options{Kind: "ip2p", Resolution: 64, TimestepKind: "int64"}, KindIP2P, 64, 0, 0, 8, true, "latent_sample"},
		{"float16 timestep", synth.Options{Kind: "sd", Resolution: 64, TimestepKind: "float16"}, KindSD, 64, 0, 0, 4, true, "latent_sample"},
		{"nonlinear", synth.Options{Kind: "mcdm", Resolution: 64, Nonlinear: true}, KindMCDM, 64, 4, 8, 8, true, "latent_sample"},
		{"no manifest ip2p", synth.Options{Kind: "ip2p", Resolution: 512, NoManifest: true}, KindIP2P, 512, 0, 0, 8, true, "latent_sample"},
		{"no manifest sd", synth.Options{Kind: "sd", Resolution: 512, NoManifest: true, FixedBatch: true}, KindSD, 512, 0, 0, 4, false, "latent_sample"},
		// latent_factor from the manifest, or without one from the VAE's fixed shapes.
		{"latent factor 4", synth.Options{Kind: "mcdm", Resolution: 64, LatentFactor: 4}, KindMCDM, 64, 4, 8, 8, true, "latent_sample"},
		{"latent factor 16", synth.Options{Kind: "sd", Resolution: 128, LatentFactor: 16, FixedBatch: true}, KindSD, 128, 0, 0, 4, false, "latent_sample"},
		{"no manifest: 128 px, factor 4 inferred", synth.Options{Kind: "ip2p", Resolution: 128, LatentFactor: 4, NoManifest: true}, KindIP2P, 128, 0, 0, 8, true, "latent_sample"},
		{"no manifest: 256 px, factor 2 inferred from latent_parameters", synth.Options{Kind: "sd", Resolution: 256, LatentFactor: 2, NoManifest: true, LatentParameters: true}, KindSD, 256, 0, 0, 4, true, "latent_parameters"},
		{"no manifest: 64 px, default factor", synth.Options{Kind: "sd", Resolution: 64, NoManifest: true}, KindSD, 64, 0, 0, 4, true, "latent_sample"},
		{"no manifest: dynamic sizes fall back to 512 and 8", synth.Options{Kind: "ip2p", Resolution: 512, NoManifest: true, OptimumDims: true}, KindIP2P, 512, 0, 0, 8, true, "latent_sample"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := synthPack(t, c.o)
			p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
			if err != nil {
				t.Fatal(err)
			}
			if p.HasManifest == c.o.NoManifest {
				t.Errorf("HasManifest = %v with NoManifest %v", p.HasManifest, c.o.NoManifest)
			}
			if err := p.CheckFiles(); err != nil {
				t.Errorf("CheckFiles: %v", err)
			}
			sig, err := CheckSignatures(p)
			if err != nil {
				t.Fatalf("CheckSignatures: %v", err)
			}
			f := c.o.LatentFactor
			if f == 0 {
				f = 8
			}
			got := fmt.Sprintf("kind %s res %d factor %d latent %d C %d D %d K %d Dc %d dynamic %v encoder %s",
				sig.Kind, sig.Resolution, sig.LatentFactor, sig.Latent, sig.UNetChannels, sig.D, sig.K, sig.Dc, sig.BatchDynamic, sig.EncoderOutput)
			want := fmt.Sprintf("kind %s res %d factor %d latent %d C %d D %d K %d Dc %d dynamic %v encoder %s",
				c.kind, c.res, f, c.res/f, c.ch, synth.Hidden, c.k, c.dc, c.dynamic, c.encOut)
			if got != want {
				t.Errorf("signature\n got %s\nwant %s", got, want)
			}
			roles := RequiredRoles(c.kind)
			if len(sig.Models) != len(roles) {
				t.Errorf("%d models, want %d", len(sig.Models), len(roles))
			}
			for _, r := range roles {
				ms, ok := sig.Model(r)
				switch {
				case !ok:
					t.Errorf("no signature for %s", r)
				case ms.Path != p.ModelPath(r) || ms.Bytes <= 0 || len(ms.Inputs) == 0 || len(ms.Outputs) == 0:
					t.Errorf("%s: %+v", r, ms)
				}
			}
			if _, ok := sig.Model("nothing"); ok {
				t.Error("Model(nothing) found something")
			}
		})
	}
}

// tensorSpec is one input or output of a stub model; dims are fixed.
type tensorSpec struct {
	name string
	typ  pb.DataType
	dims []int64
}

// stubModel is a valid ONNX model with the given inputs (all unused) and
// outputs (constants of zeros): enough for ONNX Runtime to read its
// signature and even run it.
func stubModel(ins, outs []tensorSpec) []byte {
	g := pb.NewGraph("stub")
	for _, in := range ins {
		g.Input(in.name, in.typ, pb.Fixed(in.dims...)...)
	}
	for i, o := range outs {
		n := 1
		for _, d := range o.dims {
			n *= int(d)
		}
		var tn pb.Tensor
		switch o.typ {
		case pb.Float16:
			tn = pb.Float16s(o.dims, make([]float32, n))
		case pb.Int64:
			tn = pb.Int64s(o.dims, make([]int64, n))
		default:
			tn = pb.Float32s(o.dims, make([]float32, n))
		}
		c := fmt.Sprintf("const%d", i)
		g.Init(c, tn)
		g.Node("Identity", []string{c}, []string{o.name})
		g.Output(o.name, o.typ, pb.Fixed(o.dims...)...)
	}
	return g.Model(17)
}

// unetSpec returns the inputs and outputs of a correct analytic mcdm unet at
// latent size lat (batch fixed at 1).
func unetSpec(ch, lat, l, d int64) ([]tensorSpec, []tensorSpec) {
	return []tensorSpec{
			{"sample", pb.Float, []int64{1, ch, lat, lat}},
			{"timestep", pb.Float, []int64{1}},
			{"encoder_hidden_states", pb.Float, []int64{1, l, d}},
		}, []tensorSpec{
			{"out_sample", pb.Float, []int64{1, 4, lat, lat}},
		}
}

func replaceModel(t *testing.T, dir, role string, data []byte) {
	t.Helper()
	writeFile(t, filepath.Join(dir, role, "model.onnx"), data)
}

// editManifest rewrites likeness.json through fn.
func editManifest(t *testing.T, dir string, fn func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data)
}

// dropSums removes the manifest's checksums, so that a replaced model
// reaches the signature check.
func dropSums(t *testing.T, dir string) {
	editManifest(t, dir, func(m map[string]any) { delete(m, "files") })
}

func TestCheckSignaturesBadPacks(t *testing.T) {
	const name = "Broken pack"
	unet := func(ch, lat, l, d int64) []byte { return stubModel(unetSpec(ch, lat, l, d)) }
	cases := []struct {
		name   string
		kind   string
		res    int
		mutate func(t *testing.T, dir string)
		keep   bool   // keep the manifest's checksums
		stage  string // where the error must come: "open", "files" or "sig"
		err    error
		want   []string // substrings of the message besides the pack name
	}{
		{
			name: "truncated unet caught by checksums", kind: "mcdm", res: 64, keep: true, stage: "files", err: ErrChecksum,
			mutate: func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, "unet", "model.onnx")) },
			want:   []string{"unet/model.onnx", "truncated"},
		},
		{
			name: "truncated unet", kind: "mcdm", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, "unet", "model.onnx")) },
			want:   []string{"unet/model.onnx", "not a loadable onnx model"},
		},
		{
			name: "corrupt text encoder", kind: "ip2p", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				r := rand.New(rand.NewPCG(1, 2))
				b := make([]byte, 4096)
				for i := range b {
					b[i] = byte(r.UintN(256))
				}
				replaceModel(t, dir, "text_encoder", b)
			},
			want: []string{"text_encoder/model.onnx", "not a loadable onnx model"},
		},
		{
			name: "4-channel unet in an mcdm pack", kind: "mcdm", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) { replaceModel(t, dir, "unet", unet(4, 8, 81, 16)) },
			want:   []string{"unet/model.onnx", `"sample"`, "dimension 1: want 8, got 4"},
		},
		{
			name: "8-channel unet in an sd pack", kind: "sd", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) { replaceModel(t, dir, "unet", unet(8, 8, 77, 16)) },
			want:   []string{"unet/model.onnx", `"sample"`, "dimension 1: want 4, got 8"},
		},
		{
			name: "renamed sample", kind: "ip2p", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				ins, outs := unetSpec(8, 8, 77, 16)
				ins[0].name = "x"
				replaceModel(t, dir, "unet", stubModel(ins, outs))
			},
			want: []string{"unet/model.onnx", `input "sample" missing`, `unexpected input "x"`},
		},
		{
			name: "renamed output", kind: "sd", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				ins, outs := unetSpec(4, 8, 77, 16)
				outs[0].name = "noise_pred"
				replaceModel(t, dir, "unet", stubModel(ins, outs))
			},
			want: []string{"unet/model.onnx", `output "out_sample" missing`, "noise_pred"},
		},
		{
			name: "token width D differs", kind: "mcdm", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) { replaceModel(t, dir, "unet", unet(8, 8, 81, 32)) },
			want:   []string{"unet/model.onnx", `"encoder_hidden_states"`, "want 16, got 32"},
		},
		{
			name: "text tokens only in an mcdm unet", kind: "mcdm", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) { replaceModel(t, dir, "unet", unet(8, 8, 77, 16)) },
			want:   []string{"unet/model.onnx", `"encoder_hidden_states"`, "plus K image tokens"},
		},
		{
			name: "image tokens in an ip2p unet", kind: "ip2p", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) { replaceModel(t, dir, "unet", unet(8, 8, 81, 16)) },
			want:   []string{"unet/model.onnx", `"encoder_hidden_states"`, "want 77 text tokens"},
		},
		{
			name: "extra input", kind: "sd", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				ins, outs := unetSpec(4, 8, 77, 16)
				ins = append(ins, tensorSpec{"added_cond_kwargs", pb.Float, []int64{1, 6}})
				replaceModel(t, dir, "unet", stubModel(ins, outs))
			},
			want: []string{"unet/model.onnx", `unexpected input "added_cond_kwargs"`},
		},
		{
			name: "float input_ids", kind: "ip2p", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				replaceModel(t, dir, "text_encoder", stubModel(
					[]tensorSpec{{"input_ids", pb.Float, []int64{1, 77}}},
					[]tensorSpec{{"last_hidden_state", pb.Float, []int64{1, 77, 16}}}))
			},
			want: []string{"text_encoder/model.onnx", `"input_ids"`, "want int32 or int64"},
		},
		{
			name: "integer sample", kind: "sd", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				ins, outs := unetSpec(4, 8, 77, 16)
				ins[0].typ = pb.Int64
				replaceModel(t, dir, "unet", stubModel(ins, outs))
			},
			want: []string{"unet/model.onnx", `"sample"`, "want float32 or float16"},
		},
		{
			name: "wrong vae resolution", kind: "mcdm", res: 512, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				replaceModel(t, dir, "vae_encoder", stubModel(
					[]tensorSpec{{"sample", pb.Float, []int64{1, 3, 256, 256}}},
					[]tensorSpec{{"latent_sample", pb.Float, []int64{1, 4, 32, 32}}}))
			},
			want: []string{"vae_encoder/model.onnx", `input "sample"`, "want 512, got 256", `output "latent_sample"`, "want 64, got 32"},
		},
		{
			name: "vae without latent output", kind: "sd", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				replaceModel(t, dir, "vae_encoder", stubModel(
					[]tensorSpec{{"sample", pb.Float, []int64{1, 3, 64, 64}}},
					[]tensorSpec{{"latent_dist", pb.Float, []int64{1, 4, 8, 8}}}))
			},
			want: []string{"vae_encoder/model.onnx", "latent_sample", "latent_parameters"},
		},
		{
			name: "batch of 2", kind: "sd", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				replaceModel(t, dir, "vae_decoder", stubModel(
					[]tensorSpec{{"latent_sample", pb.Float, []int64{2, 4, 8, 8}}},
					[]tensorSpec{{"sample", pb.Float, []int64{2, 3, 64, 64}}}))
			},
			want: []string{"vae_decoder/model.onnx", `"latent_sample"`, "batch dimension must be dynamic or 1, got 2"},
		},
		{
			name: "image projector disagrees on K", kind: "mcdm", res: 64, stage: "sig", err: ErrSignature,
			mutate: func(t *testing.T, dir string) {
				replaceModel(t, dir, "image_projector", stubModel(
					[]tensorSpec{{"latent", pb.Float, []int64{1, 4, 8, 8}}, {"image_embeds", pb.Float, []int64{1, 8}}},
					[]tensorSpec{{"image_tokens", pb.Float, []int64{1, 5, 16}}}))
			},
			want: []string{"image_projector/model.onnx", `"image_tokens"`, "want 4, got 5"},
		},
		{
			name: "missing image_projector", kind: "mcdm", res: 64, stage: "open", err: ErrMissingFile,
			mutate: func(t *testing.T, dir string) {
				if err := os.RemoveAll(filepath.Join(dir, "image_projector")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"image_projector/model.onnx", "mcdm"},
		},
		{
			name: "mcdm without manifest", kind: "mcdm", res: 64, stage: "open", err: ErrNoManifest,
			mutate: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"image_projector", `"kind": "mcdm"`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := synthPack(t, synth.Options{Kind: c.kind, Resolution: c.res, Name: name, FixedBatch: true})
			if !c.keep {
				dropSums(t, dir)
			}
			c.mutate(t, dir)
			err := func() error {
				p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
				if err != nil || c.stage == "open" {
					return err
				}
				if err := p.CheckFiles(); err != nil || c.stage == "files" {
					return err
				}
				_, err = CheckSignatures(p)
				return err
			}()
			if err == nil {
				t.Fatalf("no error at stage %s", c.stage)
			}
			if !errors.Is(err, c.err) {
				t.Errorf("error is not %v: %v", c.err, err)
			}
			msg := err.Error()
			t.Log(msg)
			packName := name
			if c.stage == "open" && c.err == ErrNoManifest {
				packName = "pack" // no manifest: the folder name
			}
			for _, w := range append([]string{packName}, c.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func truncate(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data[:len(data)/2])
}

// TestInferSpatialRefusals: a pack without likeness.json whose VAE fixes
// shapes that no allowed latent_factor explains is refused with a message
// naming the file and the manifest key that would settle it.
func TestInferSpatialRefusals(t *testing.T) {
	vae := func(H, h int64) (enc, dec []byte) {
		return stubModel([]tensorSpec{{"sample", pb.Float, []int64{1, 3, H, H}}}, []tensorSpec{{"latent_sample", pb.Float, []int64{1, 4, h, h}}}),
			stubModel([]tensorSpec{{"latent_sample", pb.Float, []int64{1, 4, h, h}}}, []tensorSpec{{"sample", pb.Float, []int64{1, 3, H, H}}})
	}
	cases := []struct {
		name string
		H, h int64
		want []string
	}{
		{"ratio 3", 96, 32, []string{"vae_encoder/model.onnx", "96x96 pixels to a 32x32 latent", "latent_factor", ManifestFile}},
		{"ratio 1", 64, 64, []string{"vae_encoder/model.onnx", "64/64", "latent_factor"}},
		{"not a whole ratio", 128, 48, []string{"vae_encoder/model.onnx", "128/48", "latent_factor"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 64, NoManifest: true, FixedBatch: true})
			enc, dec := vae(c.H, c.h)
			replaceModel(t, dir, "vae_encoder", enc)
			replaceModel(t, dir, "vae_decoder", dec)
			replaceModel(t, dir, "unet", stubModel(unetSpec(4, c.h, 77, synth.Hidden))) // the UNet agrees with the VAE's latent
			p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
			if err != nil {
				t.Fatal(err)
			}
			_, err = CheckSignatures(p)
			if !errors.Is(err, ErrSignature) {
				t.Fatalf("err = %v, want ErrSignature", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
	// With a manifest nothing is inferred: the manifest's latent_factor rules.
	dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 64, FixedBatch: true, LatentFactor: 4})
	dropSums(t, dir)
	editManifest(t, dir, func(m map[string]any) { m["latent_factor"] = 8 })
	p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckSignatures(p); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "want 8, got 16") {
		t.Fatalf("a factor-4 pack whose manifest says 8: err = %v", err)
	}
}

// An Optimum export declares height, width and the sequence length as
// dynamic dimensions; the check accepts them and reads the rest.
func TestCheckSignaturesOptimumDynamicDims(t *testing.T) {
	dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 512, NoManifest: true})
	g := pb.NewGraph("unet")
	g.Input("sample", pb.Float, pb.Dim{Param: "batch_size"}, pb.Dim{Value: 4}, pb.Dim{Param: "height"}, pb.Dim{Param: "width"})
	g.Input("timestep", pb.Int64, pb.Dim{Param: "steps"})
	g.Input("encoder_hidden_states", pb.Float, pb.Dim{Param: "batch_size"}, pb.Dim{Param: "sequence_length"}, pb.Dim{Value: 16})
	g.Init("starts", pb.Int64s([]int64{1}, []int64{0}))
	g.Init("ends", pb.Int64s([]int64{1}, []int64{4}))
	g.Init("axes", pb.Int64s([]int64{1}, []int64{1}))
	g.Node("Slice", []string{"sample", "starts", "ends", "axes"}, []string{"out_sample"})
	g.Output("out_sample", pb.Float, pb.Dim{Param: "batch_size"}, pb.Dim{Value: 4}, pb.Dim{Param: "height"}, pb.Dim{Param: "width"})
	replaceModel(t, dir, "unet", g.Model(17))

	p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := CheckSignatures(p)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Kind != KindSD || sig.D != 16 || sig.UNetChannels != 4 || !sig.BatchDynamic {
		t.Errorf("signature %+v", sig)
	}
	unet, _ := sig.Model("unet")
	if s := unet.Inputs[0].Shape; len(s) != 4 || s[2] != -1 || s[3] != -1 {
		t.Errorf("sample shape %v, want height and width dynamic", s)
	}
}

// TestFloat16ScalarTimestepRefused: the Go binding cannot feed a float16
// scalar, so such a pack is refused up front with a clear reason.
func TestFloat16ScalarTimestepRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := synth.Write(dir, synth.Options{Kind: "sd", Resolution: 64, TimestepKind: "float16", ScalarTimestep: true}); err != nil {
		t.Fatal(err)
	}
	p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
	if err != nil {
		t.Fatal(err)
	}
	_, err = CheckSignatures(p)
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "unet/model.onnx") || !strings.Contains(err.Error(), "float16 scalar") {
		t.Fatalf("err = %v", err)
	}
}

// TestInferSpatialFromEveryModel: a pack without likeness.json whose VAE
// leaves its spatial sizes dynamic but whose UNet is fixed at a 32×32 latent
// is a 256-pixel pack (the default latent_factor 8), not refused against
// the default 512; models that disagree on a size are refused naming both;
// with every size dynamic the resolution falls back to 512.
func TestInferSpatialFromEveryModel(t *testing.T) {
	open := func(t *testing.T, dir string) (*Signature, error) {
		t.Helper()
		p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
		if err != nil {
			t.Fatal(err)
		}
		return CheckSignatures(p)
	}
	unetOf := func(t *testing.T, o synth.Options) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(synthPack(t, o), "unet", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Run("fixed unet, dynamic vae", func(t *testing.T) {
		dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 256, NoManifest: true, OptimumDims: true})
		replaceModel(t, dir, "unet", unetOf(t, synth.Options{Kind: "sd", Resolution: 256}))
		sig, err := open(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		if sig.Resolution != 256 || sig.LatentFactor != 8 || sig.Latent != 32 {
			t.Fatalf("resolution %d, factor %d, latent %d; want 256, 8, 32", sig.Resolution, sig.LatentFactor, sig.Latent)
		}
	})
	t.Run("unet and vae disagree", func(t *testing.T) {
		dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 64, NoManifest: true})
		replaceModel(t, dir, "unet", unetOf(t, synth.Options{Kind: "sd", Resolution: 128}))
		_, err := open(t, dir)
		if !errors.Is(err, ErrSignature) {
			t.Fatalf("err = %v, want ErrSignature", err)
		}
		for _, w := range []string{"disagree on the latent size", "vae_encoder", "unet input \"sample\"", "is 8", "is 16", ManifestFile} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("message lacks %q:\n%v", w, err)
			}
		}
	})
	t.Run("non-square", func(t *testing.T) {
		dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 64, NoManifest: true, FixedBatch: true})
		replaceModel(t, dir, "unet", stubModel([]tensorSpec{
			{"sample", pb.Float, []int64{1, 4, 8, 16}}, {"timestep", pb.Float, []int64{1}}, {"encoder_hidden_states", pb.Float, []int64{1, 77, 16}},
		}, []tensorSpec{{"out_sample", pb.Float, []int64{1, 4, 8, 16}}}))
		if _, err := open(t, dir); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "8x16") {
			t.Fatalf("err = %v, want a refusal of the 8x16 sample", err)
		}
	})
	t.Run("all dynamic", func(t *testing.T) {
		dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 512, NoManifest: true, OptimumDims: true})
		sig, err := open(t, dir)
		if err != nil || sig.Resolution != 512 || sig.LatentFactor != 8 {
			t.Fatalf("sig %+v, err %v; want the defaults 512 and 8", sig, err)
		}
	})
}

// TestVAERandomDetected: a vae_encoder that returns latent_dist.sample()
// (a random node in the graph) is reported in the signature; one that
// returns the mean is not.
func TestVAERandomDetected(t *testing.T) {
	for _, c := range []struct {
		sampling, op string
	}{{"", ""}, {"normal", "RandomNormalLike"}, {"uniform", "RandomUniformLike"}} {
		t.Run(c.sampling, func(t *testing.T) {
			dir := synthPack(t, synth.Options{Kind: "sd", Resolution: 64, SamplingVAE: c.sampling})
			p, err := OpenWith(dir, OpenOptions{Probe: UNetChannels})
			if err != nil {
				t.Fatal(err)
			}
			sig, err := CheckSignatures(p)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.op == "" && len(sig.VAERandom) != 0:
				t.Fatalf("a mean-returning VAE reported random nodes %v", sig.VAERandom)
			case c.op != "" && (len(sig.VAERandom) != 1 || sig.VAERandom[0].Op != c.op):
				t.Fatalf("random nodes %v, want one %s", sig.VAERandom, c.op)
			}
		})
	}
}
