package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"likeness/assets"
)

// Kinds of pack (see the model contract).
const (
	KindMCDM = "mcdm"
	KindIP2P = "ip2p"
	KindSD   = "sd"
)

// Sizes shared by every analytic pack.
const (
	TextLen   = 77 // text tokens
	Hidden    = 16 // D, text hidden size
	ImgTokens = 4  // K, image tokens
	EmbedDim  = 8  // Dc, image embedding size
	ClipSize  = 224

	Opset = 17 // ONNX opset of every model (IR version 8)
)

// Options choose the pack variant.
type Options struct {
	Kind       string // "mcdm" (default), "ip2p", "sd"
	Resolution int    // default 512; a multiple of LatentFactor, 64..4096
	// LatentFactor is the VAE's spatial downsampling f (h = Resolution/f): a
	// power of two from 2 to 64, default 8. It is written to the manifest
	// as latent_factor; with NoManifest the VAE's fixed shapes carry it.
	LatentFactor int
	Name         string // manifest name; default "Likeness demo (analytic, <kind>)"
	FixedBatch   bool   // batch dims are dim_value 1 instead of dim_param "batch"
	IDs32        bool   // text_encoder input_ids int32 instead of int64
	TimestepKind string // "float32", "int64" or "float16"; default float16 with Float16, else float32
	// ScalarTimestep declares the unet timestep as a scalar [] instead of [B].
	ScalarTimestep bool
	// Float16 declares every float input and output of every model float16;
	// inside, Cast nodes compute in float32.
	Float16 bool
	// LatentParameters: vae_encoder outputs latent_parameters [B,8,h,w]
	// (mean, then logvar -2) instead of latent_sample [B,4,h,w].
	LatentParameters bool
	// Nonlinear multiplies the text term by 1 + 0.5·tanh(z_t) (see doc.go).
	Nonlinear bool
	// NoManifest omits likeness.json, as a plain Optimum export would; the
	// parameters then go to analytic.json so that Load still works.
	NoManifest bool
	// ExternalData keeps the text encoder's weights in model.onnx_data beside
	// it, as Optimum does for models over 2 GB.
	ExternalData bool
	// AttentionMask gives the text encoder an int64 attention_mask input
	// (multiplied into the embeddings, so all ones is the identity).
	AttentionMask bool
	// OptimumDims declares spatial sizes and the sequence length dynamic and
	// adds the text encoder's pooler_output, as Optimum's exports do.
	OptimumDims bool
	// AnySize lets the UNet take latents of any height and width (sample and
	// out_sample declare them as "height" and "width"): the region R is
	// then computed from the input's size and repeats every h rows and
	// columns, so a double-width latent [4,h,2w] has the face region in
	// each half (the paired-data generator's case). On h×h inputs the UNet
	// computes what it computes without the option.
	AnySize bool
	// SamplingVAE makes the vae_encoder return latent_dist.sample() as
	// latent_sample, as older Optimum exports do: the mean plus
	// exp(LogVar/2) times a random node, "normal" (RandomNormalLike, as torch
	// exports randn_like) or "uniform" (RandomUniformLike, centred). ""
	// returns the mean. Not with LatentParameters.
	SamplingVAE string
	// NaNBelowTimestep, when positive, makes the unet's out_sample NaN at
	// every timestep below it (a Sqrt of a negative number), as an fp16
	// overflow would; at and above it the output is unchanged.
	NaNBelowTimestep int
	// SpatialLatentScale is the manifest's spatial_latent_scale (0 means 1).
	SpatialLatentScale float64
	// MaskNormalize and MaskGuidance are the manifest's defaults of the same
	// names ("" leaves them out: the contract's defaults).
	MaskNormalize, MaskGuidance string
	// FaceBox is the manifest's face_box (nil leaves it out).
	FaceBox *[4]float64
	// FaceLocator adds face_locator/model.onnx: an analytic locator that
	// boxes the dark pixels of its 32x32 input (brightness below 0.9; the
	// box spans their mean ± √3 standard deviations, exact for a uniform
	// dark rectangle on white), with confidence 1 when there are any.
	FaceLocator bool
	// Foreground adds foreground/model.onnx: an analytic matte, 1 where
	// some channel is below 0.9, 0 on white (see foreground).
	Foreground bool
}

