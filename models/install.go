package models

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"likeness/internal/bytesize"
)

// DefaultMaxBytes caps the unpacked size of one install.
const DefaultMaxBytes int64 = 16 << 30

// More sentinel errors of Install, Find and Remove.
var (
	ErrExists     = errors.New("pack already installed")
	ErrUnsafePath = errors.New("unsafe path in pack source")
	ErrTooLarge   = errors.New("pack source too large")
	ErrNotFound   = errors.New("pack not found")
)

// InstallOptions tune Store.Install.
type InstallOptions struct {
	// Name is the pack's folder name in the store. Default: a slug of the
	// manifest's name, else of the source's base name.
	Name string
	// Replace allows replacing an installed pack of the same name.
	Replace bool
	// Progress, when set, is called on the installing goroutine per file
	// and at most about every 50 ms in between; an error it returns stops
	// the install and nothing is installed.
	Progress func(Progress) error
	// MaxBytes caps the total unpacked size (default DefaultMaxBytes).
	MaxBytes int64
	// Probe infers the kind of a pack without likeness.json (default: the
	// store's Probe).
	Probe ChannelProbe
}

// Install copies the pack in src (a folder or a .zip holding the pack at its
// root or inside one top folder) into the store and returns it. It works in
// a temporary folder inside Root, verifies the pack (required files, and
// sizes and SHA-256 when likeness.json lists files) and only then renames
// it into place: on any error or cancellation nothing is installed.
func (s *Store) Install(ctx context.Context, src string, opts InstallOptions) (_ *Pack, err error) {
	if err := ctx.Err(); err != nil {
		return nil, installFailed(src, err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, installFailed(src, err)
	}
	var (
		entries []entry
		phase   string
		zr      *zip.ReadCloser
	)
	if st.IsDir() {
		phase = "copy"
		entries, err = scanDir(src)
	} else {
		phase = "extract"
		zr, err = zip.OpenReader(src)
		if err != nil {
			return nil, installFailed(src, fmt.Errorf("not a folder or a readable .zip file: %w", err))
		}
		defer zr.Close()
		if entries, err = scanZip(zr); err == nil {
			err = checkArchive(entries, st.Size())
		}
	}
	if err != nil {
		return nil, installFailed(src, err)
	}
	return s.install(ctx, src, entries, phase, opts)
}

// InstallFS is Install from the folder dir ("." for the root) of a file
// system, such as the packs embedded in the binary, with the same checks,
// temporary folder and rename. label names the source in messages and,
// when the manifest has no name, gives the pack's folder name.
func (s *Store) InstallFS(ctx context.Context, fsys fs.FS, dir, label string, opts InstallOptions) (*Pack, error) {
	if err := ctx.Err(); err != nil {
		return nil, installFailed(label, err)
	}
	entries, err := scanFS(fsys, dir)
	if err != nil {
		return nil, installFailed(label, err)
	}
	return s.install(ctx, label, entries, "copy", opts)
}

func installFailed(src string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("install %s: cancelled, nothing was installed: %w", src, err)
	}
	return fmt.Errorf("install %s: %w", src, err)
}

