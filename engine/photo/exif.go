package photo

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
)

const tagOrientation = 0x0112

var errNoOrientation = errors.New("no orientation tag")

// ifdEntry is one 12-byte IFD entry with its value bytes resolved.
type ifdEntry struct {
	Tag, Type uint16
	Count     uint32
	Value     []byte // bounds-checked slice of the TIFF data
}

// typeSizes gives the byte size of each TIFF field type (1..13).
var typeSizes = [...]uint32{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4}

// tiffHeader returns the byte order and the offset of IFD0.
func tiffHeader(b []byte) (binary.ByteOrder, uint32, error) {
	if len(b) < 8 {
		return nil, 0, errors.New("tiff header is truncated")
	}
	var order binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return nil, 0, errors.New("not a tiff header")
	}
	return order, order.Uint32(b[4:]), nil
}

// readIFD parses the IFD at off and returns its entries and the next IFD's
// offset. Every offset and length is checked against len(b); entries with
// unknown types or values out of range are skipped, not fatal.
func readIFD(b []byte, order binary.ByteOrder, off uint32) ([]ifdEntry, uint32, error) {
	if uint64(off)+2 > uint64(len(b)) {
		return nil, 0, fmt.Errorf("ifd offset %d is outside the %d-byte data", off, len(b))
	}
	n := uint64(order.Uint16(b[off:]))
	end := uint64(off) + 2 + n*12
	if end > uint64(len(b)) {
		return nil, 0, fmt.Errorf("ifd at %d declares %d entries, past the end of the data", off, n)
	}
	entries := make([]ifdEntry, 0, n)
	for i := uint64(0); i < n; i++ {
		e := b[uint64(off)+2+i*12:]
		en := ifdEntry{Tag: order.Uint16(e), Type: order.Uint16(e[2:]), Count: order.Uint32(e[4:])}
		if int(en.Type) >= len(typeSizes) || en.Type == 0 {
			continue
		}
		size := uint64(typeSizes[en.Type]) * uint64(en.Count)
		if size <= 4 {
			en.Value = e[8 : 8+size]
		} else {
			vo := uint64(order.Uint32(e[8:]))
			if vo+size > uint64(len(b)) {
				continue
			}
			en.Value = b[vo : vo+size]
		}
		entries = append(entries, en)
	}
	var next uint32
	if end+4 <= uint64(len(b)) {
		next = order.Uint32(b[end:])
	}
	return entries, next, nil
}

// tiffOrientation returns the Orientation tag of IFD0 of TIFF/EXIF data.
func tiffOrientation(b []byte) (int, error) {
	order, off, err := tiffHeader(b)
	if err != nil {
		return 0, err
	}
	entries, _, err := readIFD(b, order, off)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Tag != tagOrientation || e.Count < 1 {
			continue
		}
		var v uint32
		switch e.Type {
		case 3: // SHORT
			v = uint32(order.Uint16(e.Value))
		case 4: // LONG, seen from sloppy writers
			v = order.Uint32(e.Value)
		default:
			return 0, fmt.Errorf("orientation has field type %d", e.Type)
		}
		if v < 1 || v > 8 {
			return 0, fmt.Errorf("orientation %d is not in 1..8", v)
		}
		return int(v), nil
	}
	return 0, errNoOrientation
}

// exifOrientation parses an EXIF payload, with or without the "Exif\0\0"
// prefix that APP1 carries and some PNG/WebP writers copy.
func exifOrientation(b []byte) (int, error) {
	b = bytes.TrimPrefix(b, []byte("Exif\x00\x00"))
	return tiffOrientation(b)
}

// orientation finds the EXIF orientation of a file; 1 when absent or broken,
// since bad metadata should not stop a photo from opening.
func orientation(format string, b []byte) int {
	var exif []byte
	switch format {
	case "jpeg":
		exif = jpegExif(b)
	case "png":
		exif = pngExif(b)
	case "webp":
		exif = webpExif(b)
	case "tiff":
		exif = b
	}
	if exif == nil {
		return 1
	}
	o, err := exifOrientation(exif)
	if err != nil {
		return 1
	}
	return o
}

// jpegExif returns the payload of the first APP1 Exif segment before SOS.
func jpegExif(b []byte) []byte {
	p := 2
	for p+4 <= len(b) {
		if b[p] != 0xFF {
			return nil
		}
		m := b[p+1]
		switch {
		case m == 0xFF: // fill byte
			p++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			p += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		if n < 2 || p+2+n > len(b) {
			return nil
		}
		seg := b[p+4 : p+2+n]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg
		}
		p += 2 + n
	}
	return nil
}

// maxRawProfile bounds the inflated size of a text-chunk EXIF profile.
const maxRawProfile = 1 << 20

// pngExif returns the eXIf chunk, or else an EXIF profile that ImageMagick
// and exiftool store hex-encoded in a "Raw profile type exif"/"APP1" text chunk.
func pngExif(b []byte) []byte {
	var raw []byte
	for p := 8; p+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		if n < 0 || n > len(b)-p-12 {
			return raw
		}
		typ, data := string(b[p+4:p+8]), b[p+8:p+8+n]
		switch typ {
		case "eXIf":
			return data
		case "tEXt", "zTXt":
			if raw == nil {
				raw = pngRawProfile(typ, data)
			}
		case "IEND":
			return raw
		}
		p += 12 + n
	}
	return raw
}

func pngRawProfile(typ string, data []byte) []byte {
	key, text, ok := bytes.Cut(data, []byte{0})
	if !ok || (string(key) != "Raw profile type exif" && string(key) != "Raw profile type APP1") {
		return nil
	}
	if typ == "zTXt" {
		if len(text) < 1 || text[0] != 0 { // compression method 0 = zlib
			return nil
		}
		zr, err := zlib.NewReader(bytes.NewReader(text[1:]))
		if err != nil {
			return nil
		}
		text, err = io.ReadAll(io.LimitReader(zr, maxRawProfile))
		if err != nil {
			return nil
		}
	}
	return decodeRawProfile(text)
}

// decodeRawProfile decodes "\nexif\n   <length>\n<hex digits, wrapped>".
func decodeRawProfile(text []byte) []byte {
	f := bytes.Fields(text)
	if len(f) < 3 {
		return nil
	}
	n, err := strconv.Atoi(string(f[1]))
	if err != nil || n <= 0 || n > maxRawProfile {
		return nil
	}
	hexDigits := bytes.Join(f[2:], nil)
	if len(hexDigits) < 2*n {
		return nil
	}
	out := make([]byte, n)
	if _, err := hex.Decode(out, hexDigits[:2*n]); err != nil {
		return nil
	}
	return out
}

// webpExif returns the payload of the RIFF "EXIF" chunk.
func webpExif(b []byte) []byte {
	for p := 12; p+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[p+4:]))
		if n < 0 || n > len(b)-p-8 {
			return nil
		}
		if string(b[p:p+4]) == "EXIF" {
			return b[p+8 : p+8+n]
		}
		p += 8 + n + n&1 // chunks are padded to even length
	}
	return nil
}