// Rect is a rectangle of latent cells, rows [Row0,Row1) and cols [Col0,Col1).
type Rect struct {
	Row0 int `json:"row0"`
	Row1 int `json:"row1"`
	Col0 int `json:"col0"`
	Col1 int `json:"col1"`
}

// Analytic holds every parameter of an analytic pack; the closed-form
// methods (closed.go) compute what each model returns. It is stored in the
// manifest under the key "analytic".
type Analytic struct {
	Kind               string  `json:"kind"`
	Resolution         int     `json:"resolution"`
	LatentFactor       int     `json:"latent_factor"` // f: the VAE works in f×f blocks
	VAEScalingFactor   float64 `json:"vae_scaling_factor"`
	SpatialLatentScale float64 `json:"spatial_latent_scale"`

	FixedBatch       bool   `json:"fixed_batch"`
	IDs32            bool   `json:"ids32"`
	TimestepKind     string `json:"timestep_kind"`
	ScalarTimestep   bool   `json:"scalar_timestep"`
	Float16          bool   `json:"float16"`
	LatentParameters bool   `json:"latent_parameters"`
	Nonlinear        bool   `json:"nonlinear"`
	OptimumDims      bool   `json:"optimum_dims"`
	AnySize          bool   `json:"any_size,omitempty"`
	ExternalData     bool   `json:"external_data"`
	AttentionMask    bool   `json:"attention_mask"`
	SamplingVAE      string `json:"sampling_vae,omitempty"`
	NaNBelowTimestep int    `json:"nan_below_timestep,omitempty"`

	TextLen   int `json:"text_len"`   // 77
	D         int `json:"d"`          // text hidden size
	K         int `json:"k"`          // image tokens
	Dc        int `json:"dc"`         // image embedding size
	VocabSize int `json:"vocab_size"` // rows of the text encoder's table E

	// Words[j] (the vocabulary entry Words[j]+"</w>", id WordIDs[j]) has
	// embedding e_j; every other token embeds to zero. Tint[j] is row j of
	// Wt [D,4]; rows >= len(Words) are zero.
	Words   []string     `json:"words"`
	WordIDs []int64      `json:"word_ids"`
	Tint    [][4]float64 `json:"tint"`

	Wa [][4]float64 `json:"wa"` // [D][4]: A = Wa^T · mean over K of the image tokens
	P  [][]float64  `json:"p"`  // [3][Dc]: image_embeds = mean RGB · P
	Q1 [][]float64  `json:"q1"` // [4][K*D]: tokens += mean over h,w of latent · Q1
	Q2 [][]float64  `json:"q2"` // [Dc][K*D]: tokens += image_embeds · Q2

	Menc   [4][3]float64 `json:"menc"`   // VAE mean = Menc · f×f block average of RGB
	Mdec   [3][4]float64 `json:"mdec"`   // the pseudo-inverse of Menc
	LogVar float64       `json:"logvar"` // latent_parameters channels 4..7

	Region        Rect       `json:"region"`
	SDMean        [4]float64 `json:"sd_mean"`        // X's constant for kind sd
	NonlinearGain float64    `json:"nonlinear_gain"` // the 0.5 of 1 + 0.5·tanh(z_t)

	NumTrainTimesteps int     `json:"num_train_timesteps"`
	BetaStart         float64 `json:"beta_start"`
	BetaEnd           float64 `json:"beta_end"`
}

// Fixed parameter values (documented in doc.go).
var (
	directionWords = []string{"angry", "shocked", "laughing", "crying"}
	sourceWord     = "neutral"
	tintScale      = 0.1
	tints          = [][4]float64{
		{1.0, -0.5, 0.3, 0.2},  // angry
		{-0.5, 1.0, 0.2, -0.3}, // shocked
		{0.3, 0.4, -1.0, 0.5},  // laughing
		{-0.2, -0.6, 0.5, 1.0}, // crying
		{0.2, 0.2, -0.2, 0.1},  // neutral
	}
	tokenWeights = []float64{0.5, 1.0, 1.5, 1.0} // w_k, mean 1
	clipP        = [3][EmbedDim]float64{
		{1, 0, 0, 0.5, 0, 0, 0.25, -0.25},
		{0, 1, 0, 0, 0.5, 0, 0.25, 0.25},
		{0, 0, 1, 0, 0, 0.5, 0.25, 0},
	}
	vaeEnc = [4][3]float64{{5, 0, 0}, {0, 5, 0}, {0, 0, 5}, {2.5, 2.5, 2.5}}
)

