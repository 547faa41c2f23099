package models

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"likeness/internal/bytesize"
)

// DefaultMaxBytes caps the unpacked size of one install.
const DefaultMaxBytes int64 = 16 << 30

const (
	maxEntries     = 100_000
	chunkSize      = 1 << 20
	reportInterval = 50 * time.Millisecond
)

// More sentinel errors of Install, Find and Remove.
var (
	ErrExists     = errors.New("pack already installed")
	ErrUnsafePath = errors.New("unsafe path in pack source")
	ErrTooLarge   = errors.New("pack source too large")
	ErrNotFound   = errors.New("pack not found")
)

// Progress reports the state of an install. Phase is "copy" (from a
// folder), "extract" (from a zip) or "verify" (hashing against
// likeness.json); Done and Total count bytes of the phase; File is the
// slash path, inside the pack, of the file at hand.
type Progress struct {
	Phase       string
	Done, Total int64
	File        string
}

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

// entry is one file or folder of an install source.
type entry struct {
	rel   string // slash path inside the pack
	dir   bool
	size  int64 // declared (zip) or Lstat (folder) size
	zf    *zip.File
	path  string // folder sources: the file on disk
	info  fs.FileInfo
	fsys  fs.FS // file system sources: the file is fsys's fpath
	fpath string
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

// junk reports files that archivers and file managers add to folders.
func junk(rel string) bool {
	base := path.Base(rel)
	return rel == "__MACOSX" || strings.HasPrefix(rel, "__MACOSX/") ||
		base == ".DS_Store" || base == "Thumbs.db" || base == "desktop.ini"
}

// cleanEntryName validates a zip entry name and returns it cleaned.
func cleanEntryName(name string) (string, error) {
	unsafe := func(why string) error {
		return newPackError(ErrUnsafePath, nil, "entry %q %s; refusing to install it", name, why)
	}
	switch {
	case strings.ContainsRune(name, '\\'):
		return "", unsafe("has a backslash")
	case strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':'):
		return "", unsafe("is an absolute path")
	case strings.ContainsRune(name, 0):
		return "", unsafe("has a NUL byte")
	}
	var parts []string
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "..":
			return "", unsafe("leaves the pack folder (..)")
		case "", ".":
			continue
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, "/"), nil
}

func special(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "is a symbolic link; packs must hold real files"
	case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return "is a device file"
	case mode&fs.ModeNamedPipe != 0:
		return "is a named pipe"
	case mode&fs.ModeSocket != 0:
		return "is a socket"
	case mode&fs.ModeIrregular != 0 || (!mode.IsDir() && !mode.IsRegular()):
		return "is not a regular file"
	}
	return ""
}

func scanZip(zr *zip.ReadCloser) ([]entry, error) {
	if len(zr.File) > maxEntries {
		return nil, newPackError(ErrTooLarge, nil, "the archive has %d entries, more than %d", len(zr.File), maxEntries)
	}
	entries := make([]entry, 0, len(zr.File))
	for _, f := range zr.File {
		rel, err := cleanEntryName(f.Name)
		if err != nil {
			return nil, err
		}
		if rel == "" || junk(rel) {
			continue
		}
		mode := f.Mode()
		isDir := mode.IsDir() || strings.HasSuffix(f.Name, "/")
		if !isDir {
			if why := special(mode); why != "" {
				return nil, newPackError(ErrUnsafePath, nil, "entry %q %s; refusing to install it", f.Name, why)
			}
		}
		size := int64(f.UncompressedSize64)
		if f.UncompressedSize64 > 1<<62 {
			return nil, newPackError(ErrTooLarge, nil, "entry %q declares %d bytes; the archive may be a zip bomb", f.Name, f.UncompressedSize64)
		}
		if isDir {
			size = 0
		}
		entries = append(entries, entry{rel: rel, dir: isDir, size: size, zf: f})
	}
	return entries, nil
}

