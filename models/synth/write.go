package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"likeness/assets"
)

// ErrNotEmpty means Write was given a folder that already has files in it.
var ErrNotEmpty = errors.New("folder is not empty")

// ErrNotAnalytic means Load found no analytic parameters in a pack.
var ErrNotAnalytic = errors.New("not an analytic pack")

// ManifestFile and ParamsFile are the pack's manifest and, for NoManifest
// packs, the file that holds the analytic parameters instead.
const (
	ManifestFile = "likeness.json"
	ParamsFile   = "analytic.json"
)

type direction struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Target string `json:"target"`
}

type defaults struct {
	S1             float64 `json:"s1"`
	S2             float64 `json:"s2"`
	S3             float64 `json:"s3"`
	Lambda         float64 `json:"lambda"`
	Steps          int     `json:"steps"`
	Scheduler      string  `json:"scheduler"`
	MaskSeeds      int     `json:"mask_seeds"`
	MaskNoiseSteps int     `json:"mask_noise_steps"`
	BlurKernel     int     `json:"blur_kernel"`
	MaskNormalize  string  `json:"mask_normalize,omitempty"`
	MaskGuidance   string  `json:"mask_guidance,omitempty"`
}

type fileInfo struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

type manifest struct {
	Format             int                 `json:"format"`
	Name               string              `json:"name"`
	Kind               string              `json:"kind"`
	Resolution         int                 `json:"resolution"`
	LatentFactor       int                 `json:"latent_factor"`
	VAEScalingFactor   float64             `json:"vae_scaling_factor"`
	SpatialLatentScale float64             `json:"spatial_latent_scale"`
	NullSpatial        string              `json:"null_spatial,omitempty"`
	NullImageTokens    string              `json:"null_image_tokens,omitempty"`
	Prompts            map[string]string   `json:"prompts"`
	Subjects           []string            `json:"subjects"`
	Source             string              `json:"source"`
	Directions         []direction         `json:"directions"`
	Defaults           defaults            `json:"defaults"`
	Files              map[string]fileInfo `json:"files"`
	FaceBox            *[4]float64         `json:"face_box,omitempty"`
	Analytic           *Analytic           `json:"analytic"`
}

type schedulerConfig struct {
	ClassName         string  `json:"_class_name"`
	NumTrainTimesteps int     `json:"num_train_timesteps"`
	BetaStart         float64 `json:"beta_start"`
	BetaEnd           float64 `json:"beta_end"`
	BetaSchedule      string  `json:"beta_schedule"`
	StepsOffset       int     `json:"steps_offset"`
	SetAlphaToOne     bool    `json:"set_alpha_to_one"`
	ClipSample        bool    `json:"clip_sample"`
	SkipPRKSteps      bool    `json:"skip_prk_steps"`
	PredictionType    string  `json:"prediction_type"`
	TrainedBetas      *int    `json:"trained_betas"`
}

// testHookFile, when set, runs after each file is written (tests use it to
// make Write fail half-way).
var testHookFile func(name string) error

// Write generates the pack described by o into dir, which must be absent or
// empty. It builds the pack in a sibling dir+".partial-*" folder and renames
// it into place, so dir never holds half a pack; on failure the partial
// folder is removed.
func Write(dir string, o Options) (*Analytic, error) {
	a, err := New(o)
	if err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		name = "Likeness demo (analytic, " + a.Kind + ")"
	}
	existed := false
	switch entries, err := os.ReadDir(dir); {
	case err == nil:
		if len(entries) > 0 {
			return nil, fmt.Errorf("write analytic pack to %s: %w", dir, ErrNotEmpty)
		}
		existed = true
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("write analytic pack to %s: %w", dir, err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("write analytic pack: %w", err)
	}
	// Hidden, so a pack store listing the parent never sees a half-written pack.
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dir))+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("write analytic pack: %w", err)
	}
	if err := a.writeAll(tmp, name, o); err != nil {
		return nil, errors.Join(err, os.RemoveAll(tmp))
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("write analytic pack: %w", err), os.RemoveAll(tmp))
	}
	if existed {
		if err := os.Remove(dir); err != nil {
			return nil, errors.Join(fmt.Errorf("write analytic pack: %w", err), os.RemoveAll(tmp))
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, errors.Join(fmt.Errorf("write analytic pack: %w", err), os.RemoveAll(tmp))
	}
	return a, nil
}

