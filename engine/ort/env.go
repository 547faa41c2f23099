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

// LibraryPath finds the library: an explicit path wins, then $LIKENESS_ORT_LIB,
// then the cached copy, then a copy next to the executable (Windows bundles).
func LibraryPath(explicit string) (string, error) {
	if explicit != "" {
		return checkLib(explicit)
	}
	if p := os.Getenv(EnvLibrary); p != "" {
		return checkLib(p)
	}
	candidates := []string{CachedLibraryPath()}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), libName()))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w: looked in %v; run `make test` or `bash packaging/install-ort.sh` to install it, or set %s to your own library",
		ErrNoLibrary, candidates, EnvLibrary)
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
		if env.err == nil && libPath != "" && libPath != env.path {
			return fmt.Errorf("onnx runtime already started from %s; restart to use %s", env.path, libPath)
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
