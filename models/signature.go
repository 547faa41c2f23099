package models

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"likeness/engine/ort"
)

// ErrSignature means a model's inputs or outputs do not follow the contract.
var ErrSignature = errors.New("model signature does not follow the contract")

// ModelSig is one model file's declared signature.
type ModelSig struct {
	Role    string
	Path    string
	Bytes   int64 // the .onnx plus any external data next to it
	Inputs  []ort.TensorInfo
	Outputs []ort.TensorInfo
}

// Signature is what the contract lets a pack choose, read from its models.
type Signature struct {
	Kind          Kind
	Resolution    int // H = W
	LatentFactor  int // f, the VAE's spatial downsampling
	Latent        int // h = w = H/f
	UNetChannels  int
	D             int // text hidden size
	K             int // image tokens (mcdm)
	Dc            int // image embedding size (mcdm)
	BatchDynamic  bool
	EncoderOutput string // latent_sample or latent_parameters
	Models        []ModelSig
}

// Model returns the signature of one role.
func (s *Signature) Model(role string) (ModelSig, bool) {
	for _, m := range s.Models {
		if m.Role == role {
			return m, true
		}
	}
	return ModelSig{}, false
}

type sigCheck struct {
	pack, file string
	errs       []error
}

func (c *sigCheck) fail(format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("pack %s: %s: %w: %s", c.pack, c.file, ErrSignature, fmt.Sprintf(format, a...)))
}

// tensor finds a named tensor; want gives expected dims (0 = any, -2 = batch:
// dynamic or 1), and the returned dims are those the model fixed.
func (c *sigCheck) tensor(list []ort.TensorInfo, io, name string, float bool, want []int64) (ort.TensorInfo, bool) {
	for _, t := range list {
		if t.Name != name {
			continue
		}
		if float && !t.Type.IsFloat() {
			c.fail("%s %q: want float32 or float16, got %s", io, name, t.RawType)
			return t, false
		}
		if !float && !t.Type.IsInt() && !t.Type.IsFloat() {
			c.fail("%s %q: want an int or float type, got %s", io, name, t.RawType)
			return t, false
		}
		if want == nil {
			return t, true
		}
		if len(t.Shape) != len(want) {
			c.fail("%s %q: want rank %d %s, got %v", io, name, len(want), dimsString(want), t.Shape)
			return t, false
		}
		ok := true
		for i, w := range want {
			d := t.Shape[i]
			switch {
			case w == -2 && d != -1 && d != 1:
				c.fail("%s %q: batch dimension must be dynamic or 1, got %d", io, name, d)
				ok = false
			case w > 0 && d >= 0 && d != w:
				c.fail("%s %q: dimension %d: want %d, got %d (shape %v, want %s)", io, name, i, w, d, t.Shape, dimsString(want))
				ok = false
			}
		}
		return t, ok
	}
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = t.Name
	}
	c.fail("%s %q missing (the model has %v)", io, name, names)
	return ort.TensorInfo{}, false
}

func dimsString(want []int64) string {
	s := "["
	for i, w := range want {
		if i > 0 {
			s += ","
		}
		switch {
		case w == -2:
			s += "B"
		case w <= 0:
			s += "?"
		default:
			s += fmt.Sprint(w)
		}
	}
	return s + "]"
}

// known returns the dimension if the model fixed it, else fallback.
func known(t ort.TensorInfo, i int, fallback int) int {
	if i < len(t.Shape) && t.Shape[i] > 0 {
		return int(t.Shape[i])
	}
	return fallback
}

