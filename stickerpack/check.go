package stickerpack

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/image/webp"
)

// Check reads a written pack folder (and its archive) and reports every way
// it breaks r, each naming the file; nil when it passes. It reads the files
// as a platform would, not as Write meant them.
func Check(dir string, r Rules) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var stickers []string
	for _, e := range ents {
		ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(e.Name())), ".")
		if !e.IsDir() && slices.Contains(r.Accepts, ext) && e.Name() != r.Tray.File {
			stickers = append(stickers, e.Name())
		}
	}
	sort.Strings(stickers)
	if n := len(stickers); n < r.MinStickers || n > r.MaxStickers {
		fail("%s: %d stickers; %s wants %d to %d", dir, n, r.Name, r.MinStickers, r.MaxStickers)
	}
	for _, name := range stickers {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			fail("%s: %v", path, err)
			continue
		}
		for _, e := range checkSticker(data, strings.ToLower(filepath.Ext(name)), r) {
			fail("%s: %v", path, e)
		}
	}
	if r.Tray.Side > 0 {
		path := filepath.Join(dir, r.Tray.File)
		if data, err := os.ReadFile(path); err != nil {
			fail("%s: the pack's icon: %v", path, err)
		} else if e := checkIcon(data, r.Tray); e != nil {
			fail("%s: %v", path, e)
		}
	}
	if r.Archive != "" {
		for _, e := range checkArchive(strings.TrimRight(dir, string(filepath.Separator))+r.Archive, stickers, r) {
			errs = append(errs, e)
		}
		if e := checkContents(filepath.Join(dir, "contents.json"), stickers); e != nil {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

func checkSticker(data []byte, ext string, r Rules) []error {
	var errs []error
	if len(data) > r.MaxBytes {
		errs = append(errs, fmt.Errorf("%d bytes; %s allows %d", len(data), r.Name, r.MaxBytes))
	}
	var img image.Image
	var err error
	switch ext {
	case ".webp":
		img, err = webp.Decode(bytes.NewReader(data))
	case ".png":
		img, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return append(errs, fmt.Errorf("does not decode as %s: %v", ext, err))
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch {
	case r.Square && (w != r.Side || h != r.Side):
		errs = append(errs, fmt.Errorf("%dx%d; %s wants %dx%d", w, h, r.Name, r.Side, r.Side))
	case !r.Square && (max(w, h) != r.Side || min(w, h) > r.Side):
		errs = append(errs, fmt.Errorf("%dx%d; %s wants %d px on the longer side", w, h, r.Name, r.Side))
	}
	if !r.Transparent {
		return errs
	}
	n := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(n, n.Rect, img, b.Min, draw.Src)
	var sum, edge int
	for y := range h {
		for x := range w {
			a := int(n.Pix[n.PixOffset(x, y)+3])
			sum += a
			inMargin := x < r.Margin || y < r.Margin || x >= w-r.Margin || y >= h-r.Margin
			if inMargin && a > 4 { // lossy WebP may leave a level or two
				edge++
			}
		}
	}
	if mean := float64(sum) / float64(255*w*h); mean > 0.98 {
		errs = append(errs, fmt.Errorf("background is not transparent (mean alpha %.2f)", mean))
	} else if edge > 0 {
		errs = append(errs, fmt.Errorf("%d pixels inside the %d px margin are not transparent", edge, r.Margin))
	}
	return errs
}

func checkIcon(data []byte, ic Icon) error {
	if len(data) > ic.MaxBytes {
		return fmt.Errorf("icon is %d bytes, limit %d", len(data), ic.MaxBytes)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("icon is not a PNG: %v", err)
	}
	if cfg.Width != ic.Side || cfg.Height != ic.Side {
		return fmt.Errorf("icon is %dx%d, want %dx%d", cfg.Width, cfg.Height, ic.Side, ic.Side)
	}
	return nil
}

// checkArchive: the archive sticker-maker apps import holds title.txt,
// author.txt (both non-empty), the icon and the same stickers.
func checkArchive(path string, stickers []string, r Rules) []error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return []error{fmt.Errorf("%s: %v", path, err)}
	}
	defer zr.Close()
	var errs []error
	got := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %v", path, f.Name, err))
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rc, 8<<20))
		rc.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %v", path, f.Name, err))
		}
		got[f.Name] = data
	}
	for _, name := range []string{"title.txt", "author.txt"} {
		if strings.TrimSpace(string(got[name])) == "" {
			errs = append(errs, fmt.Errorf("%s: %s is missing or empty (the pack's name and author)", path, name))
		}
	}
	if _, ok := got[r.Tray.File]; !ok {
		errs = append(errs, fmt.Errorf("%s: no %s", path, r.Tray.File))
	}
	var inZip []string
	for name, data := range got {
		if ext := strings.ToLower(filepath.Ext(name)); ext == "."+r.Format {
			inZip = append(inZip, name)
			for _, e := range checkSticker(data, ext, r) {
				errs = append(errs, fmt.Errorf("%s: %s: %v", path, name, e))
			}
		}
	}
	sort.Strings(inZip)
	if !slices.Equal(inZip, stickers) {
		errs = append(errs, fmt.Errorf("%s holds stickers %v, the folder %v", path, inZip, stickers))
	}
	return errs
}

func checkContents(path string, stickers []string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c struct {
		Packs []struct {
			Name      string `json:"name"`
			Publisher string `json:"publisher"`
			Tray      string `json:"tray_image_file"`
			Stickers  []struct {
				File   string   `json:"image_file"`
				Emojis []string `json:"emojis"`
			} `json:"stickers"`
		} `json:"sticker_packs"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if len(c.Packs) != 1 {
		return fmt.Errorf("%s: %d sticker packs, want 1", path, len(c.Packs))
	}
	p := c.Packs[0]
	if strings.TrimSpace(p.Name) == "" || strings.TrimSpace(p.Publisher) == "" {
		return fmt.Errorf("%s: the pack needs a name and a publisher", path)
	}
	var files []string
	for _, s := range p.Stickers {
		if len(s.Emojis) < 1 || len(s.Emojis) > 3 {
			return fmt.Errorf("%s: %s has %d emojis, want 1 to 3", path, s.File, len(s.Emojis))
		}
		files = append(files, s.File)
	}
	sort.Strings(files)
	if !slices.Equal(files, stickers) {
		return fmt.Errorf("%s lists %v, the folder holds %v", path, files, stickers)
	}
	return nil
}
