package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/export"
)

// Version and Build are the release's, recorded in every export; main sets
// them from FyneApp.toml.
var (
	Version = "dev"
	Build   int
)

// Output picks which image of a result to export.
type Output int

const (
	// OutputFull is the whole photo at its own resolution with the edit
	// blended into the crop (the default).
	OutputFull Output = iota
	// OutputModelRes is the crop at model resolution.
	OutputModelRes
)

// ExportOptions choose the image and how to write it.
type ExportOptions struct {
	Output    Output
	Preserve  bool // composite the original outside the mask (on by default in the app)
	Overwrite bool
	Quality   int // JPEG
	// RecordPath embeds the input photo's full path in the settings the
	// export carries. Off, they name only its file (and its SHA-256), so a
	// shared image does not reveal the user's folders.
	RecordPath bool
}

// Image returns the image an export writes.
func Image(doc *Doc, r *engine.Result, o ExportOptions) *image.NRGBA {
	switch {
	case o.Output == OutputModelRes && o.Preserve:
		return r.Preserved
	case o.Output == OutputModelRes:
		return r.Paper
	case o.Preserve:
		return r.Full()
	}
	// The plain paper output inside the crop, softened only at its border.
	c := r.Crop
	return compose.IntoFull(doc.Photo.Image, c, r.Paper, compose.BorderFeather(c.Dx(), c.Dy(), engine.FeatherRadius(c.Dx())))
}

// Export writes a result with its settings embedded, atomically, never over
// the input photo.
func Export(path string, e *engine.Engine, doc *Doc, r *engine.Result, o ExportOptions) error {
	md, err := Metadata(e, doc, r, o)
	if err != nil {
		return err
	}
	return export.Write(path, Image(doc, r, o), md, export.WriteOptions{Overwrite: o.Overwrite, Protect: []string{doc.Path}, Quality: o.Quality})
}

// Record is the "likeness" JSON embedded in exports and printed by --json.
type Record struct {
	Likeness string    `json:"likeness_version"`
	Time     time.Time `json:"time"`
	Mode     string    `json:"mode"`
	// Input is the photo's file name; its full path only with
	// ExportOptions.RecordPath. InputSHA256 identifies its bytes.
	Input       string          `json:"input"`
	InputSHA256 string          `json:"input_sha256,omitempty"`
	Crop        [4]int          `json:"crop"` // x, y, w, h in photo pixels
	Output      string          `json:"output"`
	Preserve    bool            `json:"preserve"`
	Settings    engine.Settings `json:"settings"`
	Source      string          `json:"source_prompt"`
	Target      string          `json:"target_prompt"`
	Strength    float64         `json:"strength,omitempty"`
	// Noise names the .npy file whose noise replaced the seeded generator's
	// (its base name only).
	Noise    string  `json:"noise,omitempty"`
	MaskArea float64 `json:"mask_area"` // fraction of latent cells edited
	// MaskEmpty says why the computed mask is empty (then the edit is the
	// reconstruction); MaskStats are the mask computation's counters.
	MaskEmpty string            `json:"mask_empty_reason,omitempty"`
	MaskStats *StatsRecord      `json:"mask_stats,omitempty"`
	Painted   bool              `json:"mask_painted"`
	Pack      PackRecord        `json:"pack"`
	Providers map[string]string `json:"providers"`
	Stats     StatsRecord       `json:"stats"`
	// Load is how long loading the pack took (once per pack and process).
	Load LoadRecord `json:"load"`
}

// LoadRecord is engine.LoadStats in JSON-friendly units.
type LoadRecord struct {
	CheckMS         float64            `json:"check_ms"`                   // sizes, manifest, signatures
	SessionMS       float64            `json:"session_create_ms"`          // every model's session
	SessionMSByRole map[string]float64 `json:"session_create_ms_by_model"` // each model's
	GraphCache      map[string]string  `json:"graph_cache,omitempty"`      // by model: hit, stored or off
}

// NewLoadRecord converts load timings.
func NewLoadRecord(l engine.LoadStats) LoadRecord {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := LoadRecord{CheckMS: ms(l.Check), SessionMS: ms(l.Sessions), SessionMSByRole: map[string]float64{}, GraphCache: map[string]string{}}
	for k, v := range l.Session {
		r.SessionMSByRole[k] = ms(v)
	}
	for k, v := range l.Cache {
		if v == "" {
			v = "off"
		}
		r.GraphCache[k] = v
	}
	return r
}

// PackRecord identifies the pack that made an edit.
type PackRecord struct {
	Name  string            `json:"name"`
	Kind  string            `json:"kind"`
	Files map[string]string `json:"sha256"` // model file -> digest
}

// StatsRecord is engine.Stats in JSON-friendly units.
type StatsRecord struct {
	UNetEvals   map[string]int     `json:"unet_evals"`
	PhaseMS     map[string]float64 `json:"phase_ms"`
	WallMS      float64            `json:"wall_ms"`
	InORTMS     float64            `json:"in_onnxruntime_ms"`
	OutsideMS   float64            `json:"outside_onnxruntime_ms"`
	OutsideFrac float64            `json:"outside_fraction"`
}

// NewStatsRecord converts counters.
func NewStatsRecord(s engine.Stats) StatsRecord {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := StatsRecord{UNetEvals: s.UNetEvals, PhaseMS: map[string]float64{}, WallMS: ms(s.Wall), InORTMS: ms(s.InORT), OutsideMS: ms(s.Outside())}
	for k, v := range s.Phases {
		r.PhaseMS[k] = ms(v)
	}
	if s.Wall > 0 {
		r.OutsideFrac = float64(s.Outside()) / float64(s.Wall)
	}
	return r
}

