package cli

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"time"

	"likeness/app"
	"likeness/engine"
	"likeness/models/synth"
)

// runBench times every phase of an edit on the analytic pack (or a given
// pack) at 512 and reports UNet evaluations, time outside ONNX Runtime,
// λ re-threshold time and peak RSS.
func runBench(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "bench")
	f := addEditFlags(fs)
	res := fs.Int("resolution", 512, "resolution of the generated analytic pack")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts, err := f.options()
	if err != nil {
		return err
	}
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
	t0 := time.Now()
	eng, err := a.LoadPack(ctx, packDir, nil)
	if err != nil {
		return err
	}
	load := time.Since(t0)
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
	encode := time.Since(t0)
	m, err := doc.ComputeMask(ctx, eng, s, nil)
	if err != nil {
		return err
	}
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
	guided, err := doc.Edit(ctx, eng, s, true, nil)
	if err != nil {
		return err
	}
	rss := peakRSS()
	rows := []struct {
		name string
		st   engine.Stats
	}{{"mask", m.Stats}, {"baseline", base.Stats}, {"mask-guided", guided.Stats}}
	if f.json {
		out := map[string]any{"pack": eng.Pack.Name, "resolution": eng.Sig.Resolution, "provider": eng.Models()[0].Provider,
			"load_ms": ms(load), "encode_ms": ms(encode), "rethreshold_ms": float64(rethreshold.Nanoseconds()) / 1e6, "peak_rss_mib": rss >> 20}
		for _, r := range rows {
			out[r.name] = app.NewStatsRecord(r.st)
		}
		return printJSON(env.stdout, out)
	}
	w := env.stdout
	fmt.Fprintf(w, "pack %s at %d px, %s, branches batched: %v\n", eng.Pack.Name, eng.Sig.Resolution, eng.Models()[0].Provider, eng.Batched())
	fmt.Fprintf(w, "load %v, encode %v\n", load.Round(time.Millisecond), encode.Round(time.Millisecond))
	fmt.Fprintf(w, "%-12s %6s %10s %10s %10s %8s  %s\n", "phase", "evals", "wall", "in ORT", "outside", "outside%", "per-phase")
	for _, r := range rows {
		st := r.st
		fmt.Fprintf(w, "%-12s %6d %10v %10v %10v %7.1f%%  %v\n", r.name, st.TotalEvals(), st.Wall.Round(time.Microsecond),
			st.InORT.Round(time.Microsecond), st.Outside().Round(time.Microsecond), 100*float64(st.Outside())/float64(max(st.Wall, 1)), st.Phases)
	}
	fmt.Fprintf(w, "λ re-threshold: %v (no model call)\npeak RSS: %d MiB\n", rethreshold, rss>>20)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
