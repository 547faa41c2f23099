package matte

import (
	"image"
	"math"

	"golang.org/x/image/draw"
)

// Trimap labels for GrabCut.
const (
	SureBackground     uint8 = 0 // sure background
	ProbablyBackground uint8 = 1
	ProbablyForeground uint8 = 2
	SureForeground     uint8 = 3 // sure foreground
)

// grabCutSide is the side GrabCut works at: the graph cut finds the shape,
// Refine then puts its edges on the picture's own at full resolution.
const grabCutSide = 160

// GrabCut separates foreground from background by colour and edges
// (Rother, Kolmogorov and Blake, "GrabCut", SIGGRAPH 2004): a Gaussian
// mixture of colours for each side, learnt from tri, and a minimum graph
// cut that weighs them against cutting across smooth colour, iterated.
// tri holds one label per pixel of img (row major, img's size); the sure
// labels stay as given. It returns the matte at img's size, refined.
func GrabCut(img *image.NRGBA, tri []uint8, iters int) *image.Alpha {
	w0, h0 := img.Rect.Dx(), img.Rect.Dy()
	if w0 == 0 || h0 == 0 || len(tri) != w0*h0 {
		return nil
	}
	// Work small: both the picture and the trimap (nearest, labels).
	sc := math.Min(1, float64(grabCutSide)/float64(max(w0, h0)))
	w, h := max(1, int(math.Round(float64(w0)*sc))), max(1, int(math.Round(float64(h0)*sc)))
	small := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(small, small.Rect, img, img.Rect, draw.Src, nil)
	n := w * h
	px := make([][3]float64, n)
	lab := make([]uint8, n)
	for y := range h {
		for x := range w {
			o := small.PixOffset(x, y)
			px[y*w+x] = [3]float64{float64(small.Pix[o]), float64(small.Pix[o+1]), float64(small.Pix[o+2])}
			sx, sy := min(w0-1, int(float64(x)/sc)), min(h0-1, int(float64(y)/sc))
			lab[y*w+x] = tri[sy*w0+sx]
		}
	}
	fg := make([]bool, n)
	for i, l := range lab {
		fg[i] = l >= ProbablyForeground
	}
	nb := newNeighbours(px, w, h)
	for range max(1, iters) {
		var fgPx, bgPx [][3]float64
		for i := range px {
			if fg[i] {
				fgPx = append(fgPx, px[i])
			} else {
				bgPx = append(bgPx, px[i])
			}
		}
		if len(fgPx) < 10 || len(bgPx) < 10 {
			break
		}
		gf, gb := fitGMM(fgPx, 5), fitGMM(bgPx, 5)
		g := newGraph(n + 2)
		src, sink := n, n+1
		const inf = 1e9
		for i := range px {
			switch lab[i] {
			case SureForeground:
				g.add(src, i, inf, 0)
			case SureBackground:
				g.add(i, sink, inf, 0)
			default:
				// Cutting i from the source (calling it background) costs
				// -log p(I|foreground), and the other way round.
				g.add(src, i, -gb.logLike(px[i]), 0)
				g.add(i, sink, -gf.logLike(px[i]), 0)
			}
		}
		for _, e := range nb {
			g.add(e.a, e.b, e.w, e.w)
		}
		g.maxflow(src, sink)
		side := g.sourceSide(src)
		for i := range fg {
			fg[i] = side[i]
		}
	}
	coarse := image.NewAlpha(image.Rect(0, 0, w, h))
	for i, f := range fg {
		if f {
			coarse.Pix[i] = 255
		}
	}
	return Refine(img, coarse)
}

type edge struct {
	a, b int
	w    float64
}

