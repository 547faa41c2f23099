// Package ort wraps ONNX Runtime for Likeness: one environment per process,
// sessions created with an execution-provider preference, tensors converted at
// the model boundary to whatever element types the model declares, and runs
// that a context can really stop (RunOptions.Terminate).
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/adrg/xdg"
	ortgo "github.com/yalue/onnxruntime_go"
)

// Version is the ONNX Runtime release that packaging/install-ort.sh pins.
const Version = "1.30.0"

// EnvLibrary names the environment variable that points at a user's own
// ONNX Runtime library (for CUDA, an onnxruntime-gpu build).
const EnvLibrary = "LIKENESS_ORT_LIB"

// ErrNoLibrary means no ONNX Runtime shared library could be found.
var ErrNoLibrary = errors.New("onnx runtime library not found")

func libName() string {
	switch runtime.GOOS {
	case "windows":
		return "onnxruntime.dll"
	case "darwin":
		return "libonnxruntime.dylib"
	}
	return "libonnxruntime.so.1"
}

// CachedLibraryPath is where packaging/install-ort.sh puts the library.
func CachedLibraryPath() string {
	return filepath.Join(xdg.CacheHome, "likeness", "onnxruntime-"+Version, libName())
}

// LibraryPath finds the library. A release carries its own copy beside the
// binary, and that copy wins, so that a stale setting or environment cannot
// break an installed Likeness; then the user's setting (explicit: the app's
// setting or --ort-lib), then $LIKENESS_ORT_LIB, then the copy
// packaging/install-ort.sh keeps in the cache (a build from source).
func LibraryPath(explicit string) (string, error) {
	if p := besideExecutable(); p != "" {
		return p, nil
	}
	if explicit != "" {
		return checkLib(explicit)
	}
	if p := os.Getenv(EnvLibrary); p != "" {
		return checkLib(p)
	}
	c := CachedLibraryPath()
	if st, err := os.Stat(c); err == nil && !st.IsDir() {
		return c, nil
	}
	beside := "beside the likeness binary"
	if exe, err := os.Executable(); err == nil {
		beside = filepath.Join(filepath.Dir(exe), libName())
	}
	return "", fmt.Errorf("%w: looked in %s and %s; reinstall Likeness, run `make ort` (or `bash packaging/install-ort.sh`) in a checkout, or set %s to your own library",
		ErrNoLibrary, beside, c, EnvLibrary)
}

// besideExecutable is the library next to the running binary, following
// symlinks (/usr/bin/likeness -> /usr/lib/likeness/likeness), or "".
func besideExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dirs := []string{filepath.Dir(exe)}
	if real, err := filepath.EvalSymlinks(exe); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		p := filepath.Join(d, libName())
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

func checkLib(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrNoLibrary, p, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%w: %s is a folder, not a library file", ErrNoLibrary, p)
	}
	return p, nil
}

var env struct {
	sync.Mutex
	path string
	err  error
	done bool
}

// Init loads the library and creates the process-wide environment once.
// Later calls return the first result; a different explicit path after a
// successful start is an error, since one process holds one environment.
func Init(libPath string) error {
	env.Lock()
	defer env.Unlock()
	if env.done {
		if env.err == nil && libPath != "" {
			if p, err := LibraryPath(libPath); err == nil && p != env.path {
				return fmt.Errorf("onnx runtime already started from %s; restart to use %s", env.path, libPath)
			}
		}
		return env.err
	}
	env.done = true
	p, err := LibraryPath(libPath)
	if err != nil {
		env.err = err
		return err
	}
	ortgo.SetSharedLibraryPath(p)
	if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
		env.err = fmt.Errorf("start onnx runtime from %s: %w", p, err)
		if runtime.GOOS == "windows" {
			// onnxruntime.dll needs the VC++ runtime (msvcp140.dll, vcruntime140.dll).
			env.err = fmt.Errorf("%w; if the Microsoft Visual C++ Redistributable (x64) is not installed, install it from https://aka.ms/vs/17/release/vc_redist.x64.exe", env.err)
		}
		return env.err
	}
	env.path = p
	return nil
}

// InitializedPath reports the library in use, or "" before Init succeeded.
func InitializedPath() string {
	env.Lock()
	defer env.Unlock()
	if env.err != nil {
		return ""
	}
	return env.path
}
