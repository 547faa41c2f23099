package eval

// External evaluation: pictures the project did not draw (Debian's
// openclipart-png cartoons), each with hand-drawn boxes for the face, the
// eyes and the mouth. There is no true target, so the scores say where the
// edit landed and what it kept, and the judge says what it reads as.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"likeness/app"
	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/export"
	"likeness/engine/photo"
	"likeness/models"
)

// ExternalFile is the TSV of an external set, inside its folder.
const ExternalFile = "faces.tsv"

// DefaultExternalImages is where Debian's openclipart-png keeps its PNGs:
// the external set's file names are relative to it unless the folder
// itself holds them.
const DefaultExternalImages = "/usr/share/openclipart/png"

// Region rules, as fractions of the annotated face box (w x h): how far
// each annotated box is widened before it is scored. An edit that moves a
// brow or lets a tear run is still on the eyes; a laughing mouth opens well
// past a neutral mouth's line.
const (
	eyesGrowX, eyesGrowUp, eyesGrowDown = 0.08, 0.15, 0.30
	mouthGrowX, mouthGrowY              = 0.12, 0.10
	faceGrowX, faceGrowUp, faceGrowDown = 0.10, 0.30, 0.12
	// ChangedLevel is the least change, on any channel of 0-255, that counts
	// a pixel as changed: more than the autoencoder's own reconstruction
	// error inside the mask, far less than any drawn feature.
	ChangedLevel = 40
)

// ExternalItem is one row of faces.tsv: boxes in the file's own pixels.
type ExternalItem struct {
	File              string
	Face, Eyes, Mouth image.Rectangle
	Note              string
	Line              int
}

// ReadExternal reads dir/faces.tsv (columns file, face, eyes, mouth, note;
// boxes as x0,y0,x1,y1) and resolves each file against dir, then images.
func ReadExternal(dir, images string) ([]ExternalItem, error) {
	p := filepath.Join(dir, ExternalFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("external set: %w", err)
	}
	var out []ExternalItem
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	var cols map[string]int
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range f {
				cols[strings.TrimSpace(c)] = i
			}
			for _, want := range []string{"file", "face", "eyes", "mouth"} {
				if _, ok := cols[want]; !ok {
					return nil, fmt.Errorf("%s:%d: the header has no %q column (want file, face, eyes, mouth, note)", p, n, want)
				}
			}
			continue
		}
		get := func(c string) string {
			if i, ok := cols[c]; ok && i < len(f) {
				return strings.TrimSpace(f[i])
			}
			return ""
		}
		it := ExternalItem{File: get("file"), Note: get("note"), Line: n}
		if it.File == "" {
			return nil, fmt.Errorf("%s:%d: empty file name", p, n)
		}
		for _, b := range []struct {
			col string
			dst *image.Rectangle
		}{{"face", &it.Face}, {"eyes", &it.Eyes}, {"mouth", &it.Mouth}} {
			r, err := parseBox(get(b.col))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", p, n, b.col, err)
			}
			*b.dst = r
		}
		if !filepath.IsAbs(it.File) {
			if _, err := os.Stat(filepath.Join(dir, it.File)); err == nil {
				it.File = filepath.Join(dir, it.File)
			} else {
				it.File = filepath.Join(images, it.File)
			}
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no pictures listed", p)
	}
	return out, nil
}

func parseBox(s string) (image.Rectangle, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return image.Rectangle{}, fmt.Errorf("%q: want x0,y0,x1,y1", s)
	}
	var v [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return image.Rectangle{}, fmt.Errorf("%q: %q is not a whole number", s, p)
		}
		v[i] = n
	}
	r := image.Rect(v[0], v[1], v[2], v[3])
	if r.Empty() || v[0] >= v[2] || v[1] >= v[3] {
		return image.Rectangle{}, fmt.Errorf("%q: want x0 < x1 and y0 < y1", s)
	}
	return r, nil
}

// ExternalOptions configure RunExternal.
type ExternalOptions struct {
	Settings engine.Settings // the pack's defaults with the user's overrides
	Crop     string          // app.CropAuto or app.CropCentre
	Judge    *Judge          // nil: not judged
	Thumbs   bool
	Progress func(Progress)
}