var errOptions = errors.New("invalid analytic pack options")

// New validates o and returns the parameters of the pack Write would write.
func New(o Options) (*Analytic, error) {
	kind := o.Kind
	if kind == "" {
		kind = KindMCDM
	}
	if kind != KindMCDM && kind != KindIP2P && kind != KindSD {
		return nil, fmt.Errorf("%w: kind %q (want mcdm, ip2p or sd)", errOptions, o.Kind)
	}
	f := o.LatentFactor
	if f == 0 {
		f = 8
	}
	if f < 2 || f > 64 || f&(f-1) != 0 {
		return nil, fmt.Errorf("%w: latent factor %d (want a power of two from 2 to 64)", errOptions, o.LatentFactor)
	}
	res := o.Resolution
	if res == 0 {
		res = 512
	}
	if res%f != 0 || res < 64 || res > 4096 {
		return nil, fmt.Errorf("%w: resolution %d (want a multiple of the latent factor %d from 64 to 4096)", errOptions, o.Resolution, f)
	}
	ts := o.TimestepKind
	if ts == "" {
		ts = "float32"
		if o.Float16 {
			ts = "float16"
		}
	}
	if ts != "float32" && ts != "int64" && ts != "float16" {
		return nil, fmt.Errorf("%w: timestep kind %q (want float32, int64 or float16)", errOptions, o.TimestepKind)
	}
	switch {
	case o.SamplingVAE != "" && o.SamplingVAE != "normal" && o.SamplingVAE != "uniform":
		return nil, fmt.Errorf("%w: sampling vae %q (want normal or uniform)", errOptions, o.SamplingVAE)
	case o.SamplingVAE != "" && o.LatentParameters:
		return nil, fmt.Errorf("%w: a sampling vae returns latent_sample, not latent_parameters", errOptions)
	case o.NaNBelowTimestep < 0:
		return nil, fmt.Errorf("%w: NaN below timestep %d", errOptions, o.NaNBelowTimestep)
	}
	sls := o.SpatialLatentScale
	if sls == 0 {
		sls = 1
	}
	if !(sls > 0) || math.IsInf(sls, 0) {
		return nil, fmt.Errorf("%w: spatial latent scale %v", errOptions, o.SpatialLatentScale)
	}
	vocab, err := clipVocab()
	if err != nil {
		return nil, err
	}
	a := &Analytic{
		Kind: kind, Resolution: res, LatentFactor: f, VAEScalingFactor: 0.18215, SpatialLatentScale: sls,
		FixedBatch: o.FixedBatch, IDs32: o.IDs32, TimestepKind: ts, ScalarTimestep: o.ScalarTimestep,
		Float16: o.Float16, LatentParameters: o.LatentParameters, Nonlinear: o.Nonlinear, OptimumDims: o.OptimumDims, AnySize: o.AnySize, ExternalData: o.ExternalData, AttentionMask: o.AttentionMask,
		SamplingVAE: o.SamplingVAE, NaNBelowTimestep: o.NaNBelowTimestep,
		TextLen: TextLen, D: Hidden, K: ImgTokens, Dc: EmbedDim, VocabSize: len(vocab),
		LogVar: -2, SDMean: [4]float64{0.3, -0.2, 0.1, 0.0}, NonlinearGain: 0.5,
		NumTrainTimesteps: 1000, BetaStart: 0.00085, BetaEnd: 0.012,
		Menc: vaeEnc,
	}
	for _, w := range append(append([]string(nil), directionWords...), sourceWord) {
		id, ok := vocab[w+"</w>"]
		if !ok {
			return nil, fmt.Errorf("embedded clip/vocab.json lacks %q", w+"</w>")
		}
		a.Words = append(a.Words, w)
		a.WordIDs = append(a.WordIDs, id)
	}
	// Scaled so that s3 = 5 gives a clear tint (about a quarter of the
	// colour range) rather than a saturated block.
	for _, t := range tints {
		a.Tint = append(a.Tint, [4]float64{tintScale * t[0], tintScale * t[1], tintScale * t[2], tintScale * t[3]})
	}
	a.Wa = make([][4]float64, Hidden)
	for c := range 4 {
		a.Wa[8+c][c] = 0.01  // token dims 8..11 carry the latent means
		a.Wa[12+c][c] = 0.02 // token dims 12..15 carry the image embedding
	}
	a.P = make([][]float64, 3)
	for c := range 3 {
		a.P[c] = append([]float64(nil), clipP[c][:]...)
	}
	a.Q1 = zeros(4, ImgTokens*Hidden)
	for c := range 4 {
		for k, wk := range tokenWeights {
			a.Q1[c][k*Hidden+8+c] = wk
		}
	}
	a.Q2 = zeros(EmbedDim, ImgTokens*Hidden)
	for j := range EmbedDim {
		sign := 1.0
		if j >= 4 {
			sign = -0.5
		}
		for k, wk := range tokenWeights {
			a.Q2[j][k*Hidden+12+j%4] = wk * sign
		}
	}
	a.Mdec, err = pinv(a.Menc)
	if err != nil {
		return nil, err
	}
	h := res / f
	a.Region = Rect{Row0: 3 * h / 16, Row1: 9 * h / 16, Col0: 5 * h / 16, Col1: 11 * h / 16}
	return a, nil
}

