package eval

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"

	"likeness/engine/photo"
	"likeness/models"
	"likeness/ort"
)

// The judges: small classifiers trained by `likeness_train train-judge` on
// the broad renderer's targets under heavy augmentation (models/train),
// shipped here because they judge edits, not make them. Each folder holds
// model.onnx and judge.json.
//
//go:embed judges
var judgeFS embed.FS

// ErrNoJudge means no judge knows the pack's directions.
var ErrNoJudge = errors.New("no judge for these directions")

// JudgeInfo is a judge's judge.json.
type JudgeInfo struct {
	Task    string   `json:"task"`
	Classes []string `json:"classes"` // the task's source first, then its directions
	Size    int      `json:"size"`
	// Input is "face" (the face box widened by Margin each side, as a
	// square) or "square" (the model's whole crop).
	Input    string  `json:"input"`
	Margin   float64 `json:"margin"`
	Accuracy float64 `json:"held_out_render_accuracy"`
	// External is the accuracy measured on openclipart drawings that show
	// the expression (testdata/external/openclipart/expressions.tsv), when
	// it was measured; null otherwise.
	External *float64 `json:"external_accuracy,omitempty"`
}

// Judge is one loaded judge.
type Judge struct {
	JudgeInfo
	sess *ort.Session
}

// Judges lists the judges built in.
func Judges() ([]JudgeInfo, error) {
	ents, err := fs.ReadDir(judgeFS, "judges")
	if err != nil {
		return nil, err
	}
	var out []JudgeInfo
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(judgeFS, path.Join("judges", e.Name(), "judge.json"))
		if err != nil {
			continue
		}
		var ji JudgeInfo
		if err := json.Unmarshal(data, &ji); err != nil {
			return nil, fmt.Errorf("judge %s: judge.json: %w", e.Name(), err)
		}
		out = append(out, ji)
	}
	return out, nil
}

// JudgeFor loads the judge whose classes include every direction of m.
func JudgeFor(m *models.Manifest) (*Judge, error) {
	infos, err := Judges()
	if err != nil {
		return nil, err
	}
	for _, ji := range infos {
		ok := len(m.Directions) > 0
		for _, d := range m.Directions {
			ok = ok && slices.Contains(ji.Classes, d.ID)
		}
		if ok {
			return loadJudge(ji)
		}
	}
	return nil, ErrNoJudge
}

func loadJudge(ji JudgeInfo) (*Judge, error) {
	data, err := fs.ReadFile(judgeFS, path.Join("judges", ji.Task, "model.onnx"))
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", ji.Task, err)
	}
	// ONNX Runtime reads the model from a file; it has read all of it once
	// the session exists, so the copy goes straight away.
	f, err := os.CreateTemp("", "likeness-judge-*.onnx")
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", ji.Task, err)
	}
	name := f.Name()
	defer os.Remove(name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("judge %s: %w", ji.Task, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("judge %s: %w", ji.Task, err)
	}
	s, err := ort.Open(name, ort.Options{Provider: ort.CPU, Threads: 1, Outputs: []string{"logits"}})
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", ji.Task, err)
	}
	return &Judge{JudgeInfo: ji, sess: s}, nil
}

// Close frees the judge's session.
func (j *Judge) Close() error {
	if j == nil || j.sess == nil {
		return nil
	}
	return j.sess.Close()
}

// View is the square of img the judge looks at: for a face judge, face
// widened by Margin each side; for a square judge, crop itself.
func (j *Judge) View(face, crop image.Rectangle) image.Rectangle {
	if j.Input != "face" || face.Empty() {
		return crop
	}
	w, h := float64(face.Dx()), float64(face.Dy())
	side := int(math.Round(math.Max(w, h) * (1 + 2*j.Margin)))
	c := face.Min.Add(face.Max).Div(2)
	return image.Rect(c.X-side/2, c.Y-side/2, c.X-side/2+side, c.Y-side/2+side)
}

// Classify returns the judge's class for img seen through View(face, crop)
// and the class probabilities.
func (j *Judge) Classify(ctx context.Context, img *image.NRGBA, face, crop image.Rectangle) (string, []float64, error) {
	x := photo.SquareInput(img, j.View(face, crop), j.Size)
	out, err := j.sess.Run(ctx, map[string]ort.Value{"image": ort.Floats([]int64{1, 3, int64(j.Size), int64(j.Size)}, x)},
		map[string][]int64{"logits": {1, int64(len(j.Classes))}})
	if err != nil {
		return "", nil, fmt.Errorf("judge %s: %w", j.Task, err)
	}
	logits := out["logits"].F32
	if len(logits) != len(j.Classes) {
		return "", nil, fmt.Errorf("judge %s: %d logits for %d classes", j.Task, len(logits), len(j.Classes))
	}
	p := softmax(logits)
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	return j.Classes[best], p, nil
}

func softmax(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, float64(x))
	}
	out := make([]float64, len(v))
	var sum float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
