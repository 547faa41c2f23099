package export

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Metadata embedded in exports.
type Metadata struct {
	// Parameters is the A1111-style "parameters" text other SD tools read.
	Parameters string
	// JSON is the full settings, stored under the keyword "likeness".
	JSON []byte
}

// PNG text keywords.
const (
	KeyParameters = "parameters"
	KeyLikeness   = "likeness"
)

// FormatParameters builds the A1111 "parameters" text: the prompt, a
// "Negative prompt:" line, then "Key: value" pairs joined by ", " in the
// given order. Values containing commas or colons are quoted as A1111 does.
func FormatParameters(prompt, negative string, fields [][2]string) string {
	var b strings.Builder
	b.WriteString(prompt)
	b.WriteString("\nNegative prompt: ")
	b.WriteString(negative)
	b.WriteString("\n")
	for i, kv := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kv[0])
		b.WriteString(": ")
		b.WriteString(quoteParam(kv[1]))
	}
	return b.String()
}

// quoteParam mirrors A1111's quote(): values that would break the
// comma-separated list are JSON-quoted.
func quoteParam(v string) string {
	if !strings.ContainsAny(v, ",:\n\"") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// WritePNG encodes img as PNG and stores md as text chunks right after IHDR:
// tEXt when the text is Latin-1, iTXt (UTF-8) otherwise.
func WritePNG(path string, img image.Image, md *Metadata, opts WriteOptions) error {
	data, err := encodePNG(img, md)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

var pngSig = []byte("\x89PNG\r\n\x1a\n")

func encodePNG(img image.Image, md *Metadata) ([]byte, error) {
	if img == nil {
		return nil, fmt.Errorf("encode png: nil image")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	if md == nil || (md.Parameters == "" && len(md.JSON) == 0) {
		return buf.Bytes(), nil
	}
	var chunks bytes.Buffer
	if md.Parameters != "" {
		if err := appendTextChunk(&chunks, KeyParameters, md.Parameters); err != nil {
			return nil, err
		}
	}
	if len(md.JSON) > 0 {
		if err := appendTextChunk(&chunks, KeyLikeness, string(md.JSON)); err != nil {
			return nil, err
		}
	}
	enc := buf.Bytes()
	// Signature (8) + IHDR: length (4) + type (4) + data (13) + CRC (4).
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(enc) < ihdrEnd || string(enc[12:16]) != "IHDR" {
		return nil, fmt.Errorf("encode png: unexpected encoder output")
	}
	out := make([]byte, 0, len(enc)+chunks.Len())
	out = append(out, enc[:ihdrEnd]...)
	out = append(out, chunks.Bytes()...)
	out = append(out, enc[ihdrEnd:]...)
	return out, nil
}

func appendTextChunk(w *bytes.Buffer, key, text string) error {
	if !utf8.ValidString(text) {
		return fmt.Errorf("%q text is not UTF-8: %w", key, ErrInvalidMetadata)
	}
	if strings.IndexByte(text, 0) >= 0 {
		return fmt.Errorf("%q text contains a NUL byte: %w", key, ErrInvalidMetadata)
	}
	if latin, ok := toLatin1(text); ok {
		data := make([]byte, 0, len(key)+1+len(latin))
		data = append(data, key...)
		data = append(data, 0)
		data = append(data, latin...)
		return appendChunk(w, "tEXt", data)
	}
	// iTXt: keyword, NUL, compression flag 0, method 0, empty language tag
	// and translated keyword (each NUL-terminated), UTF-8 text.
	data := make([]byte, 0, len(key)+5+len(text))
	data = append(data, key...)
	data = append(data, 0, 0, 0, 0, 0)
	data = append(data, text...)
	return appendChunk(w, "iTXt", data)
}

func appendChunk(w *bytes.Buffer, typ string, data []byte) error {
	if len(data) > 1<<31-1 {
		return fmt.Errorf("%s chunk too large: %w", typ, ErrInvalidMetadata)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	w.Write(hdr[:])
	w.Write(data)
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc.Sum32())
	w.Write(c[:])
	return nil
}

func toLatin1(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

func fromLatin1(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return s.String()
}

// ReadPNGText returns the tEXt, iTXt and zTXt entries of a PNG file by
// keyword, as UTF-8. When a keyword repeats, the first entry wins.
func ReadPNGText(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read png text: %w", err)
	}
	defer f.Close()
	m, err := readPNGText(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read png text %s: %w", path, err)
	}
	return m, nil
}

// Text chunks beyond this are refused rather than read into memory, and
// compressed text may not inflate beyond it (zip bombs).
const maxTextBytes = 16 << 20

func readPNGText(r io.Reader) (map[string]string, error) {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil || !bytes.Equal(sig[:], pngSig) {
		return nil, fmt.Errorf("%w: not a png file", ErrCorrupt)
	}
	m := map[string]string{}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("%w: truncated before IEND", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		typ := string(hdr[4:])
		if n > 1<<31-1 {
			return nil, fmt.Errorf("%w: chunk length %d", ErrCorrupt, n)
		}
		if typ != "tEXt" && typ != "iTXt" && typ != "zTXt" {
			if _, err := io.CopyN(io.Discard, r, int64(n)+4); err != nil {
				return nil, fmt.Errorf("%w: truncated %s chunk", ErrCorrupt, typ)
			}
			if typ == "IEND" {
				return m, nil
			}
			continue
		}
		if n > maxTextBytes {
			return nil, fmt.Errorf("%w: %s chunk of %d bytes", ErrCorrupt, typ, n)
		}
		data := make([]byte, n+4)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("%w: truncated %s chunk", ErrCorrupt, typ)
		}
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:])
		crc.Write(data[:n])
		if crc.Sum32() != binary.BigEndian.Uint32(data[n:]) {
			return nil, fmt.Errorf("%w: bad CRC in %s chunk", ErrCorrupt, typ)
		}
		key, text, err := parseText(typ, data[:n])
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; !dup {
			m[key] = text
		}
	}
}

