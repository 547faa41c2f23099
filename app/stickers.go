package app

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"

	"likeness/engine"
	"likeness/engine/compose"
	"likeness/engine/export"
	"likeness/engine/matte"
	"likeness/engine/photo"
	"likeness/models"
	"likeness/stickerpack"
)

// StickerSize is what sticker apps want.
const (
	StickerSize    = 512
	StickerOutline = 8
	StickerMaxWebP = 100 << 10
)

// CutoutSource says where a sticker's transparency comes from.
type CutoutSource string

const (
	CutoutInput CutoutSource = "input" // the picture's own alpha
	CutoutModel CutoutSource = "model" // the pack's foreground model, refined at full resolution
	CutoutPhoto CutoutSource = "photo" // a photo: the person around the face found, by GrabCut
	CutoutNone  CutoutSource = "none"  // opaque: no alpha, no foreground model (or turned off)
	// CutoutPainted: the set had none, and the user painted a matte.
	CutoutPainted CutoutSource = "painted"
)

// stickerWork is the side at which a sticker's picture and matte are kept:
// the sticker's own 512 (the shape is drawn a little smaller, inside its
// outline), so the matte is refined at the resolution it is seen at and a
// large photo does not make every cut-out and touch-up slow.
const stickerWork = 512

// StickerOptions choose which stickers a set holds.
type StickerOptions struct {
	// Directions are the pack's direction IDs to use, in order; nil means
	// all of them.
	Directions []string
	// Seeds per direction (0 means 1): the first is the settings' seed,
	// the others follow it (seed+1, seed+2...), so a set is reproducible.
	Seeds int
	// NoCutout keeps opaque pictures opaque even when the pack has a
	// foreground model.
	NoCutout bool
}

// StickerSet is one photo edited in some of a pack's directions, with one
// or more seeds each, sharing the photo's encodings and mask per direction.
type StickerSet struct {
	Directions []models.Direction // one per sticker; a direction repeats for its other seeds
	Results    []*engine.Result
	Settings   []engine.Settings
	// Cutout says where the transparency comes from; CutoutNote says why
	// there is none, for the status bar and the CLI.
	Cutout     CutoutSource
	CutoutNote string
	photoFace  image.Rectangle // the face when the picture is a photo, at faceSide px
	faceSide   int
	looksPhoto bool
	works      []*image.NRGBA // each sticker's picture at cut-out resolution
	cache      []*image.NRGBA // Sticker(i), made once per change of the sticker
	mattes     []*image.Alpha // and its matte (nil when opaque)
	noCutout   bool
}

// Stickers runs mask + mask-guided edit for every direction of the pack
// with the settings' seed.
func Stickers(ctx context.Context, e *engine.Engine, doc *Doc, s engine.Settings, progress engine.ProgressFunc) (*StickerSet, error) {
	return StickersWith(ctx, e, doc, s, StickerOptions{}, progress)
}

