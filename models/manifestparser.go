package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParseManifest parses and validates a likeness.json. file names the manifest
// in error messages. Types are strict (a number written as a string is an
// error), unknown keys are ignored, a null value counts as absent, and absent
// keys take the contract's defaults. Every error matches ErrBadManifest.
func ParseManifest(data []byte, file string) (*Manifest, error) {
	p := &mparser{file: file}
	if len(data) > maxManifestBytes {
		return nil, p.errf("", "file is %d bytes, more than the %d a manifest may have", len(data), maxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, p.syntax(data, err)
	}
	end := int(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		for end < len(data) && strings.IndexByte(" \t\r\n", data[end]) >= 0 {
			end++
		}
		line, col := lineCol(data, end)
		return nil, p.errf("", "invalid JSON at line %d, column %d: extra data after the top-level object", line, col)
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, p.errf("", "want a JSON object at the top level, got %s", jsonType(root))
	}
	return p.manifest(obj)
}

type mparser struct{ file string }

func (p *mparser) errf(key, format string, args ...any) error {
	return &ManifestError{File: p.file, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (p *mparser) syntax(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, int(se.Offset)-1)
		return p.errf("", "invalid JSON at line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return p.errf("", "invalid JSON: the file is empty or ends too soon")
	}
	return p.errf("", "invalid JSON: %v", err)
}

// lineCol turns the 0-based byte index pos into a 1-based line and column.
func lineCol(data []byte, pos int) (line, col int) {
	pos = min(max(pos, 0), len(data))
	before := data[:pos]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = pos - bytes.LastIndexByte(before, '\n')
	return line, col
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// get returns obj[key], treating null like an absent key.
func get(obj map[string]any, key string) (any, bool) {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (p *mparser) str(v any, key string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", p.errf(key, "want a string, got %s", jsonType(v))
	}
	return s, nil
}

func (p *mparser) number(v any, key string) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, p.errf(key, "want a number, got %s", jsonType(v))
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, p.errf(key, "number %s is out of range", n)
	}
	return f, nil
}

// integer accepts a JSON number with no fractional part (512, 512.0, 5.12e2).
func (p *mparser) integer(v any, key string) (int64, error) {
	f, err := p.number(v, key)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, p.errf(key, "want a whole number, got %s", v)
	}
	if math.Abs(f) > 1<<53 {
		return 0, p.errf(key, "number %s is out of range", v)
	}
	return int64(f), nil
}

func (p *mparser) object(v any, key string) (map[string]any, error) {
	o, ok := v.(map[string]any)
	if !ok {
		return nil, p.errf(key, "want an object, got %s", jsonType(v))
	}
	return o, nil
}

func (p *mparser) array(v any, key string) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, p.errf(key, "want an array, got %s", jsonType(v))
	}
	return a, nil
}

// optStr sets *dst to obj[key] when present.
func (p *mparser) optStr(obj map[string]any, key, path string, dst *string) (bool, error) {
	v, ok := get(obj, key)
	if !ok {
		return false, nil
	}
	s, err := p.str(v, path)
	if err != nil {
		return false, err
	}
	*dst = s
	return true, nil
}

func (p *mparser) optNum(obj map[string]any, key, path string, dst *float64) (bool, error) {
	v, ok := get(obj, key)
	if !ok {
		return false, nil
	}
	f, err := p.number(v, path)
	if err != nil {
		return false, err
	}
	*dst = f
	return true, nil
}

func (p *mparser) optInt(obj map[string]any, key, path string, dst *int) (bool, error) {
	v, ok := get(obj, key)
	if !ok {
		return false, nil
	}
	n, err := p.integer(v, path)
	if err != nil {
		return false, err
	}
	*dst = int(n)
	return true, nil
}

