// Package export writes finished images to disk: PNG with text metadata that
// other Stable Diffusion tools read, JPEG, and size-capped WebP for stickers.
// Every write is atomic and refuses to touch the user's input photo.
package export

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

var (
	// ErrWouldOverwriteInput: the target is one of WriteOptions.Protect.
	ErrWouldOverwriteInput = errors.New("would overwrite the input photo")
	// ErrExists: the target exists and WriteOptions.Overwrite is false.
	ErrExists = errors.New("file already exists")
	// ErrUnsupportedFormat: the extension is not png, jpg, jpeg or webp.
	ErrUnsupportedFormat = errors.New("unsupported output format")
	// ErrTooLarge: WebP could not be brought under the byte limit.
	ErrTooLarge = errors.New("image does not fit the size limit")
	// ErrInvalidMetadata: metadata that the container cannot carry.
	ErrInvalidMetadata = errors.New("invalid metadata")
	// ErrCorrupt: a PNG whose chunk structure is broken.
	ErrCorrupt = errors.New("corrupt png")
)

// WriteOptions controls every write.
type WriteOptions struct {
	Overwrite bool
	// Protect lists paths that must never be written, e.g. the input photo.
	Protect []string
	// Quality is the JPEG quality for Write (1..100); 0 means 92.
	Quality int
	// WebPMaxBytes is the size cap Write passes to WriteWebP; 0 means none.
	WebPMaxBytes int
}

const tempPattern = ".likeness-*"

// writeAtomic checks the target against opts, lets write fill a temp file in
// the target folder, syncs it and renames it into place, so a crash or
// error never leaves a half-written export or clobbers anything.
func writeAtomic(path string, opts WriteOptions, write func(io.Writer) error) (err error) {
	if path == "" {
		return fmt.Errorf("write: empty path: %w", fs.ErrInvalid)
	}
	if err := checkProtected(path, opts.Protect); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("write %s: is a folder: %w", path, fs.ErrInvalid)
		}
		if !opts.Overwrite {
			return fmt.Errorf("write %s: %w (choose another name or allow overwriting)", path, ErrExists)
		}
		perm = fi.Mode().Perm()
	} else if _, lerr := os.Lstat(path); lerr == nil && !opts.Overwrite {
		// A dangling symlink is still a name we were asked not to replace.
		return fmt.Errorf("write %s: %w (choose another name or allow overwriting)", path, ErrExists)
	}

	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if opts.Overwrite {
		err = os.Rename(tmp, path)
	} else {
		err = linkNoClobber(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// linkNoClobber moves tmp to path only if path does not exist; a hard link
// fails atomically when the name is taken, closing the gap between our
// existence check and the rename. Filesystems without hard links fall back
// to a plain rename.
func linkNoClobber(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		os.Remove(tmp)
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w (choose another name or allow overwriting)", ErrExists)
	}
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("%w (choose another name or allow overwriting)", ErrExists)
	}
	return os.Rename(tmp, path)
}

// syncDir makes the rename durable where the OS supports syncing folders;
// failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// checkProtected refuses path when it names the same file as any protected
// path: equal after Abs, equal after resolving symlinks, or os.SameFile.
func checkProtected(path string, protect []string) error {
	if len(protect) == 0 {
		return nil
	}
	target := canonical(path)
	tfi, terr := os.Stat(path)
	for _, p := range protect {
		if p == "" {
			continue
		}
		same := canonical(p) == target
		if !same && terr == nil {
			if pfi, err := os.Stat(p); err == nil {
				same = os.SameFile(tfi, pfi)
			}
		}
		if same {
			return fmt.Errorf("write %s: %w %s; choose another output name", path, ErrWouldOverwriteInput, p)
		}
	}
	return nil
}

// canonical resolves as much of path as exists: the whole path when it
// exists, else its folder plus the base name (a new file in a symlinked
// folder still compares equal).
func canonical(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return normCase(r)
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return normCase(filepath.Join(r, filepath.Base(abs)))
	}
	return normCase(abs)
}

// normCase folds case on systems whose default filesystems ignore it.
func normCase(p string) string {
	if caseInsensitiveFS {
		return strings.ToLower(p)
	}
	return p
}

// FormatFromPath returns "png", "jpeg" or "webp" from the file extension.
func FormatFromPath(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png", nil
	case ".jpg", ".jpeg":
		return "jpeg", nil
	case ".webp":
		return "webp", nil
	}
	return "", fmt.Errorf("%s: %w (use .png, .jpg or .webp)", path, ErrUnsupportedFormat)
}