// StickersWith is Stickers for the directions and seeds o picks.
func StickersWith(ctx context.Context, e *engine.Engine, doc *Doc, s engine.Settings, o StickerOptions, progress engine.ProgressFunc) (*StickerSet, error) {
	all := e.Pack.Manifest.Directions
	if len(all) == 0 {
		return nil, fmt.Errorf("pack %s has no directions to make stickers from", e.Pack.Name)
	}
	dirs := all
	if o.Directions != nil {
		dirs = nil
		for _, id := range o.Directions {
			d, ok := findDirection(all, id)
			if !ok {
				var ids []string
				for _, d := range all {
					ids = append(ids, d.ID)
				}
				return nil, fmt.Errorf("pack %s has no direction %q (it has %s)", e.Pack.Name, id, strings.Join(ids, ", "))
			}
			dirs = append(dirs, d)
		}
	}
	seeds := max(1, o.Seeds)
	set := &StickerSet{noCutout: o.NoCutout}
	set.Cutout, set.CutoutNote = cutoutSource(e, doc, o.NoCutout)
	if set.Cutout == CutoutModel {
		orig := CutoutPicture(imaging.Crop(doc.Photo.Image, doc.Crop()))
		f, err := PhotoFace(ctx, orig)
		if err != nil {
			return nil, err
		}
		set.photoFace, set.faceSide, set.looksPhoto = f, orig.Rect.Dx(), LooksLikePhoto(orig)
	}
	for _, d := range dirs {
		for k := range seeds {
			ds := s
			ds.Direction, ds.Target, ds.Seed = d.ID, "", s.Seed+uint64(k)
			set.Directions = append(set.Directions, d)
			set.Settings = append(set.Settings, ds)
		}
	}
	n := len(set.Directions)
	set.Results, set.works, set.mattes, set.cache = make([]*engine.Result, n), make([]*image.NRGBA, n), make([]*image.Alpha, n), make([]*image.NRGBA, n)
	for i := range n {
		if err := set.run(ctx, e, doc, i, set.Settings[i], progress); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func findDirection(all []models.Direction, id string) (models.Direction, bool) {
	for _, d := range all {
		if d.ID == id {
			return d, true
		}
	}
	return models.Direction{}, false
}

func cutoutSource(e *engine.Engine, doc *Doc, off bool) (CutoutSource, string) {
	switch {
	case doc.Photo.HasAlpha:
		return CutoutInput, ""
	case off:
		return CutoutNone, "cut-out turned off: the stickers keep the picture's background"
	case !e.HasForeground() && !LooksLikePhoto(imaging.Crop(doc.Photo.Image, doc.Crop())):
		// A photo may still be cut out around its face (Cutout).
		return CutoutNone, fmt.Sprintf("pack %s has no foreground model and the picture has no transparency: the stickers keep its background", e.Pack.Name)
	}
	return CutoutModel, ""
}

// Cutout is the matte of work, a sticker's picture without transparency
// of its own: for a photo of a person (a face found whose skin has a
// photo's grain), the person around the face (photoCutout); for a
// drawing, or a photo without a face found, the pack's foreground model
// run on seg (the same picture at any size). It returns the matte (nil:
// none), where it came from and a note when there is none or it may be
// poor.
//
// face is the person's face in work when the picture is a photo (PhotoFace
// on the unedited picture: an edit at model resolution leaves the face
// smooth enough to pass for a drawing's), empty otherwise.
//
// looksPhoto is LooksLikePhoto of the unedited picture, for the note.
func Cutout(ctx context.Context, e *engine.Engine, seg, work *image.NRGBA, face image.Rectangle, looksPhoto bool) (*image.Alpha, CutoutSource, string, error) {
	f := face
	switch {
	case !f.Empty():
		return photoCutout(work, f), CutoutPhoto, "", nil
	case !e.HasForeground():
		return nil, CutoutNone, fmt.Sprintf("pack %s has no foreground model and the picture has no transparency: the stickers keep its background", e.Pack.Name), nil
	}
	a, err := CutoutMatte(ctx, e, seg, work)
	note := ""
	if looksPhoto {
		note = "no face found in what looks like a photo: the pack's foreground model, learned on drawings, cut it out; check the edges (the matte brush fixes them)"
	}
	return a, CutoutModel, note, err
}

// Regenerate re-runs one sticker with a new seed.
func (set *StickerSet) Regenerate(ctx context.Context, e *engine.Engine, doc *Doc, i int, seed uint64, progress engine.ProgressFunc) error {
	if i < 0 || i >= len(set.Directions) {
		return fmt.Errorf("no sticker %d", i)
	}
	s := set.Settings[i]
	s.Seed = seed
	return set.run(ctx, e, doc, i, s, progress)
}

// Clone is a copy whose stickers can be regenerated or touched up without
// changing set (the app shows set while a copy is worked on).
func (set *StickerSet) Clone() *StickerSet {
	cp := *set
	cp.Directions = append([]models.Direction(nil), set.Directions...)
	cp.Results = append([]*engine.Result(nil), set.Results...)
	cp.Settings = append([]engine.Settings(nil), set.Settings...)
	cp.works = append([]*image.NRGBA(nil), set.works...)
	cp.mattes = append([]*image.Alpha(nil), set.mattes...)
	cp.cache = append([]*image.NRGBA(nil), set.cache...)
	return &cp
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
	work := stickerPicture(r)
	var alpha *image.Alpha
	switch set.Cutout {
	case CutoutInput:
		alpha = cropAlpha(doc.Photo.Image, r.Crop, work.Rect.Dx())
	case CutoutModel, CutoutPhoto:
		// The edited picture, not the photo: a costume changes the outline.
		var src CutoutSource
		var note string
		f := set.photoFace
		if set.faceSide > 0 && set.faceSide != work.Rect.Dx() { // same crop, another size
			k := float64(work.Rect.Dx()) / float64(set.faceSide)
			f = image.Rect(int(float64(f.Min.X)*k), int(float64(f.Min.Y)*k), int(float64(f.Max.X)*k), int(float64(f.Max.Y)*k))
		}
		alpha, src, note, err = Cutout(ctx, e, r.Preserved, work, f, set.looksPhoto)
		if err != nil {
			return err
		}
		if note != "" {
			set.CutoutNote = note
		}
		if i == 0 {
			set.Cutout = src
		}
	}
	set.Results[i], set.Settings[i], set.works[i], set.mattes[i], set.cache[i] = r, s, work, alpha, nil
	return nil
}

// CutoutMatte is the cut-out of work: the pack's foreground model run on
// seg (the same picture, at any size; the model resamples it to its own
// square), its matte refined along work's edges at work's resolution.
func CutoutMatte(ctx context.Context, e *engine.Engine, seg, work *image.NRGBA) (*image.Alpha, error) {
	coarse, err := e.Foreground(ctx, seg)
	if err != nil {
		return nil, err
	}
	return matte.Refine(work, coarse), nil
}

// CutoutPicture is a picture at the side stickers cut out at (at most
// 512 px; smaller pictures keep their size).
func CutoutPicture(img *image.NRGBA) *image.NRGBA {
	side := min(stickerWork, max(img.Rect.Dx(), img.Rect.Dy()))
	return photo.Resize(img, side, side)
}

// stickerPicture is the edit at full resolution inside its crop (the
// photo's own pixels outside the mask), at most stickerWork px a side.
func stickerPicture(r *engine.Result) *image.NRGBA {
	full := r.Full()
	if full == nil {
		return photo.Resize(r.Preserved, stickerWork, stickerWork)
	}
	c := imaging.Crop(full, r.Crop)
	side := min(stickerWork, max(c.Rect.Dx(), r.Preserved.Rect.Dx()))
	return photo.Resize(c, side, side)
}

// Matte is sticker i's matte at cut-out resolution (a copy; nil when the
// sticker is opaque).
func (set *StickerSet) Matte(i int) *image.Alpha {
	if i < 0 || i >= len(set.mattes) || set.mattes[i] == nil {
		return nil
	}
	a := *set.mattes[i]
	a.Pix = append([]uint8(nil), a.Pix...)
	return &a
}

// SetMatte replaces sticker i's matte (a touched-up one); it must have the
// size Matte has. A set without a cut-out gets one this way: painting the
// matte makes the sticker transparent.
func (set *StickerSet) SetMatte(i int, a *image.Alpha) error {
	if i < 0 || i >= len(set.works) || set.works[i] == nil {
		return fmt.Errorf("no sticker %d", i)
	}
	if w := set.works[i].Rect; a == nil || a.Rect.Dx() != w.Dx() || a.Rect.Dy() != w.Dy() {
		return fmt.Errorf("sticker %d: matte must be %dx%d", i, set.works[i].Rect.Dx(), set.works[i].Rect.Dy())
	}
	set.mattes[i], set.cache[i] = a, nil
	return nil
}

// Picture is sticker i's picture at cut-out resolution, before the cut-out.
func (set *StickerSet) Picture(i int) *image.NRGBA { return set.works[i] }

// Transparent reports whether the stickers have a cut-out.
func (set *StickerSet) Transparent() bool {
	for _, m := range set.mattes {
		if m != nil {
			return true
		}
	}
	return false
}

// Sticker is sticker i at 512x512: cut out, with a white outline, when it
// has a matte; opaque otherwise. It is made once per change of the sticker
// and shared: callers must not modify it.
func (set *StickerSet) Sticker(i int) *image.NRGBA {
	if set.cache[i] == nil {
		set.cache[i] = set.stickerWithMargin(i, 0)
	}
	return set.cache[i]
}

func (set *StickerSet) stickerWithMargin(i, margin int) *image.NRGBA {
	work, a := set.works[i], set.mattes[i]
	if a == nil {
		return compose.StickerMargin(work, nil, StickerSize, StickerOutline, margin)
	}
	return compose.StickerMargin(matte.Foreground(work, a), a, StickerSize, StickerOutline, margin)
}

// Label is sticker i's label: the direction's, numbered for its other seeds.
func (set *StickerSet) Label(i int) string {
	if k := set.occurrence(i); k > 1 {
		return fmt.Sprintf("%s (%d)", set.Directions[i].Label, k)
	}
	return set.Directions[i].Label
}

// Sheet is the sheet with labels on white: 2x2 for four stickers, more
// columns for more.
func (set *StickerSet) Sheet() *image.NRGBA { return set.SheetOn(color.White) }

// SheetOn is Sheet on bg (transparent: the cut-outs stay transparent).
func (set *StickerSet) SheetOn(bg color.Color) *image.NRGBA {
	var imgs []*image.NRGBA
	var labels []string
	for i := range set.Directions {
		imgs = append(imgs, set.Sticker(i))
		labels = append(labels, set.Label(i))
	}
	cols := max(1, int(math.Ceil(math.Sqrt(float64(len(imgs))))))
	return compose.Sheet(imgs, labels, cols, StickerSize, bg)
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
		var img *image.NRGBA
		if i == 0 {
			img = set.Sheet()
		} else {
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
	for i, d := range set.Directions {
		name := d.ID
		if k := set.occurrence(i); k > 1 {
			name = fmt.Sprintf("%s-%d", d.ID, k)
		}
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("%s.sticker-%s.%s", base, name, strings.ToLower(format))))
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

// occurrence is 1 for a direction's first sticker, 2 for its second...
func (set *StickerSet) occurrence(i int) int {
	k := 1
	for j := 0; j < i; j++ {
		if set.Directions[j].ID == set.Directions[i].ID {
			k++
		}
	}
	return k
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

// PackOptions name a sticker pack.
type PackOptions struct {
	Format       string // a stickerpack.Platforms key: telegram or whatsapp
	Name, Author string
	Overwrite    bool
}

// ExportPack writes the set as a sticker pack a messenger accepts into the
// folder dir (and, for WhatsApp, the dir.wastickers archive beside it),
// then checks what it wrote against the platform's rules; returns the
// paths written.
func (set *StickerSet) ExportPack(dir string, o PackOptions) ([]string, error) {
	r, err := stickerpack.ByName(o.Format)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "Likeness stickers"
	}
	if o.Author == "" {
		o.Author = "Likeness"
	}
	p := stickerpack.Pack{Name: o.Name, Author: o.Author}
	for i, d := range set.Directions {
		p.Stickers = append(p.Stickers, stickerpack.Sticker{Image: set.stickerWithMargin(i, r.Margin), Emoji: stickerpack.Emoji(d.ID + " " + d.Label)})
	}
	if r.Transparent && !set.Transparent() {
		reason := set.CutoutNote
		if reason == "" {
			reason = "the stickers have no cut-out"
		}
		return nil, fmt.Errorf("%s: %s wants stickers with a transparent background, and %s; open a transparent picture, use a pack with a foreground model, or paint the matte", dir, r.Name, reason)
	}
	paths, err := stickerpack.Write(dir, p, r, o.Overwrite)
	if err != nil {
		return paths, err
	}
	if err := stickerpack.Check(dir, r); err != nil {
		return paths, fmt.Errorf("the written pack breaks %s's rules: %w", r.Name, err)
	}
	return paths, nil
}

// PaintMatte paints one dab into sticker i's matte: a disc at (fx, fy),
// fractions of the sticker's picture, of radius r (a fraction of its
// side) with a one-pixel soft edge, keeping (add) or removing what is
// under it. A sticker without a matte gets a fully opaque one first, so
// erasing cuts an opaque picture out by hand.
func (set *StickerSet) PaintMatte(i int, fx, fy, r float64, add bool) error {
	if i < 0 || i >= len(set.works) || set.works[i] == nil {
		return fmt.Errorf("no sticker %d", i)
	}
	w := set.works[i].Rect
	m := set.mattes[i]
	if m == nil {
		m = image.NewAlpha(image.Rect(0, 0, w.Dx(), w.Dy()))
		for j := range m.Pix {
			m.Pix[j] = 255
		}
		set.mattes[i] = m
		set.Cutout, set.CutoutNote = CutoutPainted, ""
	}
	set.cache[i] = nil
	side := float64(max(w.Dx(), w.Dy()))
	cx, cy, rad := fx*float64(w.Dx()), fy*float64(w.Dy()), max(1, r*side)
	for y := max(0, int(cy-rad-1)); y < min(w.Dy(), int(cy+rad+2)); y++ {
		for x := max(0, int(cx-rad-1)); x < min(w.Dx(), int(cx+rad+2)); x++ {
			cover := math.Max(0, math.Min(1, rad+0.5-math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy)))
			if cover == 0 {
				continue
			}
			p := &m.Pix[y*m.Stride+x]
			if add {
				*p = uint8(math.Max(float64(*p), math.Round(255*cover)))
			} else {
				*p = uint8(math.Min(float64(*p), math.Round(255*(1-cover))))
			}
		}
	}
	return nil
}