func scanDir(root string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		r, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(r)
		if junk(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info() // Lstat: links are not followed
		if err != nil {
			return err
		}
		if why := special(info.Mode()); why != "" {
			return newPackError(ErrUnsafePath, nil, "%s %s; refusing to install it", p, why)
		}
		if len(entries) >= maxEntries {
			return newPackError(ErrTooLarge, nil, "the folder has more than %d files", maxEntries)
		}
		e := entry{rel: rel, dir: d.IsDir(), path: p, info: info}
		if !e.dir {
			e.size = info.Size()
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// scanFS lists the folder dir of fsys like scanDir lists a folder on disk.
func scanFS(fsys fs.FS, dir string) ([]entry, error) {
	var entries []entry
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			if !d.IsDir() {
				return fmt.Errorf("%s is not a folder", p)
			}
			return nil
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if dir == "." {
			rel = p
		}
		if junk(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if why := special(info.Mode()); why != "" {
			return newPackError(ErrUnsafePath, nil, "%s %s; refusing to install it", p, why)
		}
		if len(entries) >= maxEntries {
			return newPackError(ErrTooLarge, nil, "the folder has more than %d files", maxEntries)
		}
		e := entry{rel: rel, dir: d.IsDir(), fsys: fsys, fpath: p}
		if !e.dir {
			e.size = info.Size()
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// stripTopFolder unwraps a source whose only content is one folder (a zip
// of the pack's folder, or a folder holding the extracted pack folder).
func stripTopFolder(entries []entry) []entry {
	if len(entries) == 0 {
		return entries
	}
	top, _, _ := strings.Cut(entries[0].rel, "/")
	for _, e := range entries {
		first, _, nested := strings.Cut(e.rel, "/")
		if first != top || (!nested && !e.dir) {
			return entries
		}
	}
	out := entries[:0:0]
	for _, e := range entries {
		_, rest, nested := strings.Cut(e.rel, "/")
		if !nested {
			continue // the top folder itself
		}
		e.rel = rest
		out = append(out, e)
	}
	return out
}

func openEntry(e entry) (io.ReadCloser, error) {
	if e.zf != nil {
		return e.zf.Open()
	}
	if e.fsys != nil {
		return e.fsys.Open(e.fpath)
	}
	f, err := os.Open(e.path)
	if err != nil {
		return nil, err
	}
	// The file must still be the one scanned (not swapped for a link).
	st, err := f.Stat()
	if err != nil || !os.SameFile(st, e.info) {
		f.Close()
		return nil, newPackError(ErrUnsafePath, err, "%s changed while installing", e.path)
	}
	return f, nil
}

func readEntry(e entry) ([]byte, error) {
	rc, err := openEntry(e)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("more than %d bytes", maxManifestBytes)
	}
	return data, nil
}

// unpack writes entries into dst, checking ctx between files and chunks and
// refusing entries that hold more bytes than declared.
func unpack(ctx context.Context, dst string, entries []entry, maxBytes int64, rep *reporter) error {
	var written int64
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(e.rel))
		if e.dir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := rep.file(e.rel); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		n, err := unpackFile(ctx, target, e, rep)
		if err != nil {
			return err
		}
		written += n
		if written > maxBytes {
			return newPackError(ErrTooLarge, nil, "it unpacks to more than %s, the limit", bytesize.Format(maxBytes))
		}
	}
	return nil
}

func unpackFile(ctx context.Context, target string, e entry, rep *reporter) (n int64, err error) {
	rc, err := openEntry(e)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", e.rel, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, newPackError(ErrUnsafePath, nil, "%s appears twice in the source", e.rel)
		}
		return 0, err
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	// Nothing past the declared size is written: a zip bomb that lies
	// about its sizes stops at the first extra byte.
	n, err = copyChunks(ctx, out, &declaredReader{r: rc, left: e.size}, rep)
	if err != nil {
		if errors.Is(err, errOverDeclared) {
			if e.zf != nil {
				return n, newPackError(ErrTooLarge, nil,
					"%s holds more bytes than the archive declares (%d); the archive is damaged or a zip bomb", e.rel, e.size)
			}
			return n, fmt.Errorf("%s grew while installing", e.rel)
		}
		if errors.Is(err, zip.ErrFormat) && e.zf != nil {
			return n, newPackError(ErrTooLarge, err,
				"%s holds more or fewer bytes than the archive declares (%d); the archive is damaged or a zip bomb", e.rel, e.size)
		}
		return n, fmt.Errorf("%s: %w", e.rel, err)
	}
	if n < e.size {
		return n, fmt.Errorf("%s: %d bytes, %d expected: %w", e.rel, n, e.size, io.ErrUnexpectedEOF)
	}
	return n, nil
}

// copyChunks copies r to w in chunks, checking ctx and reporting progress
// between them.
func copyChunks(ctx context.Context, w io.Writer, r io.Reader, rep *reporter) (int64, error) {
	buf := make([]byte, chunkSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
			if err := rep.add(int64(k)); err != nil {
				return n, err
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// reporter throttles progress callbacks. A nil reporter, or one without a
// callback, does nothing.
type reporter struct {
	fn    func(Progress) error
	phase string
	n     int64
	total int64
	cur   string
	last  time.Time
}

func (r *reporter) start(phase string, total int64) {
	if r == nil {
		return
	}
	r.phase, r.total, r.n, r.cur = phase, total, 0, ""
}

// file reports the start of a file, always.
func (r *reporter) file(name string) error {
	if r == nil {
		return nil
	}
	r.cur = name
	return r.emit()
}

// add counts bytes and reports when the last report is old enough.
func (r *reporter) add(k int64) error {
	if r == nil {
		return nil
	}
	r.n += k
	if time.Since(r.last) < reportInterval {
		return nil
	}
	return r.emit()
}

// done reports the end of a phase.
func (r *reporter) done() error {
	if r == nil {
		return nil
	}
	return r.emit()
}

func (r *reporter) emit() error {
	if r.fn == nil {
		return nil
	}
	r.last = time.Now()
	if err := r.fn(Progress{Phase: r.phase, Done: r.n, Total: r.total, File: r.cur}); err != nil {
		return fmt.Errorf("stopped: %w", err)
	}
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
