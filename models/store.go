package models

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/adrg/xdg"
)

// Store is where packs live: Root (installs and removals happen only there)
// and Extra folders the user adds. An Extra folder is either a pack itself
// or a folder of packs.
type Store struct {
	Root  string
	Extra []string
	// Probe infers the kind of packs without likeness.json; optional.
	Probe ChannelProbe
}

// DefaultRoot is the store's folder under the XDG data home:
// $XDG_DATA_HOME/likeness/packs (~/.local/share/likeness/packs on Linux).
func DefaultRoot() string {
	return filepath.Join(xdg.DataHome, "likeness", "packs")
}

// DefaultStore is the store at DefaultRoot with extra folders.
func DefaultStore(extra ...string) *Store {
	return &Store{Root: DefaultRoot(), Extra: extra}
}

// candidates lists the folders that may be packs: each visible subfolder of
// Root and of each Extra folder, or an Extra folder that is a pack itself.
// Unreadable folders are reported; a missing Root is simply empty.
func (s *Store) candidates() ([]string, []error) {
	var dirs []string
	var errs []error
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	scan := func(root string, missingOK bool) {
		ents, err := os.ReadDir(root)
		if err != nil {
			if !(missingOK && errors.Is(err, fs.ErrNotExist)) {
				errs = append(errs, fmt.Errorf("read pack folder %s: %w", root, err))
			}
			return
		}
		for _, e := range ents {
			if hidden(e.Name()) {
				continue // .install-*, .old-*, .remove-* and the like
			}
			p := filepath.Join(root, e.Name())
			if e.IsDir() {
				add(p)
				continue
			}
			if e.Type()&fs.ModeSymlink != 0 { // a link to a pack folder
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					add(p)
				}
			}
		}
	}
	root := filepath.Clean(s.Root)
	seen[root] = true
	scan(root, true)
	for _, x := range s.Extra {
		x = filepath.Clean(x)
		if seen[x] {
			continue
		}
		if isPackDir(x) {
			add(x)
			continue
		}
		seen[x] = true
		scan(x, false)
	}
	return dirs, errs
}

// List opens every pack of the store, Root first, each folder's packs in
// name order. A folder that does not open is reported with its error
// rather than hidden.
func (s *Store) List() ([]*Pack, []error) {
	dirs, errs := s.candidates()
	var packs []*Pack
	for _, d := range dirs {
		p, err := OpenWith(d, OpenOptions{Probe: s.Probe})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		packs = append(packs, p)
	}
	return packs, errs
}

// Find opens a pack given a path to its folder, or a pack's folder name or
// manifest name in the store.
func (s *Store) Find(nameOrDir string) (*Pack, error) {
	opts := OpenOptions{Probe: s.Probe}
	if nameOrDir == "" {
		return nil, fmt.Errorf("find pack: empty name: %w", ErrNotFound)
	}
	if filepath.IsAbs(nameOrDir) || strings.ContainsAny(nameOrDir, `/\`) || strings.HasPrefix(nameOrDir, ".") {
		return OpenWith(nameOrDir, opts)
	}
	dirs, _ := s.candidates()
	for _, d := range dirs {
		if filepath.Base(d) == nameOrDir {
			return OpenWith(d, opts)
		}
	}
	packs, _ := s.List()
	for _, p := range packs {
		if p.Name == nameOrDir {
			return p, nil
		}
	}
	for _, p := range packs {
		if strings.EqualFold(p.Name, nameOrDir) {
			return p, nil
		}
	}
	if st, err := os.Stat(nameOrDir); err == nil && st.IsDir() {
		return OpenWith(nameOrDir, opts)
	}
	return nil, newPackError(ErrNotFound, nil, "no pack named %q in %s", nameOrDir, s.searched())
}

func (s *Store) searched() string {
	return strings.Join(append([]string{s.Root}, s.Extra...), ", ")
}

// Remove deletes the pack with the given folder name or manifest name from
// Root (never from Extra folders). The folder is first renamed to a hidden
// name, so the pack disappears at once even if deleting its files fails.
func (s *Store) Remove(name string) error {
	if err := checkPackName(name); err != nil {
		return fmt.Errorf("remove pack: %w", err)
	}
	dir := filepath.Join(s.Root, name)
	if st, err := os.Lstat(dir); err != nil || !(st.IsDir() || st.Mode()&fs.ModeSymlink != 0) {
		dir = ""
		ents, _ := os.ReadDir(s.Root)
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		for _, n := range names {
			if hidden(n) {
				continue
			}
			p, err := OpenWith(filepath.Join(s.Root, n), OpenOptions{Probe: s.Probe})
			if err == nil && p.Name == name {
				dir = p.Dir
				break
			}
		}
		if dir == "" {
			return newPackError(ErrNotFound, nil, "remove pack: no pack named %q in %s", name, s.Root)
		}
	}
	trash := filepath.Join(s.Root, ".remove-"+rand.Text())
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("remove pack %q: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove pack %q: it is gone from the store, but deleting its files in %s failed: %w", name, trash, err)
	}
	return nil
}
