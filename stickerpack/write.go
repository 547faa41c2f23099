package stickerpack

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"

	"likeness/engine/export"
)

// Sticker is one sticker of a pack: its image at the platform's size (see
// Rules.Side and Margin) and its emoji.
type Sticker struct {
	Image *image.NRGBA
	Emoji string
}

// Pack is what Write writes.
type Pack struct {
	Name, Author string
	Stickers     []Sticker
}

// Validate says why p cannot be a pack under r, or nil.
func (p Pack) Validate(r Rules) error {
	var errs []error
	if n := len(p.Stickers); n < r.MinStickers || n > r.MaxStickers {
		errs = append(errs, fmt.Errorf("%s packs hold %d to %d stickers; this one has %d", r.Name, r.MinStickers, r.MaxStickers, n))
	}
	if strings.TrimSpace(p.Name) == "" || strings.TrimSpace(p.Author) == "" {
		errs = append(errs, fmt.Errorf("a %s pack needs a name and an author", r.Name))
	}
	for i, s := range p.Stickers {
		if s.Image == nil {
			errs = append(errs, fmt.Errorf("sticker %d has no image", i+1))
			continue
		}
		if r.Transparent && !transparent(s.Image) {
			errs = append(errs, fmt.Errorf("sticker %d is opaque; %s wants a transparent background (cut the picture out: a pack with a foreground model, a transparent PNG, or the Stickers tab's matte brush)", i+1, r.Name))
		}
	}
	return errors.Join(errs...)
}

func transparent(img *image.NRGBA) bool {
	b := img.Rect
	var sum int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum += int(img.Pix[img.PixOffset(x, y)+3])
		}
	}
	return img.Pix[3] == 0 && float64(sum) < 0.98*255*float64(b.Dx()*b.Dy())
}

// Write writes p into the folder dir, following r: the stickers as 01.webp,
// 02.webp..., the icon, the platform's metadata, a README.txt on importing
// it and, where the platform has one, the archive dir+r.Archive that
// sticker-maker apps import. The folder appears whole or not at all: it is
// written beside dir and renamed into place (an existing dir is replaced
// only with overwrite). It returns the paths written.
func Write(dir string, p Pack, r Rules, overwrite bool) ([]string, error) {
	if err := p.Validate(r); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	files := map[string][]byte{} // name in the folder -> contents
	var order []string
	add := func(name string, data []byte) {
		files[name] = data
		order = append(order, name)
	}
	type waSticker struct {
		ImageFile string   `json:"image_file"`
		Emojis    []string `json:"emojis"`
	}
	var wa []waSticker
	var emojis strings.Builder
	for i, s := range p.Stickers {
		name := fmt.Sprintf("%02d.%s", i+1, r.Format)
		data, err := encode(s.Image, r.Format, r.MaxBytes)
		if err != nil {
			return nil, fmt.Errorf("%s: sticker %d: %w", dir, i+1, err)
		}
		add(name, data)
		e := s.Emoji
		if e == "" {
			e = "🙂"
		}
		wa = append(wa, waSticker{name, []string{e}})
		fmt.Fprintf(&emojis, "%s\t%s\n", name, e)
	}
	if r.Tray.Side > 0 {
		icon := image.NewNRGBA(image.Rect(0, 0, r.Tray.Side, r.Tray.Side))
		first := p.Stickers[0].Image
		draw.CatmullRom.Scale(icon, icon.Rect, first, first.Rect, draw.Src, nil)
		data, err := export.EncodePNG(icon, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: icon: %w", dir, err)
		}
		if len(data) > r.Tray.MaxBytes {
			return nil, fmt.Errorf("%s: icon is %d bytes; %s allows %d", dir, len(data), r.Name, r.Tray.MaxBytes)
		}
		add(r.Tray.File, data)
	}
	add("title.txt", []byte(p.Name+"\n"))
	add("author.txt", []byte(p.Author+"\n"))
	if r.Archive != "" { // WhatsApp: the sample apps' contents.json
		js, err := json.MarshalIndent(map[string]any{"sticker_packs": []map[string]any{{
			"identifier": "1", "name": p.Name, "publisher": p.Author, "tray_image_file": r.Tray.File,
			"image_data_version": "1", "avoid_cache": false, "stickers": wa}}}, "", "  ")
		if err != nil {
			return nil, err
		}
		add("contents.json", append(js, '\n'))
	}
	add("emojis.txt", []byte(emojis.String()))
	add("README.txt", []byte(readme(p, r, filepath.Base(dir))))

	paths, err := writeFolder(dir, files, order, overwrite)
	if err != nil {
		return nil, err
	}
	if r.Archive != "" {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range order {
			if name == "README.txt" || name == "contents.json" || name == "emojis.txt" {
				continue
			}
			w, err := zw.Create(name)
			if err != nil {
				return paths, err
			}
			if _, err := w.Write(files[name]); err != nil {
				return paths, err
			}
		}
		if err := zw.Close(); err != nil {
			return paths, err
		}
		zpath := strings.TrimRight(dir, string(filepath.Separator)) + r.Archive
		if err := export.WriteBytes(zpath, buf.Bytes(), export.WriteOptions{Overwrite: overwrite}); err != nil {
			return paths, err
		}
		paths = append(paths, zpath)
	}
	return paths, nil
}

