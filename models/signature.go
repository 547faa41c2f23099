package models

import (
	"errors"
	"fmt"
	"os"

	"likeness/models/onnxpb"
	"likeness/ort"
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
	// VAERandom lists the vae_encoder's random nodes: an export of
	// latent_dist.sample() instead of the mean (older Optimum exports). The
	// engine makes it deterministic; see engine.Load.
	VAERandom []onnxpb.RandomNode
	Models    []ModelSig
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
		// Without likeness.json the models' fixed shapes, when they have
		// them, tell the resolution and latent_factor (a fixed 128-pixel VAE
		// with a 32×32 latent: 128 and 4; a UNet fixed at a 64×64 latent:
		// 512); all models must agree, and the defaults are the fallback.
		var io []spatialIO
		for _, role := range RequiredRoles(m.Kind) {
			r := readIO(role)
			io = append(io, spatialIO{role, r.ins, r.outs})
		}
		res, f = inferSpatial(c, io, res, f)
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
		random, err := scanRandom(ms.Path)
		if err != nil {
			c.fail("%v", err)
		}
		sig.VAERandom = random
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

// spatialIO is one model's declared tensors, for inferSpatial.
type spatialIO struct {
	role      string
	ins, outs []ort.TensorInfo
}

// spatialTensors names the tensors whose last two dimensions are the
// image (pixels) or the latent (latent): H×W at model resolution, h×w.
var spatialTensors = []struct {
	role, io, name string
	pixels         bool
}{
	{RoleVAEEncoder, "input", "sample", true},
	{RoleVAEDecoder, "output", "sample", true},
	{RoleVAEEncoder, "output", "latent_sample", false},
	{RoleVAEEncoder, "output", "latent_parameters", false},
	{RoleVAEDecoder, "input", "latent_sample", false},
	{RoleUNet, "input", "sample", false},
	{RoleUNet, "output", "out_sample", false},
	{RoleImageProjector, "input", "latent", false},
}

// inferSpatial returns the resolution H and latent_factor f that the
// models' fixed spatial sizes imply, for a pack without a manifest: H from
// the VAE's image tensors, h from every latent tensor (VAE, UNet,
// projector), f = H/h. Every fixed size must agree with the others of its
// kind, and a fixed tensor must be square; a disagreement is reported with
// the tensors that disagree. What the models leave dynamic keeps the
// fallback (the contract's defaults), and a ratio that is not a power of
// two is reported. The tensor checks that follow then make every model
// agree with the result.
func inferSpatial(c *sigCheck, models []spatialIO, res, f int) (int, int) {
	type seen struct {
		size  int
		where string // e.g. unet input "sample" [1 4 64 64]
		role  string
	}
	var pix, lat []seen
	for _, st := range spatialTensors {
		for _, m := range models {
			if m.role != st.role {
				continue
			}
			list := m.ins
			if st.io == "output" {
				list = m.outs
			}
			for _, t := range list {
				if t.Name != st.name || len(t.Shape) != 4 {
					continue
				}
				where := fmt.Sprintf("%s %s %q %v", m.role, st.io, t.Name, t.Shape)
				hh, ww := t.Shape[2], t.Shape[3]
				if hh > 0 && ww > 0 && hh != ww {
					c.file = m.role + "/model.onnx"
					c.fail("%s %q is %dx%d; the contract's images and latents are square", st.io, t.Name, hh, ww)
					return res, f
				}
				if d := max(hh, ww); d > 0 {
					if st.pixels {
						pix = append(pix, seen{int(d), where, m.role})
					} else {
						lat = append(lat, seen{int(d), where, m.role})
					}
				}
			}
		}
	}
	agree := func(list []seen, what string) int {
		if len(list) == 0 {
			return 0
		}
		for _, s := range list[1:] {
			if s.size != list[0].size {
				c.file = s.role + "/model.onnx"
				c.fail("the models disagree on the %s size: %s is %d, %s is %d; add a %s that gives resolution and latent_factor, or re-export them",
					what, list[0].where, list[0].size, s.where, s.size, ManifestFile)
				return -1
			}
		}
		return list[0].size
	}
	H, h := agree(pix, "image"), agree(lat, "latent")
	if H < 0 || h < 0 {
		return res, f
	}
	switch {
	case H > 0 && h > 0:
		if H%h != 0 || !ValidLatentFactor(H/h) {
			c.file = pix[0].role + "/model.onnx"
			c.fail("the VAE maps %dx%d pixels to a %dx%d latent, and %d/%d is not a latent_factor the contract allows (a power of two from 2 to %d); add a %s that gives resolution and latent_factor",
				H, H, h, h, H, h, maxLatentFactor, ManifestFile)
			return res, f
		}
		return H, H / h
	case H > 0:
		if H%f != 0 {
			c.file = pix[0].role + "/model.onnx"
			c.fail("the VAE takes %dx%d pixels, which the default latent_factor %d does not divide, and no model fixes the latent size; add a %s that gives latent_factor",
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

// scanRandom lists a model file's random nodes without loading its weights.
func scanRandom(path string) ([]onnxpb.RandomNode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return onnxpb.ScanRandomNodes(f)
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
