package synth

import (
	"encoding/binary"
	"math"
	"strconv"

	pb "likeness/models/onnxpb"
)

// builder wraps onnxpb.Graph with the pack's conventions: the batch
// dimension and float16 boundaries.
type builder struct {
	*pb.Graph
	a     *Analytic
	n     int // unique-name counter
	casts []func()
}

func (a *Analytic) newBuilder(name string) *builder {
	return &builder{Graph: pb.NewGraph(name), a: a}
}

func (b *builder) batch() pb.Dim {
	if b.a.FixedBatch {
		return pb.Dim{Value: 1}
	}
	return pb.Dim{Param: "batch"}
}

func (b *builder) dims(rest ...int64) []pb.Dim {
	out := append([]pb.Dim{b.batch()}, pb.Fixed(rest...)...)
	if !b.a.OptimumDims {
		return out
	}
	// As Optimum exports them: spatial sizes and the sequence length dynamic.
	n, res := int64(b.a.LatentSize()), int64(b.a.Resolution)
	for i, v := range rest {
		switch {
		case len(rest) == 3 && i == 1 && (v == n || v == res):
			out[i+1] = pb.Dim{Param: "height"}
		case len(rest) == 3 && i == 2 && (v == n || v == res):
			out[i+1] = pb.Dim{Param: "width"}
		case i == 0 && v == int64(b.a.TextLen):
			out[i+1] = pb.Dim{Param: "sequence_length"}
		}
	}
	return out
}

func (b *builder) floatType() pb.DataType {
	if b.a.Float16 {
		return pb.Float16
	}
	return pb.Float
}

// floatIn declares a float input and returns the name of its float32 value.
func (b *builder) floatIn(name string, dims []pb.Dim) string {
	b.Input(name, b.floatType(), dims...)
	if !b.a.Float16 {
		return name
	}
	b.Node("Cast", []string{name}, []string{name + "_f32"}, pb.AttrInt("to", int64(pb.Float)))
	return name + "_f32"
}

// floatOut declares a float output and returns the name the float32
// computation must write; finish adds the Cast to float16.
func (b *builder) floatOut(name string, dims []pb.Dim) string {
	b.Output(name, b.floatType(), dims...)
	if !b.a.Float16 {
		return name
	}
	b.casts = append(b.casts, func() {
		b.Node("Cast", []string{name + "_f32"}, []string{name}, pb.AttrInt("to", int64(pb.Float16)))
	})
	return name + "_f32"
}

func (b *builder) model() []byte {
	for _, c := range b.casts {
		c()
	}
	return b.Model(Opset)
}

// modelExternal is model with initializers over 1 KiB in model.onnx_data.
func (b *builder) modelExternal() (model, data []byte) {
	for _, c := range b.casts {
		c()
	}
	return b.ModelExternal(Opset, "model.onnx_data", 1024)
}

// tmp returns a fresh intermediate name.
func (b *builder) tmp(prefix string) string {
	b.n++
	return prefix + "_" + strconv.Itoa(b.n)
}

func (b *builder) ints(name string, v ...int64) string {
	b.Init(name, pb.Int64s([]int64{int64(len(v))}, v))
	return name
}

func (b *builder) floats(name string, dims []int64, v []float64) string {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	b.Init(name, pb.Float32s(dims, f))
	return name
}

func (b *builder) op(op string, inputs []string, attrs ...pb.Attr) string {
	out := b.tmp(op)
	b.Node(op, inputs, []string{out}, attrs...)
	return out
}

func flat(m [][]float64) []float64 {
	var out []float64
	for _, r := range m {
		out = append(out, r...)
	}
	return out
}

func (a *Analytic) textEncoder() []byte {
	model, _ := a.textEncoderFiles()
	return model
}

