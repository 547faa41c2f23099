package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"likeness/app"
	"likeness/engine"
	"likeness/eval"
	"likeness/models"
)

const evalHelp = `likeness eval: the paper's Table 1 for a pack, on a folder of generated pairs.

  likeness eval --pack P --pairs DIR --out REPORT/ [--split test|val|all] [--limit N] [settings flags]
  likeness eval --calibrate --pack P --pairs DIR [--write]
  likeness eval --pack P --external SET/ --out REPORT/ [--images ROOT] [--crop auto|centre] [--limit N]

DIR is what ` + "`python3 -m likeness_train pairs`" + ` writes: DIR/index.jsonl and the PNGs it names.
For every pair (the pack's defaults, the pair's direction, one --seed) it computes the model's mask,
the baseline (w/o mask), mask-guided with each mask_guidance, and the product (mask-guided at the
pack's mask_guidance with Preserve), and scores each against the true target: SSIM and PSNR, both
also outside the true change, whether the edit is recognised (the nearest of the identity's
renderings on the face box is its own target), and the mask's recall of the true change and its
area relative to it. REPORT/ gets index.html (with thumbnails), report.json, summary.csv (per
direction and overall) and pairs.csv, each written atomically.

--calibrate uses only the pairs of split "val" (never test pairs) and grid-searches λ (0.02, then
0.05 to 0.60 by 0.05), mask_normalize and mask_guidance; a settings flag given fixes that value. Rule: ` + eval.CalibrationRule + `.
--write stores the choice in the pack's likeness.json defaults.

--external evaluates on pictures nobody here drew: SET/faces.tsv lists them (file, then the face, eyes
and mouth boxes as x0,y0,x1,y1 in the file's pixels; files relative to SET/, else to --images, by
default Debian's openclipart-png folder), e.g. testdata/external/openclipart. Each picture is framed
with --crop (auto: the face found and put where the pack's face_box says) and edited in every
direction at the pack's defaults; the report gives, per direction and overall, the share of changed
pixels on the eyes or mouth, the share of the mouth changed, PSNR outside the face and inside it, the
mask's share on the face and the judge's verdict (a classifier trained on broad renders), with
thumbnails of input, mask and output in index.html.

Flags:
`

