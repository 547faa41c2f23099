// Package models finds, checks and installs Likeness model packs: folders of
// ONNX files plus an optional likeness.json manifest, as described in
// shared/model-contract.md.
package models

import (
	"errors"
	"fmt"
	"strings"
)

// ManifestFile is the manifest's file name inside a pack.
const ManifestFile = "likeness.json"

// Kind is the shape of a pack's models.
type Kind string

// The pack kinds of the contract.
const (
	KindMCDM Kind = "mcdm" // multi-conditioned diffusion model: 8-channel UNet plus image tokens
	KindIP2P Kind = "ip2p" // InstructPix2Pix: 8-channel UNet, text tokens only
	KindSD   Kind = "sd"   // plain Stable Diffusion 1.x: 4-channel UNet
)

// Values of null_spatial and null_image_tokens.
const (
	NullBlackImage = "black_image"
	NullZeros      = "zeros"
)

// Values of defaults.mask_normalize: the order of the mask's min-max
// normalisation and its blur.
const (
	MaskNormalizeThenBlur = "normalize_then_blur" // the paper: N = blur(minmax(D))
	MaskBlurThenNormalize = "blur_then_normalize" // N = minmax(blur(D))
)

// Values of defaults.mask_guidance: how the mask guides denoising.
const (
	MaskGuidanceEq3         = "eq3"              // the paper's Eq. 3 alone
	MaskGuidanceLatentBlend = "eq3_latent_blend" // Eq. 3, then the noised input latent outside the mask after each step
)

// MaskNormalizations and MaskGuidances list the accepted values, default first.
var (
	MaskNormalizations = []string{MaskNormalizeThenBlur, MaskBlurThenNormalize}
	MaskGuidances      = []string{MaskGuidanceEq3, MaskGuidanceLatentBlend}
)

// Default values of the contract, used when a key is absent.
const (
	DefaultResolution         = 512
	DefaultLatentFactor       = 8
	DefaultVAEScalingFactor   = 0.18215
	DefaultSpatialLatentScale = 1.0
	DefaultSteps              = 20
	DefaultScheduler          = "unipc"
	DefaultS1                 = 3.0
	DefaultS2                 = 3.0
	DefaultS3                 = 5.0
	DefaultLambda             = 0.2
	DefaultMaskSeeds          = 10
	DefaultMaskNoiseSteps     = 10
	DefaultBlurKernel         = 5
	DefaultMaskNormalize      = MaskNormalizeThenBlur
	DefaultMaskGuidance       = MaskGuidanceEq3
	DefaultSourcePrompt       = "a {subject}, {source}"
	DefaultTargetPrompt       = "a {subject}, {target}"
	DefaultSubjectName        = "person"
)

// Limits on manifest values beyond those the contract names; they keep a
// mistyped value from asking for hours of work or gigabytes of memory.
const (
	maxManifestBytes = 1 << 20
	maxMaskSeeds     = 1000
	maxBlurKernel    = 255
	maxSteps         = 1000
	maxLatentFactor  = 64
)

// ErrBadManifest is matched (errors.Is) by every error about a manifest's
// syntax, types or values.
var ErrBadManifest = errors.New("bad manifest")

// ManifestError is a problem with one key of a manifest.
type ManifestError struct {
	File string // the manifest's file name or path
	Key  string // the key, dotted for nested keys ("defaults.steps"); empty for syntax errors
	Msg  string
}

