package main

import (
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binary builds likeness once for the tests that run it as a user would.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "likeness-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "likeness")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", &buildError{err, string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

func build(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := binary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// TestCLocaleIsQuiet runs a command under the POSIX locale: Fyne must not
// log its locale parse error (internal/clocale is initialised before Fyne's
// lang package).
func TestCLocaleIsQuiet(t *testing.T) {
	bin := build(t)
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

// TestWindowSmoke starts the real app under Xvfb with the demo pack and a
// portrait, previews the mask with Ctrl+M and captures the screen
// (packaging/screenshot.sh, which `make screenshot` also uses; `make test`
// installs Xvfb, xauth, Mesa, ImageMagick and xdotool). The capture must be
// the window, not a blank screen, and the app must log no threading errors.
func TestWindowSmoke(t *testing.T) {
	bin := build(t)
	out := filepath.Join(t.TempDir(), "shot.png")
	cmd := exec.Command("bash", "packaging/screenshot.sh", bin, out)
	cmd.Env = append(os.Environ(), "SCREENSHOT_KEYS=ctrl+m", "SCREENSHOT_WAIT=6", "SCREENSHOT_KEY_WAIT=4")
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("screenshot.sh: %v\n%s", err, log)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 1400 || b.Dy() != 900 {
		t.Fatalf("screen capture is %v", b)
	}
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if len(colours) < 200 { // an empty screen or a window without the photo
		t.Fatalf("the capture holds only %d colours: the window did not draw", len(colours))
	}
}
