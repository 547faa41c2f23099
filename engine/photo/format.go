package photo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/avif"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs are called directly rather than through image.Decode so that the
// format we sniffed is the one that decodes, whatever else is registered.
var codecs = map[string]codec{
	"jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"png":  {png.DecodeConfig, png.Decode},
	"gif":  {gif.DecodeConfig, gif.Decode},
	"bmp":  {bmp.DecodeConfig, bmp.Decode},
	"tiff": {tiff.DecodeConfig, tiff.Decode},
	"webp": {webp.DecodeConfig, webp.Decode},
	// AVIF runs libavif compiled to WASM (wazero): about 0.25 s to compile on
	// first use, and a malicious file stays inside the WASM sandbox.
	"avif": {avif.DecodeConfig, avif.Decode},
}

// heifBrands are ISO-BMFF brands of HEIF/HEIC files (HEVC inside), for which
// there is no maintained pure-Go decoder.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true,
	"hevc": true, "hevx": true, "hevm": true, "hevs": true,
	"mif1": true, "mif2": true, "msf1": true,
}

// sniff identifies the format from magic bytes; the file extension is ignored.
func sniff(b []byte) (string, error) {
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("%w: file is empty", ErrCorrupt)
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg", nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png", nil
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif", nil
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp", nil
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff", nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp", nil
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return sniffISOBMFF(b)
	case bytes.HasPrefix(b, []byte("II+\x00")), bytes.HasPrefix(b, []byte("MM\x00+")):
		return "", fmt.Errorf("%w: BigTIFF is not supported; convert to JPEG/PNG", ErrUnsupported)
	case bytes.HasPrefix(b, []byte{0xFF, 0x0A}), bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cJXL \r\n\x87\n")):
		return "", fmt.Errorf("%w: JPEG XL is not supported; convert to JPEG/PNG", ErrUnsupported)
	}
	return "", fmt.Errorf("%w: not a JPEG, PNG, GIF, BMP, TIFF, WebP or AVIF file", ErrUnsupported)
}

// sniffISOBMFF reads the major and compatible brands of the leading ftyp box.
func sniffISOBMFF(b []byte) (string, error) {
	size := int(binary.BigEndian.Uint32(b[:4]))
	if size < 16 || size > len(b) {
		size = min(len(b), 16) // tolerate a bad size: look at the major brand only
	}
	brands := []string{string(b[8:12])}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(b[i:i+4]))
	}
	for _, br := range brands {
		if br == "avif" || br == "avis" {
			return "avif", nil
		}
	}
	for _, br := range brands {
		if heifBrands[br] {
			return "", fmt.Errorf("%w: HEIC is not supported; convert to JPEG/PNG", ErrUnsupported)
		}
	}
	return "", fmt.Errorf("%w: ISO media file (brand %q) is not an image this app reads", ErrUnsupported, brands[0])
}
