package engine

import (
	"context"
	"math"
	"time"

	"likeness/models"
	"likeness/ort"
)

// cond is one guidance branch: spatial condition, image tokens, text.
type cond struct {
	spatial []float32 // [4,h,w]; unused for kind sd
	tokens  []float32 // [K,D]; mcdm only
	text    []float32 // [77,D]
}

// job carries one piece of work's counters and reporting.
type job struct {
	ctx      context.Context
	phase    string
	where    string // the step a UNet call belongs to, for errors
	seed     uint64
	evals    map[string]int
	phases   map[string]time.Duration
	started  time.Time
	ort0     time.Duration
	ortTime  func() time.Duration
	inORT    map[string]time.Duration
	progress ProgressFunc
	bufs     map[bufKey]*unetBuf // per call layout, reused across steps
	// latH, latW are the latent height and width of this job's UNet calls;
	// 0 means the pack's square latent (the paired-data generator runs a
	// double-width one).
	latH, latW int
}

// latentHW is the latent height and width of j's UNet calls.
func (e *Engine) latentHW(j *job) (int, int) {
	if j.latW > 0 {
		return j.latH, j.latW
	}
	return e.Sig.Latent, e.Sig.Latent
}

// bufKey identifies a UNet call's conditions: the same branch set at the
// same batch position reuses its buffers, so only z_t is copied per step.
type bufKey struct {
	first, last *float32 // the first and last branches' text embeddings
	index       int      // position of the first branch
	n           int      // branches in the call
}

type unetBuf struct {
	sample, ehs, out []float32
}

func newJob(ctx context.Context, progress ProgressFunc) *job {
	return &job{ctx: ctx, evals: map[string]int{}, phases: map[string]time.Duration{}, inORT: map[string]time.Duration{}, progress: progress}
}

func (j *job) begin(phase string) {
	j.phase, j.started = phase, time.Now()
	if j.ortTime != nil {
		j.ort0 = j.ortTime()
	}
}

func (j *job) end() {
	j.phases[j.phase] += time.Since(j.started)
	if j.ortTime != nil {
		j.inORT[j.phase] += j.ortTime() - j.ort0
	}
}

// evalUNet predicts the noise for each branch at latent input zin and
// timestep t: one batched call when the policy allows, else one per branch.
func (e *Engine) evalUNet(j *job, zin []float32, t float64, conds []cond) ([][]float32, error) {
	out := make([][]float32, len(conds))
	if e.batch {
		eps, err := e.unetCall(j, zin, t, conds, 0)
		if err != nil {
			return nil, err
		}
		n := len(eps) / len(conds)
		for i := range conds {
			out[i] = eps[i*n : (i+1)*n]
		}
		return out, nil
	}
	for i := range conds {
		eps, err := e.unetCall(j, zin, t, conds[i:i+1], i)
		if err != nil {
			return nil, err
		}
		out[i] = eps
	}
	return out, nil
}

func (e *Engine) unetCall(j *job, zin []float32, t float64, conds []cond, index int) ([]float32, error) {
	lh, lw := e.latentHW(j)
	hw := lh * lw
	b := len(conds)
	ch := e.Sig.UNetChannels
	L := 77
	if e.Sig.Kind == models.KindMCDM {
		L += e.Sig.K
	}
	D := e.Sig.D
	key := bufKey{first: &conds[0].text[0], last: &conds[b-1].text[0], index: index, n: b}
	buf := j.bufs[key]
	if buf == nil {
		buf = &unetBuf{sample: make([]float32, b*ch*hw), ehs: make([]float32, b*L*D)}
		for i, c := range conds {
			if ch == 8 {
				copy(buf.sample[i*ch*hw+4*hw:], c.spatial)
			}
			copy(buf.ehs[i*L*D:], c.text)
			if e.Sig.Kind == models.KindMCDM {
				copy(buf.ehs[i*L*D+77*D:], c.tokens)
			}
		}
		if j.bufs == nil {
			j.bufs = map[bufKey]*unetBuf{}
		}
		j.bufs[key] = buf
	}
	sample, ehs := buf.sample, buf.ehs
	for i := range conds {
		copy(sample[i*ch*hw:i*ch*hw+4*hw], zin)
	}
	ts := ort.Value{Shape: []int64{int64(b)}}
	if info, _ := e.unet.Input("timestep"); info.Type.IsInt() {
		ts.I64 = make([]int64, b)
		for i := range ts.I64 {
			ts.I64[i] = int64(math.Round(t))
		}
	} else {
		ts.F32 = make([]float32, b)
		for i := range ts.F32 {
			ts.F32[i] = float32(t)
		}
	}
	res, err := e.unet.RunInto(j.ctx, map[string]ort.Value{
		"sample":                ort.Floats([]int64{int64(b), int64(ch), int64(lh), int64(lw)}, sample),
		"timestep":              ts,
		"encoder_hidden_states": ort.Floats([]int64{int64(b), int64(L), int64(D)}, ehs),
	}, map[string][]int64{"out_sample": {int64(b), 4, int64(lh), int64(lw)}}, map[string][]float32{"out_sample": buf.out})
	if err != nil {
		return nil, err
	}
	j.evals[j.phase] += b
	buf.out = res["out_sample"].F32 // reused by this call's next step
	if err := e.finite("unet", e.unet, buf.out, j.where); err != nil {
		return nil, err
	}
	return buf.out, nil
}

// guide combines branch predictions with the contract's nested guidance:
// e0 + s1(e1−e0) + s2(e2−e1) + s3(ep−e2). For ip2p e1 is e0 (no image
// tokens), so the s1 term vanishes.
func guide(dst, e0, e1, e2, ep []float32, s1, s2, s3 float32) {
	for i := range dst {
		dst[i] = e0[i] + s1*(e1[i]-e0[i]) + s2*(e2[i]-e1[i]) + s3*(ep[i]-e2[i])
	}
}
