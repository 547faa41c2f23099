// Package starter holds the starter packs embedded in the binary (the
// folders of models/starter/packs, each a complete pack per the model
// contract) and installs them into a pack store through the ordinary
// installer, models.Store.InstallFS: the same size and SHA-256 checks, the
// same temporary folder renamed into place.
package starter

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"likeness/models"
)

//go:embed packs
var embedded embed.FS

// Pack is one starter pack of a Set.
type Pack struct {
	Dir      string // slash path of its folder in the set's file system
	Folder   string // its folder name in the store: the base of Dir
	Name     string // the manifest's name
	Manifest *models.Manifest
}

// Set is the starter packs in the folders directly under root of a file
// system.
type Set struct {
	fsys fs.FS
	root string
}

// Embedded is the set built into this binary.
func Embedded() *Set { return &Set{fsys: embedded, root: "packs"} }

// New is the set of the pack folders under root in fsys (for tests and for
// packs shipped beside the binary).
func New(fsys fs.FS, root string) *Set { return &Set{fsys: fsys, root: root} }

// Packs lists the set's packs, by folder name. A folder without a
// likeness.json is not a starter pack and is skipped; a manifest that does
// not parse is an error naming it (the packs found are still returned).
func (s *Set) Packs() ([]Pack, error) {
	if s == nil || s.fsys == nil {
		return nil, nil
	}
	ents, err := fs.ReadDir(s.fsys, s.root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("starter packs: %w", err)
	}
	var packs []Pack
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := path.Join(s.root, e.Name())
		data, err := fs.ReadFile(s.fsys, path.Join(dir, models.ManifestFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("starter pack %s: %w", e.Name(), err))
			continue
		}
		m, err := models.ParseManifest(data, path.Join(dir, models.ManifestFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("starter pack %s: %w", e.Name(), err))
			continue
		}
		name := m.Name
		if name == "" {
			name = e.Name()
		}
		packs = append(packs, Pack{Dir: dir, Folder: e.Name(), Name: name, Manifest: m})
	}
	return packs, errors.Join(errs...)
}

// Status says what installing one starter pack did.
type Status string

// Statuses of Install.
const (
	Installed Status = "installed"         // it was not in the store
	Updated   Status = "updated"           // a pack of that folder name held other files; replaced
	Unchanged Status = "already installed" // the store holds the same files (same SHA-256); nothing copied
)

// Result is the outcome of installing one starter pack.
type Result struct {
	Pack   Pack
	Status Status
	Dir    string // the pack's folder in the store
}

// Install installs p into st unless st already holds the same files under
// p.Folder (then it reports Unchanged and copies nothing). A folder of that
// name with other files is replaced (Updated). Verification, the temporary
// folder and the rename are the installer's; on error or cancellation the
// store is left as it was.
func (s *Set) Install(ctx context.Context, st *models.Store, p Pack, progress func(models.Progress) error) (Result, error) {
	final := filepath.Join(st.Root, p.Folder)
	r := Result{Pack: p, Dir: final}
	if _, err := os.Lstat(final); err == nil {
		same, err := sameFiles(ctx, s.fsys, p.Dir, final)
		if err != nil {
			return r, fmt.Errorf("starter pack %s: compare with %s: %w", p.Name, final, err)
		}
		if same {
			r.Status = Unchanged
			return r, nil
		}
		r.Status = Updated
	} else {
		r.Status = Installed
	}
	_, err := st.InstallFS(ctx, s.fsys, p.Dir, "starter pack "+p.Name, models.InstallOptions{
		Name: p.Folder, Replace: r.Status == Updated, Progress: progress})
	if err != nil {
		return r, err
	}
	return r, nil
}

// InstallAll installs every pack of the set (see Install), stopping at the
// first error; the results of the packs done before it are returned.
func (s *Set) InstallAll(ctx context.Context, st *models.Store, progress func(models.Progress) error) ([]Result, error) {
	packs, err := s.Packs()
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, p := range packs {
		r, err := s.Install(ctx, st, p, progress)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// sameFiles reports whether folder dir of fsys and the folder installed on
// disk hold the same regular files with the same SHA-256.
func sameFiles(ctx context.Context, fsys fs.FS, dir, installed string) (bool, error) {
	want := map[string][32]byte{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := p[len(dir)+1:]
		if dir == "." {
			rel = p
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h, err := digest(f)
		want[rel] = h
		return err
	})
	if err != nil {
		return false, err
	}
	var got []string
	err = filepath.WalkDir(installed, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := filepath.Rel(installed, p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(r)
		got = append(got, rel)
		h, ok := want[rel]
		if !ok || !d.Type().IsRegular() {
			return errDiffers
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if g, err := digest(f); err != nil || g != h {
			if err != nil {
				return err
			}
			return errDiffers
		}
		return nil
	})
	if errors.Is(err, errDiffers) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(got) == len(want), nil // every file found is one of want
}

var errDiffers = errors.New("differs")

func digest(r io.Reader) ([32]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}
