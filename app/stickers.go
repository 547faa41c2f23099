package app

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"

	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/export"
	"likeness/engine/photo"
	"likeness/models"
)

// StickerSize is what sticker apps want.
const (
	StickerSize    = 512
	StickerOutline = 8
	StickerMaxWebP = 100 << 10
)

// StickerSet is one photo edited in every direction of a pack with one seed,
// sharing the photo's encodings.
type StickerSet struct {
	Directions []models.Direction
	Results    []*engine.Result
	Settings   []engine.Settings
	alpha      *image.Alpha // the crop's transparency at model resolution, nil when opaque
}

// Stickers runs mask + mask-guided edit for every direction of the pack.
func Stickers(ctx context.Context, e *engine.Engine, doc *Doc, s engine.Settings, progress engine.ProgressFunc) (*StickerSet, error) {
	dirs := e.Pack.Manifest.Directions
	if len(dirs) == 0 {
		return nil, fmt.Errorf("pack %s has no directions to make stickers from", e.Pack.Name)
	}
	set := &StickerSet{Directions: dirs, Results: make([]*engine.Result, len(dirs)), Settings: make([]engine.Settings, len(dirs))}
	if doc.Photo.HasAlpha {
		set.alpha = cropAlpha(doc.Photo.Image, doc.Crop(), e.Sig.Resolution)
	}
	for i := range dirs {
		ds := s
		ds.Direction, ds.Target = dirs[i].ID, ""
		if err := set.run(ctx, e, doc, i, ds, progress); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// Regenerate re-runs one direction with a new seed.
func (set *StickerSet) Regenerate(ctx context.Context, e *engine.Engine, doc *Doc, i int, seed uint64, progress engine.ProgressFunc) error {
	if i < 0 || i >= len(set.Directions) {
		return fmt.Errorf("no sticker %d", i)
	}
	s := set.Settings[i]
	s.Seed = seed
	return set.run(ctx, e, doc, i, s, progress)
}

func (set *StickerSet) run(ctx context.Context, e *engine.Engine, doc *Doc, i int, s engine.Settings, progress engine.ProgressFunc) error {
	label := set.Directions[i].ID
	p := func(pr engine.Progress) {
		if progress != nil {
			pr.Label = label
			progress(pr)
		}
	}
	enc, err := doc.Encoded(ctx, e, p)
	if err != nil {
		return err
	}
	m, err := e.ComputeMask(ctx, enc, s, p)
	if err != nil {
		return err
	}
	r, err := e.Edit(ctx, enc, s, m.Threshold(s.Lambda), p)
	if err != nil {
		return err
	}
	set.Results[i], set.Settings[i] = r, s
	return nil
}

// Sticker is sticker i at 512x512: transparent with a white outline when
// the photo had transparency.
func (set *StickerSet) Sticker(i int) *image.NRGBA {
	return compose.Sticker(set.Results[i].Preserved, set.alpha, StickerSize, StickerOutline)
}

// Sheet is the 2x2 sheet with labels.
func (set *StickerSet) Sheet() *image.NRGBA {
	var imgs []*image.NRGBA
	var labels []string
	for i, d := range set.Directions {
		imgs = append(imgs, set.Sticker(i))
		labels = append(labels, d.Label)
	}
	return compose.Sheet(imgs, labels, 2, StickerSize, color.White)
}

// Export writes the sheet (PNG) and each sticker as format "png" or "webp"
// into dir, named after the input; returns the paths written.
func (set *StickerSet) Export(dir, format string, doc *Doc, overwrite bool) ([]string, error) {
	return set.ExportSheet("", dir, format, doc, overwrite)
}

// ExportSheet is Export with the sheet written to sheet (a .png path)
// instead of its default name in dir; "" is Export.
func (set *StickerSet) ExportSheet(sheet, dir, format string, doc *Doc, overwrite bool) ([]string, error) {
	format = strings.ToLower(format)
	if format != "png" && format != "webp" {
		return nil, fmt.Errorf("sticker format %q: want png or webp", format)
	}
	opts := export.WriteOptions{Overwrite: overwrite, Protect: []string{doc.Path}, WebPMaxBytes: StickerMaxWebP}
	all := set.Paths(dir, format, doc)
	if sheet != "" {
		all[0] = sheet
	}
	var paths []string
	for i, p := range all {
		img := set.Sheet()
		if i > 0 {
			img = set.Sticker(i - 1)
		}
		if err := export.Write(p, img, nil, opts); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Paths are the files Export writes into dir: the sheet, then one sticker
// per direction, named after the photo.
func (set *StickerSet) Paths(dir, format string, doc *Doc) []string {
	base := strings.TrimSuffix(filepath.Base(doc.Path), filepath.Ext(doc.Path))
	paths := []string{filepath.Join(dir, base+".stickers.png")}
	for _, d := range set.Directions {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("%s.sticker-%s.%s", base, d.ID, strings.ToLower(format))))
	}
	return paths
}

// Existing lists which of the files Export would write already exist.
func (set *StickerSet) Existing(dir, format string, doc *Doc) []string {
	var out []string
	for _, p := range set.Paths(dir, format, doc) {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// cropAlpha is the photo's alpha inside crop, scaled to res x res.
func cropAlpha(img *image.NRGBA, crop image.Rectangle, res int) *image.Alpha {
	scaled := photo.Resize(imaging.Crop(img, crop), res, res)
	a := image.NewAlpha(image.Rect(0, 0, res, res))
	for i := 0; i < res*res; i++ {
		a.Pix[i] = scaled.Pix[4*i+3]
	}
	return a
}
