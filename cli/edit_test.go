package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"likeness/engine/export"
	"likeness/engine/npy"
	"likeness/models/synth"
)

// expectedSoftMask is the contract's N for the analytic pack: the planted
// region (where the edit's difference is constant) normalised to 1 and
// blurred as cv2.GaussianBlur(N, (5,5), 0) does: kernel [1,4,6,4,1]/16,
// borders reflect-101.
func expectedSoftMask(region []bool, n int) []float64 {
	g := [5]float64{1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16}
	mirror := func(v int) int {
		for v < 0 || v >= n {
			if v < 0 {
				v = -v
			} else {
				v = 2*n - 2 - v
			}
		}
		return v
	}
	at := func(r, c int) float64 {
		if region[mirror(r)*n+mirror(c)] {
			return 1
		}
		return 0
	}
	out := make([]float64, n*n)
	for r := range n {
		for c := range n {
			v := 0.0
			for i := range 5 {
				for j := range 5 {
					v += g[i] * g[j] * at(r+i-2, c+j-2)
				}
			}
			out[r*n+c] = v
		}
	}
	return out
}

// distance is the Chebyshev distance from cell (r, c) to the nearest cell
// whose region membership is want (n*n when there is none).
func distance(region []bool, n, r, c int, want bool) int {
	best := n * n
	for rr := range n {
		for cc := range n {
			if region[rr*n+cc] == want {
				best = min(best, max(abs(rr-r), abs(cc-c)))
			}
		}
	}
	return best
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestMaskFindsPlantedRegion(t *testing.T) {
	for _, res := range []int{64, 128} {
		t.Run(map[int]string{64: "64", 128: "128"}[res], func(t *testing.T) {
			o := synth.Options{Kind: "mcdm", Resolution: res}
			a, err := synth.New(o)
			if err != nil {
				t.Fatal(err)
			}
			pack := newPack(t, o)
			dir := t.TempDir()
			photo := filepath.Join(dir, "face.png")
			writePhoto(t, photo, 150, 120)
			out := filepath.Join(dir, "m.png")
			r := must(t, "mask", "--pack", pack, "--input", photo, "--out", out, "--steps", "4",
				"--mask-seeds", "2", "--mask-noise-steps", "2", "--lambda", "0.5", "--json")
			var rep struct {
				Mask     string
				Area     *float64
				Lambda   float64
				Settings map[string]any
				Stats    *struct {
					UNetEvals map[string]int `json:"unet_evals"`
					WallMS    float64        `json:"wall_ms"`
				}
				Resolution int
				Crop       [4]int
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("--json output: %v\n%s", err, r.stdout)
			}
			if rep.Area == nil || rep.Settings == nil || rep.Stats == nil || rep.Mask != out || rep.Lambda != 0.5 || rep.Resolution != res {
				t.Fatalf("--json output lacks area, settings or stats: %s", r.stdout)
			}
			if rep.Crop != [4]int{15, 0, 120, 120} {
				t.Errorf("crop %v, want the centred square [15 0 120 120]", rep.Crop)
			}
			total := 0
			for _, n := range rep.Stats.UNetEvals {
				total += n
			}
			if total == 0 {
				t.Errorf("stats count no UNet evaluation: %s", r.stdout)
			}

			img := readPNG(t, out)
			gray, ok := img.(*image.Gray)
			if !ok {
				t.Fatalf("mask PNG decodes to %T, want 8-bit gray", img)
			}
			if b := gray.Bounds(); b.Dx() != res || b.Dy() != res {
				t.Fatalf("mask is %v, want %dx%d (model resolution)", b, res, res)
			}
			n := a.LatentSize()
			cell := res / n
			region := a.Mask()
			soft := expectedSoftMask(region, n)
			white := 0
			for r := range n {
				for c := range n {
					// Every pixel of a latent cell has the cell's value.
					v := gray.GrayAt(c*cell, r*cell).Y
					for y := r * cell; y < (r+1)*cell; y++ {
						for x := c * cell; x < (c+1)*cell; x++ {
							if gray.GrayAt(x, y).Y != v {
								t.Fatalf("cell (%d,%d) is not uniform", r, c)
							}
						}
					}
					if v != 0 && v != 255 {
						t.Fatalf("cell (%d,%d) = %d, want 0 or 255", r, c, v)
					}
					if v == 255 {
						white++
					}
					in := region[r*n+c]
					if in && distance(region, n, r, c, false) >= 2 && v != 255 {
						t.Errorf("cell (%d,%d) deep inside the region is black", r, c)
					}
					if !in && distance(region, n, r, c, true) >= 3 && v != 0 {
						t.Errorf("cell (%d,%d) far from the region is white", r, c)
					}
					if math.Abs(soft[r*n+c]-0.5) > 0.01 && (soft[r*n+c] > 0.5) != (v == 255) {
						t.Errorf("cell (%d,%d) = %d; the blurred region there is %.3f at λ 0.5", r, c, v, soft[r*n+c])
					}
				}
			}
			if got, want := *rep.Area, float64(white)/float64(n*n); math.Abs(got-want) > 1e-9 || white == 0 {
				t.Errorf("area %g, the PNG has %d of %d cells white", got, white, n*n)
			}
		})
	}
}

func TestMaskEmptyAndSoft(t *testing.T) {
	pack := sharedPack(t, "ip2p")
	dir := t.TempDir()
	photo := filepath.Join(dir, "face.png")
	writePhoto(t, photo, 64, 64)
	out, soft := filepath.Join(dir, "m.png"), filepath.Join(dir, "soft.png")
	// s3 = 0: no text guidance, a flat difference map, an empty mask.
	r := must(t, "mask", "--pack", pack, "--input", photo, "--out", out, "--soft-out", soft, "--steps", "2",
		"--mask-seeds", "1", "--s3", "0", "--json")
	var rep struct {
		Area   float64
		Reason string `json:"empty_reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if rep.Area != 0 || rep.Reason == "" || !strings.Contains(r.stderr, "empty") {
		t.Errorf("empty mask: %v", r)
	}
	for _, p := range []string{out, soft} {
		g, ok := readPNG(t, p).(*image.Gray)
		if !ok || g.Bounds().Dx() != 64 {
			t.Fatalf("%s: want a 64x64 gray PNG", p)
		}
		for _, v := range g.Pix {
			if v != 0 {
				t.Fatalf("%s is not black", p)
			}
		}
	}
}

func TestEdit(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	dir := t.TempDir()
	photo := filepath.Join(dir, "portrait.png")
	writePhoto(t, photo, 96, 72)
	orig, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--pack", pack, "--input", photo, "--steps", "2", "--mask-seeds", "1"}
	edit := func(extra ...string) result {
		t.Helper()
		return likeness(t, context.Background(), append(append([]string{"edit"}, common...), extra...)...)
	}

	t.Run("full resolution", func(t *testing.T) {
		out := filepath.Join(dir, "full.png")
		r := edit("--out", out, "--json")
		if r.code != ExitOK {
			t.Fatal(r)
		}
		if b := readPNG(t, out).Bounds(); b.Dx() != 96 || b.Dy() != 72 {
			t.Errorf("output is %v, want the photo's 96x72", b)
		}
		var rec struct {
			Mode     string  `json:"mode"`
			Output   string  `json:"output"`
			MaskArea float64 `json:"mask_area"`
			Input    string  `json:"input"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if rec.Output != out || rec.Input != photo || rec.MaskArea <= 0 || rec.MaskArea >= 1 {
			t.Errorf("record %+v", rec)
		}
		text, err := export.ReadPNGText(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text["parameters"], "Steps: 2") && !strings.Contains(text["parameters"], "angry") {
			t.Errorf("parameters chunk: %q", text["parameters"])
		}
		var emb map[string]any
		if err := json.Unmarshal([]byte(text["likeness"]), &emb); err != nil {
			t.Errorf("likeness chunk is not JSON: %v: %q", err, text["likeness"])
		} else if emb["mode"] != rec.Mode || emb["settings"] == nil || emb["pack"] == nil {
			t.Errorf("likeness chunk: %v", emb)
		}
	})
	t.Run("model resolution", func(t *testing.T) {
		out := filepath.Join(dir, "model.png")
		if r := edit("--out", out, "--model-res"); r.code != ExitOK {
			t.Fatal(r)
		}
		if b := readPNG(t, out).Bounds(); b.Dx() != 64 || b.Dy() != 64 {
			t.Errorf("output is %v, want 64x64", b)
		}
	})
	t.Run("no mask", func(t *testing.T) {
		out := filepath.Join(dir, "baseline.png")
		r := edit("--out", out, "--no-mask", "--json")
		if r.code != ExitOK {
			t.Fatal(r)
		}
		if !strings.Contains(r.stdout, `"mode"`) || readPNG(t, out).Bounds().Dx() != 96 {
			t.Errorf("baseline: %v", r)
		}
	})
	t.Run("jpeg", func(t *testing.T) {
		out := filepath.Join(dir, "edit.jpg")
		if r := edit("--out", out, "--quality", "80"); r.code != ExitOK {
			t.Fatal(r)
		}
		if c, err := export.ReadJPEGComments(out); err != nil || len(c) == 0 {
			t.Errorf("jpeg comments %q, %v", c, err)
		}
	})
	t.Run("default name", func(t *testing.T) {
		outDir := filepath.Join(dir, "outs")
		if err := os.Mkdir(outDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if r := edit("--out", outDir); r.code != ExitOK {
			t.Fatal(r)
		}
		if !exists(filepath.Join(outDir, "portrait.angry.edit.seed1.png")) {
			t.Errorf("no default-named output in %s", outDir)
		}
	})
	t.Run("refuses the input", func(t *testing.T) {
		for _, out := range []string{photo, filepath.Join(dir, ".", "portrait.png")} {
			r := edit("--out", out, "--overwrite")
			if r.code != ExitFailed || !strings.Contains(r.stderr, "portrait.png") {
				t.Errorf("--out %s: %v", out, r)
			}
		}
		now, err := os.ReadFile(photo)
		if err != nil || !bytes.Equal(now, orig) {
			t.Fatalf("the input changed (%v)", err)
		}
	})
	t.Run("existing output", func(t *testing.T) {
		out := filepath.Join(dir, "exists.png")
		if err := os.WriteFile(out, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := edit("--out", out)
		if r.code != ExitFailed || !strings.Contains(r.stderr, "exists.png") {
			t.Errorf("existing output: %v", r)
		}
		if data, _ := os.ReadFile(out); string(data) != "keep me" {
			t.Errorf("the existing output was replaced")
		}
		if r := edit("--out", out, "--overwrite"); r.code != ExitOK {
			t.Fatal(r)
		}
		readPNG(t, out)
	})
}

func TestCancel(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	dir := t.TempDir()
	photo := filepath.Join(dir, "p.png")
	writePhoto(t, photo, 64, 64)

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		out := filepath.Join(dir, "before.png")
		r := likeness(t, ctx, "edit", "--pack", pack, "--input", photo, "--out", out, "--steps", "2", "--mask-seeds", "1")
		if r.code != ExitCancelled || exists(out) {
			t.Errorf("want exit 130 and no output: %v", r)
		}
	})
	// The progress bar (stderr as a terminal) tells when a phase started;
	// the context is cancelled there.
	for _, phase := range []string{"mask", "denoise"} {
		t.Run("during "+phase, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := filepath.Join(dir, phase+".png")
			stderr := &cancelWriter{phase: phase, cancel: cancel}
			var stdout bytes.Buffer
			start := time.Now()
			code := run(ctx, &env{stdout: &stdout, stderr: stderr, tty: true}, []string{"edit", "--pack", pack, "--input", photo,
				"--out", out, "--steps", "999", "--mask-seeds", "100", "--mask-noise-steps", "500"})
			if code != ExitCancelled || exists(out) || !strings.Contains(stderr.String(), "cancelled") {
				t.Errorf("want exit 130 and no output, got %d:\n%s", code, stderr.String())
			}
			if !stderr.fired {
				t.Errorf("phase %s never reported", phase)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("cancel took %v to stop the edit", d)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".likeness-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

// cancelWriter cancels when the progress bar first shows phase.
type cancelWriter struct {
	bytes.Buffer
	phase  string
	cancel context.CancelFunc
	fired  bool
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	if !w.fired && strings.Contains(string(p), "\r"+w.phase) {
		w.fired = true
		w.cancel()
	}
	return w.Buffer.Write(p)
}

// TestMaskOptionFlags: --mask-normalize and --mask-guidance reach the
// engine, the JSON and the PNG metadata; bad values are usage errors. With
// k = 9 on the 6×6 planted region of a 128-pixel pack, the paper's order
// peaks at blur(R) ≈ 0.85 while blur_then_normalize peaks at 1, which the
// 8-bit soft map shows.
func TestMaskOptionFlags(t *testing.T) {
	pack := newPack(t, synth.Options{Resolution: 128})
	dir := t.TempDir()
	photo := filepath.Join(dir, "face.png")
	writePhoto(t, photo, 128, 128)
	common := []string{"--pack", pack, "--input", photo, "--steps", "2", "--mask-seeds", "1", "--mask-noise-steps", "1"}
	peak := map[string]uint8{}
	for _, order := range []string{"normalize_then_blur", "blur_then_normalize"} {
		out, soft := filepath.Join(dir, order+".png"), filepath.Join(dir, order+".soft.png")
		r := must(t, append([]string{"mask", "--out", out, "--soft-out", soft, "--blur-kernel", "9", "--mask-normalize", order, "--json"}, common...)...)
		var rep struct {
			Settings map[string]any
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Settings["mask_normalize"] != order || rep.Settings["mask_guidance"] != "eq3" {
			t.Errorf("--mask-normalize %s: settings %v", order, rep.Settings)
		}
		g, ok := readPNG(t, soft).(*image.Gray)
		if !ok {
			t.Fatal("soft map is not gray")
		}
		for _, v := range g.Pix {
			peak[order] = max(peak[order], v)
		}
	}
	if peak["blur_then_normalize"] != 255 || peak["normalize_then_blur"] < 200 || peak["normalize_then_blur"] > 230 {
		t.Errorf("soft map peaks %v; want 255 after blur_then_normalize and about 0.85·255 for the paper's order", peak)
	}

	out := filepath.Join(dir, "blend.png")
	r := must(t, append([]string{"edit", "--out", out, "--mask-guidance", "eq3_latent_blend", "--json"}, common...)...)
	var rec struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Settings["mask_guidance"] != "eq3_latent_blend" || rec.Settings["mask_normalize"] != "normalize_then_blur" {
		t.Errorf("edit --json settings %v", rec.Settings)
	}
	text, err := export.ReadPNGText(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text["likeness"], `"mask_guidance":"eq3_latent_blend"`) || !strings.Contains(text["parameters"], "Likeness mask guidance: eq3_latent_blend") {
		t.Errorf("metadata lacks the mask guidance: %q / %q", text["likeness"], text["parameters"])
	}

	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"mask", []string{"--mask-normalize", "blur"}, `mask normalize "blur"`},
		{"edit", []string{"--mask-guidance", "eq4"}, `mask guidance "eq4"`},
		{"compare", []string{"--mask-guidance", ""}, `mask guidance ""`},
	} {
		args := append(append([]string{c.cmd, "--out", filepath.Join(dir, "bad.png")}, common...), c.args...)
		r := likeness(t, context.Background(), args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "eq3") && !strings.Contains(r.stderr, "normalize_then_blur") {
			t.Errorf("%s %v: %v", c.cmd, c.args, r)
		}
	}
}

func writeNoise(t *testing.T, path string, shape []int, seed int) {
	t.Helper()
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data { // any deterministic, roughly unit-scale values
		data[i] = float32(math.Sin(float64(i*7+seed*13))) * 1.5
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, shape, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoiseFlag: with --noise the noise comes from the file, so the seed no
// longer matters (on a pack whose output depends on the noise), and files
// of the wrong shape or type are refused with their name.
func TestNoiseFlag(t *testing.T) {
	pack := newPack(t, synth.Options{Resolution: 64, Nonlinear: true}) // latent 8×8
	dir := t.TempDir()
	photo := filepath.Join(dir, "face.png")
	writePhoto(t, photo, 64, 64)
	full, other, one, wrong := filepath.Join(dir, "full.npy"), filepath.Join(dir, "other.npy"), filepath.Join(dir, "one.npy"), filepath.Join(dir, "wrong.npy")
	writeNoise(t, full, []int{3, 4, 8, 8}, 1) // 2 mask seeds
	writeNoise(t, other, []int{3, 4, 8, 8}, 2)
	writeNoise(t, one, []int{1, 4, 8, 8}, 1)
	writeNoise(t, wrong, []int{3, 4, 16, 16}, 1)
	common := []string{"--pack", pack, "--input", photo, "--steps", "4", "--mask-seeds", "2", "--mask-noise-steps", "2", "--model-res", "--no-preserve"}
	run := func(cmd string, extra ...string) []byte {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out.png")
		args := append([]string{cmd, "--out", out}, extra...)
		if cmd == "mask" {
			args = append(args, "--soft-out", out+".soft.png", "--pack", pack, "--input", photo, "--mask-seeds", "2", "--mask-noise-steps", "2", "--steps", "4")
			out += ".soft.png"
		} else {
			args = append(args, common...)
		}
		must(t, args...)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var pix []byte
		switch m := img.(type) {
		case *image.Gray:
			pix = m.Pix
		case *image.NRGBA:
			pix = m.Pix
		case *image.RGBA:
			pix = m.Pix
		default:
			t.Fatalf("%T", img)
		}
		return pix
	}
	for _, cmd := range []string{"mask", "edit"} {
		a, b := run(cmd, "--seed", "1"), run(cmd, "--seed", "2")
		if bytes.Equal(a, b) {
			t.Fatalf("%s: seeds 1 and 2 give the same output; the test cannot see the noise", cmd)
		}
		n1, n2 := run(cmd, "--seed", "1", "--noise", full), run(cmd, "--seed", "2", "--noise", full)
		if !bytes.Equal(n1, n2) {
			t.Errorf("%s --noise: the seed still changed the output", cmd)
		}
		if bytes.Equal(n1, run(cmd, "--noise", other)) {
			t.Errorf("%s: two noise files gave the same output", cmd)
		}
	}
	// The baseline computes no mask: one row will do.
	run("edit", "--no-mask", "--noise", one)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"mask", "--noise", one}, []string{"one.npy", "shape [1 4 8 8]", "want [3, 4, 8, 8]"}},
		{[]string{"edit", "--noise", one}, []string{"one.npy", "want [3, 4, 8, 8]"}},
		{[]string{"edit", "--noise", wrong, "--no-mask"}, []string{"wrong.npy", "shape [3 4 16 16]", "or [1, 4, 8, 8]"}},
		{[]string{"edit", "--noise", full, "--mask-seeds", "5"}, []string{"full.npy", "want [6, 4, 8, 8]"}},
		{[]string{"mask", "--noise", photo}, []string{"face.png", "magic"}},
		{[]string{"mask", "--noise", filepath.Join(dir, "absent.npy")}, []string{"absent.npy"}},
	} {
		args := append([]string{c.args[0], "--out", filepath.Join(dir, "x.png"), "--pack", pack, "--input", photo, "--steps", "4", "--mask-seeds", "2"}, c.args[1:]...)
		r := likeness(t, context.Background(), args...)
		if r.code != ExitFailed {
			t.Errorf("%v: %v", c.args, r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr lacks %q: %s", c.args, w, r.stderr)
			}
		}
		if exists(filepath.Join(dir, "x.png")) {
			t.Errorf("%v: an output was written", c.args)
		}
	}
}
