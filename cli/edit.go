package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"likeness/app"
	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/export"
)

func runMask(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "mask")
	f := addEditFlags(fs)
	soft := fs.String("soft-out", "", "also write the soft map N as a grayscale PNG")
	noisePath := addNoiseFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.out == "" {
		return usageErr("--out is required (a .png file)")
	}
	ss, err := f.open(ctx, env)
	if err != nil {
		return err
	}
	defer ss.close()
	if err := ss.readNoise(*noisePath, false); err != nil {
		return err
	}
	eng, doc, s, pr := ss.eng, ss.doc, ss.s, ss.pr
	m, err := doc.ComputeMask(ctx, eng, s, pr.report)
	if err != nil {
		return err
	}
	res := eng.Sig.Resolution
	wo := export.WriteOptions{Overwrite: f.overwrite, Protect: []string{doc.Path}}
	if err := export.Write(f.out, compose.MaskImage(m.Threshold(s.Lambda), m.W, m.H, res, res), nil, wo); err != nil {
		return err
	}
	if *soft != "" {
		if err := export.Write(*soft, compose.SoftMapImage(m.Soft, m.W, m.H, res, res), nil, wo); err != nil {
			return err
		}
	}
	pr.done()
	if m.Reason != "" {
		fmt.Fprintf(env.stderr, "likeness mask: the mask is empty: %s\n", m.Reason)
	}
	if f.json {
		c := doc.Crop()
		return printJSON(env.stdout, map[string]any{
			"mask": f.out, "soft": *soft, "lambda": s.Lambda, "area": m.Area(s.Lambda), "empty_reason": m.Reason, "noise": noiseName(s),
			"settings": s, "crop": [4]int{c.Min.X, c.Min.Y, c.Dx(), c.Dy()}, "resolution": res,
			"stats": app.NewStatsRecord(m.Stats), "providers": app.Providers(eng),
		})
	}
	fmt.Fprintf(env.stdout, "%s: mask covers %.1f%% at λ=%g (%s)\n", f.out, 100*m.Area(s.Lambda), s.Lambda, m.Stats)
	return nil
}

func runEdit(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "edit")
	f := addEditFlags(fs)
	noMask := fs.Bool("no-mask", false, "the baseline: no mask, the target everywhere (the paper's w/o mask)")
	noPreserve := fs.Bool("no-preserve", false, "the plain paper output inside the crop (no compositing of the original outside the mask)")
	modelRes := fs.Bool("model-res", false, "write the crop at model resolution instead of the whole photo")
	quality := fs.Int("quality", 92, "JPEG quality")
	recordPath := fs.Bool("record-path", false, "embed the input photo's full path in the output's settings (default: its file name and SHA-256 only)")
	noisePath := addNoiseFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	ss, err := f.open(ctx, env)
	if err != nil {
		return err
	}
	defer ss.close()
	if err := ss.readNoise(*noisePath, *noMask); err != nil { // the baseline computes no mask: 1 row will do
		return err
	}
	eng, doc, s, pr := ss.eng, ss.doc, ss.s, ss.pr
	out := f.out
	if out == "" || isDir(out) {
		out = defaultOut(f.input, out, s, !*noMask)
	}
	if _, err := export.FormatFromPath(out); err != nil {
		return usageErr("--out %s: %v", out, err)
	}
	r, err := doc.Edit(ctx, eng, s, !*noMask, pr.report)
	if err != nil {
		return err
	}
	if m := doc.Mask(); !*noMask && m != nil && m.Reason != "" {
		pr.done()
		fmt.Fprintf(env.stderr, "likeness edit: the mask is empty (%s); the output reconstructs the photo\n", m.Reason)
	}
	o := app.ExportOptions{Preserve: !*noPreserve, Overwrite: f.overwrite, Quality: *quality, RecordPath: *recordPath}
	if *modelRes {
		o.Output = app.OutputModelRes
	}
	if err := app.Export(out, eng, doc, r, o); err != nil {
		return err
	}
	pr.done()
	if f.json {
		rec, err := app.NewRecord(eng, doc, r, o)
		if err != nil {
			return err
		}
		rec.Input, rec.Output = f.input, out // as typed: this goes to the user's terminal, not into the file
		return printJSON(env.stdout, rec)
	}
	fmt.Fprintf(env.stdout, "%s: %s edit (%s)\n", out, r.Mode, r.Stats)
	return nil
}

// defaultOut names an output next to the input (or in dir): never the input.
func defaultOut(input, dir string, s engine.Settings, masked bool) string {
	base := strings.TrimSuffix(filepath.Base(input), filepath.Ext(input))
	what := s.Direction
	if s.Target != "" {
		what = slug(s.Target)
	}
	mode := "edit"
	if !masked {
		mode = "baseline"
	}
	if dir == "" {
		dir = filepath.Dir(input)
	}
	return filepath.Join(dir, fmt.Sprintf("%s.%s.%s.seed%d.png", base, what, mode, s.Seed))
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}
