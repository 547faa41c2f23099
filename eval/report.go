package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"likeness/engine"
	"likeness/engine/export"
)

// Report files written into the report folder.
const (
	ReportJSON   = "report.json"
	SummaryCSV   = "summary.csv"
	PairsCSV     = "pairs.csv"
	ReportHTML   = "index.html"
	ThumbsDir    = "thumbs"
	DirectionAll = "all" // the overall rows of the summary
)

// Report is one evaluation: settings, per-pair results and the summary
// tables (per direction, then overall).
type Report struct {
	Pack       string          `json:"pack"`
	PackDir    string          `json:"pack_dir"`
	PairsDir   string          `json:"pairs_dir"`
	Split      string          `json:"split"`
	Resolution int             `json:"resolution"`
	Settings   engine.Settings `json:"settings"`
	Guidances  []string        `json:"mask_guidances"`
	Outputs    []string        `json:"outputs"`
	PSNRCap    float64         `json:"psnr_cap"`
	Created    time.Time       `json:"created"`
	Summary    []Row           `json:"summary"`
	Results    []PairResult    `json:"pairs"`
}

// Row is one line of a summary table: the means over the pairs of one
// direction (or DirectionAll) for one output. Mask columns are null for the
// baseline, which uses no mask, and when no pair has a true change mask.
type Row struct {
	Direction  string `json:"direction"`
	Output     string `json:"output"`
	N          int    `json:"n"`
	SSIM       Num    `json:"ssim"`
	PSNR       Num    `json:"psnr"`
	SSIMOut    Num    `json:"ssim_out"`
	PSNROut    Num    `json:"psnr_out"`
	Recognised Num    `json:"recognised"` // fraction of pairs
	// JudgeRecognised is the fraction the judge reads as the direction
	// (null without a judge).
	JudgeRecognised Num `json:"judge_recognised"`
	// Over the pairs with a true change mask (MaskN of them): mean recall,
	// mean area ratio, and the fraction with recall >= 0.9.
	MaskN         int `json:"mask_n"`
	MaskRecall    Num `json:"mask_recall"`
	MaskAreaRatio Num `json:"mask_area_ratio"`
	MaskCovered   Num `json:"mask_recall_ge_0_9"`
}

// mean averages the finite values; NaN when there are none.
type mean struct {
	sum, sq float64
	n       int
}

func (m *mean) add(v float64) {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		m.sum += v
		m.sq += v * v
		m.n++
	}
}

// lower is the mean less one standard error (sample standard deviation over
// √n): what a mean from this few pairs can be trusted to reach. NaN with
// fewer than two values.
func (m mean) lower() Num {
	if m.n < 2 {
		return Num(math.NaN())
	}
	n := float64(m.n)
	mu := m.sum / n
	v := max(0, (m.sq-n*mu*mu)/(n-1))
	return Num(mu - math.Sqrt(v/n))
}

