package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Model roles: each is a folder of the pack holding model.onnx.
const (
	RoleTextEncoder    = "text_encoder"
	RoleUNet           = "unet"
	RoleVAEEncoder     = "vae_encoder"
	RoleVAEDecoder     = "vae_decoder"
	RoleImageEncoder   = "image_encoder"
	RoleImageProjector = "image_projector"
)

// Other files of a pack, slash-separated and relative to its folder.
const (
	TokenizerVocab  = "tokenizer/vocab.json"
	TokenizerMerges = "tokenizer/merges.txt"
	SchedulerConfig = "scheduler/scheduler_config.json" // optional
)

// Sentinel errors, matched with errors.Is.
var (
	ErrMissingFile = errors.New("missing file")
	ErrChecksum    = errors.New("file does not match likeness.json")
	ErrNoManifest  = errors.New("cannot tell the pack's kind without likeness.json")
)

// ChannelProbe returns the channel count of the `sample` input of the UNet
// at unetPath. The engine supplies it (it needs ONNX Runtime); it is only
// called for packs without likeness.json.
type ChannelProbe func(unetPath string) (int, error)

// OpenOptions tune OpenWith.
type OpenOptions struct {
	// Probe infers the kind of a pack without likeness.json. Without it
	// such packs cannot be opened.
	Probe ChannelProbe
}

// Pack is a model pack on disk.
type Pack struct {
	Dir         string
	Name        string    // the manifest's name, or the folder name
	Manifest    *Manifest // never nil: defaults for the inferred kind without likeness.json
	HasManifest bool
}

// RequiredRoles lists the models a pack of the given kind must hold.
func RequiredRoles(kind Kind) []string {
	roles := []string{RoleTextEncoder, RoleUNet, RoleVAEEncoder, RoleVAEDecoder}
	if kind == KindMCDM {
		roles = append(roles, RoleImageEncoder, RoleImageProjector)
	}
	return roles
}

// ModelPath is the path of the ONNX file for role (see the Role constants).
func (p *Pack) ModelPath(role string) string {
	return filepath.Join(p.Dir, role, "model.onnx")
}

// Path turns a slash-separated path inside the pack into a file path.
func (p *Pack) Path(rel string) string {
	return filepath.Join(p.Dir, filepath.FromSlash(rel))
}

// Kind is the pack's kind.
func (p *Pack) Kind() Kind { return p.Manifest.Kind }

// packError carries a message written for the user and the sentinel (and
// cause, if any) that errors.Is finds.
type packError struct {
	msg  string
	errs []error
}

func (e *packError) Error() string   { return e.msg }
func (e *packError) Unwrap() []error { return e.errs }

func newPackError(sentinel, cause error, format string, args ...any) error {
	errs := []error{sentinel}
	if cause != nil {
		errs = append(errs, cause)
	}
	return &packError{msg: fmt.Sprintf(format, args...), errs: errs}
}

// Open opens the pack in dir; see OpenWith.
func Open(dir string) (*Pack, error) { return OpenWith(dir, OpenOptions{}) }

// OpenWith opens the pack in dir. It reads likeness.json when present;
// without it (a plain Optimum export) it infers the kind with opts.Probe:
// an 8-channel UNet without image_projector is ip2p, a 4-channel one sd.
// It checks that every required file is present (a cheap stat, no hashing);
// CheckFiles does the full check.
func OpenWith(dir string, opts OpenOptions) (*Pack, error) {
	dir = filepath.Clean(dir)
	folder := filepath.Base(dir)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open pack %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open pack %s: not a folder", dir)
	}
	p := &Pack{Dir: dir, Name: folder}
	mpath := filepath.Join(dir, ManifestFile)
	data, err := readLimited(mpath, maxManifestBytes)
	switch {
	case err == nil:
		m, err := ParseManifest(data, mpath)
		if err != nil {
			return nil, fmt.Errorf("pack %q: %w", folder, err)
		}
		p.Manifest, p.HasManifest = m, true
		if m.Name != "" {
			p.Name = m.Name
		}
	case errors.Is(err, fs.ErrNotExist):
		kind, err := inferKind(dir, folder, opts.Probe)
		if err != nil {
			return nil, err
		}
		p.Manifest = NewManifest(kind)
	default:
		return nil, fmt.Errorf("pack %q: read %s: %w", folder, ManifestFile, err)
	}
	if err := p.checkPresent(); err != nil {
		return nil, err
	}
	return p, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than %d bytes", filepath.Base(path), limit)
	}
	return data, nil
}

