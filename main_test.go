package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLocaleIsQuiet builds the binary and runs a command under the POSIX
// locale: Fyne must not log its locale parse error (internal/clocale has to
// be initialised before Fyne's lang package).
func TestCLocaleIsQuiet(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "likeness")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, env := range []string{"LANG=C.UTF-8", "LC_ALL=C", "LANG=POSIX"} {
		cmd := exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), "LC_ALL=", env)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if !strings.HasPrefix(string(out), "likeness ") || stderr.Len() > 0 {
			t.Errorf("%s: stdout %q, stderr %q", env, out, stderr.String())
		}
	}
}
