package face

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrCascade is wrapped in every error about a cascade file that cannot be
// used: malformed XML, a feature or stage type this package does not
// evaluate, or indices that point outside the file's own tables.
var ErrCascade = errors.New("invalid cascade")

// The XML layout of OpenCV's "new" cascade format (what opencv_traincascade
// writes and what OpenCV 4 ships in data/haarcascades). Lists are written as
// sequences of <_> elements.
type xmlStorage struct {
	Cascade *xmlCascade `xml:"cascade"`
}

type xmlCascade struct {
	StageType   string       `xml:"stageType"`
	FeatureType string       `xml:"featureType"`
	Height      int          `xml:"height"`
	Width       int          `xml:"width"`
	StageNum    int          `xml:"stageNum"`
	Stages      []xmlStage   `xml:"stages>_"`
	Features    []xmlFeature `xml:"features>_"`
}

type xmlStage struct {
	MaxWeakCount    int       `xml:"maxWeakCount"`
	StageThreshold  string    `xml:"stageThreshold"`
	WeakClassifiers []xmlWeak `xml:"weakClassifiers>_"`
}

type xmlWeak struct {
	InternalNodes string `xml:"internalNodes"`
	LeafValues    string `xml:"leafValues"`
}

type xmlFeature struct {
	Rects  []string `xml:"rects>_"`
	Tilted string   `xml:"tilted"`
}

// cascade is a parsed boosted Haar cascade, flattened into arrays so the
// inner loop walks memory in order instead of chasing pointers.
type cascade struct {
	width, height int
	stages        []stage
	trees         []tree
	nodes         []node
	leaves        []float32
	features      []feature
}

type stage struct {
	threshold   float32
	first, last int // trees[first:last]
}

type tree struct {
	firstNode, firstLeaf int32
}

// node is one split of a weak classifier. left and right are, as in
// OpenCV, the index of the next node of the same tree when positive, and
// minus the index of a leaf of the tree when zero or negative.
type node struct {
	feature     int32
	left, right int32
	threshold   float32
}

// feature is a Haar feature: a weighted sum of two or three upright
// rectangles of the detection window.
type feature struct {
	n     int
	rects [3]rect
}

type rect struct {
	x, y, w, h int
	weight     float32
}

// parseCascade reads a cascade in OpenCV's new XML format. Only boosted
// cascades of upright Haar features are accepted: tilted features need a
// rotated integral image this package does not build, and the frontal face
// cascades have none.
func parseCascade(r io.Reader) (*cascade, error) {
	var doc xmlStorage
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: decode xml: %w", ErrCascade, err)
	}
	x := doc.Cascade
	if x == nil {
		return nil, fmt.Errorf("%w: no <cascade> element (old-style cascades are not supported)", ErrCascade)
	}
	if x.StageType != "BOOST" {
		return nil, fmt.Errorf("%w: stage type %q, want BOOST", ErrCascade, x.StageType)
	}
	if x.FeatureType != "HAAR" {
		return nil, fmt.Errorf("%w: feature type %q, want HAAR", ErrCascade, x.FeatureType)
	}
	if x.Width < 3 || x.Height < 3 || x.Width > 256 || x.Height > 256 {
		return nil, fmt.Errorf("%w: window size %dx%d", ErrCascade, x.Width, x.Height)
	}
	if len(x.Stages) == 0 {
		return nil, fmt.Errorf("%w: no stages", ErrCascade)
	}
	if x.StageNum != 0 && x.StageNum != len(x.Stages) {
		return nil, fmt.Errorf("%w: stageNum is %d but %d stages are listed", ErrCascade, x.StageNum, len(x.Stages))
	}
	if len(x.Features) == 0 {
		return nil, fmt.Errorf("%w: no features", ErrCascade)
	}

	c := &cascade{width: x.Width, height: x.Height}
	for i, xf := range x.Features {
		f, err := parseFeature(xf, x.Width, x.Height)
		if err != nil {
			return nil, fmt.Errorf("%w: feature %d: %w", ErrCascade, i, err)
		}
		c.features = append(c.features, f)
	}
	for si, xs := range x.Stages {
		thr, err := strconv.ParseFloat(strings.TrimSpace(xs.StageThreshold), 32)
		if err != nil {
			return nil, fmt.Errorf("%w: stage %d: threshold: %w", ErrCascade, si, err)
		}
		if len(xs.WeakClassifiers) == 0 {
			return nil, fmt.Errorf("%w: stage %d: no weak classifiers", ErrCascade, si)
		}
		if xs.MaxWeakCount != 0 && xs.MaxWeakCount != len(xs.WeakClassifiers) {
			return nil, fmt.Errorf("%w: stage %d: maxWeakCount is %d but %d weak classifiers are listed",
				ErrCascade, si, xs.MaxWeakCount, len(xs.WeakClassifiers))
		}
		s := stage{threshold: float32(thr), first: len(c.trees)}
		for wi, xw := range xs.WeakClassifiers {
			if err := c.addTree(xw, len(x.Features)); err != nil {
				return nil, fmt.Errorf("%w: stage %d: weak classifier %d: %w", ErrCascade, si, wi, err)
			}
		}
		s.last = len(c.trees)
		c.stages = append(c.stages, s)
	}
	return c, nil
}

