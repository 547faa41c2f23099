package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/adrg/xdg"

	"likeness/assets"
	"likeness/engine/export"
	"likeness/models/starter"
)

// Starter packs: small learned packs shipped inside the binary.
type (
	StarterSet    = starter.Set
	StarterPack   = starter.Pack
	StarterResult = starter.Result
	StarterStatus = starter.Status
)

// Statuses of a starter pack install.
const (
	StarterInstalled = starter.Installed
	StarterUpdated   = starter.Updated
	StarterUnchanged = starter.Unchanged
)

// EmbeddedStarters is the set of starter packs built into this binary
// (possibly empty).
func EmbeddedStarters() *StarterSet { return starter.Embedded() }

// NewStarterSet is the starter packs in the folders under root of fsys.
func NewStarterSet(fsys fs.FS, root string) *StarterSet { return starter.New(fsys, root) }

// HasStarters reports whether set holds at least one starter pack.
func HasStarters(set *StarterSet) bool {
	packs, _ := set.Packs()
	return len(packs) > 0
}

// ErrNoStarters means this build has no starter packs to install.
var ErrNoStarters = errors.New("this build of Likeness has no starter packs")

// InstallStarters installs every pack of set into the store through the
// checked installer; packs already installed with the same files are left
// as they are (StarterUnchanged). progress may stop the install.
func (a *App) InstallStarters(ctx context.Context, set *StarterSet, progress func(InstallPr) error) ([]StarterResult, error) {
	packs, err := set.Packs()
	if err != nil {
		return nil, err
	}
	if len(packs) == 0 {
		return nil, ErrNoStarters
	}
	return set.InstallAll(ctx, a.Store, progress)
}

// Sample photos: held-out portraits shipped inside the binary.

// sampleFS and sampleDir are where the samples are; tests replace them.
var (
	sampleFS  fs.FS = assets.Samples
	sampleDir       = "samples"
)

// Samples lists the embedded sample photos by file name, sorted.
func Samples() []string { return samplesIn(sampleFS, sampleDir) }

func samplesIn(fsys fs.FS, dir string) []string {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.EqualFold(path.Ext(e.Name()), ".png") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// SampleLabel is how menus show a sample: its name without the extension,
// dashes and underscores as spaces.
func SampleLabel(name string) string {
	return strings.NewReplacer("-", " ", "_", " ").Replace(strings.TrimSuffix(name, path.Ext(name)))
}

// SamplePath returns a read-only copy of the named sample in the user's
// cache folder ($XDG_CACHE_HOME/likeness/samples), writing it atomically
// when it is missing or differs. Opening that copy is a normal open, and
// the sample itself is never written.
func SamplePath(name string) (string, error) {
	return samplePath(sampleFS, sampleDir, filepath.Join(xdg.CacheHome, "likeness", "samples"), name)
}

func samplePath(fsys fs.FS, dir, cache, name string) (string, error) {
	if !slices.Contains(samplesIn(fsys, dir), name) {
		return "", fmt.Errorf("no sample photo named %q", name)
	}
	data, err := fs.ReadFile(fsys, path.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("sample %s: %w", name, err)
	}
	out := filepath.Join(cache, name)
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, data) {
		return out, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("sample %s: %w", name, err)
	}
	if _, err := os.Lstat(out); err == nil {
		os.Chmod(out, 0o644) // a stale copy from another build; replaced below
	}
	if err := export.WriteBytes(out, data, export.WriteOptions{Overwrite: true}); err != nil {
		return "", fmt.Errorf("sample %s: %w", name, err)
	}
	if err := os.Chmod(out, 0o444); err != nil {
		return "", fmt.Errorf("sample %s: %w", name, err)
	}
	return out, nil
}