func inferKind(dir, name string, probe ChannelProbe) (Kind, error) {
	unet := filepath.Join(dir, RoleUNet, "model.onnx")
	if _, err := os.Stat(unet); err != nil {
		return "", newPackError(ErrMissingFile, err,
			"pack %q: no %s and no unet/model.onnx; this folder is not a model pack", name, ManifestFile)
	}
	if probe == nil {
		return "", newPackError(ErrNoManifest, nil,
			"pack %q has no %s and its kind cannot be inferred here; add a %s (see the model contract)", name, ManifestFile, ManifestFile)
	}
	ch, err := probe(unet)
	if err != nil {
		return "", newPackError(ErrNoManifest, err, "pack %q has no %s; reading the unet's input channels: %v", name, ManifestFile, err)
	}
	_, perr := os.Stat(filepath.Join(dir, RoleImageProjector, "model.onnx"))
	hasProjector := perr == nil
	switch {
	case ch == 4:
		return KindSD, nil
	case ch == 8 && !hasProjector:
		return KindIP2P, nil
	case ch == 8:
		return "", newPackError(ErrNoManifest, nil,
			"pack %q has an image_projector, so it looks like an mcdm pack, and an mcdm pack needs a %s with \"kind\": \"mcdm\"", name, ManifestFile)
	}
	return "", newPackError(ErrNoManifest, nil,
		"pack %q has no %s and its unet input \"sample\" has %d channels; want 4 (sd) or 8 (ip2p)", name, ManifestFile, ch)
}

// requiredFiles lists the slash paths every pack of the kind must hold.
func requiredFiles(kind Kind) []string {
	var files []string
	for _, r := range RequiredRoles(kind) {
		files = append(files, r+"/model.onnx")
	}
	return append(files, TokenizerVocab, TokenizerMerges)
}

// checkPresent checks that each required file is a non-empty regular file.
func (p *Pack) checkPresent() error {
	for _, rel := range requiredFiles(p.Manifest.Kind) {
		st, err := os.Stat(p.Path(rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return newPackError(ErrMissingFile, nil,
				"pack %q: missing %s; a %s pack needs it, reinstall the pack", p.Name, rel, p.Manifest.Kind)
		case err != nil:
			return newPackError(ErrMissingFile, err, "pack %q: %s: %v", p.Name, rel, err)
		case !st.Mode().IsRegular():
			return newPackError(ErrMissingFile, nil, "pack %q: %s is not a regular file", p.Name, rel)
		case st.Size() == 0:
			return newPackError(ErrMissingFile, nil, "pack %q: %s is empty (0 bytes); reinstall the pack", p.Name, rel)
		}
	}
	return nil
}

// CheckFiles checks that every required model and tokenizer file is present
// and non-empty and, when the manifest lists files, that each listed file
// (external ONNX data files included) has the listed size and SHA-256.
// Errors match ErrMissingFile or ErrChecksum.
func (p *Pack) CheckFiles() error {
	return p.checkFiles(context.Background(), nil, true)
}

// CheckSizes is CheckFiles without hashing: what loading a pack checks every
// time (hashing gigabytes on every start would take seconds; the installer
// and `likeness models check` verify the digests).
func (p *Pack) CheckSizes() error {
	return p.checkFiles(context.Background(), nil, false)
}

// checkFiles is CheckFiles with cancellation and progress (bytes hashed).
func (p *Pack) checkFiles(ctx context.Context, rep *reporter, hash bool) error {
	if err := p.checkPresent(); err != nil {
		return err
	}
	if len(p.Manifest.Files) == 0 {
		rep.start("verify", 0)
		return rep.done()
	}
	names := make([]string, 0, len(p.Manifest.Files))
	for n := range p.Manifest.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	// Sizes first: cheap, and a truncated file is the common case.
	var total int64
	for _, n := range names {
		want := p.Manifest.Files[n]
		st, err := os.Stat(p.Path(n))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return newPackError(ErrMissingFile, nil,
				"pack %q: missing %s, which %s lists; reinstall the pack", p.Name, n, ManifestFile)
		case err != nil:
			return newPackError(ErrMissingFile, err, "pack %q: %s: %v", p.Name, n, err)
		case !st.Mode().IsRegular():
			return newPackError(ErrMissingFile, nil, "pack %q: %s is not a regular file", p.Name, n)
		case st.Size() != want.Bytes:
			return newPackError(ErrChecksum, nil,
				"pack %q: %s has %d bytes, %s expects %d; the file is truncated or changed, reinstall the pack",
				p.Name, n, st.Size(), ManifestFile, want.Bytes)
		}
		total += want.Bytes
	}
	if !hash {
		return nil
	}
	rep.start("verify", total)
	for _, n := range names {
		want := p.Manifest.Files[n]
		if err := rep.file(n); err != nil {
			return err
		}
		got, err := hashFile(ctx, p.Path(n), rep)
		if err != nil {
			return fmt.Errorf("pack %q: %s: %w", p.Name, n, err)
		}
		if got != want.SHA256 {
			return newPackError(ErrChecksum, nil,
				"pack %q: %s has sha256 %s, %s expects %s; the file is damaged or changed, reinstall the pack",
				p.Name, n, got, ManifestFile, want.SHA256)
		}
	}
	return rep.done()
}

func hashFile(ctx context.Context, path string, rep *reporter) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := copyChunks(ctx, h, f, rep); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isPackDir reports whether dir looks like a pack rather than a folder of packs.
func isPackDir(dir string) bool {
	for _, rel := range []string{ManifestFile, RoleUNet} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return true
		}
	}
	return false
}

// hidden reports names the store keeps for itself or the system.
func hidden(name string) bool { return strings.HasPrefix(name, ".") }
