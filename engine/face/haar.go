package face

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"image"
	"io"
	"math"
	"sort"
)

// The frontal face cascade from OpenCV 4.6 (Debian opencv-data), unchanged;
// its licence is in LICENSE-opencv-cascade.txt. See NewHaar for why this one.
//
//go:embed haarcascade_frontalface_alt2.xml
var frontalFaceXML []byte

// Haar is a Viola-Jones face detector evaluated as OpenCV's
// CascadeClassifier.detectMultiScale does: a pyramid of downscaled images,
// each scanned with the cascade's fixed window, then overlapping hits
// grouped. It is safe for concurrent use; the fields must not change while a
// Detect runs.
type Haar struct {
	c *cascade

	// ScaleFactor is the ratio between pyramid levels (OpenCV's
	// scaleFactor); smaller finds more faces, more slowly.
	ScaleFactor float64
	// MinNeighbors is how many raw hits a face needs: a group is kept only
	// with more than MinNeighbors members (OpenCV's minNeighbors, which has
	// the same strict comparison).
	MinNeighbors int
	// MaxSide bounds the longer side of the image the cascade scans; larger
	// photos are averaged down first and the boxes scaled back. The smallest
	// face found is the cascade window (20 px for the embedded one) at that
	// size. 0 means no limit.
	MaxSide int
}

var _ Detector = (*Haar)(nil)

// NewHaar returns a detector using the embedded haarcascade_frontalface_alt2
// cascade. It was chosen over haarcascade_frontalface_default by running both
// on the photos in testdata: both find the same three frontal faces and miss
// the cameraman's profile, but default also reports a face on Biden's collar
// and tie and another, with 25 neighbours, on the muddy ground of
// exif_orientation_1.jpg, where no face is visible; alt2 reports only the
// real faces. OpenCV 4.6's own detectMultiScale, run on the same photos,
// gives the same boxes to within a few pixels for both cascades. alt2 also
// has fewer features (2094 against 2913).
func NewHaar() (*Haar, error) {
	h, err := LoadHaar(bytes.NewReader(frontalFaceXML))
	if err != nil {
		return nil, fmt.Errorf("embedded face cascade: %w", err)
	}
	return h, nil
}

// LoadHaar reads a cascade in OpenCV's XML format (BOOST stages of upright
// HAAR features, as haarcascade_*.xml in OpenCV 3 and 4) and returns a
// detector with OpenCV's default settings.
func LoadHaar(r io.Reader) (*Haar, error) {
	c, err := parseCascade(r)
	if err != nil {
		return nil, fmt.Errorf("load haar cascade: %w", err)
	}
	return &Haar{c: c, ScaleFactor: 1.1, MinNeighbors: 3, MaxSide: 640}, nil
}

// Detect finds faces in img, most raw hits first (ties: larger first). Box
// coordinates are in img's own coordinate space, so a sub-image's Bounds
// offset is kept. The context is checked between pyramid levels.
func (h *Haar) Detect(ctx context.Context, img image.Image) ([]Box, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("detect faces: %w", err)
	}
	if h.ScaleFactor <= 1 {
		return nil, fmt.Errorf("detect faces: scale factor %v must be above 1", h.ScaleFactor)
	}
	b := img.Bounds()
	if b.Dx() < h.c.width || b.Dy() < h.c.height {
		return nil, nil
	}
	g := toGray(img)
	scale := 1.0 // original pixels per base pixel
	if long := max(g.w, g.h); h.MaxSide > 0 && long > h.MaxSide {
		scale = float64(long) / float64(h.MaxSide)
		g = shrink(g, max(1, int(math.Round(float64(g.w)/scale))), max(1, int(math.Round(float64(g.h)/scale))))
		scale = float64(b.Dx()) / float64(g.w)
	}
	raw, err := h.scan(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("detect faces: %w", err)
	}
	groups := groupRects(raw, h.MinNeighbors, 0.2)
	sort.SliceStable(groups, func(i, j int) bool {
		if groups[i].n != groups[j].n {
			return groups[i].n > groups[j].n
		}
		return groups[i].r.Dx()*groups[i].r.Dy() > groups[j].r.Dx()*groups[j].r.Dy()
	})
	boxes := make([]Box, 0, len(groups))
	sy := float64(b.Dy()) / float64(g.h)
	for _, gr := range groups {
		r := gr.r
		boxes = append(boxes, Box{
			Rect: image.Rect(
				b.Min.X+int(math.Round(float64(r.Min.X)*scale)), b.Min.Y+int(math.Round(float64(r.Min.Y)*sy)),
				b.Min.X+int(math.Round(float64(r.Max.X)*scale)), b.Min.Y+int(math.Round(float64(r.Max.Y)*sy)),
			).Intersect(b),
			Score: float64(gr.n),
		})
	}
	return boxes, nil
}

// optFeature is a feature with its rectangles turned into offsets of the
// four integral-image corners from the window's top-left, for one row
// stride; OpenCV precomputes the same.
type optFeature struct {
	n  int
	o  [3][4]int32
	wt [3]float32
}