func (p *mparser) manifest(obj map[string]any) (*Manifest, error) {
	// format and kind come first: kind decides the other defaults.
	v, ok := get(obj, "format")
	if !ok {
		return nil, p.errf("format", "missing; add \"format\": 1")
	}
	format, err := p.integer(v, "format")
	if err != nil {
		return nil, err
	}
	if format != 1 {
		return nil, p.errf("format", "format %d is not supported; this version of Likeness reads format 1", format)
	}
	v, ok = get(obj, "kind")
	if !ok {
		return nil, p.errf("kind", "missing; want \"mcdm\", \"ip2p\" or \"sd\"")
	}
	ks, err := p.str(v, "kind")
	if err != nil {
		return nil, err
	}
	kind := Kind(ks)
	switch kind {
	case KindMCDM, KindIP2P, KindSD:
	default:
		return nil, p.errf("kind", "want \"mcdm\", \"ip2p\" or \"sd\", got %q", ks)
	}
	m := NewManifest(kind)

	if _, err := p.optStr(obj, "name", "name", &m.Name); err != nil {
		return nil, err
	}
	if _, err := p.optInt(obj, "resolution", "resolution", &m.Resolution); err != nil {
		return nil, err
	}
	if _, err := p.optInt(obj, "latent_factor", "latent_factor", &m.LatentFactor); err != nil {
		return nil, err
	}
	if !ValidLatentFactor(m.LatentFactor) {
		return nil, p.errf("latent_factor", "want a power of two from 2 to %d (the VAE's downsampling; 8 for SD), got %d", maxLatentFactor, m.LatentFactor)
	}
	if m.Resolution < 64 || m.Resolution > 4096 || m.Resolution%m.LatentFactor != 0 {
		return nil, p.errf("resolution", "want a multiple of latent_factor (%d) from 64 to 4096, got %d", m.LatentFactor, m.Resolution)
	}
	for _, k := range []struct {
		key string
		dst *float64
	}{{"vae_scaling_factor", &m.VAEScalingFactor}, {"spatial_latent_scale", &m.SpatialLatentScale}} {
		if _, err := p.optNum(obj, k.key, k.key, k.dst); err != nil {
			return nil, err
		}
		if !(*k.dst > 0) {
			return nil, p.errf(k.key, "want a number above 0, got %v", *k.dst)
		}
	}
	if _, err := p.optStr(obj, "null_spatial", "null_spatial", &m.NullSpatial); err != nil {
		return nil, err
	}
	if m.NullSpatial != NullBlackImage && m.NullSpatial != NullZeros {
		return nil, p.errf("null_spatial", "want %q or %q, got %q", NullBlackImage, NullZeros, m.NullSpatial)
	}
	if _, err := p.optStr(obj, "null_image_tokens", "null_image_tokens", &m.NullImageTokens); err != nil {
		return nil, err
	}
	if m.NullImageTokens != NullZeros {
		return nil, p.errf("null_image_tokens", "want %q, got %q", NullZeros, m.NullImageTokens)
	}
	if err := p.prompts(obj, m); err != nil {
		return nil, err
	}
	if err := p.subjects(obj, m); err != nil {
		return nil, err
	}
	if _, err := p.optStr(obj, "source", "source", &m.Source); err != nil {
		return nil, err
	}
	if err := p.directions(obj, m); err != nil {
		return nil, err
	}
	if err := p.defaults(obj, m); err != nil {
		return nil, err
	}
	if err := p.files(obj, m); err != nil {
		return nil, err
	}
	if err := p.faceBox(obj, m); err != nil {
		return nil, err
	}
	if _, err := p.optStr(obj, "domain", "domain", &m.Domain); err != nil {
		return nil, err
	}
	// Empty lists are stored as nil, as json.Marshal's omitempty reads them.
	if len(m.Subjects) == 0 {
		m.Subjects = nil
	}
	if len(m.Directions) == 0 {
		m.Directions = nil
	}
	if len(m.Files) == 0 {
		m.Files = nil
	}
	return m, nil
}

func (p *mparser) prompts(obj map[string]any, m *Manifest) error {
	v, ok := get(obj, "prompts")
	if !ok {
		return nil
	}
	po, err := p.object(v, "prompts")
	if err != nil {
		return err
	}
	for _, k := range []struct {
		key string
		dst *string
	}{{"source", &m.Prompts.Source}, {"target", &m.Prompts.Target}} {
		path := "prompts." + k.key
		if _, err := p.optStr(po, k.key, path, k.dst); err != nil {
			return err
		}
		if err := checkTemplate(*k.dst); err != nil {
			return p.errf(path, "%v", err)
		}
	}
	return nil
}

// checkTemplate accepts only the placeholders {subject}, {source} and {target}.
func checkTemplate(s string) error {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return fmt.Errorf("unclosed { in %q; placeholders are {subject}, {source} and {target}", s)
			}
			switch name := s[i+1 : i+j]; name {
			case "subject", "source", "target":
			default:
				return fmt.Errorf("unknown placeholder {%s} in %q; use {subject}, {source} or {target}", name, s)
			}
			i += j
		case '}':
			return fmt.Errorf("stray } in %q; placeholders are {subject}, {source} and {target}", s)
		}
	}
	return nil
}