func (e *ManifestError) Error() string {
	if e.Key == "" {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %q: %s", e.File, e.Key, e.Msg)
}

// Is makes errors.Is(err, ErrBadManifest) true.
func (e *ManifestError) Is(target error) bool { return target == ErrBadManifest }

// Manifest is a parsed likeness.json with every default applied. Its JSON
// tags follow the contract, so json.Marshal writes a valid manifest.
type Manifest struct {
	Format             int                `json:"format"`
	Name               string             `json:"name,omitempty"`
	Kind               Kind               `json:"kind"`
	Resolution         int                `json:"resolution"`
	LatentFactor       int                `json:"latent_factor"` // the VAE's spatial downsampling f: h = resolution/f
	VAEScalingFactor   float64            `json:"vae_scaling_factor"`
	SpatialLatentScale float64            `json:"spatial_latent_scale"`
	NullSpatial        string             `json:"null_spatial"`
	NullImageTokens    string             `json:"null_image_tokens"`
	Prompts            Prompts            `json:"prompts"`
	Subjects           []string           `json:"subjects,omitempty"`
	Source             string             `json:"source,omitempty"`
	Directions         []Direction        `json:"directions,omitempty"`
	Defaults           Defaults           `json:"defaults"`
	Files              map[string]FileSum `json:"files,omitempty"`
	// FaceBox is where the pack's training put the face, brows to chin and
	// cheek to cheek, as fractions of the model square; nil when the pack
	// does not say (photos are then framed by the old rule).
	FaceBox *FaceBox `json:"face_box,omitempty"`
	Domain  string   `json:"domain,omitempty"` // e.g. "cartoon portraits", shown beside the name
}

// FaceBox is x0, y0, x1, y1 as fractions of the model square.
type FaceBox [4]float64

// Optional helper models of a pack (model contract), each a folder with model.onnx.
const (
	RoleFaceLocator = "face_locator"
	RoleForeground  = "foreground"
)

// Prompts are the prompt templates; they may use {subject}, {source} and {target}.
type Prompts struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// Direction is one edit the pack offers.
type Direction struct {
	ID     string `json:"id"`
	Label  string `json:"label"`  // defaults to ID
	Target string `json:"target"` // defaults to Label
}

// Defaults are the pack's suggested settings.
type Defaults struct {
	S1             float64 `json:"s1"`
	S2             float64 `json:"s2"`
	S3             float64 `json:"s3"`
	Lambda         float64 `json:"lambda"`
	Steps          int     `json:"steps"`
	Scheduler      string  `json:"scheduler"`
	MaskSeeds      int     `json:"mask_seeds"`
	MaskNoiseSteps int     `json:"mask_noise_steps"`
	BlurKernel     int     `json:"blur_kernel"`
	MaskNormalize  string  `json:"mask_normalize"` // MaskNormalizeThenBlur or MaskBlurThenNormalize
	MaskGuidance   string  `json:"mask_guidance"`  // MaskGuidanceEq3 or MaskGuidanceLatentBlend
}

// FileSum is the expected size and SHA-256 (lower-case hex) of one pack file.
type FileSum struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// NewManifest returns the manifest the contract implies for a pack of the
// given kind without a likeness.json: every value at its default.
func NewManifest(kind Kind) *Manifest {
	m := &Manifest{
		Format:             1,
		Kind:               kind,
		Resolution:         DefaultResolution,
		LatentFactor:       DefaultLatentFactor,
		VAEScalingFactor:   DefaultVAEScalingFactor,
		SpatialLatentScale: DefaultSpatialLatentScale,
		NullSpatial:        defaultNullSpatial(kind),
		NullImageTokens:    NullZeros,
		Prompts:            Prompts{Source: DefaultSourcePrompt, Target: DefaultTargetPrompt},
		Defaults: Defaults{
			S1: DefaultS1, S2: DefaultS2, S3: DefaultS3, Lambda: DefaultLambda,
			Steps: DefaultSteps, Scheduler: DefaultScheduler, MaskSeeds: DefaultMaskSeeds,
			MaskNoiseSteps: DefaultMaskNoiseSteps, BlurKernel: DefaultBlurKernel,
			MaskNormalize: DefaultMaskNormalize, MaskGuidance: DefaultMaskGuidance,
		},
	}
	return m
}

func defaultNullSpatial(kind Kind) string {
	if kind == KindMCDM {
		return NullBlackImage
	}
	return NullZeros // ip2p; sd has no spatial input, zeros is harmless there
}

// SourcePrompt is the source prompt p_a for subject (the default subject when empty).
func (m *Manifest) SourcePrompt(subject string) string {
	return m.fill(m.Prompts.Source, subject, "")
}

// TargetPrompt is the target prompt p_b for subject and a direction's target text.
func (m *Manifest) TargetPrompt(subject, target string) string {
	return m.fill(m.Prompts.Target, subject, target)
}

func (m *Manifest) fill(tmpl, subject, target string) string {
	if subject == "" {
		subject = m.DefaultSubject()
	}
	r := strings.NewReplacer("{subject}", subject, "{source}", m.Source, "{target}", target)
	return strings.TrimSpace(r.Replace(tmpl))
}

// Direction returns the direction with the given id.
func (m *Manifest) Direction(id string) (Direction, bool) {
	for _, d := range m.Directions {
		if d.ID == id {
			return d, true
		}
	}
	return Direction{}, false
}

// DefaultSubject is the first subject, or "person" when the pack lists none.
func (m *Manifest) DefaultSubject() string {
	if len(m.Subjects) > 0 {
		return m.Subjects[0]
	}
	return DefaultSubjectName
}

// ValidLatentFactor reports whether f is a latent_factor the contract
// allows: a positive power of two (2, 4, 8, …) up to 64.
func ValidLatentFactor(f int) bool {
	return f >= 2 && f <= maxLatentFactor && f&(f-1) == 0
}
