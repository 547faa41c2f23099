package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"likeness/models/synth"
)

var updatePairs = flag.Bool("update", false, "rewrite models/train/tests/testdata/sd_pairs (the trainer's fixture)")

// pairFixture is an analytic sd pack whose UNet takes any latent width.
func pairFixture(t testing.TB, o synth.Options) *fixture {
	o.Kind, o.AnySize = synth.KindSD, true
	return newFixture(t, o, nil)
}

// pairSettings use the analytic pack's words: the source "neutral", the
// target "angry" and, so that s'_d's branch has an effect too, "shocked" in
// the shared prompt (the paper's p has no such word).
func pairSettings() PairSettings {
	s := DefaultPairSettings()
	s.Source, s.Target = "neutral expression", "angry"
	s.SharedTemplate = "the same {subject}, shocked, on the left and right"
	s.Steps, s.Seed = 6, 7
	return s
}

// pairClosedForm is Eq. 2's end point on the analytic pack: every ε̃ is the ε
// of its prompt's CFG clean latent X̃, so with s'_d + s'_a = s'_d + s'_b = 1
// each half converges to the weighted x0 of its branches:
// left s'_d·X̃(p) + s'_a·X̃(p_a), right s'_d·X̃(p) + s'_b·X̃(p_b).
func pairClosedForm(f *fixture, s PairSettings) []float32 {
	p, pa, pb := s.Prompts()
	x := func(prompt string) []float32 { return f.a.Guided(0, 0, s.Guidance, nil, nil, f.e.tok.Encode(prompt)) }
	xp, xa, xb := x(p), x(pa), x(pb)
	n := f.a.LatentSize()
	out := make([]float32, 4*n*2*n)
	for c := range 4 {
		for r := range n {
			for col := range n {
				i := (c*n+r)*n + col
				o := (c*n+r)*2*n + col
				out[o] = float32(s.SD*float64(xp[i]) + s.SA*float64(xa[i]))
				out[o+n] = float32(s.SD*float64(xp[i]) + s.SB*float64(xb[i]))
			}
		}
	}
	return out
}

