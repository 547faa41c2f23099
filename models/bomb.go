package models

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"likeness/internal/bytesize"
)

// Limits that keep a hostile archive (a "zip bomb") from filling the disk.
// They are checked from the archive's directory before anything is written.
//
// The compression rule: an entry that declares more than ratioMinBytes and
// compresses more than maxRatio:1 is refused. ONNX weights compress by about
// 1.1:1 and tokenizer files by about 3:1, while zeros deflate by about
// 1000:1. Smaller entries are exempt: the analytic demo pack's 3 MiB text
// encoder (a mostly zero embedding table) deflates 955:1, and small entries
// cannot fill a disk: their sum is bounded by MaxBytes and the free space.
const (
	maxRatio      = 50
	ratioMinBytes = 16 << 20
	// freeReserve is left free on the store's disk after an install.
	freeReserve = 64 << 20
)

// diskFree returns the bytes available to this user on the disk holding
// dir; ok is false where the system cannot tell. A variable for tests.
var diskFree = freeBytes

// checkArchive refuses a zip whose entries declare a compression ratio no
// model file has, or whose entries claim more compressed bytes than the
// archive holds (entries sharing their data, another way to multiply it).
func checkArchive(entries []entry, archiveSize int64) error {
	var compressed int64
	for _, e := range entries {
		if e.zf == nil || e.dir {
			continue
		}
		c := min(e.zf.CompressedSize64, 1<<62) // a larger lie fails the sum below
		if e.size > ratioMinBytes && float64(e.size) > maxRatio*float64(c) {
			return newPackError(ErrTooLarge, nil,
				"entry %q declares %s from %s compressed, more than %d:1; no model file compresses like that, so the archive is refused as a zip bomb",
				e.zf.Name, bytesize.Format(e.size), bytesize.Format(int64(c)), maxRatio)
		}
		if compressed += int64(c); compressed > archiveSize {
			return newPackError(ErrTooLarge, nil,
				"its entries claim more compressed data than the archive's %s; entries that share data are refused as a zip bomb",
				bytesize.Format(archiveSize))
		}
	}
	return nil
}

// checkFreeSpace refuses an install whose files would not fit on the disk of
// the store (leaving freeReserve), before anything is written.
func checkFreeSpace(root string, total int64) error {
	dir := root
	for { // the store may not exist yet: ask about the nearest folder that does
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
	free, ok := diskFree(dir)
	if !ok {
		return nil
	}
	if total+freeReserve > free {
		return newPackError(ErrTooLarge, nil,
			"it unpacks to %s but only %s is free on the disk of %s; free some space or install elsewhere",
			bytesize.Format(total), bytesize.Format(free), root)
	}
	return nil
}

// errOverDeclared is what declaredReader returns for a byte past the size
// its entry declared.
var errOverDeclared = errors.New("more bytes than declared")

// declaredReader passes on at most the size an entry declared; one byte
// more is an error, so no byte past the declared size is ever written.
type declaredReader struct {
	r    io.Reader
	left int64
}

func (d *declaredReader) Read(p []byte) (int, error) {
	if d.left <= 0 {
		var one [1]byte
		for {
			n, err := d.r.Read(one[:])
			if n > 0 {
				return 0, errOverDeclared
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= int64(n)
	return n, err
}