func zeros(r, c int) [][]float64 {
	m := make([][]float64, r)
	for i := range m {
		m[i] = make([]float64, c)
	}
	return m
}

// pinv is the Moore-Penrose pseudo-inverse (M^T M)^-1 M^T of a full-rank 4x3 M.
func pinv(m [4][3]float64) ([3][4]float64, error) {
	var g [3][3]float64
	for i := range 3 {
		for j := range 3 {
			for k := range 4 {
				g[i][j] += m[k][i] * m[k][j]
			}
		}
	}
	det := g[0][0]*(g[1][1]*g[2][2]-g[1][2]*g[2][1]) -
		g[0][1]*(g[1][0]*g[2][2]-g[1][2]*g[2][0]) +
		g[0][2]*(g[1][0]*g[2][1]-g[1][1]*g[2][0])
	var out [3][4]float64
	if math.Abs(det) < 1e-9 {
		return out, errors.New("vae encoder matrix is singular")
	}
	var inv [3][3]float64
	for i := range 3 {
		for j := range 3 {
			// cofactor of g[j][i] / det
			r0, r1 := (j+1)%3, (j+2)%3
			c0, c1 := (i+1)%3, (i+2)%3
			inv[i][j] = (g[r0][c0]*g[r1][c1] - g[r0][c1]*g[r1][c0]) / det
		}
	}
	for i := range 3 {
		for k := range 4 {
			for j := range 3 {
				out[i][k] += inv[i][j] * m[k][j]
			}
		}
	}
	return out, nil
}

// clipVocab returns the embedded CLIP vocabulary (token -> id), parsed once.
var clipVocab = sync.OnceValues(func() (map[string]int64, error) {
	b, err := assets.CLIP.ReadFile("clip/vocab.json")
	if err != nil {
		return nil, fmt.Errorf("read embedded clip/vocab.json: %w", err)
	}
	var v map[string]int64
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("embedded clip/vocab.json: %w", err)
	}
	return v, nil
})

// LatentSize is h = w = Resolution/LatentFactor.
func (a *Analytic) LatentSize() int { return a.Resolution / a.LatentFactor }

// Channels is the UNet sample's channel count: 8 for mcdm and ip2p, 4 for sd.
func (a *Analytic) Channels() int {
	if a.Kind == KindSD {
		return 4
	}
	return 8
}

// HiddenLen is L, the encoder_hidden_states length: 77 + K for mcdm, else 77.
func (a *Analytic) HiddenLen() int {
	if a.Kind == KindMCDM {
		return a.TextLen + a.K
	}
	return a.TextLen
}

// Mask is the region R as an h×w row-major mask.
func (a *Analytic) Mask() []bool {
	n := a.LatentSize()
	m := make([]bool, n*n)
	for r := a.Region.Row0; r < a.Region.Row1; r++ {
		for c := a.Region.Col0; c < a.Region.Col1; c++ {
			m[r*n+c] = true
		}
	}
	return m
}

// InRegion reports whether latent cell (row, col) lies in the region R. With
// AnySize the region repeats every h rows and columns (h = LatentSize), as
// the UNet computes it for inputs of any size; otherwise row and col must be
// below h.
func (a *Analytic) InRegion(row, col int) bool {
	n := a.LatentSize()
	if a.AnySize {
		row, col = row%n, col%n
	}
	r := a.Region
	return row >= r.Row0 && row < r.Row1 && col >= r.Col0 && col < r.Col1
}
