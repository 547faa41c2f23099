package cli

import (
	"context"
	"errors"
	"fmt"

	"likeness/app"
	"likeness/engine"
	"likeness/ort"
)

const pairsHelp = `likeness pairs: training pairs from a Stable Diffusion pack (the paper's Eq. 2).

  likeness pairs --sd-pack SD --subject woman --source "normal costume" --target "Santa Claus costume" \
                 --n 200 --seed S --out DIR [--resolution 512] [--steps 20] [--guidance 7.5] [--sd 0.1 --sa 0.9 --sb 0.9]

Source and target are generated side by side in one double-width image, in one denoising process,
so identity and layout match: at every step ε̄ = s'_d·ε̃(p) + s'_a·M'_a⊙ε̃(p_a) + s'_b·M'_b⊙ε̃(p_b),
with p = "the same {subject} on the left and right", p_a = "a {subject}, {source}",
p_b = "a {subject}, {target}" and M'_a, M'_b the left and right halves. Each pair costs
4 × steps UNet evaluations of the double-width latent. The SD pack's UNet must take a
double-width latent (dynamic height and width, as Optimum exports it).

DIR gets index.jsonl (the pairs format likeness eval and likeness_train read), a folder per pair
(source.png, <direction>.png, <direction>_diff.png: the per-pixel difference map, as there is no
true change mask) and contact-<direction>-<seed>.png. Pairs are written whole or not at all:
Ctrl-C keeps the pairs already written, and rerunning the same command continues where it stopped.

Flags:
`

