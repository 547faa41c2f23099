package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/eval"
	"likeness/models/synth"
)

func TestPairs(t *testing.T) {
	pack := newPack(t, synth.Options{Kind: synth.KindSD, Resolution: 64, AnySize: true})
	out := filepath.Join(t.TempDir(), "pairs")
	args := []string{"pairs", "--sd-pack", pack, "--subject", "person", "--source", "neutral expression", "--target", "angry",
		"--n", "2", "--steps", "4", "--seed", "3", "--out", out}
	r := must(t, append(args, "--json")...)
	var rep struct {
		Written, Skipped int
		UNetEvals        int     `json:"unet_evals"`
		PerPair          float64 `json:"seconds_per_pair"`
		ContactSheet     string  `json:"contact_sheet"`
		Latent           []int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if rep.Written != 2 || rep.Skipped != 0 || rep.UNetEvals != 2*4*4 || rep.PerPair <= 0 || len(rep.Latent) != 3 || rep.Latent[2] != 16 {
		t.Fatalf("report %+v", rep)
	}
	if !exists(rep.ContactSheet) {
		t.Fatalf("no contact sheet at %s", rep.ContactSheet)
	}
	// likeness eval reads the folder.
	f, err := eval.ReadFolder(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pairs) != 2 || f.Pairs[0].TrueMask() || f.Pairs[0].Split != "train" || f.Pairs[0].Direction != "angry" {
		t.Fatalf("pairs %+v", f.Pairs)
	}
	// A rerun keeps what is there.
	r = must(t, args...)
	if !strings.Contains(r.stdout, "0 written, 2 already there") {
		t.Fatalf("rerun: %v", r)
	}
}

func TestPairsRefusals(t *testing.T) {
	fixed := sharedPack(t, "sd")
	out := filepath.Join(t.TempDir(), "pairs")
	base := []string{"pairs", "--sd-pack", fixed, "--source", "neutral expression", "--target", "angry", "--n", "1", "--out", out}
	r := likeness(t, t.Context(), base...)
	if r.code != ExitFailed || !strings.Contains(r.stderr, filepath.Join("unet", "model.onnx")) || !strings.Contains(r.stderr, "fixed width (dimension 3) of 8; pairs need 16") ||
		!strings.Contains(r.stderr, "dynamic height and width") {
		t.Fatalf("a fixed-size UNet: %v", r)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused run created the output folder")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pairs", "--source", "a", "--target", "b", "--n", "1", "--out", out}, "--sd-pack"},
		{[]string{"pairs", "--sd-pack", fixed, "--source", "a", "--target", "b", "--out", out}, "--n"},
		{[]string{"pairs", "--sd-pack", fixed, "--source", "a", "--n", "1", "--out", out}, "--target"},
		{append(append([]string{}, base...), "--sa", "-1"), "sa -1: want a number >= 0"},
		{append(append([]string{}, base...), "--split", "nope"), "--split"},
	} {
		r := likeness(t, t.Context(), c.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want a usage error naming %s, got %v", c.args, c.want, r)
		}
	}
}