func (p *mparser) subjects(obj map[string]any, m *Manifest) error {
	v, ok := get(obj, "subjects")
	if !ok {
		return nil
	}
	arr, err := p.array(v, "subjects")
	if err != nil {
		return err
	}
	m.Subjects = make([]string, 0, len(arr))
	for i, e := range arr {
		key := fmt.Sprintf("subjects[%d]", i)
		s, err := p.str(e, key)
		if err != nil {
			return err
		}
		if strings.TrimSpace(s) == "" {
			return p.errf(key, "want a non-empty string")
		}
		m.Subjects = append(m.Subjects, s)
	}
	return nil
}

func (p *mparser) directions(obj map[string]any, m *Manifest) error {
	v, ok := get(obj, "directions")
	if !ok {
		return nil
	}
	arr, err := p.array(v, "directions")
	if err != nil {
		return err
	}
	m.Directions = make([]Direction, 0, len(arr))
	seen := make(map[string]int, len(arr))
	for i, e := range arr {
		key := fmt.Sprintf("directions[%d]", i)
		do, err := p.object(e, key)
		if err != nil {
			return err
		}
		var d Direction
		if _, err := p.optStr(do, "id", key+".id", &d.ID); err != nil {
			return err
		}
		if strings.TrimSpace(d.ID) == "" {
			return p.errf(key+".id", "want a non-empty id")
		}
		if j, dup := seen[d.ID]; dup {
			return p.errf(key+".id", "id %q is already used by directions[%d]", d.ID, j)
		}
		seen[d.ID] = i
		if _, err := p.optStr(do, "label", key+".label", &d.Label); err != nil {
			return err
		}
		if d.Label == "" {
			d.Label = d.ID
		}
		if _, err := p.optStr(do, "target", key+".target", &d.Target); err != nil {
			return err
		}
		if d.Target == "" {
			d.Target = d.Label
		}
		m.Directions = append(m.Directions, d)
	}
	return nil
}

func (p *mparser) defaults(obj map[string]any, m *Manifest) error {
	v, ok := get(obj, "defaults")
	if !ok {
		return nil
	}
	do, err := p.object(v, "defaults")
	if err != nil {
		return err
	}
	d := &m.Defaults
	for _, k := range []struct {
		key string
		dst *float64
	}{{"s1", &d.S1}, {"s2", &d.S2}, {"s3", &d.S3}, {"lambda", &d.Lambda}} {
		path := "defaults." + k.key
		if _, err := p.optNum(do, k.key, path, k.dst); err != nil {
			return err
		}
		if *k.dst < 0 {
			return p.errf(path, "want a number of 0 or more, got %v", *k.dst)
		}
	}
	if d.Lambda > 1 {
		return p.errf("defaults.lambda", "want a number from 0 to 1, got %v", d.Lambda)
	}
	if _, err := p.optInt(do, "steps", "defaults.steps", &d.Steps); err != nil {
		return err
	}
	if d.Steps < 1 || d.Steps > maxSteps {
		return p.errf("defaults.steps", "want a whole number from 1 to %d, got %d", maxSteps, d.Steps)
	}
	if _, err := p.optStr(do, "scheduler", "defaults.scheduler", &d.Scheduler); err != nil {
		return err
	}
	if strings.TrimSpace(d.Scheduler) == "" {
		return p.errf("defaults.scheduler", "want a scheduler name such as %q", DefaultScheduler)
	}
	if _, err := p.optInt(do, "mask_seeds", "defaults.mask_seeds", &d.MaskSeeds); err != nil {
		return err
	}
	if d.MaskSeeds < 1 || d.MaskSeeds > maxMaskSeeds {
		return p.errf("defaults.mask_seeds", "want a whole number from 1 to %d, got %d", maxMaskSeeds, d.MaskSeeds)
	}
	set, err := p.optInt(do, "mask_noise_steps", "defaults.mask_noise_steps", &d.MaskNoiseSteps)
	if err != nil {
		return err
	}
	if !set {
		// The default of 10 assumes 20 steps; with fewer steps, noise all of them.
		d.MaskNoiseSteps = min(d.MaskNoiseSteps, d.Steps)
	}
	if d.MaskNoiseSteps < 1 || d.MaskNoiseSteps > d.Steps {
		return p.errf("defaults.mask_noise_steps", "want a whole number from 1 to steps (%d), got %d", d.Steps, d.MaskNoiseSteps)
	}
	if _, err := p.optInt(do, "blur_kernel", "defaults.blur_kernel", &d.BlurKernel); err != nil {
		return err
	}
	if d.BlurKernel < 1 || d.BlurKernel > maxBlurKernel || d.BlurKernel%2 == 0 {
		return p.errf("defaults.blur_kernel", "want an odd whole number from 1 to %d, got %d", maxBlurKernel, d.BlurKernel)
	}
	for _, k := range []struct {
		key     string
		dst     *string
		allowed []string
	}{{"mask_normalize", &d.MaskNormalize, MaskNormalizations}, {"mask_guidance", &d.MaskGuidance, MaskGuidances}} {
		path := "defaults." + k.key
		if _, err := p.optStr(do, k.key, path, k.dst); err != nil {
			return err
		}
		if !slices.Contains(k.allowed, *k.dst) {
			return p.errf(path, "want %s, got %q", quoteList(k.allowed), *k.dst)
		}
	}
	return nil
}