func runPairs(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "pairs")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), pairsHelp)
		fs.PrintDefaults()
	}
	d := engine.DefaultPairSettings()
	s := d
	sdPack := fs.String("sd-pack", "", "a Stable Diffusion pack (kind sd): a folder or an installed pack's name")
	out := fs.String("out", "", "the pairs folder")
	n := fs.Int("n", 0, "pairs to make (indices 0..n-1 of the seed)")
	fs.StringVar(&s.Subject, "subject", d.Subject, "the {subject} of the prompts, e.g. woman or man")
	fs.StringVar(&s.Source, "source", "", "the source domain's text, e.g. \"normal costume\"")
	fs.StringVar(&s.Target, "target", "", "the target domain's text, e.g. \"Santa Claus costume\"")
	fs.StringVar(&s.SharedTemplate, "shared-prompt", engine.PairSharedTemplate, "template of p")
	fs.StringVar(&s.SourceTemplate, "source-prompt", engine.PairSourceTemplate, "template of p_a")
	fs.StringVar(&s.TargetTemplate, "target-prompt", engine.PairTargetTemplate, "template of p_b")
	fs.IntVar(&s.Resolution, "resolution", 0, "each image's side in pixels (default: the pack's)")
	fs.IntVar(&s.Steps, "steps", d.Steps, "denoising steps")
	fs.Float64Var(&s.Guidance, "guidance", d.Guidance, "classifier-free guidance scale of each prediction")
	fs.Float64Var(&s.SD, "sd", d.SD, "s'_d: weight of the shared prompt's prediction")
	fs.Float64Var(&s.SA, "sa", d.SA, "s'_a: weight of the source prompt's prediction on the left half")
	fs.Float64Var(&s.SB, "sb", d.SB, "s'_b: weight of the target prompt's prediction on the right half")
	fs.StringVar(&s.Scheduler, "scheduler", d.Scheduler, "sampler: "+orList(app.Schedulers())+"; the paper's pairs use euler_ancestral (stochastic)")
	fs.Uint64Var(&s.Seed, "seed", d.Seed, "random seed; pair i has its own seed derived from it")
	split := fs.String("split", "train", "the index's split: train, val or test")
	sheet := fs.Int("sheet", 8, "pairs on the contact sheet (0: none)")
	provider := fs.String("provider", "auto", "execution provider: auto, cpu, cuda or directml")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library to load (default: $LIKENESS_ORT_LIB or the installed one)")
	threads := fs.Int("threads", 0, "CPU threads per model (0 = ONNX Runtime's choice)")
	asJSON := fs.Bool("json", false, "print one JSON object with the folder, counts, settings and timings")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *sdPack == "":
		return usageErr("--sd-pack is required (a Stable Diffusion pack, kind sd)")
	case *out == "":
		return usageErr("--out is required (the pairs folder)")
	case *n < 1:
		return usageErr("--n is required: the number of pairs (1 or more)")
	case s.Source == "" || s.Target == "":
		return usageErr("--source and --target are required (e.g. --source \"normal costume\" --target \"Santa Claus costume\")")
	case *split != "train" && *split != "val" && *split != "test":
		return usageErr("--split %q: want train, val or test", *split)
	case *sheet < 0:
		return usageErr("--sheet %d: want 0 (none) or more", *sheet)
	}
	p, err := ort.ParseProvider(*provider)
	if err != nil {
		return usageErr("--provider: %v", err)
	}
	ps, err := openPack(ctx, env, app.Options{Provider: p, ORTLib: *ortLib, Threads: *threads}, *sdPack)
	if err != nil {
		return err
	}
	defer ps.close()
	eng, pr := ps.eng, ps.pr
	if err := eng.ValidatePairs(s); err != nil {
		if errors.Is(err, engine.ErrBadSettings) {
			return usageErr("%v", err)
		}
		return err
	}
	opt := engine.PairsOptions{N: *n, Split: *split, SheetPairs: *sheet}
	if *sheet == 0 {
		opt.SheetPairs = -1
	}
	done := 0
	opt.PairDone = func(p engine.PairProgress) {
		done = p.Done
		if !env.tty && !*asJSON {
			what := "wrote"
			if p.Skipped {
				what = "kept"
			}
			fmt.Fprintf(env.stderr, "%s pair %d/%d %s\n", what, p.Done, p.Total, p.Record.Identity)
		}
	}
	report := func(p engine.Progress) {
		if p.Label != "" {
			p.Label = fmt.Sprintf("pair %d/%d", done+1, *n)
		}
		pr.report(p)
	}
	rep, err := eng.WritePairs(ctx, *out, s, opt, report)
	if err != nil {
		pr.done()
		if rep != nil && (errors.Is(err, context.Canceled) || ctx.Err() != nil) {
			fmt.Fprintf(env.stderr, "likeness pairs: stopped after %d of %d pairs; those in %s are complete: run the same command again to continue\n", done, *n, *out)
		}
		return err
	}
	pr.done()
	res := s.Resolution
	if res == 0 {
		res = eng.Sig.Resolution
	}
	lat := res / eng.Sig.LatentFactor
	perPair, perEval := 0.0, 0.0
	if rep.Written > 0 {
		perPair = rep.Wall.Seconds() / float64(rep.Written)
		perEval = 1000 * rep.Denoise.Seconds() / float64(max(1, rep.UNetEvals))
	}
	if *asJSON {
		return printJSON(env.stdout, map[string]any{
			"dir": rep.Dir, "index": rep.Index, "contact_sheet": rep.ContactSheet,
			"n": *n, "written": rep.Written, "skipped": rep.Skipped, "settings": s,
			"latent": []int{4, lat, 2 * lat}, "unet_evals": rep.UNetEvals, "unet_evals_per_pair": engine.PairUNetEvals(s.Steps),
			"seconds_per_pair": perPair, "ms_per_unet_eval": perEval, "wall_s": rep.Wall.Seconds(),
			"providers": app.Providers(eng),
		})
	}
	fmt.Fprintf(env.stdout, "%d pairs in %s (%d written, %d already there)\n", *n, rep.Dir, rep.Written, rep.Skipped)
	if rep.Written > 0 {
		fmt.Fprintf(env.stdout, "%.2f s per pair: %d UNet evaluations of a 4×%d×%d latent each, %.1f ms per evaluation\n",
			perPair, engine.PairUNetEvals(s.Steps), lat, 2*lat, perEval)
	}
	if rep.ContactSheet != "" {
		fmt.Fprintln(env.stdout, "contact sheet:", rep.ContactSheet)
	}
	return nil
}
