package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"likeness/app"
	"likeness/models/synth"
)

func TestModelsInstallStarter(t *testing.T) {
	root := useStore(t)
	src := t.TempDir()
	if _, err := synth.Write(filepath.Join(src, "packs", "tiny"), synth.Options{Kind: "mcdm", Resolution: 64, Name: "Tiny starter"}); err != nil {
		t.Fatal(err)
	}
	set := app.NewStarterSet(os.DirFS(src), "packs")
	for _, want := range []string{"Tiny starter: installed in " + filepath.Join(root, "tiny"), "Tiny starter: already installed"} {
		var out bytes.Buffer
		e := &env{stdout: &out, stderr: &out}
		if err := installStarters(context.Background(), e, &storeFlags{}, set); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	r := must(t, "models", "list")
	if !strings.Contains(r.stdout, "Tiny starter") {
		t.Errorf("models list: %v", r)
	}
	if r := likeness(t, context.Background(), "models", "install", "--starter", "x.zip"); r.code != ExitUsage || !strings.Contains(r.stderr, "--starter") {
		t.Errorf("--starter with a PATH: %v", r)
	}
	// The packs built into this binary: installed, or a clear message when
	// the build has none.
	r = likeness(t, context.Background(), "models", "install", "--starter")
	switch {
	case app.HasStarters(app.EmbeddedStarters()):
		if r.code != ExitOK {
			t.Errorf("install the embedded starter packs: %v", r)
		}
	case r.code != ExitFailed || !strings.Contains(r.stderr, "no starter packs"):
		t.Errorf("no embedded starter packs: %v", r)
	}
}