// install is the common part of Install and InstallFS: src names the source.
func (s *Store) install(ctx context.Context, src string, entries []entry, phase string, opts InstallOptions) (_ *Pack, err error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Probe == nil {
		opts.Probe = s.Probe
	}
	fail := func(err error) error { return installFailed(src, err) }
	entries = stripTopFolder(entries)
	var total int64
	for _, e := range entries {
		total += e.size
		if total > opts.MaxBytes || total < 0 {
			return nil, fail(newPackError(ErrTooLarge, nil,
				"it unpacks to more than %s, the limit; the archive may be damaged or a zip bomb", bytesize.Format(opts.MaxBytes)))
		}
	}

	if err := checkFreeSpace(s.Root, total); err != nil {
		return nil, fail(err)
	}

	// Read the manifest from the source first: a bad one fails before
	// gigabytes are copied, and it names the pack.
	var m *Manifest
	for _, e := range entries {
		if e.rel == ManifestFile && !e.dir {
			data, err := readEntry(e)
			if err != nil {
				return nil, fail(fmt.Errorf("read %s: %w", ManifestFile, err))
			}
			if m, err = ParseManifest(data, ManifestFile); err != nil {
				return nil, fail(err)
			}
		}
	}
	name := opts.Name
	if name == "" && m != nil {
		name = slug(m.Name)
	}
	if name == "" {
		name = slug(strings.TrimSuffix(filepath.Base(filepath.Clean(src)), filepath.Ext(src)))
	}
	if name == "" {
		name = "pack"
	}
	if err := checkPackName(name); err != nil {
		return nil, fail(err)
	}
	final := filepath.Join(s.Root, name)
	if _, err := os.Lstat(final); err == nil && !opts.Replace {
		return nil, fail(newPackError(ErrExists, nil,
			"a pack named %q is already installed in %s; remove it or install with replace", name, s.Root))
	}

	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		return nil, fail(err)
	}
	tmp, err := os.MkdirTemp(s.Root, ".install-*")
	if err != nil {
		return nil, fail(err)
	}
	defer func() {
		if err != nil {
			if rerr := os.RemoveAll(tmp); rerr != nil {
				err = errors.Join(err, fmt.Errorf("clean up %s: %w", tmp, rerr))
			}
		}
	}()

	rep := &reporter{fn: opts.Progress}
	rep.start(phase, total)
	if err := unpack(ctx, tmp, entries, opts.MaxBytes, rep); err != nil {
		return nil, fail(err)
	}
	if err := rep.done(); err != nil {
		return nil, fail(err)
	}

	p, err := OpenWith(tmp, OpenOptions{Probe: opts.Probe})
	if err != nil {
		return nil, fail(renameInError(err, filepath.Base(tmp), name))
	}
	if !p.HasManifest || p.Manifest.Name == "" {
		p.Name = name
	}
	if err := p.checkFiles(ctx, rep, true); err != nil {
		return nil, fail(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	if err := commit(tmp, final, name, s.Root, opts.Replace); err != nil {
		return nil, fail(err)
	}
	p.Dir = final
	return p, nil
}

// renameInError replaces the temporary folder's name in an Open error with
// the pack's name, keeping the error chain.
func renameInError(err error, tmpName, name string) error {
	msg := strings.ReplaceAll(err.Error(), tmpName, name)
	return &packError{msg: msg, errs: []error{err}}
}

// commit moves tmp to final; with replace, an existing pack is renamed aside
// first and removed once the new one is in place.
func commit(tmp, final, name, root string, replace bool) error {
	if _, err := os.Lstat(final); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("move the pack into place: %w", err)
		}
		return nil
	}
	if !replace {
		return newPackError(ErrExists, nil, "a pack named %q is already installed in %s", name, root)
	}
	old := filepath.Join(root, ".old-"+rand.Text())
	if err := os.Rename(final, old); err != nil {
		return fmt.Errorf("move the old pack %q aside: %w", name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if rerr := os.Rename(old, final); rerr != nil {
			return errors.Join(fmt.Errorf("move the pack into place: %w", err),
				fmt.Errorf("restore the old pack from %s: %w", old, rerr))
		}
		return fmt.Errorf("move the pack into place: %w", err)
	}
	// The new pack is installed; a leftover hidden .old-* folder is ignored by List.
	_ = os.RemoveAll(old)
	return nil
}

// slug turns a pack name into a folder name: lower-case letters and digits
// joined by dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 64 {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}

// checkPackName accepts a plain folder name the store can hold.
func checkPackName(name string) error {
	bad := func(why string) error {
		return newPackError(ErrUnsafePath, nil, "pack name %q %s", name, why)
	}
	switch {
	case name == "" || strings.TrimSpace(name) != name:
		return bad("is empty or starts or ends with a space")
	case strings.HasPrefix(name, "."):
		return bad("starts with a dot")
	case strings.ContainsAny(name, `/\:`):
		return bad("has a slash, backslash or colon")
	case len(name) > 200:
		return bad("is too long")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return bad("has a control character")
		}
	}
	return nil
}