// NewRecord describes a result.
func NewRecord(e *engine.Engine, doc *Doc, r *engine.Result, o ExportOptions) (Record, error) {
	pa, pb, err := e.Prompts(r.Settings)
	if err != nil {
		return Record{}, fmt.Errorf("describe the result: %w", err)
	}
	c := r.Crop
	rec := Record{Likeness: Version, Time: time.Now().UTC(), Mode: r.Mode, Input: recordedInput(doc.Path, o.RecordPath), Crop: [4]int{c.Min.X, c.Min.Y, c.Dx(), c.Dy()},
		Output: map[Output]string{OutputFull: "full", OutputModelRes: "model-res"}[o.Output], Preserve: o.Preserve,
		Settings: r.Settings, Source: pa, Target: pb, Strength: r.Strength, Painted: doc.Painted(),
		Pack: PackRecord{Name: e.Pack.Name, Kind: string(e.Sig.Kind), Files: PackDigests(e)}, Providers: Providers(e), Stats: NewStatsRecord(r.Stats),
		Load: NewLoadRecord(e.Loading)}
	if doc.Path != "" {
		rec.InputSHA256, _ = fileDigest(doc.Path)
	}
	if n := r.Settings.Noise; n != nil {
		rec.Noise = filepath.Base(n.Name)
	}
	if m := doc.Mask(); m != nil && r.Mode == engine.ModeMaskGuided {
		ms := NewStatsRecord(m.Stats)
		rec.MaskEmpty, rec.MaskStats = m.Reason, &ms
	}
	if r.Mask != nil {
		n := 0
		for _, b := range r.Mask {
			if b {
				n++
			}
		}
		rec.MaskArea = float64(n) / float64(len(r.Mask))
	}
	return rec, nil
}

// recordedInput is how a record names the input photo: its file name, or
// its full path when the user asked for it.
func recordedInput(path string, full bool) string {
	switch {
	case path == "":
		return ""
	case !full:
		return filepath.Base(path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// Providers maps each model to the execution provider it runs on.
func Providers(e *engine.Engine) map[string]string {
	out := map[string]string{}
	for _, m := range e.Models() {
		out[m.Role] = string(m.Provider)
	}
	return out
}

// Metadata builds what exports embed: A1111 "parameters" and the full record.
func Metadata(e *engine.Engine, doc *Doc, r *engine.Result, o ExportOptions) (*export.Metadata, error) {
	rec, err := NewRecord(e, doc, r, o)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	s := r.Settings
	b := r.Paper.Bounds() // the size written, without building the image
	if o.Output == OutputFull {
		b = doc.Photo.Image.Bounds()
	}
	hash := rec.Pack.Files["unet/model.onnx"]
	if len(hash) > 10 {
		hash = hash[:10]
	}
	fields := [][2]string{
		{"Steps", fmt.Sprint(s.Steps)}, {"Sampler", s.Scheduler}, {"CFG scale", fmt.Sprint(s.S3)},
		{"Image CFG scale", fmt.Sprint(s.S2)}, {"Seed", fmt.Sprint(s.Seed)}, {"Size", fmt.Sprintf("%dx%d", b.Dx(), b.Dy())},
		{"Model", e.Pack.Name}, {"Model hash", hash},
	}
	if r.Mode == engine.ModeSDEdit {
		fields = append(fields, [2]string{"Denoising strength", fmt.Sprint(r.Strength)})
	}
	fields = append(fields, [2]string{"Likeness mode", r.Mode}, [2]string{"Likeness s1", fmt.Sprint(s.S1)}, [2]string{"Likeness lambda", fmt.Sprint(s.Lambda)})
	if r.Mode == engine.ModeMaskGuided {
		fields = append(fields, [2]string{"Likeness mask normalize", s.MaskNormalize}, [2]string{"Likeness mask guidance", s.MaskGuidance})
	}
	return &export.Metadata{Parameters: export.FormatParameters(rec.Target, "", fields), JSON: js}, nil
}

var digests sync.Map // path|size|mtime -> sha256

// fileDigest is a file's SHA-256 in hex, computed once per file version
// and remembered.
func fileDigest(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s|%d|%d", path, st.Size(), st.ModTime().UnixNano())
	if v, ok := digests.Load(key); ok {
		return v.(string), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	d := hex.EncodeToString(h.Sum(nil))
	digests.Store(key, d)
	return d, nil
}

// PackDigests returns each model file's SHA-256: from the manifest when it
// lists them, else computed once per file version and remembered.
func PackDigests(e *engine.Engine) map[string]string {
	out := map[string]string{}
	for _, m := range e.Sig.Models {
		rel := m.Role + "/model.onnx"
		if f, ok := e.Pack.Manifest.Files[rel]; ok && f.SHA256 != "" {
			out[rel] = f.SHA256
			continue
		}
		if d, err := fileDigest(m.Path); err == nil {
			out[rel] = d
		}
	}
	return out
}

// ProviderNotes explains where each model runs, with refusals.
func ProviderNotes(e *engine.Engine) []string {
	var out []string
	for _, m := range e.Models() {
		line := fmt.Sprintf("%s: %s", m.Role, m.Provider)
		for _, r := range m.Refused {
			line += fmt.Sprintf(" (%s refused: %s)", r.Provider, r.Reason)
		}
		out = append(out, line)
	}
	return out
}

// WriteImage writes any image (a comparison, a sheet) atomically, never over
// the document's photo.
func WriteImage(path string, img image.Image, doc *Doc, overwrite bool) error {
	var protect []string
	if doc != nil && doc.Path != "" {
		protect = []string{doc.Path}
	}
	return export.Write(path, img, nil, export.WriteOptions{Overwrite: overwrite, Protect: protect})
}
