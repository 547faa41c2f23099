// Package eval measures a model pack on a folder of generated pairs (a
// source portrait, the true target of one edit direction and the true
// change mask), as the paper's Table 1 does: for every pair the baseline
// ("w/o mask"), mask-guided editing with each mask_guidance and the product
// output (mask-guided with Preserve), scored against the true target, with
// the mask's recall of the true change and whether the edit is recognised.
// It also calibrates λ and the mask options on validation pairs.
//
// The pairs folder is what `python3 -m likeness_train pairs` writes:
// DIR/index.jsonl, one JSON object per line,
//
//	{"identity":"id000123","task":"expressions","direction":"angry",
//	 "source":"id000123/source.png","target":"id000123/angry.png",
//	 "mask":"id000123/angry_mask.png","face_box":[x0,y0,x1,y1],
//	 "size":128,"split":"test"}
//
// with paths relative to DIR. Masks are 8-bit grayscale PNGs, 255 where the
// edit changed the pixel and 0 elsewhere; "mask_kind":"difference" marks a
// per-pixel difference map instead of a true change mask (then the mask
// metrics are n/a, and a pixel counts as changed where the map is not 0).
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // targets may be JPEG too
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IndexFile is the pairs folder's index.
const IndexFile = "index.jsonl"

// Splits a pair may belong to, and the selections of Select.
const (
	SplitTest  = "test"
	SplitVal   = "val"
	SplitTrain = "train"
	SplitAll   = "all" // every pair, whatever its split (never for calibration)
)

// MaskKindDifference marks a mask file that is a difference map, not a true
// change mask.
const MaskKindDifference = "difference"

// ErrBadPairs is matched by every error about the pairs folder's contents.
var ErrBadPairs = errors.New("bad pairs folder")

// Pair is one line of index.jsonl.
type Pair struct {
	Identity  string `json:"identity"`
	Task      string `json:"task,omitempty"`
	Direction string `json:"direction"`
	Source    string `json:"source"`
	Target    string `json:"target"`
	Mask      string `json:"mask"`
	FaceBox   [4]int `json:"face_box"` // x0, y0, x1, y1 in pixels
	Size      int    `json:"size"`
	Split     string `json:"split"`
	MaskKind  string `json:"mask_kind,omitempty"`
	Line      int    `json:"-"` // 1-based line in index.jsonl
}

// TrueMask reports whether the mask file is a true change mask (the mask
// metrics apply).
func (p Pair) TrueMask() bool { return p.MaskKind != MaskKindDifference }

// Box is the face box as a rectangle.
func (p Pair) Box() image.Rectangle {
	return image.Rect(p.FaceBox[0], p.FaceBox[1], p.FaceBox[2], p.FaceBox[3])
}

// ID names the pair in reports: identity/direction.
func (p Pair) ID() string { return p.Identity + "/" + p.Direction }

// Folder is a parsed pairs folder.
type Folder struct {
	Dir   string
	Pairs []Pair // in index order
}

// ReadFolder reads and checks DIR/index.jsonl. Errors name the file and line.
func ReadFolder(dir string) (*Folder, error) {
	index := filepath.Join(dir, IndexFile)
	data, err := os.ReadFile(index)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is missing; make pairs with `python3 -m likeness_train pairs --out %s`", ErrBadPairs, index, dir)
		}
		return nil, err
	}
	f := &Folder{Dir: dir}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: %s:%d: %s", ErrBadPairs, index, n, fmt.Sprintf(format, a...))
		}
		var p Pair
		dec := json.NewDecoder(bytes.NewReader(line))
		if err := dec.Decode(&p); err != nil {
			return nil, bad("%v", err)
		}
		p.Line = n
		if err := p.check(); err != nil {
			return nil, bad("%v", err)
		}
		if j, dup := seen[p.ID()]; dup {
			return nil, bad("pair %s is already on line %d", p.ID(), j)
		}
		seen[p.ID()] = n
		f.Pairs = append(f.Pairs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(f.Pairs) == 0 {
		return nil, fmt.Errorf("%w: %s holds no pairs", ErrBadPairs, index)
	}
	return f, nil
}

func (p *Pair) check() error {
	for _, k := range []struct{ key, v string }{{"identity", p.Identity}, {"direction", p.Direction},
		{"source", p.Source}, {"target", p.Target}, {"mask", p.Mask}, {"split", p.Split}} {
		if strings.TrimSpace(k.v) == "" {
			return fmt.Errorf("%q is missing or empty", k.key)
		}
	}
	for _, k := range []struct{ key, v string }{{"source", p.Source}, {"target", p.Target}, {"mask", p.Mask}} {
		if !filepath.IsLocal(filepath.FromSlash(k.v)) || strings.Contains(k.v, `\`) {
			return fmt.Errorf("%q %q is not a relative path inside the folder", k.key, k.v)
		}
	}
	if p.Size < 16 || p.Size > 8192 {
		return fmt.Errorf("\"size\" %d: want the images' side in pixels, 16 to 8192", p.Size)
	}
	b := p.Box()
	if b.Empty() || !b.In(image.Rect(0, 0, p.Size, p.Size)) {
		return fmt.Errorf("\"face_box\" %v is empty or not inside the %dx%d image", p.FaceBox, p.Size, p.Size)
	}
	if p.MaskKind != "" && p.MaskKind != MaskKindDifference && p.MaskKind != "change" {
		return fmt.Errorf("\"mask_kind\" %q: want \"difference\" (or leave it out)", p.MaskKind)
	}
	return nil
}

// Select returns the pairs of a split (SplitAll: every pair) and, when
// direction is not empty, of that direction only, in index order, at most
// limit of them (limit <= 0: all).
func (f *Folder) Select(split, direction string, limit int) []Pair {
	var out []Pair
	for _, p := range f.Pairs {
		if (split == SplitAll || p.Split == split) && (direction == "" || p.Direction == direction) {
			out = append(out, p)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

// Directions lists the directions in the folder, sorted.
func (f *Folder) Directions() []string {
	var ds []string
	for _, p := range f.Pairs {
		if !slices.Contains(ds, p.Direction) {
			ds = append(ds, p.Direction)
		}
	}
	slices.Sort(ds)
	return ds
}

// Path is a pair file's path on disk.
func (f *Folder) Path(rel string) string { return filepath.Join(f.Dir, filepath.FromSlash(rel)) }

// loadImage reads a PNG (or JPEG) as NRGBA and checks its size.
func loadImage(path string, size int) (*image.NRGBA, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	img, _, err := image.Decode(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		return nil, fmt.Errorf("%w: %s is %dx%d, the index says %d", ErrBadPairs, path, b.Dx(), b.Dy(), size)
	}
	out := image.NewNRGBA(image.Rect(0, 0, size, size))
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out, nil
}

// loadMask reads a mask PNG as size*size booleans: a true change mask is on
// where it is 128 or more, a difference map wherever it is not 0.
func loadMask(path string, size int, difference bool) ([]bool, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	img, err := png.Decode(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dx() != size || b.Dy() != size {
		return nil, fmt.Errorf("%w: %s is %dx%d, the index says %d", ErrBadPairs, path, b.Dx(), b.Dy(), size)
	}
	g := image.NewGray(image.Rect(0, 0, size, size))
	draw.Draw(g, g.Rect, img, b.Min, draw.Src)
	out := make([]bool, size*size)
	for y := range size {
		for x := range size {
			v := g.Pix[y*g.Stride+x]
			out[y*size+x] = v >= 128 || difference && v > 0
		}
	}
	return out, nil
}
