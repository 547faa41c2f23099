package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// file builds a .npy file by hand: version major, the header text (padded
// as numpy pads it) and raw data bytes.
func file(major byte, header string, data []byte) []byte {
	lenBytes := 2
	if major >= 2 {
		lenBytes = 4
	}
	total := 6 + 2 + lenBytes + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	b := append([]byte("\x93NUMPY"), major, 0)
	if lenBytes == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	return append(b, data...)
}

func f32le(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestRead(t *testing.T) {
	six := f32le(1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30)
	cases := []struct {
		name  string
		data  []byte
		shape []int
		want  []float32
		err   string // substring of the error; "" = success
	}{
		{"v1 2x3", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six), []int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}, ""},
		{"v2 6", file(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six), []int{6}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}, ""},
		{"v3 keys reordered, double quotes", file(3, `{"shape": (1, 2, 3), "fortran_order": False, "descr": "<f4"}`, six), []int{1, 2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}, ""},
		{"scalar", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32le(7)), []int{}, []float32{7}, ""},
		{"empty array", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", nil), []int{0, 4}, []float32{}, ""},
		{"python 2 longs", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", six), []int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}, ""},

		{"empty file", nil, nil, nil, "empty"},
		{"not npy", []byte("PK\x03\x04 a zip file, not an array"), nil, nil, "magic"},
		{"short preamble", []byte("\x93NUM"), nil, nil, "preamble"},
		{"version 4", append([]byte("\x93NUMPY\x04\x00"), file(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six)[8:]...), nil, nil, "version 4.0 is not supported"},
		{"float64", file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", six), nil, nil, `dtype "<f8"`},
		{"big endian", file(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", six), nil, nil, `dtype ">f4"`},
		{"float16", file(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (12,), }", six), nil, nil, "want '<f4'"},
		{"fortran order", file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six), nil, nil, "fortran_order is True"},
		{"truncated", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", six), nil, nil, "truncated: shape [2 4] needs 32 bytes of data, the file has 24"},
		{"extra data", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", six), nil, nil, "more data than shape [5]"},
		{"huge shape", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }", six), nil, nil, "elements"},
		{"missing shape", file(1, "{'descr': '<f4', 'fortran_order': False, }", six), nil, nil, `lacks "shape"`},
		{"repeated key", file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six), nil, nil, "repeats"},
		{"structured dtype", file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", six), nil, nil, "quoted string"},
		{"negative dim", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", six), nil, nil, "non-negative"},
		{"header cut short", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", nil)[:30], nil, nil, "ends inside its"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Read(bytes.NewReader(c.data))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrFormat) {
					t.Fatalf("err = %v, want ErrFormat with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Shape, c.shape) || !slices.Equal(a.Data, c.want) {
				t.Fatalf("got shape %v data %v, want %v %v", a.Shape, a.Data, c.shape, c.want)
			}
		})
	}
}

// TestWriteRoundTrip: Write makes what numpy.save makes (a header padded to
// 64 bytes, ending in a newline), and Read reads it back.
func TestWriteRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 4, 3, 3}, {1, 1}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*0.25 - 1
		}
		var buf bytes.Buffer
		if err := Write(&buf, shape, data); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		hlen := int(binary.LittleEndian.Uint16(b[8:10]))
		if (10+hlen)%64 != 0 || b[10+hlen-1] != '\n' {
			t.Errorf("shape %v: header of %d bytes is not padded like numpy's", shape, hlen)
		}
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Shape, shape) || !slices.Equal(a.Data, data) {
			t.Fatalf("round trip: %v %v", a.Shape, a.Data)
		}
	}
	if err := Write(&bytes.Buffer{}, []int{2, 2}, make([]float32, 3)); err == nil {
		t.Error("Write accepted 3 values for shape [2 2]")
	}
}

func TestReadFileNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "noise.npy")
	if err := os.WriteFile(path, file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want one that starts with the path", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "absent.npy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
}

// FuzzRead: no input panics or allocates beyond what it holds, and every
// array read has as many values as its shape says.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	f.Add(buf.Bytes())
	f.Add(file(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32le(1)))
	f.Add(file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (), }", f32le(1)))
	f.Add(file(1, "{'shape': (3L,), 'descr': \"<f4\", 'fortran_order': False}", f32le(1, 2, 3)))
	f.Add([]byte("\x93NUMPY\x01\x00\xff\xff{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) || 4*n > len(data) {
			t.Fatalf("shape %v with %d values from %d bytes", a.Shape, len(a.Data), len(data))
		}
	})
}