func (a *Analytic) writeAll(dir, name string, o Options) error {
	files := map[string]fileInfo{}
	put := func(rel string, data []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		sum := sha256.Sum256(data)
		files[rel] = fileInfo{Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		if testHookFile != nil {
			return testHookFile(rel)
		}
		return nil
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, err := assets.CLIP.ReadFile("clip/" + f)
		if err != nil {
			return fmt.Errorf("read embedded clip/%s: %w", f, err)
		}
		if err := put("tokenizer/"+f, b); err != nil {
			return err
		}
	}
	sc, err := marshal(schedulerConfig{
		ClassName: "PNDMScheduler", NumTrainTimesteps: a.NumTrainTimesteps,
		BetaStart: a.BetaStart, BetaEnd: a.BetaEnd, BetaSchedule: "scaled_linear",
		StepsOffset: 1, SkipPRKSteps: true, PredictionType: "epsilon",
	})
	if err != nil {
		return err
	}
	if err := put("scheduler/scheduler_config.json", sc); err != nil {
		return err
	}
	models := []struct {
		name  string
		build func() []byte
	}{
		{"text_encoder", a.textEncoder},
		{"unet", a.unet},
		{"vae_encoder", a.vaeEncoder},
		{"vae_decoder", a.vaeDecoder},
	}
	if a.Kind == KindMCDM {
		models = append(models, struct {
			name  string
			build func() []byte
		}{"image_encoder", a.imageEncoder}, struct {
			name  string
			build func() []byte
		}{"image_projector", a.imageProjector})
	}
	if o.FaceLocator {
		models = append(models, struct {
			name  string
			build func() []byte
		}{"face_locator", faceLocator})
	}
	if o.Foreground {
		models = append(models, struct {
			name  string
			build func() []byte
		}{"foreground", foreground})
	}
	for _, m := range models {
		model := m.build()
		if m.name == "text_encoder" && a.ExternalData {
			var data []byte
			model, data = a.textEncoderFiles()
			if err := put(m.name+"/model.onnx_data", data); err != nil {
				return err
			}
		}
		if err := put(m.name+"/model.onnx", model); err != nil {
			return err
		}
	}
	if o.NoManifest {
		b, err := marshal(a)
		if err != nil {
			return err
		}
		return put(ParamsFile, b)
	}
	b, err := marshal(a.manifest(name, files, o))
	if err != nil {
		return err
	}
	return put(ManifestFile, b)
}

func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return append(b, '\n'), nil
}

func (a *Analytic) manifest(name string, files map[string]fileInfo, o Options) manifest {
	m := manifest{
		Format: 1, Name: name, Kind: a.Kind, Resolution: a.Resolution, LatentFactor: a.LatentFactor,
		VAEScalingFactor: a.VAEScalingFactor, SpatialLatentScale: a.SpatialLatentScale,
		Prompts:  map[string]string{"source": "a {subject}, {source}", "target": "a {subject}, {target}"},
		Subjects: []string{"person", "man", "woman"},
		Source:   "neutral expression",
		// s1 = s2 = 1 make the linear oracle reproduce the photo outside the
		// tinted region (larger values scale the spatial term, which a
		// linear oracle turns into contrast); s3 = 5 as the paper.
		Defaults: defaults{S1: 1, S2: 1, S3: 5, Lambda: 0.35, Steps: 20, Scheduler: "unipc",
			MaskSeeds: 10, MaskNoiseSteps: 10, BlurKernel: 5, MaskNormalize: o.MaskNormalize, MaskGuidance: o.MaskGuidance},
		Files:    files,
		FaceBox:  o.FaceBox,
		Analytic: a,
	}
	switch a.Kind {
	case KindMCDM:
		m.NullSpatial, m.NullImageTokens = "black_image", "zeros"
	case KindIP2P:
		m.NullSpatial = "zeros"
	}
	labels := map[string]string{"angry": "Angry", "shocked": "Shocked", "laughing": "Laughing", "crying": "Crying"}
	for _, w := range directionWords {
		m.Directions = append(m.Directions, direction{ID: w, Label: labels[w], Target: w})
	}
	return m
}

// Load reads an analytic pack's parameters back: the "analytic" key of
// likeness.json, or analytic.json for a pack written without a manifest.
func Load(dir string) (*Analytic, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		p = filepath.Join(dir, ParamsFile)
		b, err = os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: neither %s nor %s exists", dir, ErrNotAnalytic, ManifestFile, ParamsFile)
		}
		if err != nil {
			return nil, err
		}
		var a Analytic
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := a.check(p); err != nil {
			return nil, err
		}
		return &a, nil
	}
	if err != nil {
		return nil, err
	}
	var m struct {
		Analytic *Analytic `json:"analytic"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if m.Analytic == nil {
		return nil, fmt.Errorf("%s: %w: no \"analytic\" key", p, ErrNotAnalytic)
	}
	if err := m.Analytic.check(p); err != nil {
		return nil, err
	}
	return m.Analytic, nil
}

// check rejects parameters the closed forms would index out of range with.
func (a *Analytic) check(file string) error {
	bad := func(what string) error { return fmt.Errorf("%s: bad analytic parameters: %s", file, what) }
	if a.LatentFactor == 0 {
		a.LatentFactor = 8 // written before packs could choose it
	}
	switch {
	case a.Kind != KindMCDM && a.Kind != KindIP2P && a.Kind != KindSD:
		return bad("kind " + a.Kind)
	case a.LatentFactor < 2 || a.LatentFactor&(a.LatentFactor-1) != 0:
		return bad("latent factor")
	case a.Resolution < 64 || a.Resolution%a.LatentFactor != 0:
		return bad("resolution")
	case a.D < len(a.Words) || len(a.Words) != len(a.WordIDs) || len(a.Tint) != len(a.Words):
		return bad("words")
	case len(a.Wa) != a.D || len(a.P) != 3 || len(a.Q1) != 4 || len(a.Q2) != a.Dc:
		return bad("weights")
	case a.SpatialLatentScale <= 0 || a.NumTrainTimesteps <= 0:
		return bad("scales")
	}
	for _, r := range a.P {
		if len(r) != a.Dc {
			return bad("p rows")
		}
	}
	for _, r := range append(append([][]float64{}, a.Q1...), a.Q2...) {
		if len(r) != a.K*a.D {
			return bad("q rows")
		}
	}
	return nil
}
