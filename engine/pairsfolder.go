package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"time"

	"likeness/engine/compose"
	"likeness/engine/export"
)

// The pairs folder is the format `python3 -m likeness_train pairs` writes and
// `likeness eval` and the trainer read: DIR/index.jsonl, one JSON object per
// line, with file paths relative to DIR. A generated pair lives in its own
// folder DIR/<identity>/ with source.png (x_A), <direction>.png (x_B) and
// <direction>_diff.png: no true change mask exists for generated pairs, so
// the mask file is the per-pixel difference map max over RGB of |x_A − x_B|
// (8-bit grey), and the line says "mask_kind": "difference".

// PairsIndexFile is the pairs folder's index.
const PairsIndexFile = "index.jsonl"

// PairsTask is the "task" of generated pairs in the index.
const PairsTask = "sd"

// ErrPairsFolder is matched by errors about an existing pairs folder that
// this run cannot continue (a malformed index, a pair made with other
// settings).
var ErrPairsFolder = errors.New("pairs folder")

// PairGenerator is what decided a pair's pixels; a rerun skips a pair only
// when its recorded generator equals the run's.
type PairGenerator struct {
	Pack       string    `json:"pack"`
	Prompts    [3]string `json:"prompts"` // p, p_a, p_b
	Guidance   float64   `json:"guidance"`
	SD         float64   `json:"sd"`
	SA         float64   `json:"sa"`
	SB         float64   `json:"sb"`
	Steps      int       `json:"steps"`
	Scheduler  string    `json:"scheduler"`
	Resolution int       `json:"resolution"`
}

// PairRecord is one line of index.jsonl.
type PairRecord struct {
	Identity   string        `json:"identity"`
	Task       string        `json:"task"`
	Direction  string        `json:"direction"`
	Source     string        `json:"source"`
	Target     string        `json:"target"`
	Mask       string        `json:"mask"`
	MaskKind   string        `json:"mask_kind"`
	FaceBox    [4]int        `json:"face_box"`
	Size       int           `json:"size"`
	Split      string        `json:"split"`
	Seed       uint64        `json:"seed"`
	Index      int           `json:"index"`
	PairSeed   uint64        `json:"pair_seed"`
	Subject    string        `json:"subject"`
	SourceText string        `json:"source_text"`
	TargetText string        `json:"target_text"`
	Generator  PairGenerator `json:"generator"`
}

// PairsOptions choose what WritePairs writes.
type PairsOptions struct {
	N     int    // pairs of this run: indices 0..N-1
	Split string // the index's "split"; default "train"
	// SheetPairs is how many of the first pairs the contact sheet shows
	// (default 8; negative: no sheet).
	SheetPairs int
	// PairDone, when set, is called after each pair is on disk (or skipped).
	PairDone func(PairProgress)
}

// PairProgress reports one finished pair.
type PairProgress struct {
	Done, Total int
	Record      PairRecord
	Skipped     bool
	Stats       Stats // zero for a skipped pair
}

// PairsReport sums up a WritePairs run.
type PairsReport struct {
	Dir          string       `json:"dir"`
	Index        string       `json:"index"`
	ContactSheet string       `json:"contact_sheet,omitempty"`
	Written      int          `json:"written"`
	Skipped      int          `json:"skipped"`
	Records      []PairRecord `json:"-"`
	// UNetEvals is the UNet evaluations of the pairs written, Denoise and
	// Wall their time in the denoising loop and in all.
	UNetEvals int           `json:"unet_evals"`
	Denoise   time.Duration `json:"denoise_ns"`
	Wall      time.Duration `json:"wall_ns"`
}

// Slug is a direction id made from free text: lower-case ASCII letters and
// digits, other runs of characters as one "-", at most 48 characters; text
// without any gets "target-" and a short hash.
func Slug(text string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(text) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	if b.Len() == 0 {
		h := sha256.Sum256([]byte(text))
		return "target-" + hex.EncodeToString(h[:4])
	}
	return b.String()
}

// pairsLine is an index line as read back: the raw JSON (written again as
// it was) and what resuming needs.
type pairsLine struct {
	raw       json.RawMessage
	identity  string
	direction string
	source    string
	target    string
	mask      string
	generator json.RawMessage
}