// textEncoderFiles builds the text encoder; data is its external weights
// when ExternalData is set.
func (a *Analytic) textEncoderFiles() (model, data []byte) {
	b := a.newBuilder("text_encoder")
	ids := "input_ids"
	if a.IDs32 {
		b.Input(ids, pb.Int32, b.dims(int64(a.TextLen))...)
		ids = b.op("Cast", []string{ids}, pb.AttrInt("to", int64(pb.Int64)))
	} else {
		b.Input(ids, pb.Int64, b.dims(int64(a.TextLen))...)
	}
	// E is zero but for e_j at row WordIDs[j]; written as raw bytes directly
	// since the table has 49408·16 entries.
	e := make([]byte, 4*a.VocabSize*a.D)
	for j, id := range a.WordIDs {
		binary.LittleEndian.PutUint32(e[4*(int(id)*a.D+j):], math.Float32bits(1))
	}
	b.Init("E", pb.Tensor{Dims: []int64{int64(a.VocabSize), int64(a.D)}, Type: pb.Float, Raw: e})
	out := b.floatOut("last_hidden_state", b.dims(int64(a.TextLen), int64(a.D)))
	if a.AttentionMask {
		b.Input("attention_mask", pb.Int64, b.dims(int64(a.TextLen))...)
		mask := b.op("Cast", []string{"attention_mask"}, pb.AttrInt("to", int64(pb.Float)))
		mask = b.op("Unsqueeze", []string{mask, b.ints("mask_axis", 2)})
		emb := b.op("Gather", []string{"E", ids}, pb.AttrInt("axis", 0))
		b.Node("Mul", []string{emb, mask}, []string{out})
	} else {
		b.Node("Gather", []string{"E", ids}, []string{out}, pb.AttrInt("axis", 0))
	}
	if a.OptimumDims { // Optimum's text encoders also return a pooled output
		pooled := b.floatOut("pooler_output", b.dims(int64(a.D)))
		b.Node("ReduceMean", []string{out}, []string{pooled}, pb.AttrInts("axes", 1), pb.AttrInt("keepdims", 0))
	}
	if a.ExternalData {
		return b.modelExternal()
	}
	return b.model(), nil
}

func (a *Analytic) unet() []byte {
	b := a.newBuilder("unet")
	n := int64(a.LatentSize())
	C, L := int64(a.Channels()), int64(a.HiddenLen())
	spatial := func(c int64) []pb.Dim {
		if !a.AnySize {
			return b.dims(c, n, n)
		}
		return []pb.Dim{b.batch(), {Value: c}, {Param: "height"}, {Param: "width"}}
	}
	sample := b.floatIn("sample", spatial(C))
	switch a.TimestepKind {
	case "int64":
		b.timestepInput(pb.Int64)
	case "float16":
		b.timestepInput(pb.Float16)
	default:
		b.timestepInput(pb.Float)
	}
	ehs := b.floatIn("encoder_hidden_states", b.dims(L, int64(a.D)))
	out := b.floatOut("out_sample", spatial(4))

	ax1 := b.ints("axis1", 1)
	zt := b.op("Slice", []string{sample, b.ints("s0", 0), b.ints("s4", 4), ax1})
	// T = Wt^T · Σ_77 text tokens, broadcast into R.
	text := b.op("Slice", []string{ehs, "s0", b.ints("s77", int64(a.TextLen)), ax1})
	tsum := b.op("ReduceSum", []string{text, ax1}, pb.AttrInt("keepdims", 0))
	wt := make([][]float64, a.D)
	for d := range wt {
		wt[d] = make([]float64, 4)
		if d < len(a.Tint) {
			copy(wt[d], a.Tint[d][:])
		}
	}
	T := b.op("MatMul", []string{tsum, b.floats("Wt", []int64{int64(a.D), 4}, flat(wt))})
	shape4 := b.ints("shape_b4", -1, 4, 1, 1)
	T4 := b.op("Reshape", []string{T, shape4})
	var R string
	if a.AnySize {
		R = b.anySizeRegion(zt)
	} else {
		mask := make([]float64, n*n)
		for i, m := range a.Mask() {
			if m {
				mask[i] = 1
			}
		}
		R = b.floats("R", []int64{n, n}, mask)
	}
	RT := b.op("Mul", []string{T4, R})
	if a.Nonlinear {
		th := b.op("Tanh", []string{zt})
		g := b.op("Mul", []string{th, b.floats("gain", nil, []float64{a.NonlinearGain})})
		g = b.op("Add", []string{g, b.floats("one", nil, []float64{1})})
		RT = b.op("Mul", []string{RT, g})
	}
	var X string
	if a.Kind == KindSD {
		X = b.op("Add", []string{RT, b.floats("m", []int64{1, 4, 1, 1}, a.SDMean[:])})
	} else {
		cs := b.op("Slice", []string{sample, "s4", b.ints("s8", 8), ax1})
		k := a.VAEScalingFactor / a.SpatialLatentScale
		X = b.op("Mul", []string{cs, b.floats("k", nil, []float64{k})})
		if a.Kind == KindMCDM {
			tok := b.op("Slice", []string{ehs, "s77", b.ints("sL", L), ax1})
			tm := b.op("ReduceMean", []string{tok}, pb.AttrInts("axes", 1), pb.AttrInt("keepdims", 0))
			wa := make([][]float64, a.D)
			for d := range wa {
				wa[d] = a.Wa[d][:]
			}
			A := b.op("MatMul", []string{tm, b.floats("Wa", []int64{int64(a.D), 4}, flat(wa))})
			X = b.op("Add", []string{X, b.op("Reshape", []string{A, shape4})})
		}
		X = b.op("Add", []string{X, RT})
	}
	// ε = (z_t − √ᾱ_t·X) / √(1−ᾱ_t), tables indexed by the timestep.
	ab := AlphasCumprod(a.NumTrainTimesteps, a.BetaStart, a.BetaEnd)
	sa, inv := make([]float64, len(ab)), make([]float64, len(ab))
	for i, v := range ab {
		sa[i], inv[i] = math.Sqrt(v), 1/math.Sqrt(1-v)
	}
	nt := []int64{int64(len(ab))}
	idx := b.op("Reshape", []string{"timestep_i64", b.ints("shape_flat", -1)})
	shape1 := b.ints("shape_b111", -1, 1, 1, 1)
	saT := b.op("Reshape", []string{b.op("Gather", []string{b.floats("sqrt_alpha_bar", nt, sa), idx}), shape1})
	invT := b.op("Reshape", []string{b.op("Gather", []string{b.floats("inv_sqrt_one_minus_alpha_bar", nt, inv), idx}), shape1})
	diff := b.op("Sub", []string{zt, b.op("Mul", []string{saT, X})})
	if a.NaNBelowTimestep > 0 {
		// + 0·sqrt(t − T0): NaN below T0, exactly 0 from T0 on.
		tf := b.op("Reshape", []string{b.op("Cast", []string{idx}, pb.AttrInt("to", int64(pb.Float))), shape1})
		d := b.op("Sub", []string{tf, b.floats("nan_below", nil, []float64{float64(a.NaNBelowTimestep)})})
		poison := b.op("Mul", []string{b.op("Sqrt", []string{d}), b.floats("zero", nil, []float64{0})})
		diff = b.op("Add", []string{diff, poison})
	}
	b.Node("Mul", []string{diff, invT}, []string{out})
	return b.model()
}