func (m mean) value() Num {
	if m.n == 0 {
		return Num(math.NaN())
	}
	return Num(m.sum / float64(m.n))
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// summarise fills the summary: every direction (sorted), then all.
func (r *Report) summarise() {
	r.PSNRCap = PSNRCap
	var dirs []string
	for _, pr := range r.Results {
		if !slices.Contains(dirs, pr.Pair.Direction) {
			dirs = append(dirs, pr.Pair.Direction)
		}
	}
	slices.Sort(dirs)
	r.Summary = nil
	for _, d := range append(dirs, DirectionAll) {
		for _, out := range r.Outputs {
			row := Row{Direction: d, Output: out}
			var ssim, psnr, ssimOut, psnrOut, rec, judged, recall, ratio, covered mean
			for _, pr := range r.Results {
				if d != DirectionAll && pr.Pair.Direction != d {
					continue
				}
				for _, o := range pr.Outputs {
					if o.Output != out {
						continue
					}
					row.N++
					ssim.add(float64(o.SSIM))
					psnr.add(float64(o.PSNR))
					ssimOut.add(float64(o.SSIMOut))
					psnrOut.add(float64(o.PSNROut))
					rec.add(boolf(o.Recognised))
					if o.JudgeOK != nil {
						judged.add(boolf(*o.JudgeOK))
					}
				}
				if out != OutputBaseline && pr.Pair.TrueMask() && !math.IsNaN(float64(pr.MaskRecall)) {
					row.MaskN++
					recall.add(float64(pr.MaskRecall))
					ratio.add(float64(pr.MaskAreaRatio))
					covered.add(boolf(pr.MaskRecall >= 0.9))
				}
			}
			row.SSIM, row.PSNR, row.SSIMOut, row.PSNROut = ssim.value(), psnr.value(), ssimOut.value(), psnrOut.value()
			row.Recognised, row.JudgeRecognised = rec.value(), judged.value()
			row.MaskRecall, row.MaskAreaRatio, row.MaskCovered = recall.value(), ratio.value(), covered.value()
			r.Summary = append(r.Summary, row)
		}
	}
}

// Overall returns the summary row of an output over all directions.
func (r *Report) Overall(output string) (Row, bool) {
	for _, row := range r.Summary {
		if row.Direction == DirectionAll && row.Output == output {
			return row, true
		}
	}
	return Row{}, false
}

// cell formats a number for CSV and HTML: "n/a" for NaN.
func cell(v Num, prec int) string {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(f, 'f', prec, 64)
}

var summaryHeader = []string{"direction", "output", "n", "ssim", "psnr", "ssim_out", "psnr_out", "recognised",
	"mask_n", "mask_recall", "mask_area_ratio", "mask_recall_ge_0_9", "judge_recognised"}

func (row Row) record() []string {
	return []string{row.Direction, row.Output, strconv.Itoa(row.N), cell(row.SSIM, 4), cell(row.PSNR, 2),
		cell(row.SSIMOut, 4), cell(row.PSNROut, 2), cell(row.Recognised, 3),
		strconv.Itoa(row.MaskN), cell(row.MaskRecall, 3), cell(row.MaskAreaRatio, 2), cell(row.MaskCovered, 3),
		cell(row.JudgeRecognised, 3)}
}

func csvText(header []string, rows [][]string) (string, error) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(header)
	w.WriteAll(rows) // flushes
	return b.String(), w.Error()
}

// thumbName is a pair's strip in ThumbsDir: identity_direction.png with
// anything but letters, digits, '-' and '.' replaced.
func thumbName(p Pair) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
				return r
			}
			return '_'
		}, s)
	}
	return clean(p.Identity) + "_" + clean(p.Direction) + ".png"
}

// ReportFiles lists the files Write creates in the report folder (the
// thumbnails aside).
func ReportFiles() []string { return []string{ReportJSON, SummaryCSV, PairsCSV, ReportHTML} }

// CheckWritable refuses a report folder whose files exist when overwrite
// is false, before any work is done.
func CheckWritable(dir string, overwrite bool) error {
	if overwrite {
		return nil
	}
	for _, f := range ReportFiles() {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("%s already holds a report (%s); choose another folder or allow overwriting: %w", dir, f, export.ErrExists)
		}
	}
	return nil
}

// Write writes the report into dir: report.json, summary.csv, pairs.csv,
// index.html and thumbs/*.png. Every file is written atomically (a
// temporary file renamed into place); the thumbnails come first and
// index.html last, so a page never points at a missing picture.
func (r *Report) Write(dir string, overwrite bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report folder %s: %w", dir, err)
	}
	wo := export.WriteOptions{Overwrite: overwrite}
	if slices.ContainsFunc(r.Results, func(p PairResult) bool { return p.thumb != nil }) {
		if err := os.MkdirAll(filepath.Join(dir, ThumbsDir), 0o755); err != nil {
			return fmt.Errorf("report folder %s: %w", dir, err)
		}
	}
	for _, p := range r.Results {
		if p.thumb != nil {
			if err := export.WriteBytes(filepath.Join(dir, ThumbsDir, p.Thumb), p.thumb, wo); err != nil {
				return err
			}
		}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := export.WriteBytes(filepath.Join(dir, ReportJSON), append(data, '\n'), wo); err != nil {
		return err
	}
	var rows [][]string
	for _, row := range r.Summary {
		rows = append(rows, row.record())
	}
	text, err := csvText(summaryHeader, rows)
	if err != nil {
		return err
	}
	if err := export.WriteBytes(filepath.Join(dir, SummaryCSV), []byte(text), wo); err != nil {
		return err
	}
	rows = nil
	for _, p := range r.Results {
		for _, o := range p.Outputs {
			rows = append(rows, []string{p.Pair.Identity, p.Pair.Direction, p.Pair.Split, o.Output,
				cell(o.SSIM, 4), cell(o.PSNR, 2), cell(o.SSIMOut, 4), cell(o.PSNROut, 2),
				strconv.FormatBool(o.Recognised), o.Nearest,
				cell(p.MaskArea, 4), cell(p.MaskRecall, 3), cell(p.MaskAreaRatio, 2)})
		}
	}
	text, err = csvText([]string{"identity", "direction", "split", "output", "ssim", "psnr", "ssim_out", "psnr_out",
		"recognised", "nearest", "mask_area", "mask_recall", "mask_area_ratio"}, rows)
	if err != nil {
		return err
	}
	if err := export.WriteBytes(filepath.Join(dir, PairsCSV), []byte(text), wo); err != nil {
		return err
	}
	return export.WriteBytes(filepath.Join(dir, ReportHTML), []byte(r.html()), wo)
}

