// Package app owns Likeness's state and workflows (the loaded pack, the open
// photo and its cached encodings, the mask being edited, history, exports),
// shared by the desktop UI and the command line. It never imports Fyne.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/adrg/xdg"

	"likeness/engine"
	"likeness/models"
	"likeness/ort"
)

// Options are the user's choices that outlive one photo.
type Options struct {
	Provider ort.Provider
	ORTLib   string   // ONNX Runtime library when none sits beside the binary; "" = $LIKENESS_ORT_LIB or the installed one
	Threads  int      // CPU threads per model; 0 = ONNX Runtime's choice
	PackDirs []string // extra folders holding packs
	// GraphCache is where ONNX Runtime's optimised graphs are kept between
	// runs: "" = $LIKENESS_GRAPH_CACHE, else the XDG cache; "off" = nowhere.
	GraphCache string
	// StoreOnly starts no ONNX Runtime: for installing, listing and
	// checking packs' files, which need no library. Engine then refuses.
	StoreOnly bool
}

// EnvGraphCache names the environment variable that moves (or, with
// "off", turns off) the optimised-graph cache.
const EnvGraphCache = "LIKENESS_GRAPH_CACHE"

// GraphCacheDir is the folder Options.GraphCache names, or "" for none.
func (o Options) GraphCacheDir() string {
	d := o.GraphCache
	if d == "" {
		d = os.Getenv(EnvGraphCache)
	}
	switch d {
	case "off":
		return ""
	case "":
		return filepath.Join(xdg.CacheHome, "likeness", "graphs")
	}
	return d
}

// App holds the store and the loaded engines (one per pack, kept between
// edits because creating sessions for a real UNet takes seconds).
type App struct {
	Opts  Options
	Store *models.Store

	mu      sync.Mutex
	engines map[string]*engine.Engine // by pack folder
}

// New starts ONNX Runtime (failing with how to get it) and opens the store.
func New(opts Options) (*App, error) {
	if !opts.StoreOnly {
		if err := ort.Init(opts.ORTLib); err != nil {
			return nil, err
		}
	}
	_ = engine.PruneGraphCache(opts.GraphCacheDir()) // best effort
	st := models.DefaultStore(opts.PackDirs...)
	st.Probe = models.UNetChannels
	return &App{Opts: opts, Store: st, engines: map[string]*engine.Engine{}}, nil
}

// FindPack resolves a folder path or an installed pack's name.
func (a *App) FindPack(nameOrDir string) (*models.Pack, error) {
	return a.Store.Find(nameOrDir)
}

// Engine loads a pack (or returns it loaded already).
func (a *App) Engine(ctx context.Context, pack *models.Pack, progress engine.ProgressFunc) (*engine.Engine, error) {
	a.mu.Lock()
	if e, ok := a.engines[pack.Dir]; ok {
		a.mu.Unlock()
		return e, nil
	}
	a.mu.Unlock()
	if a.Opts.StoreOnly {
		return nil, fmt.Errorf("load %s: this command does not start onnx runtime", pack.Name)
	}
	e, err := engine.Load(ctx, pack, engine.LoadOptions{Provider: a.Opts.Provider, Threads: a.Opts.Threads, Progress: progress,
		CacheDir: a.Opts.GraphCacheDir()})
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.engines[pack.Dir]; ok { // loaded twice concurrently: keep one
		e.Close()
		return old, nil
	}
	a.engines[pack.Dir] = e
	return e, nil
}

// Unload closes a pack's sessions (after a remove or a provider change).
func (a *App) Unload(dir string) error {
	a.mu.Lock()
	e, ok := a.engines[dir]
	delete(a.engines, dir)
	a.mu.Unlock()
	if !ok {
		return nil
	}
	return e.Close()
}

// Close frees every loaded engine.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for k, e := range a.engines {
		errs = append(errs, e.Close())
		delete(a.engines, k)
	}
	return errors.Join(errs...)
}

// LoadPack finds and loads a pack by name or folder.
func (a *App) LoadPack(ctx context.Context, nameOrDir string, progress engine.ProgressFunc) (*engine.Engine, error) {
	p, err := a.FindPack(nameOrDir)
	if err != nil {
		return nil, err
	}
	e, err := a.Engine(ctx, p, progress)
	if err != nil {
		return nil, fmt.Errorf("load pack %s: %w", p.Name, err)
	}
	return e, nil
}