// anySizeRegion computes R [height,width] from the size of x [B,4,height,
// width]: cell (r,c) is 1 when (r mod h, c mod h) lies in the region.
func (b *builder) anySizeRegion(x string) string {
	a := b.a
	n := int64(a.LatentSize())
	b.Init("zero_i64", pb.Int64s([]int64{}, []int64{0}))
	b.Init("one_i64", pb.Int64s([]int64{}, []int64{1}))
	b.Init("n_i64", pb.Int64s([]int64{}, []int64{n}))
	shape := b.op("Shape", []string{x})
	dim := func(axis int64) string {
		name := "axis_index_" + strconv.FormatInt(axis, 10)
		b.Init(name, pb.Int64s([]int64{}, []int64{axis}))
		return b.op("Gather", []string{shape, name}, pb.AttrInt("axis", 0))
	}
	// band is 1 where i mod h lies in [lo,hi), for i below size.
	band := func(size string, lo, hi int64, tag string) string {
		idx := b.op("Range", []string{"zero_i64", size, "one_i64"})
		m := b.op("Mod", []string{idx, "n_i64"})
		b.Init("lo_"+tag, pb.Int64s([]int64{}, []int64{lo}))
		b.Init("hi_"+tag, pb.Int64s([]int64{}, []int64{hi}))
		in := b.op("And", []string{b.op("GreaterOrEqual", []string{m, "lo_" + tag}), b.op("Less", []string{m, "hi_" + tag})})
		return b.op("Cast", []string{in}, pb.AttrInt("to", int64(pb.Float)))
	}
	rows := band(dim(2), int64(a.Region.Row0), int64(a.Region.Row1), "row")
	cols := band(dim(3), int64(a.Region.Col0), int64(a.Region.Col1), "col")
	rows = b.op("Unsqueeze", []string{rows, b.ints("row_axis", 1)}) // [height,1]
	return b.op("Mul", []string{rows, cols})                        // [height,width]
}

// timestepInput declares the timestep and computes "timestep_i64", the
// integer index: floats are rounded (half to even) before the cast.
func (b *builder) timestepInput(t pb.DataType) {
	var dims []pb.Dim
	if !b.a.ScalarTimestep {
		dims = []pb.Dim{b.batch()}
	}
	b.Input("timestep", t, dims...)
	x := "timestep"
	switch t {
	case pb.Int64:
		b.Node("Identity", []string{x}, []string{"timestep_i64"})
		return
	case pb.Float16:
		x = b.op("Cast", []string{x}, pb.AttrInt("to", int64(pb.Float)))
	}
	x = b.op("Round", []string{x})
	b.Node("Cast", []string{x}, []string{"timestep_i64"}, pb.AttrInt("to", int64(pb.Int64)))
}

