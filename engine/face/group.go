package face

import (
	"image"
	"math"
)

// group is one cluster of raw hits: their mean rectangle and how many there
// were.
type group struct {
	r image.Rectangle
	n int
}

// groupRects is OpenCV's groupRectangles: hits are put in the same cluster
// when linked by a chain of similar pairs (corners all within eps of the
// smaller size), each cluster is replaced by its mean, clusters with
// minNeighbors members or fewer are dropped, and so is a cluster lying inside
// a better-supported one (a small false face on a cheek or forehead).
func groupRects(hits []image.Rectangle, minNeighbors int, eps float64) []group {
	if len(hits) == 0 {
		return nil
	}
	labels := partition(hits, eps)
	nclass := 0
	for _, l := range labels {
		nclass = max(nclass, l+1)
	}
	type acc struct{ x0, y0, x1, y1, n int }
	sums := make([]acc, nclass)
	for i, r := range hits {
		a := &sums[labels[i]]
		a.x0 += r.Min.X
		a.y0 += r.Min.Y
		a.x1 += r.Dx()
		a.y1 += r.Dy()
		a.n++
	}
	mean := make([]group, nclass)
	for i, a := range sums {
		// OpenCV averages position and size and truncates; kept for
		// identical boxes.
		s := 1 / float64(a.n)
		x, y := int(float64(a.x0)*s), int(float64(a.y0)*s)
		mean[i] = group{r: image.Rect(x, y, x+int(float64(a.x1)*s), y+int(float64(a.y1)*s)), n: a.n}
	}
	var out []group
	for i, g1 := range mean {
		if g1.n <= minNeighbors {
			continue
		}
		inside := false
		for j, g2 := range mean {
			if j == i || g2.n <= minNeighbors {
				continue
			}
			dx, dy := int(float64(g2.r.Dx())*eps), int(float64(g2.r.Dy())*eps)
			if g1.r.Min.X >= g2.r.Min.X-dx && g1.r.Min.Y >= g2.r.Min.Y-dy &&
				g1.r.Max.X <= g2.r.Max.X+dx && g1.r.Max.Y <= g2.r.Max.Y+dy &&
				(g2.n > max(3, g1.n) || g1.n < 3) {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, g1)
		}
	}
	return out
}

// partition labels hits by the transitive closure of similar, numbering the
// clusters from 0 (OpenCV's partition with SimilarRects), using union-find.
func partition(hits []image.Rectangle, eps float64) []int {
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range hits {
		for j := i + 1; j < len(hits); j++ {
			if similar(hits[i], hits[j], eps) {
				if a, b := find(i), find(j); a != b {
					parent[b] = a
				}
			}
		}
	}
	labels := make([]int, len(hits))
	ids := map[int]int{}
	for i := range hits {
		root := find(i)
		id, ok := ids[root]
		if !ok {
			id = len(ids)
			ids[root] = id
		}
		labels[i] = id
	}
	return labels
}

// similar is OpenCV's SimilarRects: every edge within eps times the mean of
// the smaller width and the smaller height.
func similar(a, b image.Rectangle, eps float64) bool {
	d := eps * float64(min(a.Dx(), b.Dx())+min(a.Dy(), b.Dy())) * 0.5
	return math.Abs(float64(a.Min.X-b.Min.X)) <= d && math.Abs(float64(a.Min.Y-b.Min.Y)) <= d &&
		math.Abs(float64(a.Max.X-b.Max.X)) <= d && math.Abs(float64(a.Max.Y-b.Max.Y)) <= d
}
