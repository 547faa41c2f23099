package export

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"io"

	"github.com/gen2brain/webp"
)

// lossyQualities are tried in order after lossless is too big: coarse
// steps keep the number of encodes (each ~tens of ms at 512x512) small.
var lossyQualities = []int{90, 82, 75, 65, 55, 45, 35, 25, 15, 5}

// WriteWebP encodes img as WebP, keeping alpha. With maxBytes > 0 it tries
// lossless first and, if that is larger than maxBytes, lossy with quality
// lowered stepwise until the file fits (sticker apps want 512x512 under
// 100 KB); ErrTooLarge if even the lowest quality does not fit. maxBytes <= 0
// writes lossless. WebP exports carry no metadata.
func WriteWebP(path string, img image.Image, opts WriteOptions, maxBytes int) error {
	data, err := encodeWebP(img, maxBytes)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeAtomic(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func encodeWebP(img image.Image, maxBytes int) ([]byte, error) {
	if img == nil {
		return nil, fmt.Errorf("encode webp: nil image")
	}
	if b := img.Bounds(); b.Dx() > 16383 || b.Dy() > 16383 || b.Empty() {
		return nil, fmt.Errorf("encode webp: size %dx%d outside 1..16383", b.Dx(), b.Dy())
	}
	// The encoder reads Pix as packed straight RGBA, ignoring Stride, Rect
	// and premultiplication, so hand it exactly that.
	src := packedNRGBA(img)
	enc := func(o webp.Options) ([]byte, error) {
		var buf bytes.Buffer
		if err := webp.Encode(&buf, src, o); err != nil {
			return nil, fmt.Errorf("encode webp: %w", err)
		}
		return buf.Bytes(), nil
	}
	data, err := enc(webp.Options{Lossless: true, Method: 4})
	if err != nil || maxBytes <= 0 || len(data) <= maxBytes {
		return data, err
	}
	smallest := len(data)
	for _, q := range lossyQualities {
		data, err := enc(webp.Options{Quality: q, Method: 4})
		if err != nil {
			return nil, err
		}
		if len(data) <= maxBytes {
			return data, nil
		}
		smallest = min(smallest, len(data))
	}
	return nil, fmt.Errorf("smallest webp is %d bytes, limit %d: %w", smallest, maxBytes, ErrTooLarge)
}

// Write dispatches on the extension of path: PNG with metadata, JPEG
// (opts.Quality, default 92) with metadata as COM segments, or WebP
// (opts.WebPMaxBytes) without metadata.
func Write(path string, img image.Image, md *Metadata, opts WriteOptions) error {
	format, err := FormatFromPath(path)
	if err != nil {
		return err
	}
	switch format {
	case "png":
		return WritePNG(path, img, md, opts)
	case "jpeg":
		return WriteJPEG(path, img, opts.Quality, md, opts)
	default:
		return WriteWebP(path, img, opts, opts.WebPMaxBytes)
	}
}

// packedNRGBA returns img as an NRGBA whose Pix holds exactly its pixels,
// row after row, with straight alpha.
func packedNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if n, ok := img.(*image.NRGBA); ok && n.Stride == 4*b.Dx() && len(n.Pix) == 4*b.Dx()*b.Dy() {
		return n
	}
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

// EncodeWebP is WriteWebP's encoding without the file: lossless, or lossy
// at the highest quality that fits maxBytes (> 0).
func EncodeWebP(img image.Image, maxBytes int) ([]byte, error) { return encodeWebP(img, maxBytes) }