func encode(img *image.NRGBA, format string, maxBytes int) ([]byte, error) {
	switch format {
	case "webp":
		return export.EncodeWebP(img, maxBytes)
	case "png":
		data, err := export.EncodePNG(img, nil)
		if err == nil && maxBytes > 0 && len(data) > maxBytes {
			return nil, fmt.Errorf("png is %d bytes, limit %d: %w", len(data), maxBytes, export.ErrTooLarge)
		}
		return data, err
	}
	return nil, fmt.Errorf("sticker format %q: want webp or png", format)
}

func readme(p Pack, r Rules, folder string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, by %s: %d stickers made with Likeness for %s.\n\n", p.Name, p.Author, len(p.Stickers), r.Name)
	switch {
	case r.Archive != "":
		fmt.Fprintf(&b, "To import: copy %s%s to your phone and open it with a sticker-maker app that imports\n"+
			".wastickers files; it adds the pack to WhatsApp. The folder holds the same files, with\n"+
			"contents.json in the layout of WhatsApp's sample sticker apps, for building your own.\n", folder, r.Archive)
	default:
		b.WriteString("To import: in Telegram, open a chat with @Stickers, send /newpack, give the pack's\n" +
			"name, then send each sticker file as a file (not as a photo) followed by its emoji\n" +
			"(emojis.txt lists them), then /publish; icon.png is the pack's icon.\n")
	}
	fmt.Fprintf(&b, "\nRules checked when written (%s): %d px, at most %d KB each", r.Source, r.Side, r.MaxBytes>>10)
	if r.Transparent {
		fmt.Fprintf(&b, ", transparent, %d px margin", r.Margin)
	}
	b.WriteString(".\n")
	return b.String()
}

// writeFolder writes files into a new folder beside dir and renames it into
// place, so an interrupted write leaves no half pack.
func writeFolder(dir string, files map[string][]byte, order []string, overwrite bool) ([]string, error) {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("%s exists and is not a folder", dir)
		}
		if !overwrite {
			return nil, fmt.Errorf("%s: %w", dir, os.ErrExist)
		}
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // left only on failure
	for _, name := range order {
		if err := os.WriteFile(filepath.Join(tmp, name), files[name], 0o644); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err == nil {
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return nil, fmt.Errorf("replace %s: %w", dir, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			_ = os.Rename(old, dir)
			return nil, fmt.Errorf("replace %s: %w", dir, err)
		}
		os.RemoveAll(old)
	} else if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var paths []string
	for _, name := range order {
		paths = append(paths, filepath.Join(dir, name))
	}
	return paths, nil
}