func (a *Analytic) vaeEncoder() []byte {
	b := a.newBuilder("vae_encoder")
	H, n, f := int64(a.Resolution), int64(a.LatentSize()), int64(a.LatentFactor)
	x := b.floatIn("sample", b.dims(3, H, H))
	co, name := int64(4), "latent_sample"
	if a.LatentParameters {
		co, name = 8, "latent_parameters"
	}
	w := make([]float64, co*3*f*f)
	bias := make([]float64, co)
	for k := range co {
		for c := range int64(3) {
			for p := range f * f {
				if k < 4 {
					w[(k*3+c)*f*f+p] = a.Menc[k][c] / float64(f*f)
				}
			}
		}
		if k >= 4 {
			bias[k] = a.LogVar
		}
	}
	out := b.floatOut(name, b.dims(co, n, n))
	conv := out
	if a.SamplingVAE != "" {
		conv = b.tmp("mean")
	}
	b.Node("Conv", []string{x, b.floats("W", []int64{co, 3, f, f}, w), b.floats("B", []int64{co}, bias)}, []string{conv},
		pb.AttrInts("kernel_shape", f, f), pb.AttrInts("strides", f, f))
	if a.SamplingVAE != "" {
		// latent_dist.sample() = mean + std·ε, std = exp(LogVar/2).
		var eps string
		if a.SamplingVAE == "uniform" {
			u := b.tmp("RandomUniformLike")
			b.Node("RandomUniformLike", []string{conv}, []string{u}, pb.AttrFloat("low", -1), pb.AttrFloat("high", 1))
			eps = u
		} else {
			eps = b.tmp("RandomNormalLike")
			b.Node("RandomNormalLike", []string{conv}, []string{eps}, pb.AttrInt("dtype", int64(pb.Float)))
		}
		noise := b.op("Mul", []string{eps, b.floats("std", nil, []float64{math.Exp(a.LogVar / 2)})})
		b.Node("Add", []string{conv, noise}, []string{out})
	}
	return b.model()
}

func (a *Analytic) vaeDecoder() []byte {
	b := a.newBuilder("vae_decoder")
	H, n, f := int64(a.Resolution), int64(a.LatentSize()), int64(a.LatentFactor)
	z := b.floatIn("latent_sample", b.dims(4, n, n))
	w := make([]float64, 4*3*f*f)
	for k := range int64(4) {
		for c := range int64(3) {
			for p := range f * f {
				w[(k*3+c)*f*f+p] = a.Mdec[c][k]
			}
		}
	}
	out := b.floatOut("sample", b.dims(3, H, H))
	b.Node("ConvTranspose", []string{z, b.floats("W", []int64{4, 3, f, f}, w)}, []string{out},
		pb.AttrInts("kernel_shape", f, f), pb.AttrInts("strides", f, f))
	return b.model()
}

func (a *Analytic) imageEncoder() []byte {
	b := a.newBuilder("image_encoder")
	x := b.floatIn("pixel_values", b.dims(3, ClipSize, ClipSize))
	out := b.floatOut("image_embeds", b.dims(int64(a.Dc)))
	m := b.op("ReduceMean", []string{x}, pb.AttrInts("axes", 2, 3), pb.AttrInt("keepdims", 0))
	b.Node("MatMul", []string{m, b.floats("P", []int64{3, int64(a.Dc)}, flat(a.P))}, []string{out})
	return b.model()
}

func (a *Analytic) imageProjector() []byte {
	b := a.newBuilder("image_projector")
	n := int64(a.LatentSize())
	lat := b.floatIn("latent", b.dims(4, n, n))
	emb := b.floatIn("image_embeds", b.dims(int64(a.Dc)))
	out := b.floatOut("image_tokens", b.dims(int64(a.K), int64(a.D)))
	kd := int64(a.K * a.D)
	m := b.op("ReduceMean", []string{lat}, pb.AttrInts("axes", 2, 3), pb.AttrInt("keepdims", 0))
	t1 := b.op("MatMul", []string{m, b.floats("Q1", []int64{4, kd}, flat(a.Q1))})
	t2 := b.op("MatMul", []string{emb, b.floats("Q2", []int64{int64(a.Dc), kd}, flat(a.Q2))})
	sum := b.op("Add", []string{t1, t2})
	b.Node("Reshape", []string{sum, b.ints("shape_bkd", -1, int64(a.K), int64(a.D))}, []string{out})
	return b.model()
}