func (r *Report) html() string {
	var b strings.Builder
	e := html.EscapeString
	s := r.Settings
	fmt.Fprintf(&b, `<!doctype html><meta charset=utf-8><title>Likeness evaluation: %s</title>
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th{text-align:left}img{max-width:100%%}.na{color:#999}caption{text-align:left;font-weight:bold;padding:4px 0}</style>
<h1>Likeness evaluation: %s</h1>
<p>Pairs %s · split %s · %d pairs · pack resolution %d px · s1 %g s2 %g s3 %g · λ %g · %d steps (%s) · mask %s, %d seeds × %d noise steps, blur %d · product guidance %s · seed %d</p>
<p>SSIM and PSNR against the true target; "out" = only pixels outside the true change (SSIM: windows centred there); PSNR of an exact match is shown as %g dB.
"recognised" = the output's nearest rendering of the identity (L2 on the face box, among its source and the true targets of every direction) is the pair's own target.
Mask: recall of the true change by the model's mask at the pairs' size, its area over the true change's, and the share of pairs with recall ≥ 0.9 (n/a for difference maps).
The product is mask-guided with Preserve: pixels outside the mask are the input's.</p>
`, e(r.Pack), e(r.Pack), e(r.PairsDir), e(r.Split), len(r.Results), r.Resolution, s.S1, s.S2, s.S3, s.Lambda, s.Steps, e(s.Scheduler),
		e(s.MaskNormalize), s.MaskSeeds, s.MaskNoiseSteps, s.BlurKernel, e(s.MaskGuidance), s.Seed, PSNRCap)
	dir := ""
	for _, row := range r.Summary {
		if row.Direction != dir {
			if dir != "" {
				b.WriteString("</table>\n")
			}
			dir = row.Direction
			title := "direction " + dir
			if dir == DirectionAll {
				title = "all directions"
			}
			fmt.Fprintf(&b, "<table><caption>%s</caption><tr>", e(title))
			for _, h := range summaryHeader[1:] {
				fmt.Fprintf(&b, "<th>%s</th>", e(h))
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("<tr>")
		for _, c := range row.record()[1:] {
			cls := ""
			if c == "n/a" {
				cls = ` class=na`
			}
			fmt.Fprintf(&b, "<td%s>%s</td>", cls, e(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n<h2>Pairs</h2>\n<table>\n")
	for _, p := range r.Results {
		fmt.Fprintf(&b, "<tr><td>%s<br>%s<br>mask %s%% · recall %s · area × %s</td><td>", e(p.Pair.Identity), e(p.Pair.Direction),
			cell(p.MaskArea*100, 1), cell(p.MaskRecall, 3), cell(p.MaskAreaRatio, 2))
		if p.Thumb != "" {
			fmt.Fprintf(&b, `<img src="%s/%s" alt="%s">`, ThumbsDir, e(p.Thumb), e(p.Pair.ID()))
		}
		b.WriteString("<br>")
		for _, o := range p.Outputs {
			mark := "✗"
			if o.Recognised {
				mark = "✓"
			}
			fmt.Fprintf(&b, "%s: SSIM %s, PSNR %s, out %s / %s, %s %s · ", e(o.Output), cell(o.SSIM, 3), cell(o.PSNR, 1),
				cell(o.SSIMOut, 3), cell(o.PSNROut, 1), mark, e(o.Nearest))
		}
		if p.MaskEmpty != "" {
			fmt.Fprintf(&b, "<br>empty mask: %s", e(p.MaskEmpty))
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	return b.String()
}