func runEval(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "eval")
	f := addEditFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalHelp)
		fs.PrintDefaults()
	}
	pairsDir := fs.String("pairs", "", "folder of generated pairs (with index.jsonl)")
	split := fs.String("split", eval.SplitTest, "pairs to evaluate: test, val or all")
	limit := fs.Int("limit", 0, "evaluate at most N pairs (0 = all)")
	calibrate := fs.Bool("calibrate", false, "choose λ and the mask options on the validation pairs (see above)")
	write := fs.Bool("write", false, "with --calibrate: write the choice into the pack's likeness.json defaults")
	lambdas := fs.String("lambdas", "", "with --calibrate: the λ grid to search, comma-separated (default: 0.02, then 0.05 to 0.60 by 0.05)")
	external := fs.String("external", "", "folder of an external set (faces.tsv; see above) instead of --pairs")
	images := fs.String("images", eval.DefaultExternalImages, "with --external: where the set's file names are looked up")
	matteSet := fs.String("matte", "", "folder of cut-out test pictures (likeness_train matte-set: index.tsv of file, alpha, group): score the pack's foreground model instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *matteSet != "" {
		return runEvalMatte(ctx, env, f, *matteSet)
	}
	if *external != "" {
		return runExternal(ctx, env, f, *external, *images, *pairsDir, *calibrate, *limit)
	}
	for _, name := range []string{"input", "crop", "target"} {
		if f.set(name) {
			return usageErr("--%s does not apply to eval: the pairs folder gives the photos and directions", name)
		}
	}
	if *pairsDir == "" {
		return usageErr("--pairs is required (a folder with index.jsonl)")
	}
	switch *split {
	case eval.SplitTest, eval.SplitVal, eval.SplitAll:
	default:
		return usageErr("--split %q: want test, val or all", *split)
	}
	if *limit < 0 {
		return usageErr("--limit %d: want 0 (all) or more", *limit)
	}
	if *lambdas != "" && !*calibrate {
		return usageErr("--lambdas goes with --calibrate")
	}
	grid, err := parseLambdas(*lambdas)
	if err != nil {
		return err
	}
	if *calibrate {
		if f.out != "" {
			return usageErr("--calibrate writes no report: drop --out (use --json for the whole grid)")
		}
		if isSet(fs, "split") && *split != eval.SplitVal {
			return usageErr("--calibrate uses the validation pairs only (split val), never %q", *split)
		}
	} else {
		if *write {
			return usageErr("--write goes with --calibrate")
		}
		if f.out == "" {
			return usageErr("--out is required (the report folder)")
		}
		if sameDir(f.out, *pairsDir) {
			return usageErr("--out must not be the pairs folder")
		}
		if err := eval.CheckWritable(f.out, f.overwrite); err != nil {
			return err
		}
	}
	folder, err := eval.ReadFolder(*pairsDir)
	if err != nil {
		return err
	}
	// Calibration never sees a test pair, whatever the flags.
	var pairs []eval.Pair
	if *calibrate {
		pairs = folder.Select(eval.SplitVal, f.direction, *limit)
		if len(pairs) == 0 {
			return fmt.Errorf("%s: no validation pairs (split %q) to calibrate on; calibration never uses test pairs (make some with the trainer's pairs command)", *pairsDir, eval.SplitVal)
		}
	} else {
		pairs = folder.Select(*split, f.direction, *limit)
		if len(pairs) == 0 && f.direction != "" {
			return fmt.Errorf("%s: no pairs of split %q and direction %q", *pairsDir, *split, f.direction)
		}
		if len(pairs) == 0 {
			return fmt.Errorf("%s: no pairs of split %q", *pairsDir, *split)
		}
	}

	ps, err := f.openPack(ctx, env)
	if err != nil {
		return err
	}
	defer ps.close()
	eng, pr := ps.eng, ps.pr
	if eng.Sig.Kind == models.KindSD {
		return usageErr("pack %s is kind sd: eval needs an editing pack (mcdm or ip2p)", eng.Pack.Name)
	}
	s, err := f.settings(eng)
	if err != nil {
		return err
	}
	progress := func(p eval.Progress) {
		pr.item("eval: pair", p.Pair, p.Pairs, p.ID)
		pr.report(engine.Progress{Phase: fmt.Sprintf("%d/%d", p.Pair, p.Pairs), Label: p.Engine.Phase + " " + p.Engine.Label,
			Step: p.Engine.Step, Steps: p.Engine.Steps})
	}
	if *calibrate {
		return runCalibrate(ctx, env, f, eng, folder, pairs, s, *write, grid, progress, pr)
	}

	judge, err := eval.JudgeFor(eng.Manifest())
	if err != nil && !errors.Is(err, eval.ErrNoJudge) {
		return err
	}
	defer judge.Close()
	rep, err := eval.Run(ctx, eng, folder, pairs, eval.Options{Settings: s, Thumbs: true, Progress: progress, Judge: judge})
	if err != nil {
		return err
	}
	rep.Split = *split
	if err := rep.Write(f.out, f.overwrite); err != nil {
		return err
	}
	pr.done()
	if f.json {
		var overall []eval.Row
		for _, row := range rep.Summary {
			if row.Direction == eval.DirectionAll {
				overall = append(overall, row)
			}
		}
		return printJSON(env.stdout, map[string]any{"report": f.out, "files": eval.ReportFiles(), "pack": rep.Pack,
			"pairs": len(rep.Results), "split": rep.Split, "settings": rep.Settings, "overall": overall})
	}
	fmt.Fprintf(env.stdout, "%s: %d pairs of split %s evaluated with %s; %s written\n", f.out, len(rep.Results), rep.Split, rep.Pack,
		"index.html, report.json, summary.csv and pairs.csv")
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "output\tSSIM\tPSNR\tSSIM out\tPSNR out\trecognised\tjudged\tmask recall\tmask area ×\t")
	for _, row := range rep.Summary {
		if row.Direction != eval.DirectionAll {
			continue
		}
		rec := row.Recognised * 100
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%%\t%s%%\t%s\t%s\t\n", row.Output, num4(row.SSIM), num2(row.PSNR), num4(row.SSIMOut), num2(row.PSNROut),
			num1(rec), num1(row.JudgeRecognised*100), num4(row.MaskRecall), num2(row.MaskAreaRatio))
	}
	return tw.Flush()
}

