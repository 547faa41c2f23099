package cli

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/eval"
	"likeness/models/synth"
)

// externalSet writes a one-picture external set: a white 120x100 drawing
// with a dark face, eyes and mouth, and faces.tsv naming its boxes.
func externalSet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 120, 100))
	face := image.Rect(40, 30, 80, 70)
	for y := 0; y < 100; y++ {
		for x := 0; x < 120; x++ {
			c := color.NRGBA{250, 250, 250, 255}
			if image.Pt(x, y).In(face) {
				c = color.NRGBA{60, 40, 30, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	f, err := os.Create(filepath.Join(dir, "drawing.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tsv := "file\tface\teyes\tmouth\tnote\ndrawing.png\t40,30,80,70\t44,30,76,42\t52,58,68,64\ta dark square\n"
	if err := os.WriteFile(filepath.Join(dir, eval.ExternalFile), []byte(tsv), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvalExternal(t *testing.T) {
	box := [4]float64{0.265, 0.323, 0.735, 0.732}
	pack := newPack(t, synth.Options{Kind: "mcdm", Resolution: 64, FaceBox: &box, FaceLocator: true})
	set := externalSet(t)
	out := filepath.Join(t.TempDir(), "report")
	r := must(t, append([]string{"eval", "--pack", pack, "--external", set, "--out", out, "--json"}, quickEval...)...)
	var rep struct {
		Pictures   int
		FacesFound int `json:"faces_found"`
		Crop       string
		Summary    []eval.ExternalRow
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if rep.Pictures != 1 || rep.FacesFound != 1 || rep.Crop != "auto" || len(rep.Summary) != 5 {
		t.Fatalf("report %+v", rep)
	}
	all := rep.Summary[4]
	if all.Direction != eval.DirectionAll || all.N != 4 {
		t.Fatalf("overall row %+v", all)
	}
	// The analytic locator boxes the dark square exactly, so the face lands
	// on the pack's face box; the scores are shares and dB.
	if !(float64(all.FramingOff) < 0.1) {
		t.Errorf("framing off %v face widths, want < 0.1", all.FramingOff)
	}
	for _, v := range []eval.Num{all.OnFeatures, all.MouthChanged, all.MaskOnFace} {
		if f := float64(v); !(f >= 0 && f <= 1) {
			t.Errorf("a share outside [0,1]: %+v", all)
		}
	}
	if !(float64(all.PSNROutFace) > 10) {
		t.Errorf("PSNR outside the face %v", all.PSNROutFace)
	}
	var full eval.ExternalReport
	data, err := os.ReadFile(filepath.Join(out, eval.ReportJSON))
	if err != nil || json.Unmarshal(data, &full) != nil || len(full.Results) != 4 {
		t.Fatalf("report.json: %v (%d results)", err, len(full.Results))
	}
	for _, res := range full.Results {
		if res.FoundBy == "" || res.Thumb == "" {
			t.Errorf("result %+v: no finder or thumbnail", res)
		}
		// The pack's directions are the expressions judge's.
		if res.Judged == "" || res.Recognised == nil {
			t.Errorf("result %+v: not judged", res)
		}
		if _, err := os.Stat(filepath.Join(out, eval.ThumbsDir, res.Thumb)); err != nil {
			t.Error(err)
		}
	}
	page, err := os.ReadFile(filepath.Join(out, eval.ReportHTML))
	if err != nil || !strings.Contains(string(page), "drawing_angry.png") {
		t.Errorf("index.html lacks the thumbnails: %v", err)
	}
	// The centre rule on the same set: no margin, the picture as it is.
	out2 := filepath.Join(t.TempDir(), "centre")
	must(t, append([]string{"eval", "--pack", pack, "--external", set, "--out", out2, "--crop", "centre"}, quickEval...)...)
}

func TestEvalExternalUsage(t *testing.T) {
	pack := sharedPack(t, "mcdm")
	set := externalSet(t)
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, eval.ExternalFile), []byte("file\tface\teyes\tmouth\nx.png\t1,2,3\t0,0,1,1\t0,0,1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"with --pairs", []string{"--external", set, "--pairs", set, "--out", out}, ExitUsage, "give one"},
		{"calibrate", []string{"--external", set, "--calibrate"}, ExitUsage, "never an external set"},
		{"no out", []string{"--external", set}, ExitUsage, "--out is required"},
		{"crop box", []string{"--external", set, "--out", out, "--crop", "0,0,10,10"}, ExitUsage, "want auto or centre"},
		{"bad box", []string{"--external", bad, "--out", out}, ExitFailed, "faces.tsv:2: face"},
		{"no set", []string{"--external", filepath.Join(bad, "missing"), "--out", out}, ExitFailed, "faces.tsv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := likeness(t, t.Context(), append([]string{"eval", "--pack", pack}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Errorf("want exit %d with %q: %v", c.code, c.want, r)
			}
		})
	}
}

func TestModelsCheckFaceLocator(t *testing.T) {
	box := [4]float64{0.3, 0.3, 0.7, 0.7}
	good := newPack(t, synth.Options{Kind: "mcdm", Resolution: 64, FaceBox: &box, FaceLocator: true})
	r := must(t, "models", "check", good)
	if !strings.Contains(r.stdout, "face_locator     image [1,3,32,32] -> box [1,5]") || !strings.Contains(r.stdout, "face_box:   0.300") {
		t.Errorf("models check does not show the face locator and face box:\n%s", r.stdout)
	}
	// A face_locator that is not one (the VAE decoder under that name).
	bad := newPack(t, synth.Options{Kind: "mcdm", Resolution: 64})
	data, err := os.ReadFile(filepath.Join(bad, "vae_decoder", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(bad, "face_locator"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "face_locator", "model.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r = likeness(t, t.Context(), "models", "check", bad)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "face_locator") || !strings.Contains(r.stderr, `no input "image"`) {
		t.Errorf("a bad face locator: %v", r)
	}
}
