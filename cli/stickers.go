package cli

import (
	"context"
	"fmt"
	"os"

	"likeness/app"
)

func runStickers(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "stickers")
	f := addEditFlags(fs)
	format := fs.String("format", "webp", "sticker format: webp (under 100 KB) or png")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.out == "" {
		return usageErr("--out is required (a folder)")
	}
	ss, err := f.open(ctx, env)
	if err != nil {
		return err
	}
	defer ss.close()
	eng, doc, s, pr := ss.eng, ss.doc, ss.s, ss.pr
	set, err := app.Stickers(ctx, eng, doc, s, pr.report)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("%s: %w", f.out, err)
	}
	paths, err := set.Export(f.out, *format, doc, f.overwrite)
	if err != nil {
		return err
	}
	pr.done()
	if f.json {
		var evals int
		for _, r := range set.Results {
			evals += r.Stats.TotalEvals()
		}
		return printJSON(env.stdout, map[string]any{"outputs": paths, "settings": s, "unet_evals": evals, "transparent": doc.Photo.HasAlpha, "providers": app.Providers(eng)})
	}
	for _, p := range paths {
		fmt.Fprintln(env.stdout, p)
	}
	return nil
}
