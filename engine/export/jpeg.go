package export

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
)

// DefaultJPEGQuality is used by Write when WriteOptions.Quality is 0.
const DefaultJPEGQuality = 92

// maxCOM is the largest COM payload: the segment length field is 16 bits
// and counts itself.
const maxCOM = 65535 - 2

// WriteJPEG encodes img as baseline JPEG. Metadata goes into COM segments
// right after SOI: first md.Parameters (Pillow exposes it as
// info["comment"], which A1111 reads), then md.JSON. Each must fit one
// segment (65533 bytes), else ErrInvalidMetadata. Quality 0 means 92;
// others are clamped to 1..100. JPEG has no alpha: the
// colour channels are written as they are, without compositing.
func WriteJPEG(path string, img image.Image, quality int, md *Metadata, opts WriteOptions) error {
	data, err := encodeJPEG(img, quality, md)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func encodeJPEG(img image.Image, quality int, md *Metadata) ([]byte, error) {
	if img == nil {
		return nil, fmt.Errorf("encode jpeg: nil image")
	}
	if quality == 0 {
		quality = DefaultJPEGQuality
	}
	quality = max(1, min(100, quality))
	var segs [][]byte
	extra := 0
	if md != nil {
		for _, s := range [][]byte{[]byte(md.Parameters), md.JSON} {
			if len(s) == 0 {
				continue
			}
			if len(s) > maxCOM {
				return nil, fmt.Errorf("jpeg comment of %d bytes exceeds %d: %w", len(s), maxCOM, ErrInvalidMetadata)
			}
			segs = append(segs, s)
			extra += 4 + len(s)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	enc := buf.Bytes()
	if len(enc) < 2 || enc[0] != 0xff || enc[1] != 0xd8 {
		return nil, fmt.Errorf("encode jpeg: unexpected encoder output")
	}
	out := make([]byte, 0, len(enc)+extra)
	out = append(out, enc[:2]...)
	for _, s := range segs {
		out = append(out, 0xff, 0xfe)
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)+2))
		out = append(out, s...)
	}
	return append(out, enc[2:]...), nil
}

// ReadJPEGComments returns the payloads of the COM segments before the
// image data, in file order.
func ReadJPEGComments(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read jpeg comments: %w", err)
	}
	defer f.Close()
	c, err := readJPEGComments(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read jpeg comments %s: %w", path, err)
	}
	return c, nil
}

func readJPEGComments(r io.Reader) ([]string, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil || b[0] != 0xff || b[1] != 0xd8 {
		return nil, fmt.Errorf("not a jpeg file")
	}
	var out []string
	for {
		if _, err := io.ReadFull(r, b[:4]); err != nil {
			return nil, fmt.Errorf("truncated jpeg header: %w", err)
		}
		if b[0] != 0xff {
			return nil, fmt.Errorf("bad jpeg marker %#x", b[0])
		}
		marker := b[1]
		n := int(binary.BigEndian.Uint16(b[2:])) - 2
		if n < 0 {
			return nil, fmt.Errorf("bad jpeg segment length")
		}
		if marker == 0xda { // start of scan: no more header segments
			return out, nil
		}
		if marker != 0xfe {
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return nil, fmt.Errorf("truncated jpeg segment: %w", err)
			}
			continue
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, fmt.Errorf("truncated jpeg comment: %w", err)
		}
		out = append(out, string(p))
	}
}