// ExternalResult is one picture edited in one direction.
type ExternalResult struct {
	File      string `json:"file"`
	Direction string `json:"direction"`
	// Framing: who found the face, the crop (x, y, w, h in the padded
	// canvas), and how far the face landed from the pack's face box (in
	// face widths) against the annotated face.
	FoundBy    string `json:"found_by"`
	Crop       [4]int `json:"crop"`
	FramingOff Num    `json:"framing_off"`
	// OnFeatures is the share of changed pixels on the (widened) eyes or
	// mouth; MouthChanged the share of the mouth region changed; PSNROutFace
	// the PSNR of the crop outside the (widened) face against the input;
	// PSNRFace the PSNR inside the face box (what a costume must keep);
	// MaskOnFace the share of the model's mask on the face.
	Changed      Num    `json:"changed"`
	OnFeatures   Num    `json:"on_features"`
	MouthChanged Num    `json:"mouth_changed"`
	PSNROutFace  Num    `json:"psnr_out_face"`
	PSNRFace     Num    `json:"psnr_face"`
	MaskOnFace   Num    `json:"mask_on_face"`
	Judged       string `json:"judged,omitempty"`
	Recognised   *bool  `json:"recognised,omitempty"`
	Thumb        string `json:"thumb,omitempty"`
	thumb        []byte
}

// ExternalRow is the means over one direction (or DirectionAll).
type ExternalRow struct {
	Direction    string `json:"direction"`
	N            int    `json:"n"`
	OnFeatures   Num    `json:"on_features"`
	MouthChanged Num    `json:"mouth_changed"`
	PSNROutFace  Num    `json:"psnr_out_face"`
	PSNRFace     Num    `json:"psnr_face"`
	MaskOnFace   Num    `json:"mask_on_face"`
	Recognised   Num    `json:"recognised"`
	FramingOff   Num    `json:"framing_off"`
}

// ExternalReport is one external evaluation.
type ExternalReport struct {
	Pack       string           `json:"pack"`
	Set        string           `json:"set"`
	Crop       string           `json:"crop"`
	Settings   engine.Settings  `json:"settings"`
	Judge      *JudgeInfo       `json:"judge,omitempty"`
	FacesFound int              `json:"faces_found"` // pictures whose face the framing found
	Pictures   int              `json:"pictures"`
	Created    time.Time        `json:"created"`
	Summary    []ExternalRow    `json:"summary"`
	Results    []ExternalResult `json:"results"`
}

// RunExternal edits every picture in every direction of the pack at the
// settings given, with the crop chosen as opt.Crop says.
func RunExternal(ctx context.Context, eng *engine.Engine, set string, items []ExternalItem, opt ExternalOptions) (*ExternalReport, error) {
	base := opt.Settings
	base.Target = ""
	if err := eng.Validate(base); err != nil {
		return nil, err
	}
	rep := &ExternalReport{Pack: eng.Pack.Name, Set: set, Crop: opt.Crop, Settings: base, Pictures: len(items), Created: time.Now().UTC()}
	if opt.Judge != nil {
		ji := opt.Judge.JudgeInfo
		rep.Judge = &ji
	}
	dirs := eng.Manifest().Directions
	total := len(items) * len(dirs)
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs, found, err := runExternalItem(ctx, eng, it, base, opt, func(k int, ep engine.Progress) {
			if opt.Progress != nil {
				opt.Progress(Progress{Pair: i*len(dirs) + k + 1, Pairs: total, ID: filepath.Base(it.File), Engine: ep})
			}
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%s (%s line %d): %w", it.File, ExternalFile, it.Line, err)
		}
		if found {
			rep.FacesFound++
		}
		rep.Results = append(rep.Results, rs...)
	}
	rep.summarise(dirs)
	return rep, nil
}

// flattened is the picture on white, as the product and the model see it;
// the picture's offset in it is zero (kept for the boxes' arithmetic).
func flattened(img *image.NRGBA) (*image.NRGBA, image.Point) {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, image.White, image.Point{}, draw.Src)
	draw.Draw(out, out.Rect, img, b.Min, draw.Over)
	return out, image.Point{}
}

