package packaging

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"debug/pe"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"
)

// distDir is where `make dist` put the artefacts.
func distDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("LIKENESS_DIST")
	if d == "" {
		// Building the releases takes minutes (a Windows cross-build among them),
		// so only `make dist-test` runs these checks.
		t.Skip("LIKENESS_DIST is not set: run `make dist-test` (or `make dist` and set LIKENESS_DIST to its dist/ folder)")
	}
	return d
}

// meta reads a field of FyneApp.toml, the one place the version is written.
func meta(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + key + `\s*=\s*"([^"]*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("FyneApp.toml has no %s", key)
	}
	return string(m[1])
}

func artefact(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(distDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v (run `make dist`)", err)
	}
	return p
}

// TestDeb installs the .deb into a scratch root with dpkg-deb -x, checks its
// metadata and files, validates the desktop entry and the AppStream
// metainfo, and runs the installed binary as a user would.
func TestDeb(t *testing.T) {
	version, id := meta(t, "Version"), meta(t, "ID")
	deb := artefact(t, "likeness_"+version+"_amd64.deb")

	info := run(t, "", nil, "dpkg-deb", "--field", deb, "Package", "Version", "Architecture", "Depends")
	for _, want := range []string{"Package: likeness\n", "Version: " + version + "\n", "Architecture: amd64\n", "Depends: "} {
		if !strings.Contains(info, want) {
			t.Errorf("control lacks %q:\n%s", want, info)
		}
	}
	if m := regexp.MustCompile(`(?m)^Depends: (.*)$`).FindStringSubmatch(info); m == nil || !strings.Contains(m[1], "libc6") || !strings.Contains(m[1], "libgl1") {
		t.Errorf("Depends should name libc6 and libgl1 (from dpkg-shlibdeps):\n%s", info)
	}
	root := filepath.Join(t.TempDir(), "root")
	run(t, "", nil, "dpkg-deb", "-x", deb, root)

	for _, f := range []string{
		"usr/lib/likeness/likeness", "usr/lib/likeness/libonnxruntime.so.1",
		"usr/share/applications/" + id + ".desktop", "usr/share/icons/hicolor/256x256/apps/" + id + ".png",
		"usr/share/metainfo/" + id + ".metainfo.xml", "usr/share/man/man1/likeness.1.gz",
		"usr/share/doc/likeness/copyright",
	} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the package lacks /%s", f)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "usr/bin/likeness")); err != nil || l != "../lib/likeness/likeness" {
		t.Errorf("/usr/bin/likeness: link to %q, %v", l, err)
	}
	checkNotices(t, filepath.Join(root, "usr/share/doc/likeness/copyright"), false)
	checkMan(t, filepath.Join(root, "usr/share/man/man1/likeness.1.gz"))

	desktop := filepath.Join(root, "usr/share/applications", id+".desktop")
	if out := run(t, "", nil, "desktop-file-validate", desktop); strings.TrimSpace(out) != "" {
		t.Errorf("desktop-file-validate: %s", out)
	}
	text, _ := os.ReadFile(desktop)
	for _, want := range []string{"Exec=likeness %f", "Icon=" + id, "MimeType=image/jpeg;image/png;"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("%s lacks %q", desktop, want)
		}
	}
	run(t, "", nil, "appstreamcli", "validate", "--no-net", "--pedantic", filepath.Join(root, "usr/share/metainfo", id+".metainfo.xml"))

	runInstalled(t, filepath.Join(root, "usr/bin/likeness"), version)
}

// TestTarGz unpacks the portable archive into a folder with spaces in its
// name and runs it from there.
func TestTarGz(t *testing.T) {
	version, id := meta(t, "Version"), meta(t, "ID")
	name := "likeness-" + version + "-linux-x86_64"
	dir := filepath.Join(t.TempDir(), "My Apps", "Likeness (portable)")
	untar(t, artefact(t, name+".tar.gz"), dir)
	top := filepath.Join(dir, name)
	for _, f := range []string{"likeness", "libonnxruntime.so.1", "likeness.1", "README.txt", "THIRD_PARTY_NOTICES.txt",
		"share/applications/" + id + ".desktop", "share/metainfo/" + id + ".metainfo.xml", "share/icons/hicolor/256x256/apps/" + id + ".png"} {
		if _, err := os.Stat(filepath.Join(top, f)); err != nil {
			t.Errorf("the archive lacks %s/%s", name, f)
		}
	}
	checkNotices(t, filepath.Join(top, "THIRD_PARTY_NOTICES.txt"), false)
	runInstalled(t, filepath.Join(top, "likeness"), version)
}

// runInstalled runs an installed likeness as a user would: from a folder
// that is not a checkout, without Go on PATH, with a private home, and with
// LIKENESS_ORT_LIB pointing nowhere, so the runtime beside the binary must
// be the one found.
func runInstalled(t *testing.T, bin, version string) {
	t.Helper()
	home := t.TempDir()
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil || d == "" {
			continue // no Go
		}
		path = append(path, d)
	}
	env := []string{
		"PATH=" + strings.Join(path, string(os.PathListSeparator)),
		"HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"LIKENESS_ORT_LIB=" + filepath.Join(home, "no-such-libonnxruntime.so.1"),
		"LANG=C.UTF-8",
	}
	cmd := exec.Command("sh", "-c", "command -v go")
	cmd.Env = env
	if out, err := cmd.Output(); err == nil {
		t.Fatalf("go is still on the test's PATH: %s", out)
	}

	if got := strings.TrimSpace(run(t, home, env, bin, "version")); got != "likeness "+version {
		t.Errorf("likeness version = %q, want likeness %s", got, version)
	}
	run(t, home, env, bin, "models", "synth", "--out", "packs/demo")
	writePortrait(t, filepath.Join(home, "my photo.png"))
	quick := []string{"--pack", "packs/demo", "--input", "my photo.png", "--steps", "4", "--mask-seeds", "2"}
	out := run(t, home, env, bin, append([]string{"edit", "--direction", "angry", "--out", "edited.png", "--json"}, quick...)...)
	var rec map[string]any
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("likeness edit --json: %v\n%s", err, out)
	}
	if !hasKeyContaining(rec, "session") {
		t.Errorf("likeness edit --json reports no session-creation time:\n%s", out)
	}
	decodePNG(t, filepath.Join(home, "edited.png"))
	run(t, home, env, bin, append([]string{"stickers", "--out", "stickers", "--format", "png"}, quick...)...)
	stickers, _ := filepath.Glob(filepath.Join(home, "stickers", "*.png"))
	if len(stickers) < 5 { // the sheet and four stickers
		t.Errorf("likeness stickers wrote %v", stickers)
	}
	for _, s := range stickers {
		decodePNG(t, s)
	}
}

func hasKeyContaining(v any, sub string) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, v := range x {
			if strings.Contains(strings.ToLower(k), sub) || hasKeyContaining(v, sub) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if hasKeyContaining(v, sub) {
				return true
			}
		}
	}
	return false
}

// TestWindowsZip checks the zip's file list, the executables' PE headers and
// resources, and that every DLL any of them imports is in the zip or comes
// with Windows (or, for onnxruntime.dll, with the VC++ runtime the README
// names).
func TestWindowsZip(t *testing.T) {
	version := meta(t, "Version")
	name := "likeness-" + version + "-windows-x86_64"
	zr, err := zip.OpenReader(artefact(t, name+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rel, ok := strings.CutPrefix(f.Name, name+"/")
		if !ok {
			t.Errorf("%s is outside the %s/ folder", f.Name, name)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[strings.ToLower(rel)] = b
		names = append(names, rel)
	}
	sort.Strings(names)
	want := []string{"DirectML.dll", "README.txt", "THIRD_PARTY_NOTICES.txt", "likeness-cli.exe", "likeness.exe", "onnxruntime.dll"}
	if !slices.Equal(names, want) {
		t.Fatalf("the zip holds %v, want %v", names, want)
	}
	readme := string(files["readme.txt"])
	checkNoticesText(t, "THIRD_PARTY_NOTICES.txt", string(files["third_party_notices.txt"]), true)

	for _, exe := range []struct {
		name      string
		subsystem uint16
	}{{"likeness.exe", pe.IMAGE_SUBSYSTEM_WINDOWS_GUI}, {"likeness-cli.exe", pe.IMAGE_SUBSYSTEM_WINDOWS_CUI}} {
		f, err := pe.NewFile(bytes.NewReader(files[exe.name]))
		if err != nil {
			t.Fatalf("%s: %v", exe.name, err)
		}
		if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
			t.Errorf("%s: machine %#x, want AMD64", exe.name, f.Machine)
		}
		oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		if !ok {
			t.Fatalf("%s: not a PE32+ image", exe.name)
		}
		if oh.Subsystem != exe.subsystem {
			t.Errorf("%s: subsystem %d, want %d (GUI 2: no console; console 3)", exe.name, oh.Subsystem, exe.subsystem)
		}
		types, rsrc := resourceTypes(t, f)
		for _, rt := range []struct {
			id   uint32
			what string
		}{{3, "icon"}, {14, "icon group"}, {16, "version"}, {24, "manifest"}} {
			if !types[rt.id] {
				t.Errorf("%s: no %s resource (types %v)", exe.name, rt.what, types)
			}
		}
		for _, s := range []string{"ProductVersion", version, "Likeness", exe.name} {
			if !bytes.Contains(rsrc, utf16le(s)) {
				t.Errorf("%s: the version resource lacks %q", exe.name, s)
			}
		}
		f.Close()
	}

	for lower, b := range files {
		if !strings.HasSuffix(lower, ".exe") && !strings.HasSuffix(lower, ".dll") {
			continue
		}
		f, err := pe.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", lower, err)
		}
		syms, err := f.ImportedSymbols()
		if err != nil {
			t.Fatalf("%s: imports: %v", lower, err)
		}
		dlls := map[string]bool{}
		for _, s := range syms {
			if i := strings.LastIndexByte(s, ':'); i >= 0 {
				dlls[strings.ToLower(s[i+1:])] = true
			}
		}
		if len(dlls) == 0 {
			t.Errorf("%s imports nothing: the import table was not read", lower)
		}
		for d := range dlls {
			switch {
			case files[d] != nil, systemDLL(d):
			case vcRuntime[d] && lower == "onnxruntime.dll":
				if !strings.Contains(readme, "vc_redist.x64.exe") {
					t.Errorf("%s needs %s (VC++ runtime) and README.txt does not say where to get it", lower, d)
				}
			default:
				t.Errorf("%s imports %s, which is neither in the zip nor a Windows system DLL", lower, d)
			}
		}
		f.Close()
	}
}

// vcRuntime is the Microsoft VC++ runtime onnxruntime.dll is built against;
// it is not part of Windows, and the zip's README says how to install it.
var vcRuntime = map[string]bool{
	"msvcp140.dll": true, "msvcp140_1.dll": true, "msvcp140_2.dll": true, "msvcp140_atomic_wait.dll": true,
	"vcruntime140.dll": true, "vcruntime140_1.dll": true, "concrt140.dll": true,
}

// systemDLL reports DLLs that every 64-bit Windows 10 or later has.
func systemDLL(d string) bool {
	if strings.HasPrefix(d, "api-ms-win-") || strings.HasPrefix(d, "ext-ms-win-") {
		return true // API sets
	}
	switch strings.TrimSuffix(d, ".dll") {
	case "kernel32", "kernelbase", "ntdll", "user32", "gdi32", "opengl32", "shell32", "ole32", "oleaut32",
		"advapi32", "ws2_32", "winmm", "msvcrt", "ucrtbase", "setupapi", "dbghelp", "d3d12", "dxgi", "dxcore",
		"imm32", "comdlg32", "comctl32", "version", "uxtheme", "dwmapi", "shcore", "bcrypt", "crypt32",
		"secur32", "userenv", "iphlpapi", "powrprof", "mswsock", "shlwapi", "winhttp", "wininet", "cfgmgr32",
		"d3d11", "dwrite", "d2d1", "windowscodecs", "propsys", "netapi32", "hid", "xinput1_4", "winspool.drv",
		"bcryptprimitives", "mpr", "psapi", "wtsapi32", "rpcrt4", "gdiplus", "oleacc", "dinput8":
		return true
	}
	return false
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// resourceTypes reads the type IDs at the root of the .rsrc section's
// resource directory, and returns the section's bytes.
func resourceTypes(t *testing.T, f *pe.File) (map[uint32]bool, []byte) {
	t.Helper()
	s := f.Section(".rsrc")
	if s == nil {
		t.Fatal("no .rsrc section: no resources embedded")
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		t.Fatalf(".rsrc: %v (%d bytes)", err, len(data))
	}
	named := int(binary.LittleEndian.Uint16(data[12:]))
	ids := int(binary.LittleEndian.Uint16(data[14:]))
	types := map[uint32]bool{}
	for i := 0; i < named+ids; i++ {
		off := 16 + 8*i
		if off+8 > len(data) {
			t.Fatal(".rsrc: truncated directory")
		}
		if name := binary.LittleEndian.Uint32(data[off:]); name&0x80000000 == 0 {
			types[name] = true
		}
	}
	return types, data
}

// checkNotices checks that a notices file names what the release ships.
func checkNotices(t *testing.T, path string, windows bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkNoticesText(t, path, string(b), windows)
}

func checkNoticesText(t *testing.T, path, text string, windows bool) {
	t.Helper()
	want := []string{"fyne.io/fyne/v2", "github.com/yalue/onnxruntime_go", "golang.org/x/image", "Go go1.",
		"ONNX Runtime 1.30.0", "Copyright (c) Microsoft Corporation", "openai/CLIP", "Copyright (c) 2021 OpenAI",
		"glfw/LICENSE.md"}
	if windows {
		want = append(want, "DirectML")
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not mention %q", path, w)
		}
	}
}

func checkMan(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{".TH LIKENESS 1", ".SH COMMANDS", ".B edit", ".B stickers", "--pack", "LIKENESS_ORT_LIB"} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("the man page lacks %q", w)
		}
	}
}

// untar unpacks a .tar.gz with Go (keeping modes), as a user's archive
// manager would.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("%s: entry %q leaves the folder", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected entry %q (type %c)", archive, h.Name, h.Typeflag)
		}
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out) + stderr.String()
}

// writePortrait writes a small stand-in photo: a face-coloured oval on a
// gradient.
func writePortrait(t *testing.T, path string) {
	t.Helper()
	const w, h = 360, 480
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(60 + x*100/w), uint8(90 + y*80/h), 160, 255}
			dx, dy := float64(x-w/2)/90, float64(y-h/2+30)/120
			if dx*dx+dy*dy < 1 {
				c = color.NRGBA{224, 172, 140, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func decodePNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}