func parseText(typ string, d []byte) (key, text string, err error) {
	i := bytes.IndexByte(d, 0)
	if i < 1 || i > 79 {
		return "", "", fmt.Errorf("%w: bad %s keyword", ErrCorrupt, typ)
	}
	key, rest := fromLatin1(d[:i]), d[i+1:]
	switch typ {
	case "tEXt":
		return key, fromLatin1(rest), nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", fmt.Errorf("%w: bad zTXt compression", ErrCorrupt)
		}
		b, err := inflate(rest[1:])
		if err != nil {
			return "", "", err
		}
		return key, fromLatin1(b), nil
	}
	// iTXt
	if len(rest) < 2 {
		return "", "", fmt.Errorf("%w: short iTXt", ErrCorrupt)
	}
	compressed, method := rest[0], rest[1]
	rest = rest[2:]
	for range 2 { // language tag, translated keyword
		j := bytes.IndexByte(rest, 0)
		if j < 0 {
			return "", "", fmt.Errorf("%w: short iTXt", ErrCorrupt)
		}
		rest = rest[j+1:]
	}
	if compressed != 0 {
		if method != 0 {
			return "", "", fmt.Errorf("%w: bad iTXt compression", ErrCorrupt)
		}
		b, err := inflate(rest)
		if err != nil {
			return "", "", err
		}
		rest = b
	}
	if !utf8.Valid(rest) {
		return "", "", fmt.Errorf("%w: iTXt %q is not UTF-8", ErrCorrupt, key)
	}
	return key, string(rest), nil
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed text: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxTextBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed text: %v", ErrCorrupt, err)
	}
	if len(out) > maxTextBytes {
		return nil, fmt.Errorf("%w: compressed text inflates beyond %d bytes", ErrCorrupt, maxTextBytes)
	}
	return out, nil
}

// EncodePNG is WritePNG's encoding without the file.
func EncodePNG(img image.Image, md *Metadata) ([]byte, error) { return encodePNG(img, md) }