func grow(r image.Rectangle, face image.Rectangle, x, up, down float64) image.Rectangle {
	w, h := float64(face.Dx()), float64(face.Dy())
	return image.Rect(r.Min.X-int(x*w+0.5), r.Min.Y-int(up*h+0.5), r.Max.X+int(x*w+0.5), r.Max.Y+int(down*h+0.5))
}

func runExternalItem(ctx context.Context, eng *engine.Engine, it ExternalItem, base engine.Settings, opt ExternalOptions,
	progress func(int, engine.Progress)) ([]ExternalResult, bool, error) {
	ph, err := photo.Load(it.File)
	if err != nil {
		return nil, false, err
	}
	if !it.Face.In(ph.Image.Bounds()) {
		return nil, false, fmt.Errorf("face box %v is outside the %dx%d picture", it.Face, ph.Image.Bounds().Dx(), ph.Image.Bounds().Dy())
	}
	// As the product frames it: the crop stays inside the picture, so a head
	// drawn edge to edge comes out larger than the pack's face box (Framing
	// says how much), as it does in the app.
	canvas, off := flattened(ph.Image)
	face, eyes, mouth := it.Face.Add(off), it.Eyes.Add(off), it.Mouth.Add(off)
	doc := app.SyntheticDoc(canvas)
	fr, err := doc.ApplyCrop(ctx, eng, opt.Crop)
	if err != nil {
		return nil, false, err
	}
	crop := doc.Crop()
	foundBy := fr.By
	framingOff := Num(math.NaN())
	if fb := eng.Manifest().FaceBox; fb != nil {
		// Where the annotated face landed, against where the pack wants it.
		s := float64(crop.Dx())
		want := [2]float64{(fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2}
		got := [2]float64{(float64(face.Min.X+face.Max.X)/2 - float64(crop.Min.X)) / s, (float64(face.Min.Y+face.Max.Y)/2 - float64(crop.Min.Y)) / s}
		framingOff = Num(math.Hypot(got[0]-want[0], got[1]-want[1]) * s / float64(face.Dx()))
	}
	eyesR := grow(eyes, face, eyesGrowX, eyesGrowUp, eyesGrowDown)
	mouthR := grow(mouth, face, mouthGrowX, mouthGrowY, mouthGrowY)
	faceR := grow(face, face, faceGrowX, faceGrowUp, faceGrowDown)
	enc, err := doc.Encoded(ctx, eng, func(p engine.Progress) { progress(0, p) })
	if err != nil {
		return nil, false, err
	}
	var out []ExternalResult
	for k, d := range eng.Manifest().Directions {
		s := base
		s.Direction = d.ID
		pr := func(p engine.Progress) { progress(k, p) }
		m, err := eng.ComputeMask(ctx, enc, s, pr)
		if err != nil {
			return nil, false, err
		}
		bits := m.Threshold(s.Lambda)
		res, err := eng.Edit(ctx, enc, s, bits, pr)
		if err != nil {
			return nil, false, err
		}
		full := res.Full()
		r := ExternalResult{File: it.File, Direction: d.ID, FoundBy: foundBy, FramingOff: framingOff,
			Crop: [4]int{crop.Min.X - off.X, crop.Min.Y - off.Y, crop.Dx(), crop.Dy()}}
		maskPx := compose.UpsampleMask(bits, m.W, m.H, crop.Dx(), crop.Dy())
		scoreExternal(&r, canvas, full, crop, maskPx, faceR, face, eyesR, mouthR)
		if opt.Judge != nil {
			got, _, err := opt.Judge.Classify(ctx, full, face, crop)
			if err != nil {
				return nil, false, err
			}
			ok := got == d.ID
			r.Judged, r.Recognised = got, &ok
		}
		if opt.Thumbs {
			in := subImage(canvas, crop)
			outImg := subImage(full, crop)
			thumbs := []*image.NRGBA{in, compose.Overlay(enc.Photo, bits, m.W, m.H, app.MaskColour, 0.5), outImg}
			labels := []string{"input", fmt.Sprintf("mask λ=%.2f", s.Lambda), d.Label}
			if r.Judged != "" {
				labels[2] += " · judged " + r.Judged
			}
			var b bytes.Buffer
			if err := png.Encode(&b, compose.Sheet(thumbs, labels, len(thumbs), 192, color.White)); err != nil {
				return nil, false, err
			}
			r.thumb = b.Bytes()
			r.Thumb = fmt.Sprintf("%s_%s.png", strings.TrimSuffix(filepath.Base(it.File), filepath.Ext(it.File)), d.ID)
		}
		out = append(out, r)
	}
	return out, !fr.Face.Empty(), nil
}

func subImage(img *image.NRGBA, r image.Rectangle) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, img, r.Min, draw.Src)
	return out
}

