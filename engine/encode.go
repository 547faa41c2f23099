package engine

import (
	"context"
	"fmt"
	"image"
	"os"

	"likeness/engine/photo"
	"likeness/models"
	"likeness/ort"
)

var errNotExist = os.ErrNotExist

// Encoded holds everything the model needs from one photo and crop. It is
// computed once and reused while the photo, crop and pack stay the same:
// moving a slider never re-encodes.
type Encoded struct {
	Photo      *image.NRGBA    // the whole oriented photo (straight alpha)
	HasAlpha   bool            // the photo has transparency
	Crop       image.Rectangle // the square the model sees, in photo pixels
	Input      *image.NRGBA    // the crop at model resolution, alpha flattened on white
	Z0         []float32       // [4,h,w]: VAE mean × vae_scaling_factor
	CS         []float32       // [4,h,w]: spatial condition c_s
	CSNull     []float32       // [4,h,w]: null spatial condition
	Embeds     []float32       // [Dc]: CLIP image embedding (mcdm)
	Tokens     []float32       // [K,D]: image tokens c_im (mcdm)
	TokensNull []float32       // [K,D]: null image tokens
}

// Encode runs the encoders on a crop of img (crop empty = the default,
// photo.PortraitSquare).
func (e *Engine) Encode(ctx context.Context, img *image.NRGBA, hasAlpha bool, crop image.Rectangle, progress ProgressFunc) (*Encoded, error) {
	if crop.Empty() {
		crop = photo.PortraitSquare(img.Bounds())
	}
	if err := photo.ValidateCrop(crop, img.Bounds()); err != nil {
		return nil, err
	}
	m := e.Pack.Manifest
	res, lat := e.Sig.Resolution, e.Sig.Latent
	report := func(step int) {
		if progress != nil {
			progress(Progress{Phase: PhaseEncode, Step: step, Steps: 3})
		}
	}
	report(1)
	pixels := photo.ModelInput(img, crop, res)
	enc := &Encoded{Photo: img, HasAlpha: hasAlpha, Crop: crop, Input: photo.TensorToImage(pixels, res, res)}
	mean, err := e.vaeMean(ctx, pixels, "while encoding the photo")
	if err != nil {
		return nil, err
	}
	enc.Z0 = scaled(mean, float32(m.VAEScalingFactor))
	enc.CS = scaled(mean, float32(m.SpatialLatentScale))
	if enc.CSNull, err = e.nullSpatial(ctx); err != nil {
		return nil, err
	}
	if e.Sig.Kind == models.KindMCDM {
		report(2)
		out, err := e.imgEnc.Run(ctx, map[string]ort.Value{
			"pixel_values": ort.Floats([]int64{1, 3, 224, 224}, photo.CLIPInput(img, crop)),
		}, map[string][]int64{"image_embeds": {1, int64(e.Sig.Dc)}})
		if err != nil {
			return nil, err
		}
		enc.Embeds = out["image_embeds"].F32
		if err := e.finite("image_encoder", e.imgEnc, enc.Embeds, "while encoding the photo"); err != nil {
			return nil, err
		}
		out, err = e.proj.Run(ctx, map[string]ort.Value{
			"latent":       ort.Floats([]int64{1, 4, int64(lat), int64(lat)}, enc.CS),
			"image_embeds": ort.Floats([]int64{1, int64(e.Sig.Dc)}, enc.Embeds),
		}, map[string][]int64{"image_tokens": {1, int64(e.Sig.K), int64(e.Sig.D)}})
		if err != nil {
			return nil, err
		}
		enc.Tokens = out["image_tokens"].F32
		if err := e.finite("image_projector", e.proj, enc.Tokens, "while encoding the photo"); err != nil {
			return nil, err
		}
		enc.TokensNull = make([]float32, len(enc.Tokens)) // null_image_tokens "zeros"
	}
	report(3)
	return enc, nil
}

// vaeMean encodes [3,H,W] pixels in [-1,1] and returns the latent mean
// [4,h,w]; where says what for, in errors.
func (e *Engine) vaeMean(ctx context.Context, pixels []float32, where string) ([]float32, error) {
	res, lat := int64(e.Sig.Resolution), int64(e.Sig.Latent)
	name := e.Sig.EncoderOutput
	ch := int64(4)
	if name == "latent_parameters" {
		ch = 8
	}
	out, err := e.runVAE(ctx, map[string]ort.Value{"sample": ort.Floats([]int64{1, 3, res, res}, pixels)},
		map[string][]int64{name: {1, ch, lat, lat}})
	if err != nil {
		return nil, err
	}
	v := out[name].F32
	if err := e.finite("vae_encoder", e.vaeEnc, v[:4*lat*lat], where); err != nil {
		return nil, err
	}
	return append([]float32(nil), v[:4*lat*lat]...), nil // first 4 channels are the mean
}

// nullSpatial is the unconditional spatial input, the same for every photo.
func (e *Engine) nullSpatial(ctx context.Context) ([]float32, error) {
	e.mu.Lock()
	cached := e.nullCS
	e.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	m := e.Pack.Manifest
	lat := e.Sig.Latent
	var cs []float32
	switch m.NullSpatial {
	case models.NullZeros:
		cs = make([]float32, 4*lat*lat)
	case models.NullBlackImage:
		black := make([]float32, 3*e.Sig.Resolution*e.Sig.Resolution)
		for i := range black {
			black[i] = -1
		}
		mean, err := e.vaeMean(ctx, black, "while encoding the black image (the null spatial condition)")
		if err != nil {
			return nil, err
		}
		cs = scaled(mean, float32(m.SpatialLatentScale))
	default:
		return nil, fmt.Errorf("pack %s: null_spatial %q is not supported", e.Pack.Name, m.NullSpatial)
	}
	e.mu.Lock()
	e.nullCS = cs
	e.mu.Unlock()
	return cs, nil
}

// textEmbedding returns last_hidden_state [77,D] for a prompt, cached by text.
func (e *Engine) textEmbedding(ctx context.Context, prompt string) ([]float32, error) {
	e.mu.Lock()
	v, ok := e.textCache.get(prompt)
	e.mu.Unlock()
	if ok {
		return v, nil
	}
	ids := e.tok.Encode(prompt)
	in := map[string]ort.Value{"input_ids": ort.Ints([]int64{1, 77}, ids)}
	if info, ok := e.text.Input("attention_mask"); ok {
		ones := ort.Value{Shape: []int64{1, 77}, I64: make([]int64, 77), F32: make([]float32, 77)}
		for i := range ones.I64 {
			ones.I64[i], ones.F32[i] = 1, 1
		}
		if info.Type.IsFloat() {
			ones.I64 = nil
		} else {
			ones.F32 = nil
		}
		in["attention_mask"] = ones
	}
	out, err := e.text.Run(ctx, in, map[string][]int64{"last_hidden_state": {1, 77, int64(e.Sig.D)}})
	if err != nil {
		return nil, err
	}
	v = out["last_hidden_state"].F32
	if err := e.finite("text_encoder", e.text, v, fmt.Sprintf("while encoding the prompt %q", prompt)); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.textCache.put(prompt, v)
	e.mu.Unlock()
	return v, nil
}

func scaled(v []float32, k float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * k
	}
	return out
}