// newNeighbours are the 8-connected smoothness terms γ·exp(−β|ΔI|²)/dist.
func newNeighbours(px [][3]float64, w, h int) []edge {
	d2 := func(a, b [3]float64) float64 {
		return (a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2])
	}
	offs := [][3]float64{{1, 0, 1}, {0, 1, 1}, {1, 1, math.Sqrt2}, {-1, 1, math.Sqrt2}}
	var sum float64
	var cnt int
	for y := range h {
		for x := range w {
			for _, o := range offs {
				nx, ny := x+int(o[0]), y+int(o[1])
				if nx >= 0 && nx < w && ny < h {
					sum += d2(px[y*w+x], px[ny*w+nx])
					cnt++
				}
			}
		}
	}
	beta := 0.0
	if sum > 0 {
		beta = float64(cnt) / (2 * sum)
	}
	const gamma = 50
	var out []edge
	for y := range h {
		for x := range w {
			for _, o := range offs {
				nx, ny := x+int(o[0]), y+int(o[1])
				if nx >= 0 && nx < w && ny < h {
					i, j := y*w+x, ny*w+nx
					out = append(out, edge{i, j, gamma * math.Exp(-beta*d2(px[i], px[j])) / o[2]})
				}
			}
		}
	}
	return out
}

// gmm is a Gaussian mixture over RGB with full covariances.
type gmm struct {
	weight []float64
	mean   [][3]float64
	inv    [][3][3]float64
	logDet []float64
}

// fitGMM fits k components by k-means (a few rounds from spread seeds),
// then each cluster's mean and covariance.
func fitGMM(pts [][3]float64, k int) *gmm {
	k = min(k, len(pts))
	centres := make([][3]float64, k)
	for i := range centres {
		centres[i] = pts[(i*len(pts))/k+len(pts)/(2*k)]
	}
	assign := make([]int, len(pts))
	for range 6 {
		for i, p := range pts {
			best, bd := 0, math.Inf(1)
			for c, m := range centres {
				d := (p[0]-m[0])*(p[0]-m[0]) + (p[1]-m[1])*(p[1]-m[1]) + (p[2]-m[2])*(p[2]-m[2])
				if d < bd {
					best, bd = c, d
				}
			}
			assign[i] = best
		}
		var sums [][4]float64 = make([][4]float64, k)
		for i, p := range pts {
			s := &sums[assign[i]]
			s[0] += p[0]
			s[1] += p[1]
			s[2] += p[2]
			s[3]++
		}
		for c := range centres {
			if sums[c][3] > 0 {
				centres[c] = [3]float64{sums[c][0] / sums[c][3], sums[c][1] / sums[c][3], sums[c][2] / sums[c][3]}
			}
		}
	}
	g := &gmm{}
	for c := range k {
		var cnt float64
		var cov [3][3]float64
		for i, p := range pts {
			if assign[i] != c {
				continue
			}
			cnt++
			for a := range 3 {
				for b := range 3 {
					cov[a][b] += (p[a] - centres[c][a]) * (p[b] - centres[c][b])
				}
			}
		}
		if cnt == 0 {
			continue
		}
		for a := range 3 {
			for b := range 3 {
				cov[a][b] /= cnt
			}
			cov[a][a] += 4 // a floor: flat clip-art colours have no spread
		}
		inv, det := inverse3(cov)
		g.weight = append(g.weight, cnt/float64(len(pts)))
		g.mean = append(g.mean, centres[c])
		g.inv = append(g.inv, inv)
		g.logDet = append(g.logDet, math.Log(det))
	}
	return g
}

// logLike is log p(x) under the mixture.
func (g *gmm) logLike(x [3]float64) float64 {
	best := math.Inf(-1)
	var terms []float64
	for c := range g.weight {
		d := [3]float64{x[0] - g.mean[c][0], x[1] - g.mean[c][1], x[2] - g.mean[c][2]}
		var q float64
		for a := range 3 {
			for b := range 3 {
				q += d[a] * g.inv[c][a][b] * d[b]
			}
		}
		t := math.Log(g.weight[c]) - 0.5*g.logDet[c] - 0.5*q - 1.5*math.Log(2*math.Pi)
		terms = append(terms, t)
		best = math.Max(best, t)
	}
	var s float64
	for _, t := range terms {
		s += math.Exp(t - best)
	}
	return best + math.Log(s)
}