func runCalibrate(ctx context.Context, env *env, f *editFlags, eng *engine.Engine, folder *eval.Folder, pairs []eval.Pair,
	s engine.Settings, write bool, grid []float64, progress func(eval.Progress), pr *progressBar) error {
	opt := eval.CalibrateOptions{Settings: s, Progress: progress, Lambdas: grid}
	if f.set("lambda") {
		opt.Lambdas = []float64{s.Lambda}
	}
	if f.set("mask-normalize") {
		opt.Normalizations = []string{s.MaskNormalize}
	}
	if f.set("mask-guidance") {
		opt.Guidances = []string{s.MaskGuidance}
	}
	c, err := eval.Calibrate(ctx, eng, folder, pairs, opt)
	if err != nil {
		return err
	}
	pr.done()
	var note string
	if write {
		if note, err = eval.WriteDefaults(eng.Pack, c.Choice); err != nil {
			return err
		}
	}
	if f.json {
		return printJSON(env.stdout, map[string]any{"calibration": c, "pack": eng.Pack.Name, "pack_dir": eng.Pack.Dir,
			"written": write, "write_note": note})
	}
	ch := c.Choice
	fmt.Fprintf(env.stdout, "calibrated %s on %d validation pairs: lambda %g, mask_normalize %s, mask_guidance %s\n",
		eng.Pack.Name, c.Pairs, ch.Lambda, ch.MaskNormalize, ch.MaskGuidance)
	fmt.Fprintf(env.stdout, "  product SSIM %s, mask recall %s (less one standard error %s), mask area × %s (over %d settings tried)\n",
		num4(ch.ProductSSIM), num4(ch.MaskRecall), num4(ch.MaskRecallLow), num2(ch.MaskAreaRatio), len(c.Trials))
	fmt.Fprintf(env.stdout, "  rule: %s\n", c.Rule)
	if c.Note != "" {
		fmt.Fprintf(env.stdout, "  note: %s\n", c.Note)
	}
	if write {
		fmt.Fprintf(env.stdout, "written into the defaults of %s\n", filepath.Join(eng.Pack.Dir, models.ManifestFile))
		if note != "" {
			fmt.Fprintf(env.stdout, "  note: %s\n", note)
		}
	} else {
		fmt.Fprintln(env.stdout, "(add --write to store them in the pack's defaults)")
	}
	return nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

func sameDir(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && filepath.Clean(aa) == filepath.Clean(bb)
}

func num4(v eval.Num) string { return fmtNum(v, "%.4f") }
func num2(v eval.Num) string { return fmtNum(v, "%.2f") }
func num1(v eval.Num) string { return fmtNum(v, "%.1f") }

func fmtNum(v eval.Num, format string) string {
	b, _ := v.MarshalJSON()
	if string(b) == "null" {
		return "n/a"
	}
	return fmt.Sprintf(format, float64(v))
}

func runExternal(ctx context.Context, env *env, f *editFlags, set, images, pairsDir string, calibrate bool, limit int) error {
	switch {
	case pairsDir != "":
		return usageErr("--external and --pairs are two kinds of evaluation: give one")
	case calibrate:
		return usageErr("--calibrate uses generated validation pairs, never an external set")
	case f.set("input") || f.set("target"):
		return usageErr("--input and --target do not apply to eval: the set gives the pictures, the pack the directions")
	case f.out == "":
		return usageErr("--out is required (the report folder)")
	case limit < 0:
		return usageErr("--limit %d: want 0 (all) or more", limit)
	}
	crop := app.CropAuto
	if f.crop != "" {
		crop = f.crop
	}
	if crop != app.CropAuto && crop != app.CropCentre {
		return usageErr("--crop %q: with --external want auto or centre", crop)
	}
	if sameDir(f.out, set) {
		return usageErr("--out must not be the set's folder")
	}
	if err := eval.CheckWritable(f.out, f.overwrite); err != nil {
		return err
	}
	items, err := eval.ReadExternal(set, images)
	if err != nil {
		return err
	}
	if limit > 0 && limit < len(items) {
		items = items[:limit]
	}
	ps, err := f.openPack(ctx, env)
	if err != nil {
		return err
	}
	defer ps.close()
	eng, pr := ps.eng, ps.pr
	if eng.Sig.Kind == models.KindSD {
		return usageErr("pack %s is kind sd: eval needs an editing pack (mcdm or ip2p)", eng.Pack.Name)
	}
	s, err := f.settings(eng)
	if err != nil {
		return err
	}
	judge, err := eval.JudgeFor(eng.Manifest())
	if err != nil && !errors.Is(err, eval.ErrNoJudge) {
		return err
	}
	defer judge.Close()
	progress := func(p eval.Progress) {
		pr.item("eval: edit", p.Pair, p.Pairs, p.ID)
		pr.report(engine.Progress{Phase: fmt.Sprintf("%d/%d", p.Pair, p.Pairs), Label: p.Engine.Phase + " " + p.Engine.Label,
			Step: p.Engine.Step, Steps: p.Engine.Steps})
	}
	rep, err := eval.RunExternal(ctx, eng, set, items, eval.ExternalOptions{Settings: s, Crop: crop, Judge: judge, Thumbs: true, Progress: progress})
	if err != nil {
		return err
	}
	if err := rep.Write(f.out, f.overwrite); err != nil {
		return err
	}
	pr.done()
	if f.json {
		return printJSON(env.stdout, map[string]any{"report": f.out, "pack": rep.Pack, "pictures": rep.Pictures,
			"faces_found": rep.FacesFound, "crop": rep.Crop, "summary": rep.Summary})
	}
	fmt.Fprintf(env.stdout, "%s: %d pictures of %s edited with %s (crop %s, face found in %d); index.html, report.json and summary.csv written\n",
		f.out, rep.Pictures, set, rep.Pack, rep.Crop, rep.FacesFound)
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "direction\ton eyes/mouth\tmouth changed\tPSNR out face\tPSNR face\tmask on face\trecognised\tframing off\t")
	for _, row := range rep.Summary {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s%%\t%s\t\n", row.Direction, num4(row.OnFeatures), num4(row.MouthChanged),
			num2(row.PSNROutFace), num2(row.PSNRFace), num4(row.MaskOnFace), num1(row.Recognised*100), num2(row.FramingOff))
	}
	return tw.Flush()
}

// parseLambdas reads --lambdas: "" is the default grid (nil).
func parseLambdas(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0 && v <= 1) {
			return nil, usageErr("--lambdas %q: %q is not a λ in (0, 1]", s, p)
		}
		out = append(out, v)
	}
	return out, nil
}