// scan runs the cascade over every pyramid level of g and returns the raw
// hits in g's coordinates.
func (h *Haar) scan(ctx context.Context, g grayImage) ([]image.Rectangle, error) {
	c := h.c
	// One stride for every level (that of the largest), as OpenCV does, so
	// the feature offsets are computed once and the buffers allocated once.
	stride := g.w + 1
	feats := make([]optFeature, len(c.features))
	for i, f := range c.features {
		o := &feats[i]
		o.n = f.n
		for k := range f.n {
			r := f.rects[k]
			o.o[k] = [4]int32{
				int32(r.y*stride + r.x), int32(r.y*stride + r.x + r.w),
				int32((r.y+r.h)*stride + r.x), int32((r.y+r.h)*stride + r.x + r.w),
			}
			o.wt[k] = r.weight
		}
	}
	// The window's variance is taken over its interior, one pixel in from
	// each side (OpenCV's normrect).
	nw, nh := c.width-2, c.height-2
	norm := [4]int{stride + 1, stride + 1 + nw, (1+nh)*stride + 1, (1+nh)*stride + 1 + nw}
	area := float64(nw * nh)

	level := make([]uint8, g.w*g.h)
	// int32 sums overflow past 8.4 megapixels (MaxSide 0 and a big photo),
	// but every sum used is a difference of four, which wraps back to the
	// right value while a window's own total fits.
	sum := make([]int32, stride*(g.h+1))
	sq := make([]int64, stride*(g.h+1))
	var hits []image.Rectangle
	for f := 1.0; ; f *= h.ScaleFactor {
		sw, sh := int(math.Round(float64(g.w)/f)), int(math.Round(float64(g.h)/f))
		if sw <= c.width || sh <= c.height {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src := g.pix
		if sw != g.w || sh != g.h {
			resizeLinear(level, g, sw, sh)
			src = level
		}
		integrate(sum, sq, src, sw, sh, stride)

		winW, winH := int(math.Round(float64(c.width)*f)), int(math.Round(float64(c.height)*f))
		// OpenCV steps two pixels at the finest levels, where a face spans
		// many windows anyway, and one pixel once the image is halved.
		step := 2
		if f > 2 {
			step = 1
		}
		for y := 0; y+c.height < sh; y += step {
			for x := 0; x+c.width < sw; x += step {
				p := y*stride + x
				s := float64(sum[p+norm[0]] - sum[p+norm[1]] - sum[p+norm[2]] + sum[p+norm[3]])
				q := float64(sq[p+norm[0]] - sq[p+norm[1]] - sq[p+norm[2]] + sq[p+norm[3]])
				nf := area*q - s*s
				if nf > 0 {
					nf = math.Sqrt(nf)
				} else {
					nf = 1
				}
				r := c.run(sum[p:], feats, float32(1/nf))
				if r > 0 {
					x0, y0 := int(math.Round(float64(x)*f)), int(math.Round(float64(y)*f))
					hits = append(hits, image.Rect(x0, y0, x0+winW, y0+winH))
				} else if r == 0 {
					// Rejected by the first stage: the next window, one
					// step over, almost surely is too (OpenCV skips it).
					x += step
				}
			}
		}
	}
	return hits, nil
}

// integrate fills sum and sq with the integral image of pix and of its
// squares: entry (y, x) holds the total over rows < y and columns < x.
func integrate(sum []int32, sq []int64, pix []uint8, w, h, stride int) {
	clear(sum[:stride])
	clear(sq[:stride])
	for y := range h {
		row := pix[y*w : (y+1)*w]
		prev, prevQ := sum[y*stride:], sq[y*stride:]
		cur, curQ := sum[(y+1)*stride:], sq[(y+1)*stride:]
		cur[0], curQ[0] = 0, 0
		var rs int32
		var rq int64
		for x, v := range row {
			rs += int32(v)
			rq += int64(v) * int64(v)
			cur[x+1] = prev[x+1] + rs
			curQ[x+1] = prevQ[x+1] + rq
		}
	}
}

// run evaluates the cascade on the window whose integral image starts at
// ii[0]. It returns 1 for a face, or minus the index of the stage that
// rejected the window (so 0 means the first), as OpenCV's runAt does.
func (c *cascade) run(ii []int32, feats []optFeature, invNF float32) int {
	for si := range c.stages {
		s := &c.stages[si]
		var total float32
		for _, t := range c.trees[s.first:s.last] {
			idx := int32(0)
			for {
				nd := &c.nodes[t.firstNode+idx]
				f := &feats[nd.feature]
				o := &f.o[0]
				v := f.wt[0] * float32(ii[o[0]]-ii[o[1]]-ii[o[2]]+ii[o[3]])
				o = &f.o[1]
				v += f.wt[1] * float32(ii[o[0]]-ii[o[1]]-ii[o[2]]+ii[o[3]])
				if f.n > 2 {
					o = &f.o[2]
					v += f.wt[2] * float32(ii[o[0]]-ii[o[1]]-ii[o[2]]+ii[o[3]])
				}
				if v*invNF < nd.threshold {
					idx = nd.left
				} else {
					idx = nd.right
				}
				if idx <= 0 {
					break
				}
			}
			total += c.leaves[t.firstLeaf-idx]
		}
		if total < s.threshold {
			return -si
		}
	}
	return 1
}
