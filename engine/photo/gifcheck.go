package photo

import (
	"encoding/binary"
	"fmt"
)

// checkGIF walks the GIF block structure without decompressing anything and
// refuses a zero-sized screen or any frame that is empty, over MaxPixels or
// outside the logical screen. gif.DecodeConfig reports only the screen, yet
// the decoder allocates what a frame descriptor declares.
func checkGIF(b []byte) error {
	if len(b) < 13 {
		return fmt.Errorf("%w: gif header is truncated", ErrCorrupt)
	}
	sw, sh := int(binary.LittleEndian.Uint16(b[6:])), int(binary.LittleEndian.Uint16(b[8:]))
	if err := checkDims(sw, sh, "gif screen"); err != nil {
		return err
	}
	p := 13
	if flags := b[10]; flags&0x80 != 0 {
		p += 3 << (flags&7 + 1)
	}
	frames := 0
	for {
		if p >= len(b) {
			return gifTruncated(frames)
		}
		switch b[p] {
		case 0x3B: // trailer
			if frames == 0 {
				return fmt.Errorf("%w: gif has no frames", ErrCorrupt)
			}
			return nil
		case 0x21: // extension: label, then sub-blocks
			q, ok := skipSubBlocks(b, p+2)
			if !ok {
				return gifTruncated(frames)
			}
			p = q
		case 0x2C: // image descriptor
			if p+10 > len(b) {
				return gifTruncated(frames)
			}
			d := b[p+1:]
			x, y := int(binary.LittleEndian.Uint16(d[0:])), int(binary.LittleEndian.Uint16(d[2:]))
			w, h := int(binary.LittleEndian.Uint16(d[4:])), int(binary.LittleEndian.Uint16(d[6:]))
			what := fmt.Sprintf("gif frame %d", frames+1)
			if err := checkDims(w, h, what); err != nil {
				return err
			}
			if x+w > sw || y+h > sh {
				return fmt.Errorf("%w: %s (%dx%d at %d,%d) lies outside the %dx%d screen",
					ErrCorrupt, what, w, h, x, y, sw, sh)
			}
			p += 10
			if flags := d[8]; flags&0x80 != 0 {
				p += 3 << (flags&7 + 1)
			}
			q, ok := skipSubBlocks(b, p+1) // after the LZW minimum code size
			if !ok {
				return gifTruncated(frames)
			}
			frames++
			p = q
		default:
			if frames > 0 {
				return nil // junk after a complete frame; gif.Decode stops before it
			}
			return fmt.Errorf("%w: unknown gif block 0x%02x at offset %d", ErrCorrupt, b[p], p)
		}
	}
}

// gifTruncated tolerates a cut after the first complete frame, as
// gif.Decode (first frame only) does.
func gifTruncated(complete int) error {
	if complete > 0 {
		return nil
	}
	return fmt.Errorf("%w: gif is truncated before its first frame ends", ErrCorrupt)
}

// skipSubBlocks returns the offset after the terminating zero-length block.
func skipSubBlocks(b []byte, p int) (int, bool) {
	for p < len(b) {
		n := int(b[p])
		p++
		if n == 0 {
			return p, true
		}
		p += n
	}
	return 0, false
}