func inverse3(m [3][3]float64) ([3][3]float64, float64) {
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	var inv [3][3]float64
	inv[0][0] = (m[1][1]*m[2][2] - m[1][2]*m[2][1]) / det
	inv[0][1] = (m[0][2]*m[2][1] - m[0][1]*m[2][2]) / det
	inv[0][2] = (m[0][1]*m[1][2] - m[0][2]*m[1][1]) / det
	inv[1][0] = (m[1][2]*m[2][0] - m[1][0]*m[2][2]) / det
	inv[1][1] = (m[0][0]*m[2][2] - m[0][2]*m[2][0]) / det
	inv[1][2] = (m[0][2]*m[1][0] - m[0][0]*m[1][2]) / det
	inv[2][0] = (m[1][0]*m[2][1] - m[1][1]*m[2][0]) / det
	inv[2][1] = (m[0][1]*m[2][0] - m[0][0]*m[2][1]) / det
	inv[2][2] = (m[0][0]*m[1][1] - m[0][1]*m[1][0]) / det
	return inv, det
}

// graph is a flow network for Dinic's maximum flow.
type graph struct {
	head  []int
	to    []int
	next  []int
	cap   []float64
	level []int
	iter  []int
}

func newGraph(n int) *graph {
	g := &graph{head: make([]int, n), level: make([]int, n), iter: make([]int, n)}
	for i := range g.head {
		g.head[i] = -1
	}
	return g
}

// add adds the edge a->b with capacity c and its reverse with capacity rc.
func (g *graph) add(a, b int, c, rc float64) {
	g.to = append(g.to, b, a)
	g.cap = append(g.cap, math.Max(0, c), math.Max(0, rc))
	g.next = append(g.next, g.head[a], g.head[b])
	g.head[a], g.head[b] = len(g.to)-2, len(g.to)-1
}

func (g *graph) bfs(s, t int) bool {
	for i := range g.level {
		g.level[i] = -1
	}
	g.level[s] = 0
	q := []int{s}
	for len(q) > 0 {
		v := q[0]
		q = q[1:]
		for e := g.head[v]; e >= 0; e = g.next[e] {
			if g.cap[e] > 1e-9 && g.level[g.to[e]] < 0 {
				g.level[g.to[e]] = g.level[v] + 1
				q = append(q, g.to[e])
			}
		}
	}
	return g.level[t] >= 0
}

// dfs pushes flow along level-increasing paths, iteratively (a recursion
// as deep as a path through 25,000 pixels is not worth the stack).
func (g *graph) dfs(s, t int) float64 {
	var total float64
	path := []int{} // edges
	v := s
	for {
		if v == t {
			f := math.Inf(1)
			for _, e := range path {
				f = math.Min(f, g.cap[e])
			}
			for _, e := range path {
				g.cap[e] -= f
				g.cap[e^1] += f
			}
			total += f
			path, v = path[:0], s
			continue
		}
		advanced := false
		for ; g.iter[v] >= 0; g.iter[v] = g.next[g.iter[v]] {
			e := g.iter[v]
			if g.cap[e] > 1e-9 && g.level[g.to[e]] == g.level[v]+1 {
				path = append(path, e)
				v = g.to[e]
				advanced = true
				break
			}
		}
		if advanced {
			continue
		}
		if v == s {
			return total
		}
		g.level[v] = -1 // dead end
		e := path[len(path)-1]
		path = path[:len(path)-1]
		v = g.to[e^1]
		g.iter[v] = g.next[g.iter[v]]
	}
}

func (g *graph) maxflow(s, t int) float64 {
	var flow float64
	for g.bfs(s, t) {
		copy(g.iter, g.head)
		flow += g.dfs(s, t)
	}
	return flow
}

// sourceSide marks the nodes still reachable from s in the residual graph.
func (g *graph) sourceSide(s int) []bool {
	seen := make([]bool, len(g.head))
	seen[s] = true
	q := []int{s}
	for len(q) > 0 {
		v := q[0]
		q = q[1:]
		for e := g.head[v]; e >= 0; e = g.next[e] {
			if g.cap[e] > 1e-9 && !seen[g.to[e]] {
				seen[g.to[e]] = true
				q = append(q, g.to[e])
			}
		}
	}
	return seen
}