// scoreExternal fills r's region scores; every count is over the crop.
func scoreExternal(r *ExternalResult, in, out *image.NRGBA, crop image.Rectangle, maskPx []bool, faceR, face, eyesR, mouthR image.Rectangle) {
	var changed, onFeat, mouthN, mouthCh, maskN, maskFace int
	var seOut, seFace float64
	var nOut, nFace int
	inner := face.Intersect(crop)
	for y := crop.Min.Y; y < crop.Max.Y; y++ {
		for x := crop.Min.X; x < crop.Max.X; x++ {
			i, j := in.PixOffset(x, y), out.PixOffset(x, y)
			var d, se float64
			for c := 0; c < 3; c++ {
				v := math.Abs(float64(in.Pix[i+c]) - float64(out.Pix[j+c]))
				d = math.Max(d, v)
				se += v * v
			}
			p := image.Pt(x, y)
			ch := d > ChangedLevel
			feat := p.In(eyesR) || p.In(mouthR)
			if ch {
				changed++
				if feat {
					onFeat++
				}
			}
			if p.In(mouthR) {
				mouthN++
				if ch {
					mouthCh++
				}
			}
			if !p.In(faceR) {
				seOut += se
				nOut++
			}
			if p.In(inner) {
				seFace += se
				nFace++
			}
			if maskPx[(y-crop.Min.Y)*crop.Dx()+(x-crop.Min.X)] {
				maskN++
				if p.In(faceR) {
					maskFace++
				}
			}
		}
	}
	frac := func(a, b int) Num {
		if b == 0 {
			return Num(math.NaN())
		}
		return Num(float64(a) / float64(b))
	}
	psnr := func(se float64, n int) Num {
		if n == 0 {
			return Num(math.NaN())
		}
		mse := se / float64(3*n)
		if mse == 0 {
			return Num(PSNRCap)
		}
		return Num(math.Min(PSNRCap, 10*math.Log10(255*255/mse)))
	}
	r.Changed = frac(changed, crop.Dx()*crop.Dy())
	r.OnFeatures = frac(onFeat, changed)
	r.MouthChanged = frac(mouthCh, mouthN)
	r.PSNROutFace = psnr(seOut, nOut)
	r.PSNRFace = psnr(seFace, nFace)
	r.MaskOnFace = frac(maskFace, maskN)
}

func (rep *ExternalReport) summarise(dirs []models.Direction) {
	ids := []string{}
	for _, d := range dirs {
		ids = append(ids, d.ID)
	}
	ids = append(ids, DirectionAll)
	for _, id := range ids {
		var on, mc, po, pf, mf, rec, fo mean
		n := 0
		for _, r := range rep.Results {
			if id != DirectionAll && r.Direction != id {
				continue
			}
			n++
			on.add(float64(r.OnFeatures))
			mc.add(float64(r.MouthChanged))
			po.add(float64(r.PSNROutFace))
			pf.add(float64(r.PSNRFace))
			mf.add(float64(r.MaskOnFace))
			fo.add(float64(r.FramingOff))
			if r.Recognised != nil {
				rec.add(boolf(*r.Recognised))
			}
		}
		rep.Summary = append(rep.Summary, ExternalRow{Direction: id, N: n, OnFeatures: on.value(), MouthChanged: mc.value(),
			PSNROutFace: po.value(), PSNRFace: pf.value(), MaskOnFace: mf.value(), Recognised: rec.value(), FramingOff: fo.value()})
	}
}

// ExternalHeader is summary.csv's header for an external report.
var ExternalHeader = []string{"direction", "n", "on_features", "mouth_changed", "psnr_out_face", "psnr_face", "mask_on_face", "recognised", "framing_off"}

