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

// TestWindowSmoke starts the real app under Xvfb on a 1280×720 screen with
// the demo pack and a portrait, previews the mask with Ctrl+M and captures
// the screen (packaging/screenshot.sh, which `make screenshot` also uses;
// `make test` installs Xvfb, xauth, Mesa, ImageMagick and xdotool). The
// capture must be the window, not a blank screen, the app must log no
// threading errors, and the Edit button must be on the screen, whole: the
// window fits a small laptop screen and the side panel keeps Edit pinned.
func TestWindowSmoke(t *testing.T) {
	bin := build(t)
	out := filepath.Join(t.TempDir(), "shot.png")
	cmd := exec.Command("bash", "packaging/screenshot.sh", bin, out)
	cmd.Env = append(os.Environ(), "SCREEN_SIZE=1280x720", "SCREENSHOT_KEYS=ctrl+m", "SCREENSHOT_WAIT=6", "SCREENSHOT_KEY_WAIT=4")
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
	if b.Dx() != 1280 || b.Dy() != 720 {
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
	edit := findButtons(img, primaryBlue)
	if len(edit) != 1 {
		t.Fatalf("want one Edit button (a solid block of the theme's primary colour) on the 1280×720 screen, found %v", edit)
	}
	if e := edit[0]; e.Min.X < b.Dx()/2 || e.Max.Y > b.Max.Y || e.Dy() < 28 {
		t.Fatalf("the Edit button is at %v: not whole in the side panel of a 1280×720 screen", e)
	}
	t.Logf("Edit button at %v", edit[0])
}

// primaryBlue is Fyne's default primary colour, which fills a
// high-importance button (Edit is the only one in the window).
var primaryBlue = [3]uint8{0x29, 0x6f, 0xf6}

// findButtons returns the bounds of the solid blocks of colour c at least
// 90×24 pixels and at least half filled (a button with its label), leaving
// out thin lines such as the crop frame and small marks such as checkboxes.
func findButtons(img image.Image, c [3]uint8) []image.Rectangle {
	b := img.Bounds()
	near := func(x, y int) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		d := func(a uint32, want uint8) bool { v := int(a>>8) - int(want); return v >= -10 && v <= 10 }
		return d(r, c[0]) && d(g, c[1]) && d(bl, c[2])
	}
	seen := make([]bool, b.Dx()*b.Dy())
	idx := func(x, y int) int { return (y-b.Min.Y)*b.Dx() + x - b.Min.X }
	var found []image.Rectangle
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if seen[idx(x, y)] || !near(x, y) {
				continue
			}
			// Flood fill one component, 8-connected through gaps of up to
			// a few pixels (the label's letters cut the fill).
			r := image.Rect(x, y, x+1, y+1)
			n := 0
			stack := []image.Point{{x, y}}
			seen[idx(x, y)] = true
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				n++
				r = r.Union(image.Rect(p.X, p.Y, p.X+1, p.Y+1))
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						q := image.Pt(p.X+dx, p.Y+dy)
						if q.In(b) && !seen[idx(q.X, q.Y)] && near(q.X, q.Y) {
							seen[idx(q.X, q.Y)] = true
							stack = append(stack, q)
						}
					}
				}
			}
			if r.Dx() >= 90 && r.Dy() >= 24 && 2*n >= r.Dx()*r.Dy() {
				found = append(found, r)
			}
		}
	}
	return found
}

// TestStoreCommandsWithoutRuntime: installing, listing and the manifest
// part of checking packs read files only, so they work on a machine where
// ONNX Runtime cannot be found; check says which part it could not do.
func TestStoreCommandsWithoutRuntime(t *testing.T) {
	bin := build(t)
	home := t.TempDir()
	env := append(os.Environ(), "LIKENESS_ORT_LIB="+filepath.Join(home, "no-such-libonnxruntime.so"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("models", "install", "--starter")
	if err != nil {
		t.Fatalf("models install --starter without onnx runtime: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Cartoon expressions: installed") {
		t.Errorf("install output does not report the expressions pack:\n%s", out)
	}
	out, err = run("models", "list")
	if err != nil || !strings.Contains(out, "cartoon-costumes") || !strings.Contains(out, "cartoon-expressions") {
		t.Errorf("models list without onnx runtime: %v\n%s", err, out)
	}
	out, err = run("models", "check", "cartoon-expressions")
	if err == nil {
		t.Errorf("models check without onnx runtime succeeded; want an error saying the sessions were not created:\n%s", out)
	}
	for _, want := range []string{"manifest and signatures ok", "unet", "face_box", "sessions not created", "onnx runtime library not found"} {
		if !strings.Contains(out, want) {
			t.Errorf("models check output lacks %q:\n%s", want, out)
		}
	}
}
