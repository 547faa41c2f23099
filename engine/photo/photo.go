// Package photo loads user photos defensively (size limits checked before any
// full decode, orientation applied) and turns them into model input tensors.
package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"strings"

	"likeness/internal/bytesize"
)

// Limits on what Load and Decode accept. A decoder given a bomb dies with a
// fatal out-of-memory that no recover catches, so these are enforced from
// headers before decoding.
const (
	MaxFileSize = 300 << 20   // bytes
	MaxPixels   = 150_000_000 // width*height of the image or any GIF frame
)

// Sentinel errors, wrapped in every error Load and Decode return.
var (
	ErrTooLarge    = errors.New("image too large")
	ErrUnsupported = errors.New("unsupported image format")
	ErrCorrupt     = errors.New("corrupt or truncated image")
)

// maxFileSize and maxPixels are MaxFileSize and MaxPixels; variables so tests
// need not allocate 300 MiB, and so the fuzz target can explore thousands of
// small inputs a second instead of decoding legal 150-megapixel images.
var (
	maxFileSize int64 = MaxFileSize
	maxPixels   int64 = MaxPixels
)

// PhotoError names the file a load failed for.
type PhotoError struct {
	Path string
	Err  error
}

func (e *PhotoError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *PhotoError) Unwrap() error { return e.Err }

// Photo is a decoded, oriented image.
type Photo struct {
	Path        string
	Format      string       // "jpeg", "png", "gif", "bmp", "tiff", "webp", "avif"
	Image       *image.NRGBA // oriented, full resolution, straight alpha, Rect.Min = (0,0)
	HasAlpha    bool         // any pixel with alpha < 255
	Orientation int          // EXIF orientation applied (1 = none)
}

// Load reads and decodes the image file at path.
func Load(path string) (*Photo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &PhotoError{Path: path, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &PhotoError{Path: path, Err: err}
	}
	if st.IsDir() {
		return nil, &PhotoError{Path: path, Err: errors.New("is a directory, not an image")}
	}
	if st.Size() > maxFileSize {
		return nil, &PhotoError{Path: path, Err: fmt.Errorf("%w: file is %s, over the %s limit",
			ErrTooLarge, bytesize.Format(st.Size()), bytesize.Format(maxFileSize))}
	}
	return decodeReader(f, path, st.Size())
}

// Decode decodes an image from r, reading at most MaxFileSize+1 bytes. name is
// used only in error messages and Photo.Path.
func Decode(r io.Reader, name string) (*Photo, error) {
	return decodeReader(r, name, 0)
}

func decodeReader(r io.Reader, name string, sizeHint int64) (*Photo, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= maxFileSize {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, maxFileSize+1)); err != nil {
		return nil, &PhotoError{Path: name, Err: fmt.Errorf("read: %w", err)}
	}
	if int64(buf.Len()) > maxFileSize {
		return nil, &PhotoError{Path: name, Err: fmt.Errorf("%w: file is over the %s limit",
			ErrTooLarge, bytesize.Format(maxFileSize))}
	}
	p, err := decodeBytes(buf.Bytes())
	if err != nil {
		return nil, &PhotoError{Path: name, Err: err}
	}
	p.Path = name
	return p, nil
}

// decodeBytes sniffs, checks limits, decodes, converts and orients.
func decodeBytes(data []byte) (*Photo, error) {
	format, err := sniff(data)
	if err != nil {
		return nil, err
	}
	codec := codecs[format]
	if err := checkHeader(format, codec, data); err != nil {
		return nil, err
	}
	img, err := safeDecode(codec, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, withFormat(format, err))
	}
	// Belt and braces: the decoder must agree with the header we checked.
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > maxPixels {
		return nil, fmt.Errorf("%w: %s decoded to %dx%d", ErrCorrupt, format, b.Dx(), b.Dy())
	}
	orient := orientation(format, data)
	n := applyOrientation(toNRGBA(img), orient)
	return &Photo{
		Format:      format,
		Image:       n,
		HasAlpha:    hasAlpha(n),
		Orientation: orient,
	}, nil
}

// checkHeader reads only the header and refuses empty or oversized images.
func checkHeader(format string, c codec, data []byte) error {
	if format == "gif" {
		// DecodeConfig only sees the logical screen; frames may declare more.
		if err := checkGIF(data); err != nil {
			return err
		}
	}
	cfg, err := safeConfig(c, data)
	if err != nil {
		return fmt.Errorf("%w: header: %w", ErrCorrupt, withFormat(format, err))
	}
	if err := checkDims(cfg.Width, cfg.Height, "image"); err != nil {
		return err
	}
	if format == "bmp" {
		return checkBMPSize(data, cfg)
	}
	return nil
}

// checkBMPSize refuses a BMP whose file is too short for the pixels it
// declares: x/image/bmp reads only uncompressed data, yet allocates the whole
// image before reading, so a tiny file could cost up to 600 MB.
func checkBMPSize(data []byte, cfg image.Config) error {
	if len(data) < 30 {
		return fmt.Errorf("%w: bmp header is truncated", ErrCorrupt)
	}
	bpp := int64(binary.LittleEndian.Uint16(data[28:]))
	need := (int64(cfg.Width)*bpp + 31) / 32 * 4 * int64(cfg.Height)
	if int64(len(data)) < need {
		return fmt.Errorf("%w: bmp declares %dx%d at %d bits but the file has only %d bytes",
			ErrCorrupt, cfg.Width, cfg.Height, bpp, len(data))
	}
	return nil
}

// withFormat prefixes a decoder error with the format unless the decoder
// already did ("png: invalid format").
func withFormat(format string, err error) error {
	if strings.HasPrefix(err.Error(), format+":") {
		return err
	}
	return fmt.Errorf("%s: %w", format, err)
}

func checkDims(w, h int, what string) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %s is %dx%d (zero-sized)", ErrCorrupt, what, w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return fmt.Errorf("%w: %s is %dx%d (%d megapixels), over the %d megapixel limit",
			ErrTooLarge, what, w, h, int64(w)*int64(h)/1_000_000, maxPixels/1_000_000)
	}
	return nil
}

func safeConfig(c codec, data []byte) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return c.config(bytes.NewReader(data))
}

func safeDecode(c codec, data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return c.decode(bytes.NewReader(data))
}