func (row ExternalRow) record() []string {
	return []string{row.Direction, strconv.Itoa(row.N), cell(row.OnFeatures, 3), cell(row.MouthChanged, 3), cell(row.PSNROutFace, 2),
		cell(row.PSNRFace, 2), cell(row.MaskOnFace, 3), cell(row.Recognised, 3), cell(row.FramingOff, 3)}
}

// Write writes report.json, summary.csv, index.html and thumbs/ into dir,
// each file atomically, index.html last.
func (rep *ExternalReport) Write(dir string, overwrite bool) error {
	if err := os.MkdirAll(filepath.Join(dir, ThumbsDir), 0o755); err != nil {
		return fmt.Errorf("report folder %s: %w", dir, err)
	}
	wo := export.WriteOptions{Overwrite: overwrite}
	for _, r := range rep.Results {
		if r.thumb != nil {
			if err := export.WriteBytes(filepath.Join(dir, ThumbsDir, r.Thumb), r.thumb, wo); err != nil {
				return err
			}
		}
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := export.WriteBytes(filepath.Join(dir, ReportJSON), append(data, '\n'), wo); err != nil {
		return err
	}
	var rows [][]string
	for _, row := range rep.Summary {
		rows = append(rows, row.record())
	}
	text, err := csvText(ExternalHeader, rows)
	if err != nil {
		return err
	}
	if err := export.WriteBytes(filepath.Join(dir, SummaryCSV), []byte(text), wo); err != nil {
		return err
	}
	return export.WriteBytes(filepath.Join(dir, ReportHTML), []byte(rep.html()), wo)
}

func (rep *ExternalReport) html() string {
	var b strings.Builder
	e := html.EscapeString
	s := rep.Settings
	judge := "no judge"
	if rep.Judge != nil {
		judge = fmt.Sprintf("judge %s (held-out render accuracy %.3f)", rep.Judge.Task, rep.Judge.Accuracy)
	}
	fmt.Fprintf(&b, `<!doctype html><meta charset=utf-8><title>Likeness external evaluation: %s</title>
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th{text-align:left}img{max-width:100%%}</style>
<h1>External evaluation: %s</h1>
<p>Set %s · %d pictures (face found by the framing in %d) · crop %s · s1 %g s2 %g s3 %g · λ %g · %d steps (%s) · %s</p>
<p>Pictures nobody here drew, flattened on white and framed as the app frames them. A pixel is changed when a channel moved by more than %d of 255.
on_features = changed pixels on the eyes (brows and tear tracks included) or the mouth, over all changed pixels; mouth_changed = share of the mouth region changed;
psnr_out_face = PSNR of the crop outside the face against the input; psnr_face = inside the face box (what a costume must keep); mask_on_face = share of the model's mask on the face;
recognised = the judge reads the output as the direction; framing_off = distance of the annotated face's centre from the pack's face box, in face widths.</p>
<table><tr>`, e(rep.Pack), e(rep.Pack), e(rep.Set), rep.Pictures, rep.FacesFound, e(rep.Crop), s.S1, s.S2, s.S3, s.Lambda, s.Steps, e(s.Scheduler), e(judge),
		ChangedLevel)
	for _, h := range ExternalHeader {
		fmt.Fprintf(&b, "<th>%s</th>", e(h))
	}
	b.WriteString("</tr>\n")
	for _, row := range rep.Summary {
		b.WriteString("<tr>")
		for _, c := range row.record() {
			fmt.Fprintf(&b, "<td>%s</td>", e(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n<h2>Pictures</h2>\n<table>\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "<tr><td>%s<br>%s<br>found by %s<br>on features %s · mouth %s · judged %s</td><td>", e(filepath.Base(r.File)), e(r.Direction),
			e(orNone(r.FoundBy)), cell(r.OnFeatures, 3), cell(r.MouthChanged, 3), e(orNone(r.Judged)))
		if r.Thumb != "" {
			fmt.Fprintf(&b, `<img src="%s/%s" alt="%s">`, ThumbsDir, e(r.Thumb), e(r.Thumb))
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
