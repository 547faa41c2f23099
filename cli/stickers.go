package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
		return usageErr("--out is required (a folder, or the sheet's .png with the stickers beside it)")
	}
	// --out sheet.png writes the sheet there and the stickers beside it;
	// any other image name is refused rather than made into a folder.
	dir, sheet := f.out, ""
	switch strings.ToLower(filepath.Ext(f.out)) {
	case ".png":
		dir, sheet = filepath.Dir(f.out), f.out
	case ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif":
		return usageErr("--out %s: the sheet is a PNG; give a .png name, or a folder for the sheet and the stickers", f.out)
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	paths, err := set.ExportSheet(sheet, dir, *format, doc, f.overwrite)
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
