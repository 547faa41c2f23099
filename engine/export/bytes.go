package export

import "io"

// WriteBytes writes any file (reports, CSV) with the same guarantees as the
// image writers: atomic, never over a protected path, no silent overwrite.
func WriteBytes(path string, data []byte, opts WriteOptions) error {
	return writeAtomic(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
