package cli

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/models/synth"
)

// TestModelsCheckWarnsOfSamplingVAE: a vae_encoder that samples its latent
// is reported by `models check`, in text and in JSON.
func TestModelsCheckWarnsOfSamplingVAE(t *testing.T) {
	dir := newPack(t, synth.Options{Kind: "sd", Resolution: 64, SamplingVAE: "normal"})
	r := must(t, "models", "check", dir)
	if !strings.Contains(r.stdout, "warning: vae_encoder samples its latent (RandomNormalLike") {
		t.Errorf("models check output lacks the warning:\n%s", r.stdout)
	}
	r = must(t, "models", "check", "--json", dir)
	var rep struct{ Warnings []string }
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Warnings) != 1 {
		t.Errorf("warnings %q (%v)", rep.Warnings, err)
	}
	if r := must(t, "models", "check", sharedPack(t, "sd")); strings.Contains(r.stdout, "warning") {
		t.Errorf("a plain pack got a warning:\n%s", r.stdout)
	}
}

// TestCompareSDPackAddsDiffEdit: `likeness compare --sd-pack` adds the
// SDEdit and DiffEdit panels, with metrics, to the JSON and to the batch
// report (report.html and metrics.csv).
func TestCompareSDPackAddsDiffEdit(t *testing.T) {
	pack, sd := sharedPack(t, "mcdm"), sharedPack(t, "sd")
	dir := t.TempDir()
	photo := filepath.Join(dir, "face.png")
	writePhoto(t, photo, 80, 100)
	args := []string{"--pack", pack, "--sd-pack", sd, "--steps", "2", "--mask-seeds", "1", "--mask-noise-steps", "1"}
	r := must(t, append([]string{"compare", "--input", photo, "--out", filepath.Join(dir, "cmp.png"), "--json"}, args...)...)
	var rep struct{ Panels []map[string]any }
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var labels []string
	for _, p := range rep.Panels {
		labels = append(labels, p["label"].(string))
		if strings.HasPrefix(p["label"].(string), "DiffEdit") {
			if _, ok := p["psnr_out"]; !ok {
				t.Errorf("DiffEdit panel without metrics: %v", p)
			}
		}
	}
	if got := strings.Join(labels[len(labels)-3:], "|"); got != "SDEdit 0.5|SDEdit 0.8|DiffEdit 0.8" {
		t.Fatalf("panels %q", labels)
	}
	in := filepath.Join(dir, "photos")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	writePhoto(t, filepath.Join(in, "a.png"), 64, 64)
	out := filepath.Join(dir, "report")
	must(t, append([]string{"compare", "--input", in, "--out", out}, args...)...)
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !strings.Contains(string(page), "DiffEdit 0.8") {
		t.Errorf("report.html lacks the DiffEdit panel (%v)", err)
	}
	f, err := os.Open(filepath.Join(out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows[1:] {
		found = found || (row[0] == "a.png" && row[1] == "DiffEdit 0.8" && row[4] != "")
	}
	if !found {
		t.Errorf("metrics.csv has no DiffEdit row: %v", rows)
	}
}
