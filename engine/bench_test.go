package engine

import (
	"context"
	"testing"

	"likeness/models/synth"
)

// Benchmarks on the analytic pack at 512, as the issue asks; they report UNet
// evaluations and the share of wall time spent outside ONNX Runtime.
func benchFixture(b *testing.B) *fixture {
	return newFixture(b, synth.Options{Resolution: 512}, nil)
}

func report(b *testing.B, st Stats) {
	b.ReportMetric(float64(st.TotalEvals()), "unet-evals/op")
	b.ReportMetric(100*float64(st.Outside())/float64(max(st.Wall, 1)), "%outside-ort")
}

func BenchmarkMask512(b *testing.B) {
	f := benchFixture(b)
	s := f.e.DefaultSettings()
	var st Stats
	for b.Loop() {
		m, err := f.e.ComputeMask(context.Background(), f.enc, s, nil)
		if err != nil {
			b.Fatal(err)
		}
		st = m.Stats
	}
	report(b, st)
}

func BenchmarkRethreshold512(b *testing.B) {
	f := benchFixture(b)
	m, err := f.e.ComputeMask(context.Background(), f.enc, f.e.DefaultSettings(), nil)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		m.Threshold(float64(i%100) / 100)
		i++
	}
}

func benchEdit(b *testing.B, masked bool) {
	f := benchFixture(b)
	s := f.e.DefaultSettings()
	var mask []bool
	if masked {
		mask = f.a.Mask()
	}
	var st Stats
	for b.Loop() {
		r, err := f.e.Edit(context.Background(), f.enc, s, mask, nil)
		if err != nil {
			b.Fatal(err)
		}
		st = r.Stats
	}
	report(b, st)
	for phase, d := range st.Phases {
		b.ReportMetric(float64(d.Microseconds())/1000, phase+"-ms")
		b.ReportMetric(100*float64(d-st.PhaseORT[phase])/float64(max(d, 1)), "%"+phase+"-outside-ort")
	}
}

func BenchmarkBaseline512(b *testing.B)   { benchEdit(b, false) }
func BenchmarkMaskGuided512(b *testing.B) { benchEdit(b, true) }

func BenchmarkEncode512(b *testing.B) {
	f := benchFixture(b)
	img := testPhoto(1200, 1800)
	for b.Loop() {
		if _, err := f.e.Encode(context.Background(), img, false, f.enc.Crop, nil); err != nil {
			b.Fatal(err)
		}
	}
}