// CheckSignatures reads every model of the pack and checks it against the
// contract for the pack's kind, before any run. All problems are reported
// together, each naming the pack, the file and the tensor.
func CheckSignatures(p *Pack) (*Signature, error) {
	m := p.Manifest
	c := &sigCheck{pack: p.Name}
	type modelIO struct {
		ins, outs []ort.TensorInfo
		err       error
	}
	cache := map[string]modelIO{} // each file is read once
	readIO := func(role string) modelIO {
		r, ok := cache[role]
		if !ok {
			r.ins, r.outs, r.err = ort.ReadSignature(p.ModelPath(role))
			cache[role] = r
		}
		return r
	}
	res, f := m.Resolution, m.LatentFactor
	if !p.HasManifest {
		// Without likeness.json the VAE's fixed shapes, when it has them,
		// tell the resolution and latent_factor (a fixed 128-pixel VAE with
		// a 32×32 latent: 128 and 4); the defaults are the fallback.
		enc, dec := readIO(RoleVAEEncoder), readIO(RoleVAEDecoder)
		res, f = inferSpatial(c, enc.ins, enc.outs, dec.ins, dec.outs, res, f)
	}
	sig := &Signature{Kind: m.Kind, Resolution: res, LatentFactor: f, Latent: res / f}
	lat := int64(sig.Latent)
	read := func(role string) (ModelSig, bool) {
		path := p.ModelPath(role)
		c.file = role + "/model.onnx"
		r := readIO(role)
		ins, outs, err := r.ins, r.outs, r.err
		if err != nil {
			if errors.Is(err, ort.ErrNoLibrary) {
				c.errs = append(c.errs, err)
			} else {
				c.fail("%v", err)
			}
			return ModelSig{}, false
		}
		ms := ModelSig{Role: role, Path: path, Inputs: ins, Outputs: outs, Bytes: modelBytes(path)}
		sig.Models = append(sig.Models, ms)
		return ms, true
	}
	extraInputs := func(ms ModelSig, allowed ...string) {
		for _, t := range ms.Inputs {
			found := false
			for _, a := range allowed {
				found = found || t.Name == a
			}
			if !found {
				c.fail("unexpected input %q: the contract feeds only %v", t.Name, allowed)
			}
		}
	}

	// Text encoder: fixes D.
	if ms, ok := read("text_encoder"); ok {
		// Some exports also take attention_mask; the engine feeds all ones,
		// as the diffusers pipelines do (they pass no mask).
		extraInputs(ms, "input_ids", "attention_mask")
		if t, ok := c.tensor(ms.Inputs, "input", "input_ids", false, []int64{-2, 77}); ok && !t.Type.IsInt() {
			c.fail("input %q: want int32 or int64, got %s", "input_ids", t.RawType)
		}
		if t, ok := c.tensor(ms.Outputs, "output", "last_hidden_state", true, []int64{-2, 77, 0}); ok {
			sig.D = known(t, 2, 0)
		}
	}
	// UNet.
	wantC := int64(8)
	if m.Kind == KindSD {
		wantC = 4
	}
	if ms, ok := read("unet"); ok {
		extraInputs(ms, "sample", "timestep", "encoder_hidden_states")
		if t, ok := c.tensor(ms.Inputs, "input", "sample", true, []int64{-2, wantC, lat, lat}); ok {
			sig.UNetChannels = int(wantC)
			sig.BatchDynamic = t.Shape[0] == -1
		}
		batchOK := func(list []ort.TensorInfo, name string) bool {
			for _, t := range list {
				if t.Name == name {
					return len(t.Shape) > 0 && t.Shape[0] == -1
				}
			}
			return false
		}
		// Branches share one call only when every batched tensor allows it.
		sig.BatchDynamic = sig.BatchDynamic && batchOK(ms.Inputs, "encoder_hidden_states") && batchOK(ms.Outputs, "out_sample")
		t, ok := c.tensor(ms.Inputs, "input", "timestep", false, nil)
		if ok && len(t.Shape) == 1 && t.Shape[0] != -1 {
			sig.BatchDynamic = false
		}
		if ok && len(t.Shape) > 1 {
			c.fail("input %q: want a scalar or [B], got %v", "timestep", t.Shape)
		} else if ok && len(t.Shape) == 0 && t.Type == ort.Float16 {
			// onnxruntime_go cannot make a float16 scalar; [B] float16 works.
			c.fail("input %q: a float16 scalar timestep is not supported; export it as [B] (float16) or as a float32/int64 scalar", "timestep")
		}
		if t, ok := c.tensor(ms.Inputs, "input", "encoder_hidden_states", true, []int64{-2, 0, int64(sig.D)}); ok {
			if sig.D == 0 {
				sig.D = known(t, 2, 0)
			}
			if l := known(t, 1, 0); l > 0 {
				switch {
				case m.Kind != KindMCDM && l != 77:
					c.fail("input %q: want 77 text tokens for kind %s, got %d", "encoder_hidden_states", m.Kind, l)
				case m.Kind == KindMCDM && l <= 77:
					c.fail("input %q: want 77 text tokens plus K image tokens for kind mcdm, got %d", "encoder_hidden_states", l)
				case m.Kind == KindMCDM:
					sig.K = l - 77
				}
			}
		}
		c.tensor(ms.Outputs, "output", "out_sample", true, []int64{-2, 4, lat, lat})
	}
	// VAE.
	if ms, ok := read("vae_encoder"); ok {
		extraInputs(ms, "sample")
		c.tensor(ms.Inputs, "input", "sample", true, []int64{-2, 3, int64(res), int64(res)})
		switch {
		case hasTensor(ms.Outputs, "latent_sample"):
			sig.EncoderOutput = "latent_sample"
			c.tensor(ms.Outputs, "output", "latent_sample", true, []int64{-2, 4, lat, lat})
		case hasTensor(ms.Outputs, "latent_parameters"):
			sig.EncoderOutput = "latent_parameters"
			c.tensor(ms.Outputs, "output", "latent_parameters", true, []int64{-2, 8, lat, lat})
		default:
			c.fail("output \"latent_sample\" or \"latent_parameters\" missing")
		}
	}
	if ms, ok := read("vae_decoder"); ok {
		extraInputs(ms, "latent_sample")
		c.tensor(ms.Inputs, "input", "latent_sample", true, []int64{-2, 4, lat, lat})
		c.tensor(ms.Outputs, "output", "sample", true, []int64{-2, 3, int64(res), int64(res)})
	}
	if m.Kind == KindMCDM {
		if ms, ok := read("image_encoder"); ok {
			extraInputs(ms, "pixel_values")
			c.tensor(ms.Inputs, "input", "pixel_values", true, []int64{-2, 3, 224, 224})
			if t, ok := c.tensor(ms.Outputs, "output", "image_embeds", true, []int64{-2, 0}); ok {
				sig.Dc = known(t, 1, 0)
			}
		}
		if ms, ok := read("image_projector"); ok {
			extraInputs(ms, "latent", "image_embeds")
			c.tensor(ms.Inputs, "input", "latent", true, []int64{-2, 4, lat, lat})
			if t, ok := c.tensor(ms.Inputs, "input", "image_embeds", true, []int64{-2, int64(sig.Dc)}); ok && sig.Dc == 0 {
				sig.Dc = known(t, 1, 0)
			}
			if t, ok := c.tensor(ms.Outputs, "output", "image_tokens", true, []int64{-2, int64(sig.K), int64(sig.D)}); ok {
				if sig.K == 0 {
					sig.K = known(t, 1, 0)
				}
			}
		}
		if len(c.errs) == 0 && sig.Dc == 0 {
			c.file = "image_encoder/model.onnx"
			c.fail("the image embedding size Dc is fixed by neither image_embeds output nor the projector's input")
		}
		if len(c.errs) == 0 && sig.K == 0 {
			c.file = "unet/model.onnx"
			c.fail("the number of image tokens K is fixed by neither encoder_hidden_states nor image_tokens")
		}
	}
	if len(c.errs) == 0 && sig.D == 0 {
		c.file = "text_encoder/model.onnx"
		c.fail("the text hidden size D is fixed by neither last_hidden_state nor encoder_hidden_states")
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return sig, nil
}

// inferSpatial returns the resolution H and latent_factor f that the VAE's
// fixed spatial sizes imply: H from the encoder's input or the decoder's
// output, h from the encoder's latent or the decoder's input, f = H/h. What
// the models leave dynamic keeps the fallback (the contract's defaults); a
// ratio that is not a power of two is reported. The tensor checks that
// follow then make every model agree with the result.
func inferSpatial(c *sigCheck, encIn, encOut, decIn, decOut []ort.TensorInfo, res, f int) (int, int) {
	fixed := func(list []ort.TensorInfo, names ...string) int {
		for _, t := range list {
			if slices.Contains(names, t.Name) && len(t.Shape) == 4 {
				for _, d := range t.Shape[2:] {
					if d > 0 {
						return int(d)
					}
				}
			}
		}
		return 0
	}
	H, from := fixed(encIn, "sample"), RoleVAEEncoder
	if H == 0 {
		H, from = fixed(decOut, "sample"), RoleVAEDecoder
	}
	h := fixed(encOut, "latent_sample", "latent_parameters")
	if h == 0 {
		h = fixed(decIn, "latent_sample")
	}
	switch {
	case H > 0 && h > 0:
		if H%h != 0 || !ValidLatentFactor(H/h) {
			c.file = from + "/model.onnx"
			c.fail("the VAE maps %dx%d pixels to a %dx%d latent, and %d/%d is not a latent_factor the contract allows (a power of two from 2 to %d); add a %s that gives resolution and latent_factor",
				H, H, h, h, H, h, maxLatentFactor, ManifestFile)
			return res, f
		}
		return H, H / h
	case H > 0:
		if H%f != 0 {
			c.file = from + "/model.onnx"
			c.fail("the VAE takes %dx%d pixels, which the default latent_factor %d does not divide, and its latent size is not fixed; add a %s that gives latent_factor",
				H, H, f, ManifestFile)
		}
		return H, f
	case h > 0:
		return h * f, f
	}
	return res, f
}

func hasTensor(list []ort.TensorInfo, name string) bool {
	for _, t := range list {
		if t.Name == name {
			return true
		}
	}
	return false
}

// modelBytes counts the model file and external data files beside it.
func modelBytes(path string) int64 {
	var n int64
	if st, err := os.Stat(path); err == nil {
		n += st.Size()
	}
	if st, err := os.Stat(path + "_data"); err == nil {
		n += st.Size()
	}
	return n
}

// UNetChannels reads the UNet's sample channel count: the probe that infers
// the kind of a pack with no manifest.
func UNetChannels(unetPath string) (int, error) {
	ins, _, err := ort.ReadSignature(unetPath)
	if err != nil {
		return 0, err
	}
	for _, t := range ins {
		if t.Name == "sample" {
			if len(t.Shape) != 4 || t.Shape[1] <= 0 {
				return 0, fmt.Errorf("%s: input \"sample\" has shape %v; want [B,C,h,w] with fixed C", unetPath, t.Shape)
			}
			return int(t.Shape[1]), nil
		}
	}
	return 0, fmt.Errorf("%s: no input \"sample\"", unetPath)
}
