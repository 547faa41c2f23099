package models

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mj is a minimal valid manifest of kind mcdm with extra members appended.
func mj(extra string) string { return `{"format":1,"kind":"mcdm"` + extra + `}` }

func mustParse(t *testing.T, data string) *Manifest {
	t.Helper()
	m, err := ParseManifest([]byte(data), ManifestFile)
	if err != nil {
		t.Fatalf("ParseManifest(%s): %v", data, err)
	}
	return m
}

func TestParseManifestDefaults(t *testing.T) {
	want := &Manifest{
		Format: 1, Kind: KindMCDM, Resolution: 512, LatentFactor: 8, VAEScalingFactor: 0.18215,
		SpatialLatentScale: 1.0, NullSpatial: "black_image", NullImageTokens: "zeros",
		Prompts: Prompts{Source: "a {subject}, {source}", Target: "a {subject}, {target}"},
		Defaults: Defaults{S1: 3, S2: 3, S3: 5, Lambda: 0.2, Steps: 20, Scheduler: "unipc",
			MaskSeeds: 10, MaskNoiseSteps: 10, BlurKernel: 5,
			MaskNormalize: "normalize_then_blur", MaskGuidance: "eq3"},
	}
	got := mustParse(t, mj(""))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mcdm defaults:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(NewManifest(KindMCDM), want) {
		t.Errorf("NewManifest(mcdm) = %+v, want %+v", NewManifest(KindMCDM), want)
	}
	// An empty defaults object and nulls also take every default.
	got = mustParse(t, mj(`,"defaults":{},"resolution":null,"prompts":{"source":null}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty defaults/nulls:\n got %+v\nwant %+v", got, want)
	}
	for kind, null := range map[string]string{"ip2p": "zeros", "sd": "zeros", "mcdm": "black_image"} {
		m := mustParse(t, `{"format":1,"kind":"`+kind+`"}`)
		if m.NullSpatial != null {
			t.Errorf("kind %s: null_spatial default %q, want %q", kind, m.NullSpatial, null)
		}
		if m.Defaults.Lambda != 0.2 {
			t.Errorf("kind %s: lambda default %v, want 0.2", kind, m.Defaults.Lambda)
		}
	}
	// Fewer steps than the mask-noise default: the default follows steps.
	if m := mustParse(t, mj(`,"defaults":{"steps":4}`)); m.Defaults.MaskNoiseSteps != 4 {
		t.Errorf("steps 4: mask_noise_steps default %d, want 4", m.Defaults.MaskNoiseSteps)
	}
	// Directions: label defaults to id, target to label.
	m := mustParse(t, mj(`,"directions":[{"id":"angry"},{"id":"sad","label":"Very sad"}]`))
	wantDirs := []Direction{{"angry", "angry", "angry"}, {"sad", "Very sad", "Very sad"}}
	if !reflect.DeepEqual(m.Directions, wantDirs) {
		t.Errorf("directions = %+v, want %+v", m.Directions, wantDirs)
	}
}

func TestParseManifestContractExample(t *testing.T) {
	data, err := os.ReadFile("testdata/cartoon.likeness.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data, "cartoon.likeness.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "Cartoon expressions" || m.Kind != KindMCDM || m.Defaults.Lambda != 0.35 || m.LatentFactor != 8 ||
		m.Defaults.MaskNormalize != MaskNormalizeThenBlur || m.Defaults.MaskGuidance != MaskGuidanceEq3 ||
		len(m.Directions) != 4 || m.Source != "neutral expression" || len(m.Subjects) != 3 {
		t.Errorf("unexpected manifest %+v", m)
	}
	if fs := m.Files["unet/model.onnx"]; fs.Bytes != 123 || len(fs.SHA256) != 64 {
		t.Errorf("files = %+v", m.Files)
	}
	if got := m.SourcePrompt(""); got != "a person, neutral expression" {
		t.Errorf("SourcePrompt = %q", got)
	}
	d, ok := m.Direction("shocked")
	if !ok || d.Label != "Shocked" {
		t.Fatalf("Direction(shocked) = %+v, %v", d, ok)
	}
	if got := m.TargetPrompt("woman", d.Target); got != "a woman, shocked" {
		t.Errorf("TargetPrompt = %q", got)
	}
	if _, ok := m.Direction("bored"); ok {
		t.Error("Direction(bored) found")
	}
}

func TestParseManifestUnknownKeysIgnored(t *testing.T) {
	m := mustParse(t, mj(`,"future":{"x":[1,2]},"resolution":256,"defaults":{"steps":30,"eta":"x"},
		"directions":[{"id":"a","emoji":"😠"}],"files":{}`))
	if m.Resolution != 256 || m.Defaults.Steps != 30 || len(m.Directions) != 1 {
		t.Errorf("got %+v", m)
	}
}

func TestParseManifestWrongTypes(t *testing.T) {
	cases := []struct{ data, key, want string }{
		{`{"format":"1","kind":"mcdm"}`, "format", "want a number, got string"},
		{`{"format":1,"kind":3}`, "kind", "want a string, got number"},
		{mj(`,"name":true`), "name", "want a string, got boolean"},
		{mj(`,"resolution":"512"`), "resolution", "want a number, got string"},
		{mj(`,"resolution":512.5`), "resolution", "want a whole number, got 512.5"},
		{mj(`,"vae_scaling_factor":[0.18]`), "vae_scaling_factor", "want a number, got array"},
		{mj(`,"spatial_latent_scale":{}`), "spatial_latent_scale", "want a number, got object"},
		{mj(`,"null_spatial":0`), "null_spatial", "want a string, got number"},
		{mj(`,"null_image_tokens":false`), "null_image_tokens", "want a string, got boolean"},
		{mj(`,"prompts":"a {subject}"`), "prompts", "want an object, got string"},
		{mj(`,"prompts":{"source":1}`), "prompts.source", "want a string, got number"},
		{mj(`,"prompts":{"target":[]}`), "prompts.target", "want a string, got array"},
		{mj(`,"subjects":"person"`), "subjects", "want an array, got string"},
		{mj(`,"subjects":["man",2]`), "subjects[1]", "want a string, got number"},
		{mj(`,"source":{}`), "source", "want a string, got object"},
		{mj(`,"directions":{"id":"a"}`), "directions", "want an array, got object"},
		{mj(`,"directions":["angry"]`), "directions[0]", "want an object, got string"},
		{mj(`,"directions":[{"id":7}]`), "directions[0].id", "want a string, got number"},
		{mj(`,"directions":[{"id":"a","label":1}]`), "directions[0].label", "want a string, got number"},
		{mj(`,"directions":[{"id":"a","target":true}]`), "directions[0].target", "want a string, got boolean"},
		{mj(`,"defaults":[]`), "defaults", "want an object, got array"},
		{mj(`,"defaults":{"s1":"3"}`), "defaults.s1", "want a number, got string"},
		{mj(`,"defaults":{"s2":true}`), "defaults.s2", "want a number, got boolean"},
		{mj(`,"defaults":{"s3":[]}`), "defaults.s3", "want a number, got array"},
		{mj(`,"defaults":{"lambda":"0.3"}`), "defaults.lambda", "want a number, got string"},
		{mj(`,"defaults":{"steps":"20"}`), "defaults.steps", "want a number, got string"},
		{mj(`,"defaults":{"steps":20.5}`), "defaults.steps", "want a whole number, got 20.5"},
		{mj(`,"defaults":{"scheduler":1}`), "defaults.scheduler", "want a string, got number"},
		{mj(`,"defaults":{"mask_seeds":"10"}`), "defaults.mask_seeds", "want a number, got string"},
		{mj(`,"defaults":{"mask_noise_steps":{}}`), "defaults.mask_noise_steps", "want a number, got object"},
		{mj(`,"defaults":{"blur_kernel":"5"}`), "defaults.blur_kernel", "want a number, got string"},
		{mj(`,"files":[]`), "files", "want an object, got array"},
		{mj(`,"files":{"unet/model.onnx":"abc"}`), "files[unet/model.onnx]", "want an object, got string"},
		{mj(`,"files":{"unet/model.onnx":{"bytes":"1","sha256":""}}`), "files[unet/model.onnx].bytes", "want a number, got string"},
		{mj(`,"files":{"unet/model.onnx":{"bytes":1,"sha256":5}}`), "files[unet/model.onnx].sha256", "want a string, got number"},
	}
	for _, c := range cases {
		_, err := ParseManifest([]byte(c.data), ManifestFile)
		if err == nil {
			t.Errorf("%s: no error", c.data)
			continue
		}
		want := `likeness.json: "` + c.key + `": ` + c.want
		if err.Error() != want {
			t.Errorf("%s:\n got %q\nwant %q", c.data, err, want)
		}
		if !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: error %v does not match ErrBadManifest", c.data, err)
		}
	}
}

func TestParseManifestBadValues(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	cases := []struct{ data, key, want string }{
		{``, "", "empty or ends too soon"},
		{`{"format":1,`, "", "empty or ends too soon"},
		{`{"format":1 "kind":"sd"}`, "", "invalid JSON at line 1, column 13"},
		{"{\n\"format\": 1,\n\"kind\": 'sd'}", "", "invalid JSON at line 3, column 9"},
		{`[]`, "", "want a JSON object at the top level, got array"},
		{`{"format":1,"kind":"sd"} {}`, "", "line 1, column 26: extra data"},
		{`{"kind":"sd"}`, "format", "missing"},
		{`{"format":2,"kind":"sd"}`, "format", "format 2 is not supported"},
		{`{"format":1}`, "kind", "missing"},
		{`{"format":1,"kind":"sdxl"}`, "kind", `got "sdxl"`},
		{mj(`,"resolution":500`), "resolution", "multiple of latent_factor (8)"},
		{mj(`,"resolution":0`), "resolution", "got 0"},
		{mj(`,"resolution":-512`), "resolution", "got -512"},
		{mj(`,"resolution":8192`), "resolution", "got 8192"},
		{mj(`,"resolution":1e400`), "resolution", "out of range"},
		{mj(`,"vae_scaling_factor":0`), "vae_scaling_factor", "above 0"},
		{mj(`,"spatial_latent_scale":-1`), "spatial_latent_scale", "above 0"},
		{mj(`,"null_spatial":"black"`), "null_spatial", `got "black"`},
		{mj(`,"null_image_tokens":"mean"`), "null_image_tokens", `got "mean"`},
		{mj(`,"prompts":{"source":"a {person}"}`), "prompts.source", "unknown placeholder {person}"},
		{mj(`,"prompts":{"target":"a {subject"}`), "prompts.target", "unclosed {"},
		{mj(`,"prompts":{"target":"a subject}"}`), "prompts.target", "stray }"},
		{mj(`,"prompts":{"target":"{}"}`), "prompts.target", "unknown placeholder {}"},
		{mj(`,"subjects":[""]`), "subjects[0]", "non-empty"},
		{mj(`,"directions":[{"label":"x"}]`), "directions[0].id", "non-empty"},
		{mj(`,"directions":[{"id":" "}]`), "directions[0].id", "non-empty"},
		{mj(`,"directions":[{"id":"a"},{"id":"b"},{"id":"a"}]`), "directions[2].id", "already used by directions[0]"},
		{mj(`,"face_box":[0.3,0.2,0.7]`), "face_box", "got 3 numbers"},
		{mj(`,"face_box":[0.3,0.2,0.7,1.2]`), "face_box[3]", "from 0 to 1, got 1.2"},
		{mj(`,"face_box":[0.7,0.2,0.3,0.6]`), "face_box", "x0 < x1"},
		{mj(`,"face_box":"centre"`), "face_box", "want an array"},
		{mj(`,"face_box":[0.3,"a",0.7,0.6]`), "face_box[1]", "want a number"},
		{mj(`,"domain":3`), "domain", "want a string"},
		{mj(`,"defaults":{"s1":-1}`), "defaults.s1", "0 or more"},
		{mj(`,"defaults":{"s2":-0.5}`), "defaults.s2", "0 or more"},
		{mj(`,"defaults":{"s3":-3}`), "defaults.s3", "0 or more"},
		{mj(`,"defaults":{"lambda":-0.1}`), "defaults.lambda", "0 or more"},
		{mj(`,"defaults":{"lambda":1.5}`), "defaults.lambda", "from 0 to 1"},
		{mj(`,"defaults":{"steps":0}`), "defaults.steps", "from 1 to 1000"},
		{mj(`,"defaults":{"steps":1001}`), "defaults.steps", "from 1 to 1000"},
		{mj(`,"defaults":{"scheduler":""}`), "defaults.scheduler", "scheduler name"},
		{mj(`,"defaults":{"mask_seeds":0}`), "defaults.mask_seeds", "from 1 to"},
		{mj(`,"defaults":{"mask_noise_steps":0}`), "defaults.mask_noise_steps", "from 1 to steps (20)"},
		{mj(`,"defaults":{"steps":8,"mask_noise_steps":9}`), "defaults.mask_noise_steps", "from 1 to steps (8), got 9"},
		{mj(`,"defaults":{"blur_kernel":4}`), "defaults.blur_kernel", "odd"},
		{mj(`,"defaults":{"blur_kernel":0}`), "defaults.blur_kernel", "odd"},
		{mj(`,"defaults":{"blur_kernel":-3}`), "defaults.blur_kernel", "odd"},
		{mj(`,"latent_factor":"8"`), "latent_factor", "want a number, got string"},
		{mj(`,"latent_factor":4.5`), "latent_factor", "want a whole number"},
		{mj(`,"latent_factor":0`), "latent_factor", "power of two"},
		{mj(`,"latent_factor":1`), "latent_factor", "power of two"},
		{mj(`,"latent_factor":6`), "latent_factor", "power of two"},
		{mj(`,"latent_factor":-8`), "latent_factor", "power of two"},
		{mj(`,"latent_factor":128`), "latent_factor", "power of two"},
		{mj(`,"resolution":520,"latent_factor":16`), "resolution", "multiple of latent_factor (16)"},
		{mj(`,"resolution":100`), "resolution", "multiple of latent_factor (8)"},
		{mj(`,"defaults":{"mask_normalize":"blur"}`), "defaults.mask_normalize", `want "normalize_then_blur" or "blur_then_normalize", got "blur"`},
		{mj(`,"defaults":{"mask_normalize":""}`), "defaults.mask_normalize", "want"},
		{mj(`,"defaults":{"mask_normalize":1}`), "defaults.mask_normalize", "want a string, got number"},
		{mj(`,"defaults":{"mask_guidance":"EQ3"}`), "defaults.mask_guidance", `want "eq3" or "eq3_latent_blend", got "EQ3"`},
		{mj(`,"defaults":{"mask_guidance":["eq3"]}`), "defaults.mask_guidance", "want a string, got array"},
		{mj(`,"files":{"../evil":{"bytes":1,"sha256":"` + hash + `"}}`), "files[../evil]", "leaves the pack"},
		{mj(`,"files":{"/etc/passwd":{"bytes":1,"sha256":"` + hash + `"}}`), "files[/etc/passwd]", "absolute"},
		{mj(`,"files":{"C:/x":{"bytes":1,"sha256":"` + hash + `"}}`), "files[C:/x]", "absolute"},
		{mj(`,"files":{"unet\\model.onnx":{"bytes":1,"sha256":"` + hash + `"}}`), `files[unet\model.onnx]`, "backslash"},
		{mj(`,"files":{"unet//model.onnx":{"bytes":1,"sha256":"` + hash + `"}}`), "files[unet//model.onnx]", "not clean"},
		{mj(`,"files":{"":{"bytes":1,"sha256":"` + hash + `"}}`), "files[]", "empty path"},
		{mj(`,"files":{"a":{"bytes":-1,"sha256":"` + hash + `"}}`), "files[a].bytes", "0 or more"},
		{mj(`,"files":{"a":{"sha256":"` + hash + `"}}`), "files[a].bytes", "missing"},
		{mj(`,"files":{"a":{"bytes":1}}`), "files[a].sha256", "missing"},
		{mj(`,"files":{"a":{"bytes":1,"sha256":"abc"}}`), "files[a].sha256", "64 hex digits"},
		{mj(`,"files":{"a":{"bytes":1,"sha256":"` + strings.Repeat("zz", 32) + `"}}`), "files[a].sha256", "64 hex digits"},
	}
	for _, c := range cases {
		_, err := ParseManifest([]byte(c.data), "/p/likeness.json")
		if err == nil {
			t.Errorf("%s: no error", c.data)
			continue
		}
		var me *ManifestError
		if !errors.As(err, &me) || !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: error %v is not a ManifestError", c.data, err)
			continue
		}
		if me.File != "/p/likeness.json" || me.Key != c.key || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %q (key %q), want key %q and %q", c.data, err, me.Key, c.key, c.want)
		}
		if !strings.HasPrefix(err.Error(), "/p/likeness.json: ") {
			t.Errorf("%s: error %q does not name the file", c.data, err)
		}
	}
}

func TestParseManifestAcceptsEdgeValues(t *testing.T) {
	m := mustParse(t, mj(`,"resolution":64,"defaults":{"s1":0,"s2":0,"s3":0,"lambda":1,"steps":1,
		"mask_noise_steps":1,"mask_seeds":1,"blur_kernel":1},"null_spatial":"zeros",
		"files":{"unet/model.onnx_data":{"bytes":0,"sha256":"`+strings.Repeat("AB", 32)+`"}}`))
	if m.Resolution != 64 || m.Defaults.Lambda != 1 || m.Defaults.BlurKernel != 1 || m.NullSpatial != "zeros" {
		t.Errorf("got %+v", m)
	}
	if got := m.Files["unet/model.onnx_data"].SHA256; got != strings.Repeat("ab", 32) {
		t.Errorf("sha256 not lower-cased: %q", got)
	}
	if m := mustParse(t, mj(`,"face_box":[0.265,0.323,0.735,0.732],"domain":"cartoon portraits"`)); m.FaceBox == nil ||
		*m.FaceBox != (FaceBox{0.265, 0.323, 0.735, 0.732}) || m.Domain != "cartoon portraits" {
		t.Errorf("face_box/domain: got %v %q", m.FaceBox, m.Domain)
	} else {
		roundTrip(t, []byte(mj(`,"face_box":[0.265,0.323,0.735,0.732],"domain":"cartoon portraits"`)))
	}
	if m := mustParse(t, mj(`,"face_box":null`)); m.FaceBox != nil {
		t.Errorf("face_box null: got %v, want none", m.FaceBox)
	}
	if m := mustParse(t, mj(`,"resolution":5.12e2`)); m.Resolution != 512 {
		t.Errorf("5.12e2: resolution %d", m.Resolution)
	}
	for _, c := range []struct {
		data    string
		res, f  int
		norm    string
		guiding string
	}{
		{mj(`,"resolution":68,"latent_factor":4`), 68, 4, MaskNormalizeThenBlur, MaskGuidanceEq3},
		{mj(`,"resolution":128,"latent_factor":2`), 128, 2, MaskNormalizeThenBlur, MaskGuidanceEq3},
		{mj(`,"resolution":64,"latent_factor":64`), 64, 64, MaskNormalizeThenBlur, MaskGuidanceEq3},
		{mj(`,"latent_factor":16,"defaults":{"mask_normalize":"blur_then_normalize","mask_guidance":"eq3_latent_blend"}`),
			512, 16, MaskBlurThenNormalize, MaskGuidanceLatentBlend},
		{mj(`,"latent_factor":null,"defaults":{"mask_normalize":null,"mask_guidance":null}`), 512, 8, MaskNormalizeThenBlur, MaskGuidanceEq3},
	} {
		m := mustParse(t, c.data)
		if m.Resolution != c.res || m.LatentFactor != c.f || m.Defaults.MaskNormalize != c.norm || m.Defaults.MaskGuidance != c.guiding {
			t.Errorf("%s: resolution %d latent_factor %d mask %q %q", c.data, m.Resolution, m.LatentFactor, m.Defaults.MaskNormalize, m.Defaults.MaskGuidance)
		}
		roundTrip(t, []byte(c.data))
	}
}

func TestPrompts(t *testing.T) {
	m := mustParse(t, mj(`,"prompts":{"source":"photo of a {subject} in {source}","target":"photo of a {subject} in {target}, not {source}"},
		"source":"a suit","subjects":["man","woman"]`))
	if got := m.SourcePrompt(""); got != "photo of a man in a suit" {
		t.Errorf("SourcePrompt(\"\") = %q", got)
	}
	if got := m.SourcePrompt("child"); got != "photo of a child in a suit" {
		t.Errorf("SourcePrompt(child) = %q", got)
	}
	if got := m.TargetPrompt("woman", "a dress"); got != "photo of a woman in a dress, not a suit" {
		t.Errorf("TargetPrompt = %q", got)
	}
	// Substitution is one pass: placeholders inside values stay as written.
	if got := m.TargetPrompt("{target}", "x"); got != "photo of a {target} in x, not a suit" {
		t.Errorf("TargetPrompt with braces in subject = %q", got)
	}
}

func TestDefaultSubject(t *testing.T) {
	if got := mustParse(t, mj("")).DefaultSubject(); got != "person" {
		t.Errorf("no subjects: %q", got)
	}
	if got := mustParse(t, mj(`,"subjects":[]`)).DefaultSubject(); got != "person" {
		t.Errorf("empty subjects: %q", got)
	}
	if got := mustParse(t, mj(`,"subjects":["cat","dog"]`)).DefaultSubject(); got != "cat" {
		t.Errorf("subjects: %q", got)
	}
}

// A manifest written with json.Marshal parses back to the same value.
func TestManifestMarshalRoundTrip(t *testing.T) {
	data, _ := os.ReadFile("testdata/cartoon.likeness.json")
	for _, in := range []string{string(data), mj(""), `{"format":1,"kind":"sd","subjects":[]}`} {
		roundTrip(t, []byte(in))
	}
}

func roundTrip(t *testing.T, data []byte) {
	t.Helper()
	m, err := ParseManifest(data, ManifestFile)
	if err != nil {
		return
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %+v: %v", m, err)
	}
	m2, err := ParseManifest(out, ManifestFile)
	if err != nil {
		t.Fatalf("reparse %s: %v", out, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed the manifest:\n in %+v\nout %+v", m, m2)
	}
}

func FuzzParseManifest(f *testing.F) {
	data, _ := os.ReadFile("testdata/cartoon.likeness.json")
	f.Add(data)
	for _, s := range []string{
		mj(""), `{"format":1,"kind":"ip2p","defaults":{"steps":3}}`, `{}`, `[]`, `null`, `"x"`,
		mj(`,"directions":[{"id":"a"},{"id":"a"}]`), mj(`,"prompts":{"source":"{subject}{"}`),
		mj(`,"files":{"a/../b":{"bytes":1,"sha256":"x"}}`), mj(`,"resolution":1e999`),
		mj(`,"resolution":96,"latent_factor":32,"defaults":{"mask_normalize":"blur_then_normalize","mask_guidance":"eq3_latent_blend"}`),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data, ManifestFile)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error %v does not match ErrBadManifest", err)
			}
			return
		}
		if m.Format != 1 || !ValidLatentFactor(m.LatentFactor) || m.Resolution%m.LatentFactor != 0 || m.Resolution < 64 || m.Defaults.Steps < 1 ||
			!slices.Contains(MaskNormalizations, m.Defaults.MaskNormalize) || !slices.Contains(MaskGuidances, m.Defaults.MaskGuidance) ||
			m.Defaults.MaskNoiseSteps > m.Defaults.Steps || m.Defaults.BlurKernel%2 != 1 ||
			m.Defaults.Lambda < 0 || m.Defaults.Lambda > 1 {
			t.Fatalf("accepted an invalid manifest: %+v", m)
		}
		for name := range m.Files {
			if checkRelPath(name) != nil {
				t.Fatalf("accepted file path %q", name)
			}
		}
		_ = m.SourcePrompt("")
		_ = m.TargetPrompt("", "x")
		roundTrip(t, data)
	})
}
