package cli

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"time"

	"likeness/app"
	"likeness/engine"
	"likeness/models/synth"
)

// benchPhase is one row of `likeness bench`.
type benchPhase struct {
	Name      string         `json:"phase"`
	Evals     int            `json:"unet_evals"`
	WallMS    float64        `json:"wall_ms"`
	InORTMS   float64        `json:"in_onnxruntime_ms"`
	Outside   float64        `json:"outside_fraction"`
	PeakRSS   int64          `json:"peak_rss_mib"` // the process's high-water mark after the phase
	SessionMS float64        `json:"session_create_ms,omitempty"`
	Detail    map[string]any `json:"detail,omitempty"`
}

// runBench times every phase of an edit, from loading the pack to the
// mask-guided edit, on the analytic pack at 512 (or any pack with --pack):
// UNet evaluations, wall time, time inside ONNX Runtime and the share
// outside it, the peak RSS after each phase, and the time to create the
// sessions (with what the optimised-graph cache did).
func runBench(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "bench")
	f := addEditFlags(fs)
	res := fs.Int("resolution", 512, "resolution of the generated analytic pack (without --pack)")
	graphCache := fs.String("graph-cache", "", "folder for ONNX Runtime's optimised graphs (default: the XDG cache; off: none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts, err := f.options()
	if err != nil {
		return err
	}
	opts.GraphCache = *graphCache
	a, err := app.New(opts)
	if err != nil {
		return err
	}
	defer a.Close()
	packDir := f.pack
	if packDir == "" {
		tmp, err := os.MkdirTemp("", "likeness-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		packDir = filepath.Join(tmp, "analytic")
		if _, err := synth.Write(packDir, synth.Options{Resolution: *res}); err != nil {
			return err
		}
	}
	var rows []benchPhase
	rssMiB := func() int64 { return peakRSS() >> 20 }
	add := func(name string, st engine.Stats) {
		p := benchPhase{Name: name, Evals: st.TotalEvals(), WallMS: ms(st.Wall), InORTMS: ms(st.InORT), PeakRSS: rssMiB()}
		if st.Wall > 0 {
			p.Outside = float64(st.Outside()) / float64(st.Wall)
		}
		rows = append(rows, p)
	}

	t0 := time.Now()
	eng, err := a.LoadPack(ctx, packDir, nil)
	if err != nil {
		return err
	}
	load := time.Since(t0)
	l := eng.Loading
	lr := app.NewLoadRecord(l)
	rows = append(rows, benchPhase{Name: "load", WallMS: ms(load), PeakRSS: rssMiB(), SessionMS: ms(l.Sessions),
		Detail: map[string]any{"check_ms": lr.CheckMS, "session_create_ms_by_model": lr.SessionMSByRole, "graph_cache": lr.GraphCache}})

	var doc *app.Doc
	if f.input != "" {
		if doc, err = app.OpenPhoto(f.input); err != nil {
			return err
		}
	} else {
		doc = app.SyntheticDoc(gradient(768, 1024))
	}
	s, err := f.settings(eng)
	if err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := doc.Encoded(ctx, eng, nil); err != nil {
		return err
	}
	rows = append(rows, benchPhase{Name: "encode", WallMS: ms(time.Since(t0)), PeakRSS: rssMiB()})
	m, err := doc.ComputeMask(ctx, eng, s, nil)
	if err != nil {
		return err
	}
	add("mask", m.Stats)
	const rethresholds = 100
	t0 = time.Now()
	for i := 0; i < rethresholds; i++ {
		_ = m.Threshold(float64(i) / rethresholds)
	}
	rethreshold := time.Since(t0) / rethresholds
	base, err := doc.Edit(ctx, eng, s, false, nil)
	if err != nil {
		return err
	}
	add("baseline", base.Stats)
	guided, err := doc.Edit(ctx, eng, s, true, nil)
	if err != nil {
		return err
	}
	add("mask-guided", guided.Stats)
	rss := rssMiB()

	provider := eng.Models()[0].Provider
	if f.json {
		out := map[string]any{"pack": eng.Pack.Name, "resolution": eng.Sig.Resolution, "provider": provider,
			"branches_batched": eng.Batched(), "steps": s.Steps, "mask_seeds": s.MaskSeeds,
			"load_ms": ms(load), "session_create_ms": ms(l.Sessions), "rethreshold_ms": float64(rethreshold.Nanoseconds()) / 1e6,
			"peak_rss_mib": rss, "phases": rows}
		// Kept from earlier versions of this report.
		for _, r := range []struct {
			name string
			st   engine.Stats
		}{{"mask", m.Stats}, {"baseline", base.Stats}, {"mask-guided", guided.Stats}} {
			out[r.name] = app.NewStatsRecord(r.st)
		}
		return printJSON(env.stdout, out)
	}
	w := env.stdout
	fmt.Fprintf(w, "pack %s at %d px, %s, branches batched: %v, %d steps, %d mask seeds\n",
		eng.Pack.Name, eng.Sig.Resolution, provider, eng.Batched(), s.Steps, s.MaskSeeds)
	fmt.Fprintf(w, "%-12s %6s %11s %11s %9s %9s %12s\n", "phase", "evals", "wall", "in ORT", "outside", "peak RSS", "sessions")
	for _, r := range rows {
		sess, inORT, outside := "", "", ""
		if r.SessionMS > 0 {
			sess = dur(r.SessionMS)
		}
		if r.Evals > 0 || r.InORTMS > 0 {
			inORT, outside = dur(r.InORTMS), fmt.Sprintf("%.3f%%", 100*r.Outside)
		}
		fmt.Fprintf(w, "%-12s %6d %11s %11s %9s %6d MiB %12s\n", r.Name, r.Evals, dur(r.WallMS), inORT, outside, r.PeakRSS, sess)
	}
	roles := make([]string, 0, len(l.Session))
	for k := range l.Session {
		roles = append(roles, k)
	}
	sort.Strings(roles)
	fmt.Fprintf(w, "sessions: check %v;", l.Check.Round(time.Millisecond))
	for _, k := range roles {
		c := l.Cache[k]
		if c == "" {
			c = "off"
		}
		fmt.Fprintf(w, " %s %v (graph cache %s);", k, l.Session[k].Round(time.Millisecond), c)
	}
	fmt.Fprintf(w, "\nλ re-threshold: %v (no model call)\npeak RSS: %d MiB\n", rethreshold, rss)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func dur(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Millisecond).String()
}

// gradient is a stand-in photo for benchmarks without --input.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(x*255/w), uint8(y*255/h), uint8((x+y)%256), 255
		}
	}
	return img
}