func parseFeature(xf xmlFeature, winW, winH int) (feature, error) {
	var f feature
	if t := strings.TrimSpace(xf.Tilted); t != "" && t != "0" {
		return f, errors.New("tilted features are not supported")
	}
	if len(xf.Rects) < 1 || len(xf.Rects) > len(f.rects) {
		return f, fmt.Errorf("%d rects, want 1 to %d", len(xf.Rects), len(f.rects))
	}
	for i, s := range xf.Rects {
		v := strings.Fields(s)
		if len(v) != 5 {
			return f, fmt.Errorf("rect %d: %q: want x y w h weight", i, strings.TrimSpace(s))
		}
		var n [4]int
		for k := range n {
			var err error
			if n[k], err = strconv.Atoi(strings.TrimSuffix(v[k], ".")); err != nil {
				return f, fmt.Errorf("rect %d: %w", i, err)
			}
		}
		w, err := strconv.ParseFloat(v[4], 32)
		if err != nil {
			return f, fmt.Errorf("rect %d: weight: %w", i, err)
		}
		r := rect{x: n[0], y: n[1], w: n[2], h: n[3], weight: float32(w)}
		if r.x < 0 || r.y < 0 || r.w <= 0 || r.h <= 0 || r.x+r.w > winW || r.y+r.h > winH {
			return f, fmt.Errorf("rect %d: %d,%d %dx%d lies outside the %dx%d window", i, r.x, r.y, r.w, r.h, winW, winH)
		}
		f.rects[i] = r
	}
	f.n = len(xf.Rects)
	return f, nil
}

// addTree appends one weak classifier. Its internal nodes come as groups of
// "left right featureIdx threshold"; a tree of n nodes has n+1 leaves.
func (c *cascade) addTree(xw xmlWeak, nfeatures int) error {
	in := strings.Fields(xw.InternalNodes)
	if len(in) == 0 || len(in)%4 != 0 {
		return fmt.Errorf("%d numbers in internalNodes, want a multiple of 4", len(in))
	}
	nn := len(in) / 4
	lv := strings.Fields(xw.LeafValues)
	if len(lv) != nn+1 {
		return fmt.Errorf("%d leaf values for %d nodes, want %d", len(lv), nn, nn+1)
	}
	t := tree{firstNode: int32(len(c.nodes)), firstLeaf: int32(len(c.leaves))}
	for i := range nn {
		var ints [3]int
		for k := range ints {
			var err error
			if ints[k], err = strconv.Atoi(in[4*i+k]); err != nil {
				return fmt.Errorf("node %d: %w", i, err)
			}
		}
		thr, err := strconv.ParseFloat(in[4*i+3], 32)
		if err != nil {
			return fmt.Errorf("node %d: threshold: %w", i, err)
		}
		left, right, fi := ints[0], ints[1], ints[2]
		if fi < 0 || fi >= nfeatures {
			return fmt.Errorf("node %d: feature index %d out of range [0,%d)", i, fi, nfeatures)
		}
		// Children must point forward (or to a leaf) so evaluation always
		// ends; OpenCV's trainer writes trees in that order.
		for _, ch := range [2]int{left, right} {
			if ch > 0 && (ch <= i || ch >= nn) || ch <= 0 && -ch > nn {
				return fmt.Errorf("node %d: child %d out of range", i, ch)
			}
		}
		c.nodes = append(c.nodes, node{feature: int32(fi), left: int32(left), right: int32(right), threshold: float32(thr)})
	}
	for i, s := range lv {
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return fmt.Errorf("leaf %d: %w", i, err)
		}
		c.leaves = append(c.leaves, float32(v))
	}
	c.trees = append(c.trees, t)
	return nil
}
