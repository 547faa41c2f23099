package models

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxEntries caps the files and folders of one install source.
const maxEntries = 100_000

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
		info, err := admit(p, rel, d, len(entries)) // Lstat: links are not followed
		if info == nil {
			return err
		}
		entries = append(entries, entry{rel: rel, dir: d.IsDir(), path: p, info: info, size: fileSize(info)})
		return nil
	})
	return entries, err
}

// admit applies the rules scanDir and scanFS share to one walked entry:
// junk is skipped (nil info, with fs.SkipDir for a folder), special files
// and more than maxEntries entries are refused. n is the count so far.
func admit(p, rel string, d fs.DirEntry, n int) (fs.FileInfo, error) {
	if junk(rel) {
		if d.IsDir() {
			return nil, fs.SkipDir
		}
		return nil, nil
	}
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	if why := special(info.Mode()); why != "" {
		return nil, newPackError(ErrUnsafePath, nil, "%s %s; refusing to install it", p, why)
	}
	if n >= maxEntries {
		return nil, newPackError(ErrTooLarge, nil, "the folder has more than %d files", maxEntries)
	}
	return info, nil
}

// fileSize is a walked entry's size in bytes, 0 for a folder.
func fileSize(info fs.FileInfo) int64 {
	if info.IsDir() {
		return 0
	}
	return info.Size()
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
		info, err := admit(p, rel, d, len(entries))
		if info == nil {
			return err
		}
		entries = append(entries, entry{rel: rel, dir: d.IsDir(), fsys: fsys, fpath: p, size: fileSize(info)})
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
