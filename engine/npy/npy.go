// Package npy reads NumPy .npy arrays of float32: the format another
// implementation (a PyTorch reference sampler, say) writes with numpy.save,
// so that Likeness can be fed the same noise and compared step for step.
//
// The format (numpy.lib.format): the magic "\x93NUMPY", a major and minor
// version byte, the header length (2 bytes little endian for version 1, 4
// bytes for versions 2 and 3), then the header, a Python dict literal such as
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (11, 4, 64, 64), }
//
// padded with spaces and a newline, then the data. Only little-endian
// float32 ('<f4') in C order is read; anything else is refused with an error
// that says what was found.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// Limits that keep a damaged or hostile file from asking for gigabytes.
const (
	MaxHeaderBytes = 1 << 16
	MaxElements    = 1 << 28 // 1 GiB of float32
)

// ErrFormat is matched (errors.Is) by every error about a file's contents.
var ErrFormat = errors.New("not a float32 .npy array")

// Array is a float32 array in C (row-major) order.
type Array struct {
	Shape []int
	Data  []float32
}

// ReadFile reads a .npy file; errors name the file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

var magic = []byte("\x93NUMPY")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Read reads one .npy array of little-endian float32 in C order from r,
// which must hold exactly the data the header's shape needs.
func Read(r io.Reader) (*Array, error) {
	var pre [10]byte
	if n, err := io.ReadFull(r, pre[:8]); err != nil {
		if n == 0 {
			return nil, bad("the file is empty")
		}
		return nil, bad("the file ends inside the %d-byte preamble", len(magic)+2)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, bad("no .npy magic \\x93NUMPY at the start (write the file with numpy.save)")
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, bad("the file ends inside the header length")
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, bad("the file ends inside the header length")
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > MaxHeaderBytes {
			return nil, bad("header of %d bytes is longer than %d", n, MaxHeaderBytes)
		}
		hlen = int(n)
	default:
		return nil, bad("format version %d.%d is not supported (want 1.0, 2.0 or 3.0)", major, minor)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, bad("the file ends inside its %d-byte header", hlen)
	}
	h, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	if h.descr != "<f4" {
		return nil, bad("dtype %q: want '<f4' (float32, little endian); convert with a.astype('<f4')", h.descr)
	}
	if h.fortran {
		return nil, bad("fortran_order is True: want C order (save np.ascontiguousarray(a))")
	}
	n := 1
	for _, d := range h.shape {
		if d < 0 {
			return nil, bad("shape %v has a negative dimension", h.shape)
		}
		if d > 0 && n > MaxElements/d {
			return nil, bad("shape %v has more than %d elements", h.shape, MaxElements)
		}
		n *= d
	}
	want := int64(4 * n)
	// Read what is there (never more than the shape needs plus one byte),
	// so a header that lies about its shape allocates nothing it cannot fill.
	data, err := io.ReadAll(io.LimitReader(r, want+1))
	if err != nil {
		return nil, err
	}
	switch {
	case int64(len(data)) < want:
		return nil, bad("truncated: shape %v needs %d bytes of data, the file has %d", h.shape, want, len(data))
	case int64(len(data)) > want:
		return nil, bad("more data than shape %v needs (%d bytes): not one array", h.shape, want)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return &Array{Shape: h.shape, Data: out}, nil
}

type header struct {
	descr   string
	fortran bool
	shape   []int
}

// parseHeader reads the dict literal: the keys descr, fortran_order and
// shape, each exactly once, and nothing else.
func parseHeader(b []byte) (*header, error) {
	p := &parser{s: string(b)}
	h := &header{}
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return nil, bad("header %q is not a Python dict", abbrev(b))
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, bad("header repeats key %q", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return nil, bad("header: want ':' after %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if h.descr, err = p.str(); err != nil {
				return nil, err
			}
		case "fortran_order":
			if h.fortran, err = p.boolean(); err != nil {
				return nil, err
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return nil, err
			}
		default:
			return nil, bad("header has an unknown key %q (a structured dtype?)", key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat('}') {
			return nil, bad("header: want ',' or '}' after %q", key)
		}
		break
	}
	p.space()
	if p.i != len(p.s) {
		return nil, bad("header has text after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return nil, bad("header lacks %q", k)
		}
	}
	return h, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes (numpy writes none).
func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", bad("header: want a quoted string at byte %d", p.i)
	}
	q := p.s[p.i]
	end := p.i + 1
	for end < len(p.s) && p.s[end] != q {
		if p.s[end] == '\\' {
			return "", bad("header: escapes in strings are not supported")
		}
		end++
	}
	if end >= len(p.s) {
		return "", bad("header: unterminated string")
	}
	v := p.s[p.i+1 : end]
	p.i = end + 1
	return v, nil
}

func (p *parser) boolean() (bool, error) {
	for _, w := range []struct {
		word string
		v    bool
	}{{"True", true}, {"False", false}} {
		if len(p.s)-p.i >= len(w.word) && p.s[p.i:p.i+len(w.word)] == w.word {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	return false, bad("header: fortran_order must be True or False")
}

// tuple reads (), (n,) or (a, b, ...) of non-negative integers.
func (p *parser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, bad("header: shape must be a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		digits := p.s[start:p.i]
		p.eat('L') // Python 2 wrote longs as 3L
		if digits == "" {
			return nil, bad("header: shape must hold non-negative whole numbers")
		}
		d, err := strconv.Atoi(digits)
		if err != nil || d > MaxElements {
			return nil, bad("header: shape dimension %s is too large", digits)
		}
		if len(shape) >= 32 {
			return nil, bad("header: shape has more than 32 dimensions")
		}
		shape = append(shape, d)
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if !p.eat(')') {
			return nil, bad("header: want ',' or ')' in the shape")
		}
		return shape, nil
	}
}

func abbrev(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// Write writes a float32 array as .npy version 1.0, the way numpy.save
// does (header padded with spaces to a multiple of 64 bytes, ending in a
// newline). Tests and tools use it to make inputs for Read.
func Write(w io.Writer, shape []int, data []float32) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	var dims bytes.Buffer
	dims.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			dims.WriteString(", ")
		}
		dims.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		dims.WriteByte(',')
	}
	dims.WriteByte(')')
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", dims.String())
	total := len(magic) + 4 + len(h) + 1
	pad := (64 - total%64) % 64
	h += string(bytes.Repeat([]byte{' '}, pad)) + "\n"
	if len(h) > math.MaxUint16 {
		return fmt.Errorf("npy: header of %d bytes is too long for version 1.0", len(h))
	}
	buf := make([]byte, 0, len(magic)+4+len(h)+4*len(data))
	buf = append(buf, magic...)
	buf = append(buf, 1, 0)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(h)))
	buf = append(buf, h...)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	_, err := w.Write(buf)
	return err
}
