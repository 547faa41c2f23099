package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"likeness/app"
	"likeness/engine"
	"likeness/engine/export"
)

func runCompare(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "compare")
	f := addEditFlags(fs)
	sdPack := fs.String("sd-pack", "", "an sd pack: adds SDEdit panels at strengths 0.5 and 0.8 and a DiffEdit panel (encoding ratio 0.8)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.input == "" {
		return usageErr("--input is required (a photo or a folder of photos)")
	}
	if f.out == "" {
		return usageErr("--out is required (a .png for one photo, a folder for a batch)")
	}
	ps, err := f.openPack(ctx, env)
	if err != nil {
		return err
	}
	defer ps.close()
	eng, pr := ps.eng, ps.pr
	var sd *engine.Engine
	if *sdPack != "" {
		if sd, err = ps.a.LoadPack(ctx, *sdPack, pr.report); err != nil {
			return err
		}
	}
	s, err := f.settings(eng)
	if err != nil {
		return err
	}
	if isDir(f.input) {
		return compareBatch(ctx, env, f, eng, sd, s, pr)
	}
	doc, err := f.openPhoto(ctx, env, eng)
	if err != nil {
		return err
	}
	c, err := app.Compare(ctx, eng, sd, doc, s, pr.report)
	if err != nil {
		return err
	}
	if err := export.Write(f.out, c.Image(), nil, export.WriteOptions{Overwrite: f.overwrite, Protect: []string{doc.Path}}); err != nil {
		return err
	}
	pr.done()
	if f.json {
		return printJSON(env.stdout, map[string]any{"output": f.out, "input": f.input, "mask_area": c.MaskArea,
			"settings": s, "panels": jsonPanels(c), "providers": app.Providers(eng)})
	}
	fmt.Fprintf(env.stdout, "%s: %d panels, mask %.1f%%\n", f.out, len(c.Panels), 100*c.MaskArea)
	return nil
}

// jsonPanels maps +Inf PSNR (identical pixels) to null, which JSON can carry.
func jsonPanels(c *app.Comparison) []map[string]any {
	var out []map[string]any
	for _, p := range c.Panels {
		m := map[string]any{"label": p.Label, "unet_evals": p.Evals, "time_ms": float64(p.Time.Microseconds()) / 1000}
		if p.Metrics != nil {
			m["psnr_in"], m["psnr_out"] = finite(p.Metrics.PSNRIn), finite(p.Metrics.PSNROut)
			m["ssim_in"], m["ssim_out"] = finite(p.Metrics.SSIMIn), finite(p.Metrics.SSIMOut)
		}
		out = append(out, m)
	}
	return out
}

func finite(v float64) any {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return v
}

