// Command notices writes THIRD_PARTY_NOTICES.txt for a release: the licence
// files of every Go module linked into the likeness binary for one GOOS
// (found with `go list -deps` and read from the module cache through
// `go list -m -json`), Go's own licence, and the texts in packaging/licenses
// for what is shipped besides Go code. It fails when a linked module has no
// licence file, so a new dependency cannot slip into a release unnoticed.
//
//	go run ./packaging/notices -goos linux -out dist/linux/THIRD_PARTY_NOTICES.txt
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

func main() {
	goos := flag.String("goos", runtime.GOOS, "the target system: linux or windows")
	out := flag.String("out", "", "the file to write")
	extra := flag.String("licenses", "packaging/licenses", "folder of the non-Go licence texts")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: notices -goos linux|windows -out FILE")
		os.Exit(2)
	}
	text, err := notices(*goos, *extra)
	if err == nil {
		err = writeAtomic(*out, text)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

type module struct {
	Path, Version, Dir string
	Main               bool
	Replace            *module
}

// linkedModules lists the modules whose packages go into the main package
// for goos (with cgo, as the release is built).
func linkedModules(goos string) ([]module, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=1")
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps: %w", err)
	}
	seen := map[string]bool{}
	var paths []string
	for _, p := range strings.Fields(string(outb)) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	args := append([]string{"list", "-m", "-json"}, paths...)
	cmd = exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	outb, err = cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m -json: %w", err)
	}
	var mods []module
	dec := json.NewDecoder(bytes.NewReader(outb))
	for dec.More() {
		var m module
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		if m.Main {
			continue
		}
		if m.Replace != nil {
			m.Dir = m.Replace.Dir
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}

// isLicence matches the names licence texts go by.
func isLicence(name string) bool {
	n := strings.ToUpper(name)
	if strings.HasSuffix(n, ".GO") {
		return false
	}
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE", "PATENTS", "UNLICENSE", "COPYRIGHT"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// licenceFiles finds the licence texts in a module: at its root and beside
// code it vendors (fonts, C libraries), leaving out tests and tools.
func licenceFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", ".git", "cmd", "_examples", "examples":
				if p != dir {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if isLicence(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func notices(goos, extra string) ([]byte, error) {
	mods, err := linkedModules(goos)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	rule := strings.Repeat("=", 78)
	fmt.Fprintf(&b, "Third-party software in Likeness (%s build)\n%s\n\n", goos, rule)
	fmt.Fprintln(&b, "Likeness is built with Go and links the Go modules listed below; the release")
	fmt.Fprintln(&b, "also carries ONNX Runtime (and, on Windows, DirectML). Each component's")
	fmt.Fprintln(&b, "licence follows in full.")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "  Go %s (standard library and runtime)\n", runtime.Version())
	for _, m := range mods {
		fmt.Fprintf(&b, "  %s %s\n", m.Path, m.Version)
	}
	extras, err := extraTexts(goos, extra)
	if err != nil {
		return nil, err
	}
	for _, e := range extras {
		fmt.Fprintf(&b, "  %s\n", e.title)
	}
	fmt.Fprintln(&b)

	section := func(title string) { fmt.Fprintf(&b, "\n%s\n%s\n%s\n\n", rule, title, rule) }
	goLicence, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("go's licence: %w", err)
	}
	section("Go " + runtime.Version() + " — LICENSE")
	b.Write(bytes.TrimSpace(goLicence))
	b.WriteByte('\n')
	var missing []string
	for _, m := range mods {
		if m.Dir == "" {
			return nil, fmt.Errorf("%s %s is not in the module cache (run go mod download)", m.Path, m.Version)
		}
		files, err := licenceFiles(m.Dir)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			missing = append(missing, m.Path)
			continue
		}
		for _, f := range files {
			text, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			rel, _ := filepath.Rel(m.Dir, f)
			section(fmt.Sprintf("%s %s — %s", m.Path, m.Version, filepath.ToSlash(rel)))
			b.Write(bytes.TrimSpace(text))
			b.WriteByte('\n')
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no licence file found for %s", strings.Join(missing, ", "))
	}
	for _, e := range extras {
		section(e.title)
		b.Write(bytes.TrimSpace(e.text))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

type extraText struct {
	title string
	text  []byte
}

// extraTexts are the non-Go components: ONNX Runtime always, DirectML on
// Windows, the CLIP vocabulary and the face cascade embedded in the binary.
func extraTexts(goos, dir string) ([]extraText, error) {
	list := []struct{ file, title string }{
		{"onnxruntime-LICENSE.txt", "ONNX Runtime 1.30.0 (libonnxruntime / onnxruntime.dll) — LICENSE"},
		{"onnxruntime-ThirdPartyNotices.txt", "ONNX Runtime 1.30.0 — ThirdPartyNotices.txt"},
		{"CLIP-LICENSE.txt", "CLIP BPE vocabulary (openai/CLIP, embedded) — LICENSE"},
		{"opencv-haarcascade-LICENSE.txt", "OpenCV haarcascade_frontalface_alt2.xml (the photo face detector, embedded) — licence"},
	}
	if goos == "windows" {
		list = append(list,
			struct{ file, title string }{"DirectML-NOTICE.txt", "DirectML 1.15.4 (DirectML.dll) — notice"},
			struct{ file, title string }{"DirectML-LICENSE.txt", "DirectML 1.15.4 (DirectML.dll) — LICENSE.txt"})
	}
	var out []extraText
	for _, l := range list {
		text, err := os.ReadFile(filepath.Join(dir, l.file))
		if errors.Is(err, fs.ErrNotExist) && (strings.Contains(l.file, "ThirdParty") || l.file == "DirectML-LICENSE.txt") {
			fmt.Fprintf(os.Stderr, "notices: warning: %s is missing (see %s/README.md)\n", l.file, dir)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, extraText{l.title, text})
	}
	return out, nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".notices-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