func readPairsIndex(path string) ([]pairsLine, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []pairsLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v struct {
			Identity  string          `json:"identity"`
			Direction string          `json:"direction"`
			Source    string          `json:"source"`
			Target    string          `json:"target"`
			Mask      string          `json:"mask"`
			Generator json.RawMessage `json:"generator"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrPairsFolder, path, n, err)
		}
		out = append(out, pairsLine{raw: append(json.RawMessage(nil), line...), identity: v.Identity, direction: v.Direction,
			source: v.Source, target: v.Target, mask: v.Mask, generator: v.Generator})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func writePairsIndex(path string, lines []pairsLine) error {
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l.raw)
		b.WriteByte('\n')
	}
	return export.WriteBytes(path, b.Bytes(), export.WriteOptions{Overwrite: true})
}

// WritePairs generates pairs 0..N-1 of s into dir and lists them in
// dir/index.jsonl, keeping the lines already there. Each pair is written to a
// hidden folder in dir that is renamed into place once complete, and the
// index is rewritten atomically after each pair, so cancelling (ctx) or a
// crash never leaves a half-written pair in the index; pairs already written
// stay valid. A rerun with the same settings skips the pairs the index lists
// with their files present; a pair the index lists with other settings is an
// error (ErrPairsFolder), as mixing them would corrupt the dataset. One run
// at a time per folder: a run removes the hidden folders of pairs a killed
// run left half-written.
func (e *Engine) WritePairs(ctx context.Context, dir string, s PairSettings, o PairsOptions, progress ProgressFunc) (*PairsReport, error) {
	if err := e.ValidatePairs(s); err != nil {
		return nil, err
	}
	if o.N < 1 {
		return nil, fmt.Errorf("%w: %d pairs: want 1 or more", ErrBadSettings, o.N)
	}
	if o.Split == "" {
		o.Split = "train"
	}
	if o.SheetPairs == 0 {
		o.SheetPairs = 8
	}
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	removePartials(dir)
	index := filepath.Join(dir, PairsIndexFile)
	lines, err := readPairsIndex(index)
	if err != nil {
		return nil, err
	}
	res, _ := e.pairSize(s)
	slug := Slug(s.Target)
	gen := PairGenerator{Pack: e.Pack.Name, Guidance: s.Guidance, SD: s.SD, SA: s.SA, SB: s.SB, Steps: s.Steps, Scheduler: s.Scheduler, Resolution: res}
	gen.Prompts[0], gen.Prompts[1], gen.Prompts[2] = s.Prompts()
	genJSON, err := json.Marshal(gen)
	if err != nil {
		return nil, err
	}
	rep := &PairsReport{Dir: dir, Index: index}
	for i := range o.N {
		id := fmt.Sprintf("%s-%05d-%05d", slug, s.Seed, i)
		rec := PairRecord{Identity: id, Task: PairsTask, Direction: slug,
			Source: id + "/source.png", Target: id + "/" + slug + ".png", Mask: id + "/" + slug + "_diff.png", MaskKind: "difference",
			FaceBox: FaceBoxGuess(res), Size: res, Split: o.Split, Seed: s.Seed, Index: i, PairSeed: PairSeed(s.Seed, i),
			Subject: strings.TrimSpace(s.Subject), SourceText: strings.TrimSpace(s.Source), TargetText: strings.TrimSpace(s.Target), Generator: gen}
		at := -1
		for k, l := range lines {
			if l.identity == id && l.direction == slug {
				at = k
			}
		}
		if at >= 0 {
			l := lines[at]
			if !sameJSON(l.generator, genJSON) {
				return rep, fmt.Errorf("%w: %s line %d: pair %s/%s was made with other settings (%s; this run: %s): use another folder, or the same settings to continue it",
					ErrPairsFolder, index, at+1, id, slug, l.generator, genJSON)
			}
			if filesExist(dir, l.source, l.target, l.mask) {
				rep.Skipped++
				rep.Records = append(rep.Records, rec)
				if o.PairDone != nil {
					o.PairDone(PairProgress{Done: i + 1, Total: o.N, Record: rec, Skipped: true})
				}
				continue
			}
			lines = append(lines[:at], lines[at+1:]...) // listed but incomplete: make it again
		}
		p, err := e.generatePair(ctx, s, i, halfMasks(res/e.Sig.LatentFactor), progress)
		if err != nil {
			return rep, err
		}
		if err := writePairFiles(dir, id, rec, p); err != nil {
			return rep, err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return rep, err
		}
		lines = append(lines, pairsLine{raw: raw, identity: id, direction: slug, source: rec.Source, target: rec.Target, mask: rec.Mask, generator: genJSON})
		if err := writePairsIndex(index, lines); err != nil {
			return rep, err
		}
		rep.Written++
		rep.Records = append(rep.Records, rec)
		rep.UNetEvals += p.Stats.TotalEvals()
		rep.Denoise += p.Stats.Phases[PhaseDenoise]
		if o.PairDone != nil {
			o.PairDone(PairProgress{Done: i + 1, Total: o.N, Record: rec, Stats: p.Stats})
		}
	}
	if o.SheetPairs > 0 {
		path := filepath.Join(dir, fmt.Sprintf("contact-%s-%d.png", slug, s.Seed))
		if err := writeContactSheet(path, dir, rep.Records[:min(len(rep.Records), o.SheetPairs)], res); err != nil {
			return rep, err
		}
		rep.ContactSheet = path
	}
	rep.Wall = time.Since(start)
	return rep, nil
}

// FaceBoxGuess is the face box the index records for a generated pair of
// side size: no face detector runs, so it is where a centred head-and-
// shoulders portrait has its face (rows 3/16..9/16, columns 5/16..11/16).
func FaceBoxGuess(size int) [4]int {
	return [4]int{5 * size / 16, 3 * size / 16, 11 * size / 16, 9 * size / 16}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func filesExist(dir string, rel ...string) bool {
	for _, r := range rel {
		if r == "" {
			return false
		}
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(r))); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

const partialPattern = ".pair-*.partial"

// removePartials deletes pair folders a killed run left half-written.
func removePartials(dir string) {
	m, _ := filepath.Glob(filepath.Join(dir, partialPattern))
	for _, p := range m {
		os.RemoveAll(p)
	}
}

// writePairFiles writes a pair's three PNGs into a hidden folder and renames
// it to dir/id; a folder already there (left by a run stopped between the
// rename and the index) is replaced, since the index does not list it.
func writePairFiles(dir, id string, rec PairRecord, p *Pair) (err error) {
	tmp, err := os.MkdirTemp(dir, strings.Replace(partialPattern, "*", id+"-*", 1))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		return err
	}
	for _, f := range []struct {
		rel string
		img image.Image
	}{{rec.Source, p.Source}, {rec.Target, p.Target}, {rec.Mask, DifferenceMap(p.Source, p.Target)}} {
		if err := writePNGFile(filepath.Join(tmp, filepath.Base(f.rel)), f.img); err != nil {
			return err
		}
	}
	final := filepath.Join(dir, id)
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	return os.Rename(tmp, final)
}

func writePNGFile(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// DifferenceMap is the per-pixel difference max over RGB of |a − b| as 8-bit
// grey: the generated pairs' stand-in for a change mask.
func DifferenceMap(a, b *image.NRGBA) *image.Gray {
	r := a.Bounds()
	g := image.NewGray(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i, k := a.PixOffset(x, y), b.PixOffset(x, y)
			var d uint8
			for c := range 3 {
				v := int(a.Pix[i+c]) - int(b.Pix[k+c])
				if v < 0 {
					v = -v
				}
				d = max(d, uint8(v))
			}
			g.Pix[g.PixOffset(x, y)] = d
		}
	}
	return g
}

// writeContactSheet lays the pairs out two per row: source, target, source,
// target, each labelled with its index.
func writeContactSheet(path, dir string, recs []PairRecord, res int) error {
	var imgs []*image.NRGBA
	var labels []string
	for _, r := range recs {
		for _, f := range []struct{ rel, what string }{{r.Source, "source"}, {r.Target, "target"}} {
			img, err := readPNG(filepath.Join(dir, filepath.FromSlash(f.rel)))
			if err != nil {
				return err
			}
			imgs = append(imgs, img)
			labels = append(labels, fmt.Sprintf("%d %s", r.Index, f.what))
		}
	}
	sheet := compose.Sheet(imgs, labels, 4, min(res, 256), color.White)
	if sheet == nil {
		return nil
	}
	return export.WritePNG(path, sheet, nil, export.WriteOptions{Overwrite: true})
}

func readPNG(path string) (*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if n, ok := img.(*image.NRGBA); ok {
		return n, nil
	}
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out, nil
}
