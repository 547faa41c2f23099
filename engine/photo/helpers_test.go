package photo

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"likeness/internal/shared"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testImagesDir(t testing.TB) string { return shared.TestImages(t) }

type manifestRow struct {
	file, expected string
	path           string // file in its folder
	width, height  int
}

// readManifest returns the repository's test photo folder and the rows of
// its MANIFEST.tsv followed by those of $LIKENESS_TESTIMAGES. It fails the
// test (never skips) when a manifest is missing.
func readManifest(t testing.TB) (string, []manifestRow) {
	t.Helper()
	var rows []manifestRow
	for _, dir := range shared.TestImageDirs(t) {
		rows = append(rows, readManifestIn(t, dir)...)
	}
	return testImagesDir(t), rows
}

func readManifestIn(t testing.TB, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("test images manifest: %v", err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if line == 0 || len(cols) < 5 || cols[0] == "" {
			continue
		}
		r := manifestRow{file: cols[0], expected: cols[2], path: filepath.Join(dir, cols[0])}
		if r.expected == "ok" {
			if r.width, err = strconv.Atoi(cols[3]); err != nil {
				t.Fatalf("manifest line %d: width: %v", line+1, err)
			}
			if r.height, err = strconv.Atoi(cols[4]); err != nil {
				t.Fatalf("manifest line %d: height: %v", line+1, err)
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: manifest has no rows", dir)
	}
	return rows
}

// tiffOrder is binary.LittleEndian or binary.BigEndian.
type tiffOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tEntry is an IFD entry for buildTIFF; vals are encoded by typ (3 SHORT, 4 LONG).
type tEntry struct {
	tag, typ uint16
	vals     []uint32
}

const tagStripOffsets = 273

// buildTIFF lays out header, IFD0, out-of-line values, then tail. A
// StripOffsets entry is pointed at tail.
func buildTIFF(order tiffOrder, entries []tEntry, tail []byte) []byte {
	var out []byte
	if order == binary.LittleEndian {
		out = []byte("II*\x00")
	} else {
		out = []byte("MM\x00*")
	}
	out = order.AppendUint32(out, 8)
	ifdLen := 2 + 12*len(entries) + 4
	var extra []byte
	extraBase := 8 + ifdLen
	sizeOfExtra := 0
	for _, e := range entries {
		if n := len(e.vals) * int(typeSizes[e.typ]); n > 4 {
			sizeOfExtra += n
		}
	}
	tailOff := uint32(extraBase + sizeOfExtra)
	out = order.AppendUint16(out, uint16(len(entries)))
	for _, e := range entries {
		vals := e.vals
		if e.tag == tagStripOffsets {
			vals = []uint32{tailOff}
		}
		var v []byte
		for _, x := range vals {
			if e.typ == 3 {
				v = order.AppendUint16(v, uint16(x))
			} else {
				v = order.AppendUint32(v, x)
			}
		}
		out = order.AppendUint16(out, e.tag)
		out = order.AppendUint16(out, e.typ)
		out = order.AppendUint32(out, uint32(len(vals)))
		if len(v) <= 4 {
			out = append(out, append(v, make([]byte, 4-len(v))...)...)
		} else {
			out = order.AppendUint32(out, uint32(extraBase+len(extra)))
			extra = append(extra, v...)
		}
	}
	out = order.AppendUint32(out, 0)
	out = append(out, extra...)
	return append(out, tail...)
}

// exifTIFF is minimal EXIF data holding only an orientation.
func exifTIFF(order tiffOrder, o int) []byte {
	return buildTIFF(order, []tEntry{{tagOrientation, 3, []uint32{uint32(o)}}}, nil)
}

// pngChunk builds a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// insertAfterIHDR splices chunks into a PNG after its IHDR chunk.
func insertAfterIHDR(png []byte, chunks ...[]byte) []byte {
	const at = 8 + 8 + 13 + 4 // signature + IHDR
	out := append([]byte{}, png[:at]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, png[at:]...)
}

// riffChunk builds a RIFF chunk, padded to even length.
func riffChunk(fourcc string, data []byte) []byte {
	out := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}
