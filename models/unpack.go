package models

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"likeness/internal/bytesize"
)

// chunkSize is the piece copyChunks copies between checks of the context.
const chunkSize = 1 << 20

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