// compareBatch runs every photo in a folder and writes one panel image per
// photo, report.html and metrics.csv into the output folder. A photo that
// fails is reported in both and does not stop the batch.
func compareBatch(ctx context.Context, env *env, f *editFlags, eng, sd *engine.Engine, s engine.Settings, pr *progressBar) error {
	entries, err := os.ReadDir(f.input)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("%s: %w", f.out, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && isPhotoName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fmt.Errorf("%s: no photos in the folder", f.input)
	}
	var rows [][]string
	var htmlRows strings.Builder
	wo := export.WriteOptions{Overwrite: f.overwrite}
	var failed []string // "name: reason"
	outNames := batchOutputNames(names, ".compare.png")
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		in := filepath.Join(f.input, name)
		outName := outNames[i]
		doc, err := app.OpenPhoto(in)
		var c *app.Comparison
		if err == nil {
			c, err = app.Compare(ctx, eng, sd, doc, s, pr.report)
		}
		if err == nil {
			wo.Protect = []string{in}
			err = export.Write(filepath.Join(f.out, outName), c.Image(), nil, wo)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			rows = append(rows, []string{name, "error", "", "", "", "", "", "", "", err.Error(), ""})
			fmt.Fprintf(&htmlRows, "<tr><td>%s</td><td colspan=2 class=err>%s</td></tr>\n", html.EscapeString(name), html.EscapeString(err.Error()))
			continue
		}
		for _, p := range c.Panels {
			if p.Metrics == nil {
				continue
			}
			rows = append(rows, []string{name, p.Label, fmt.Sprint(c.MaskArea), num(p.Metrics.PSNRIn), num(p.Metrics.PSNROut),
				num(p.Metrics.SSIMIn), num(p.Metrics.SSIMOut), fmt.Sprint(p.Evals), fmt.Sprint(p.Time.Milliseconds()), "", outName})
		}
		fmt.Fprintf(&htmlRows, "<tr><td>%s<br>mask %.1f%%</td><td><img src=\"%s\"></td><td>%s</td></tr>\n",
			html.EscapeString(name), 100*c.MaskArea, html.EscapeString(outName), metricsHTML(c))
	}
	var csvBuf strings.Builder
	w := csv.NewWriter(&csvBuf)
	w.Write([]string{"photo", "panel", "mask_area", "psnr_in", "psnr_out", "ssim_in", "ssim_out", "unet_evals", "time_ms", "error", "output"})
	w.WriteAll(rows)
	if err := writeText(filepath.Join(f.out, "metrics.csv"), csvBuf.String(), f.overwrite); err != nil {
		return err
	}
	page := fmt.Sprintf(`<!doctype html><meta charset=utf-8><title>Likeness comparison</title>
<style>body{font:14px system-ui;margin:2em}img{max-width:100%%}td{vertical-align:top;padding:6px;border-bottom:1px solid #ddd}.err{color:#b00}</style>
<h1>Likeness comparison</h1><p>Pack %s · direction %s · s1 %g s2 %g s3 %g λ %g · %d steps · seed %d</p>
<table>%s</table>`, html.EscapeString(eng.Pack.Name), html.EscapeString(s.Direction+s.Target), s.S1, s.S2, s.S3, s.Lambda, s.Steps, s.Seed, htmlRows.String())
	if err := writeText(filepath.Join(f.out, "report.html"), page, f.overwrite); err != nil {
		return err
	}
	pr.done()
	fmt.Fprintf(env.stdout, "%s: %d photos compared, %d failed; report.html and metrics.csv written\n", f.out, len(names)-len(failed), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d photos failed (see %s):\n  %s", len(failed), len(names), filepath.Join(f.out, "report.html"), strings.Join(failed, "\n  "))
	}
	return nil
}

func metricsHTML(c *app.Comparison) string {
	var b strings.Builder
	b.WriteString("<table><tr><th>panel</th><th>PSNR in</th><th>PSNR out</th><th>SSIM in</th><th>SSIM out</th><th>UNet evals</th></tr>")
	for _, p := range c.Panels {
		if p.Metrics == nil {
			continue
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td></tr>", html.EscapeString(p.Label),
			num(p.Metrics.PSNRIn), num(p.Metrics.PSNROut), num(p.Metrics.SSIMIn), num(p.Metrics.SSIMOut), p.Evals)
	}
	return b.String() + "</table>"
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.4f", v)
}

func writeText(path, text string, overwrite bool) error {
	return export.WriteBytes(path, []byte(text), export.WriteOptions{Overwrite: overwrite})
}

// batchOutputNames gives each input file of a folder its own output name:
// the name without its extension plus suffix ("photo.compare.png"), or,
// where inputs share that stem (photo.gif, photo.tif), the whole file name
// plus suffix ("photo.gif.compare.png"). Names are compared without case,
// as on Windows and macOS; any clash left gets "-2", "-3", ...
func batchOutputNames(names []string, suffix string) []string {
	stem := func(n string) string { return strings.TrimSuffix(n, filepath.Ext(n)) }
	count := map[string]int{}
	for _, n := range names {
		count[strings.ToLower(stem(n))]++
	}
	out := make([]string, len(names))
	used := map[string]bool{}
	for i, n := range names {
		base := stem(n)
		if count[strings.ToLower(base)] > 1 {
			base = n
		}
		cand := base + suffix
		for k := 2; used[strings.ToLower(cand)]; k++ {
			cand = fmt.Sprintf("%s-%d%s", base, k, suffix)
		}
		used[strings.ToLower(cand)] = true
		out[i] = cand
	}
	return out
}

// isPhotoName picks the files a batch runs on, by extension.
func isPhotoName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".avif":
		return true
	}
	return false
}