// quoteList writes "a" or "b" (or "a", "b" or "c").
func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func (p *mparser) files(obj map[string]any, m *Manifest) error {
	v, ok := get(obj, "files")
	if !ok {
		return nil
	}
	fo, err := p.object(v, "files")
	if err != nil {
		return err
	}
	m.Files = make(map[string]FileSum, len(fo))
	for name, e := range fo {
		key := "files[" + name + "]"
		if err := checkRelPath(name); err != nil {
			return p.errf(key, "%v", err)
		}
		eo, err := p.object(e, key)
		if err != nil {
			return err
		}
		var fs FileSum
		bv, ok := get(eo, "bytes")
		if !ok {
			return p.errf(key+".bytes", "missing; give the file's size in bytes")
		}
		n, err := p.integer(bv, key+".bytes")
		if err != nil {
			return err
		}
		if n < 0 {
			return p.errf(key+".bytes", "want a size of 0 or more, got %d", n)
		}
		fs.Bytes = n
		hv, ok := get(eo, "sha256")
		if !ok {
			return p.errf(key+".sha256", "missing; give the file's SHA-256 as 64 hex digits")
		}
		h, err := p.str(hv, key+".sha256")
		if err != nil {
			return err
		}
		h = strings.ToLower(h)
		if !isHex64(h) {
			return p.errf(key+".sha256", "want 64 hex digits, got %q", h)
		}
		fs.SHA256 = h
		m.Files[name] = fs
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkRelPath accepts a relative, forward-slash path that stays inside the
// pack: no leading slash, drive letter, backslash, empty, "." or ".." part.
func checkRelPath(name string) error {
	const hint = "want a relative path inside the pack with forward slashes, like \"unet/model.onnx\""
	switch {
	case name == "":
		return errors.New("empty path; " + hint)
	case strings.ContainsRune(name, '\\'):
		return fmt.Errorf("path %q has a backslash; %s", name, hint)
	case strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':'):
		return fmt.Errorf("path %q is absolute; %s", name, hint)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("path %q has a NUL byte; %s", name, hint)
	}
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "..":
			return fmt.Errorf("path %q leaves the pack; %s", name, hint)
		case "", ".":
			return fmt.Errorf("path %q is not clean; %s", name, hint)
		}
	}
	return nil
}

// faceBox reads the optional face_box: four fractions with x0 < x1 and
// y0 < y1, inside [0, 1].
func (p *mparser) faceBox(obj map[string]any, m *Manifest) error {
	v, ok := get(obj, "face_box")
	if !ok || v == nil {
		return nil
	}
	arr, err := p.array(v, "face_box")
	if err != nil {
		return err
	}
	if len(arr) != 4 {
		return p.errf("face_box", "want [x0, y0, x1, y1] (fractions of the model square), got %d numbers", len(arr))
	}
	var b FaceBox
	for i, e := range arr {
		f, err := p.number(e, fmt.Sprintf("face_box[%d]", i))
		if err != nil {
			return err
		}
		if !(f >= 0 && f <= 1) {
			return p.errf(fmt.Sprintf("face_box[%d]", i), "want a fraction from 0 to 1, got %v", f)
		}
		b[i] = f
	}
	if !(b[0] < b[2] && b[1] < b[3]) {
		return p.errf("face_box", "want x0 < x1 and y0 < y1, got %v", [4]float64(b))
	}
	m.FaceBox = &b
	return nil
}