// LocatorSize is the input side of the analytic face locator.
const LocatorSize = 32

// faceLocator is the analytic face_locator (Options.FaceLocator): image
// [1,3,S,S] in [0,1] -> box [1,5] = x0, y0, x1, y1 (fractions), confidence.
func faceLocator() []byte {
	b := &builder{Graph: pb.NewGraph("face_locator"), a: &Analytic{FixedBatch: true}}
	const s = LocatorSize
	b.Input("image", pb.Float, pb.Fixed(1, 3, s, s)...)
	b.Output("box", pb.Float, pb.Fixed(1, 5)...)
	grid := make([]float64, s)
	for i := range grid {
		grid[i] = (float64(i) + 0.5) / s
	}
	xs := b.floats("xs", []int64{1, 1, 1, s}, grid)
	ys := b.floats("ys", []int64{1, 1, s, 1}, grid)
	gray := b.op("ReduceMean", []string{"image"}, pb.AttrInts("axes", 1), pb.AttrInt("keepdims", 1))
	d := b.op("Relu", []string{b.op("Sub", []string{b.floats("level", []int64{1}, []float64{0.9}), gray})})
	all := b.ints("all", 1, 2, 3)
	sum := b.op("Add", []string{b.op("ReduceSum", []string{d, all}, pb.AttrInt("keepdims", 1)), b.floats("eps", []int64{1}, []float64{1e-9})})
	w := b.op("Div", []string{d, sum})
	mean := func(g string) string {
		return b.op("ReduceSum", []string{b.op("Mul", []string{w, g}), all}, pb.AttrInt("keepdims", 0))
	}
	cx, cy := mean(xs), mean(ys)
	dev := func(g, c string) string {
		dd := b.op("Sub", []string{g, c})
		return b.op("Mul", []string{b.op("Sqrt", []string{mean(b.op("Mul", []string{dd, dd}))}), b.floats(b.tmp("sqrt3"), []int64{1}, []float64{math.Sqrt(3)})})
	}
	// cx and cy are [1]; broadcasting them against the grids needs [1,1,1,1].
	shape4 := b.ints("shape4", 1, 1, 1, 1)
	cx4 := b.op("Reshape", []string{cx, shape4})
	cy4 := b.op("Reshape", []string{cy, shape4})
	hx, hy := dev(xs, cx4), dev(ys, cy4)
	conf := b.op("Min", []string{b.op("Mul", []string{b.op("ReduceSum", []string{d, all}, pb.AttrInt("keepdims", 0)), b.floats("big", []int64{1}, []float64{1e6})}), b.floats("one", []int64{1}, []float64{1})})
	parts := []string{b.op("Sub", []string{cx, hx}), b.op("Sub", []string{cy, hy}), b.op("Add", []string{cx, hx}), b.op("Add", []string{cy, hy}), conf}
	cat := b.op("Concat", parts, pb.AttrInt("axis", 0))
	b.Node("Reshape", []string{cat, b.ints("shape15", 1, 5)}, []string{"box"})
	return b.model()
}

// ForegroundSize is the input side of the analytic foreground model.
const ForegroundSize = 32

// foreground is the analytic foreground/ model (Options.Foreground): image
// [1,3,S,S] in [0,1] -> alpha [1,1,S,S], 1 where some channel is below
// 0.9, 0 where all are above 0.95, a steep ramp between: a character drawn
// on white is its own matte.
func foreground() []byte {
	b := &builder{Graph: pb.NewGraph("foreground"), a: &Analytic{FixedBatch: true}}
	const s = ForegroundSize
	b.Input("image", pb.Float, pb.Fixed(1, 3, s, s)...)
	b.Output("alpha", pb.Float, pb.Fixed(1, 1, s, s)...)
	dark := b.op("ReduceMin", []string{"image"}, pb.AttrInts("axes", 1), pb.AttrInt("keepdims", 1))
	d := b.op("Mul", []string{b.op("Sub", []string{b.floats("level", []int64{1}, []float64{0.95}), dark}), b.floats("gain", []int64{1}, []float64{20})})
	b.Node("Clip", []string{d, b.floats("zero", nil, []float64{0}), b.floats("one", nil, []float64{1})}, []string{"alpha"})
	return b.model()
}