func TestPairMatchesClosedForm(t *testing.T) {
	f := pairFixture(t, synth.Options{})
	for _, c := range []struct {
		name string
		edit func(*PairSettings)
	}{
		{"paper defaults, euler ancestral", func(*PairSettings) {}},
		{"unipc", func(s *PairSettings) { s.Scheduler = "unipc" }},
		{"other weights summing to 1", func(s *PairSettings) { s.SD, s.SA, s.SB, s.Guidance = 0.3, 0.7, 0.7, 4 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := pairSettings()
			c.edit(&s)
			p, err := f.e.GeneratePair(context.Background(), s, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d, i := maxDiff(p.Latent, pairClosedForm(f, s)); d > 2e-4 {
				t.Errorf("latent %d differs from the closed form by %g", i, d)
			}
			if got := p.Stats.UNetEvals[PhaseDenoise]; got != PairUNetEvals(s.Steps) {
				t.Errorf("%d UNet evaluations, want %d", got, PairUNetEvals(s.Steps))
			}
			n := f.a.LatentSize()
			left, right := splitWidth(p.Latent, n)
			for _, h := range []struct {
				name string
				img  *image.NRGBA
				z    []float32
			}{{"source", p.Source, left}, {"target", p.Target, right}} {
				want := tensorImage(f.a.Decode(scaled(h.z, float32(1/f.e.Pack.Manifest.VAEScalingFactor))), f.e.Sig.Resolution)
				if !bytes.Equal(want.Pix, h.img.Pix) {
					t.Errorf("the %s image is not the decoded %s half", h.name, h.name)
				}
			}
			if bytes.Equal(p.Source.Pix, p.Target.Pix) {
				t.Error("source and target are identical")
			}
		})
	}
}

func TestPairBitStable(t *testing.T) {
	f := pairFixture(t, synth.Options{Nonlinear: true}) // the noise matters with Nonlinear
	s := pairSettings()
	a, err := f.e.GeneratePair(context.Background(), s, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.e.GeneratePair(context.Background(), s, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Latent, b.Latent) || !bytes.Equal(a.Source.Pix, b.Source.Pix) || !bytes.Equal(a.Target.Pix, b.Target.Pix) {
		t.Fatal("the same settings and index gave different pairs")
	}
	c, err := f.e.GeneratePair(context.Background(), s, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.Latent, c.Latent) {
		t.Fatal("pairs 1 and 2 are identical")
	}
	if PairSeed(7, 1) == PairSeed(8, 0) || PairSeed(7, 1) == PairSeed(7, 2) {
		t.Fatal("pair seeds collide between neighbouring seeds or indices")
	}
}

// TestPairWeightsAndMasksMatter: each of s'_d, s'_a, s'_b and the half masks
// M'_a, M'_b moves the result, and only where its term acts.
func TestPairWeightsAndMasksMatter(t *testing.T) {
	f := pairFixture(t, synth.Options{Nonlinear: true})
	s := pairSettings()
	n := f.a.LatentSize()
	run := func(s PairSettings, masks [2][]float32) []float32 {
		t.Helper()
		p, err := f.e.generatePair(context.Background(), s, 0, masks, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.Latent
	}
	base := run(s, halfMasks(n))
	changed := func(a, b []float32) (left, right bool) {
		for i := range a {
			if a[i] != b[i] {
				if i%(2*n) < n {
					left = true
				} else {
					right = true
				}
			}
		}
		return left, right
	}
	// The boundary moved right into the right half's face region (outside
	// it every prompt predicts the same noise): M'_a wider, M'_b narrower.
	shifted := halfMasks(n)
	for r := range n {
		for c := n; c <= n+f.a.Region.Col0; c++ {
			shifted[0][r*2*n+c], shifted[1][r*2*n+c] = 1, 0
		}
	}
	swapped := halfMasks(n)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	for _, c := range []struct {
		name        string
		s           func(PairSettings) PairSettings
		masks       [2][]float32
		left, right bool // which halves must change
	}{
		{"s'_d", func(s PairSettings) PairSettings { s.SD = 0.2; return s }, halfMasks(n), true, true},
		{"s'_a", func(s PairSettings) PairSettings { s.SA = 0.8; return s }, halfMasks(n), true, false},
		{"s'_b", func(s PairSettings) PairSettings { s.SB = 0.8; return s }, halfMasks(n), false, true},
		{"masks swapped", func(s PairSettings) PairSettings { return s }, swapped, true, true},
		{"boundary moved", func(s PairSettings) PairSettings { return s }, shifted, false, true},
	} {
		got := run(c.s(s), c.masks)
		l, r := changed(base, got)
		if l != c.left || r != c.right {
			t.Errorf("%s changed the left half %v and the right %v; want %v and %v", c.name, l, r, c.left, c.right)
		}
	}
}

func TestPairRefusals(t *testing.T) {
	f := newFixture(t, synth.Options{Kind: synth.KindSD}, nil) // fixed 16×16 latents
	err := f.e.ValidatePairs(pairSettings())
	if !errors.Is(err, ErrPairSize) {
		t.Fatalf("err = %v, want ErrPairSize", err)
	}
	for _, want := range []string{filepath.Join("unet", "model.onnx"), `input "sample" has a fixed width (dimension 3) of 16; pairs need 32`,
		`output "out_sample" has a fixed width (dimension 3)`, "export the UNet with dynamic height and width"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "fixed height") {
		t.Errorf("error %q complains about the height, which fits", err)
	}
	if _, err := f.e.WritePairs(context.Background(), t.TempDir(), pairSettings(), PairsOptions{N: 1}, nil); !errors.Is(err, ErrPairSize) {
		t.Fatalf("WritePairs: err = %v, want ErrPairSize", err)
	}

	g := pairFixture(t, synth.Options{})
	s := pairSettings()
	s.Resolution = 2 * testRes // the analytic VAE decoder has fixed sizes
	if err := g.e.ValidatePairs(s); !errors.Is(err, ErrPairSize) || !strings.Contains(err.Error(), filepath.Join("vae_decoder", "model.onnx")) {
		t.Fatalf("resolution %d: err = %v, want ErrPairSize naming the VAE decoder", s.Resolution, err)
	}
	for name, edit := range map[string]func(*PairSettings){
		"no target": func(s *PairSettings) { s.Target = " " },
		"negative":  func(s *PairSettings) { s.SA = -1 },
		"no steps":  func(s *PairSettings) { s.Steps = 0 },
		"scheduler": func(s *PairSettings) { s.Scheduler = "nope" },
		"empty":     func(s *PairSettings) { s.SD, s.SA = 0, 0 },
	} {
		s := pairSettings()
		edit(&s)
		if err := g.e.ValidatePairs(s); !errors.Is(err, ErrBadSettings) {
			t.Errorf("%s: err = %v, want ErrBadSettings", name, err)
		}
	}
	m := newFixture(t, synth.Options{}, nil)
	if err := m.e.ValidatePairs(pairSettings()); err == nil || !strings.Contains(err.Error(), "kind sd") {
		t.Errorf("an mcdm pack: err = %v, want a refusal that asks for kind sd", err)
	}
}

// folderFiles reads every file under dir (relative path -> bytes).
func folderFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func indexLines(t *testing.T, dir string) []PairRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, PairsIndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []PairRecord
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r PairRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestWritePairsResumeAndCancel: a cancelled run leaves only whole pairs in
// the index and no partial folder; rerunning skips what is written and ends
// with the folder an uninterrupted run writes, byte for byte.
func TestWritePairsResumeAndCancel(t *testing.T) {
	f := pairFixture(t, synth.Options{})
	s := pairSettings()
	const n = 3
	whole := t.TempDir()
	rep, err := f.e.WritePairs(context.Background(), whole, s, PairsOptions{N: n}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Written != n || rep.Skipped != 0 || rep.UNetEvals != n*PairUNetEvals(s.Steps) {
		t.Fatalf("report %+v", rep)
	}
	recs := indexLines(t, whole)
	if len(recs) != n {
		t.Fatalf("%d index lines, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r.Index != i || r.Direction != "angry" || r.MaskKind != "difference" || r.TargetText != "angry" || r.SourceText != "neutral expression" || r.Size != testRes {
			t.Errorf("line %d: %+v", i, r)
		}
		if !filesExist(whole, r.Source, r.Target, r.Mask) {
			t.Errorf("line %d: files missing", i)
		}
	}
	if _, err := os.Stat(rep.ContactSheet); err != nil {
		t.Errorf("contact sheet: %v", err)
	}
	before := folderFiles(t, whole)

	// A rerun with the same settings writes nothing.
	rep, err = f.e.WritePairs(context.Background(), whole, s, PairsOptions{N: n}, nil)
	if err != nil || rep.Written != 0 || rep.Skipped != n {
		t.Fatalf("rerun: %+v, %v", rep, err)
	}
	if after := folderFiles(t, whole); len(after) != len(before) || !bytes.Equal(after[PairsIndexFile], before[PairsIndexFile]) {
		t.Fatal("a rerun changed the folder")
	}
	// Other settings for the same pairs are refused.
	other := s
	other.Steps++
	if _, err := f.e.WritePairs(context.Background(), whole, other, PairsOptions{N: n}, nil); !errors.Is(err, ErrPairsFolder) {
		t.Fatalf("other settings: err = %v, want ErrPairsFolder", err)
	}

	// Cancel in the middle of pair 1.
	cut := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = f.e.WritePairs(ctx, cut, s, PairsOptions{N: n}, func(p Progress) {
		if p.Phase == PhaseDenoise && p.Label == "pair 1" && p.Step == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	got := folderFiles(t, cut)
	for name := range got {
		if !strings.HasPrefix(name, recs[0].Identity+"/") && name != PairsIndexFile {
			t.Errorf("a cancelled run left %s", name)
		}
	}
	if r := indexLines(t, cut); len(r) != 1 || r[0].Identity != recs[0].Identity {
		t.Fatalf("after cancelling, the index lists %+v", r)
	}
	// A folder a crash left between its rename and the index is replaced.
	if err := os.MkdirAll(filepath.Join(cut, recs[1].Identity), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cut, recs[1].Identity, "source.png"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = f.e.WritePairs(context.Background(), cut, s, PairsOptions{N: n}, nil)
	if err != nil || rep.Written != n-1 || rep.Skipped != 1 {
		t.Fatalf("resume: %+v, %v", rep, err)
	}
	resumed := folderFiles(t, cut)
	if len(resumed) != len(before) {
		t.Fatalf("resumed folder has %d files, an uninterrupted run %d", len(resumed), len(before))
	}
	for name, b := range before {
		if !bytes.Equal(resumed[name], b) {
			t.Errorf("%s differs from the uninterrupted run's", name)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"Santa Claus costume": "santa-claus-costume", "  angry!! ": "angry",
		"cute white-sheep costume": "cute-white-sheep-costume"} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	if s := Slug("???"); !strings.HasPrefix(s, "target-") || s == Slug("!!!") {
		t.Errorf("Slug of punctuation = %q", s)
	}
}

// trainerFixture is the pairs folder the Python trainer's tests load
// (models/train/tests/test_sd_pairs.py): written by this generator from the
// analytic sd pack at the micro config's 64 pixels. Regenerate it with
// `go test ./engine -run TestTrainerFixture -update`.
var trainerFixture = filepath.Join("..", "models", "train", "tests", "testdata", "sd_pairs")

func TestTrainerFixture(t *testing.T) {
	f := pairFixtureRes(t, 64)
	s := pairSettings()
	s.Subject, s.SharedTemplate = "person", ""
	dir := t.TempDir()
	if *updatePairs {
		dir = trainerFixture
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.e.WritePairs(context.Background(), dir, s, PairsOptions{N: 4, SheetPairs: -1}, nil); err != nil {
		t.Fatal(err)
	}
	if *updatePairs {
		return
	}
	want := folderFiles(t, trainerFixture)
	got := folderFiles(t, dir)
	if len(got) != len(want) {
		t.Fatalf("the generator writes %d files, %s has %d: run with -update", len(got), trainerFixture, len(want))
	}
	if !bytes.Equal(got[PairsIndexFile], want[PairsIndexFile]) {
		t.Fatalf("%s/index.jsonl is not what the generator writes: run with -update", trainerFixture)
	}
	for name := range want {
		a, err := readPNG(filepath.Join(dir, name))
		if err != nil {
			continue // index.jsonl
		}
		b, err := readPNG(filepath.Join(trainerFixture, name))
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Pix {
			if d := int(a.Pix[i]) - int(b.Pix[i]); d > 1 || d < -1 {
				t.Fatalf("%s: byte %d is %d, the fixture has %d: run with -update", name, i, a.Pix[i], b.Pix[i])
			}
		}
	}
}

// pairFixtureRes is pairFixture at res pixels, with Nonlinear so that
// pairs of different seeds differ.
func pairFixtureRes(t testing.TB, res int) *fixture {
	return pairFixture(t, synth.Options{Resolution: res, Nonlinear: true})
}

// BenchmarkPair512 times one pair (20 steps, 4 UNet evaluations of the
// 64×128 latent each, two decodes) on the analytic sd pack at 512.
func BenchmarkPair512(b *testing.B) {
	f := pairFixture(b, synth.Options{Resolution: 512})
	s := pairSettings()
	s.Steps = 20
	var st Stats
	i := 0
	for b.Loop() {
		p, err := f.e.GeneratePair(context.Background(), s, i, nil)
		if err != nil {
			b.Fatal(err)
		}
		st = p.Stats
		i++
	}
	report(b, st)
	b.ReportMetric(float64(st.Phases[PhaseDenoise].Microseconds())/1000/float64(st.UNetEvals[PhaseDenoise]), "ms/unet-eval")
}
