package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"likeness/app"
	"likeness/stickerpack"
)

func runStickers(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "stickers")
	f := addEditFlags(fs)
	format := fs.String("format", "webp", "sticker format: webp (under 100 KB) or png")
	packFormat := fs.String("pack-format", "", "write a sticker pack a messenger imports instead: telegram or whatsapp (--out names the pack's folder)")
	packName := fs.String("pack-name", "", "the pack's name (default: Likeness stickers)")
	author := fs.String("author", "", "the pack's author (default: Likeness)")
	dirList := fs.String("directions", "", "the pack's directions to use, comma-separated (default: all)")
	seeds := fs.Int("seeds", 1, "stickers per direction, each with its own seed (--seed, --seed+1, ...)")
	cutout := fs.String("cutout", "auto", "auto: cut opaque pictures out with the pack's foreground model; off: keep their background")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.out == "" {
		return usageErr("--out is required (a folder, or the sheet's .png with the stickers beside it)")
	}
	if *cutout != "auto" && *cutout != "off" {
		return usageErr("--cutout %q: want auto or off", *cutout)
	}
	if *seeds < 1 || *seeds > 30 {
		return usageErr("--seeds %d: want 1 to 30", *seeds)
	}
	opts := app.StickerOptions{Seeds: *seeds, NoCutout: *cutout == "off"}
	if *dirList != "" {
		opts.Directions = strings.Split(*dirList, ",")
	}
	// --out sheet.png writes the sheet there and the stickers beside it;
	// any other image name is refused rather than made into a folder.
	dir, sheet := f.out, ""
	switch ext := strings.ToLower(filepath.Ext(f.out)); {
	case *packFormat != "":
		if _, err := stickerpack.ByName(*packFormat); err != nil {
			return usageErr("%v", err)
		}
		if ext != "" {
			return usageErr("--out %s: with --pack-format, --out names the pack's folder (the sheet goes beside it as FOLDER.sheet.png)", f.out)
		}
	case ext == ".png":
		dir, sheet = filepath.Dir(f.out), f.out
	case ext == ".jpg", ext == ".jpeg", ext == ".webp", ext == ".gif", ext == ".bmp", ext == ".tif", ext == ".tiff", ext == ".avif":
		return usageErr("--out %s: the sheet is a PNG; give a .png name, or a folder for the sheet and the stickers", f.out)
	}
	ss, err := f.open(ctx, env)
	if err != nil {
		return err
	}
	defer ss.close()
	eng, doc, s, pr := ss.eng, ss.doc, ss.s, ss.pr
	set, err := app.StickersWith(ctx, eng, doc, s, opts, pr.report)
	if err != nil {
		return err
	}
	if set.CutoutNote != "" {
		fmt.Fprintf(env.stderr, "note: %s\n", set.CutoutNote)
	}
	var paths []string
	if *packFormat != "" {
		paths, err = set.ExportPack(dir, app.PackOptions{Format: *packFormat, Name: *packName, Author: *author, Overwrite: f.overwrite})
		if err != nil {
			return err
		}
		sheetPath := strings.TrimRight(dir, string(filepath.Separator)) + ".sheet.png"
		if err := app.WriteImage(sheetPath, set.Sheet(), doc, f.overwrite); err != nil {
			return err
		}
		paths = append(paths, sheetPath)
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		paths, err = set.ExportSheet(sheet, dir, *format, doc, f.overwrite)
		if err != nil {
			return err
		}
	}
	pr.done()
	if f.json {
		var evals int
		for _, r := range set.Results {
			evals += r.Stats.TotalEvals()
		}
		return printJSON(env.stdout, map[string]any{"outputs": paths, "settings": s, "unet_evals": evals, "transparent": set.Transparent(), "cutout": set.Cutout, "stickers": len(set.Results), "providers": app.Providers(eng)})
	}
	for _, p := range paths {
		fmt.Fprintln(env.stdout, p)
	}
	return nil
}
