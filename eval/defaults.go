package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"likeness/engine/export"
	"likeness/models"
)

// member is one key of a JSON object, its value kept as written.
type member struct {
	key string
	val json.RawMessage
}

// readObject splits a JSON object into its members, in order.
func readObject(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("want a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("want a key")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, member{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

func writeObject(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// set replaces key's value, or appends the key.
func set(ms []member, key string, val json.RawMessage) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].val = val
			return ms
		}
	}
	return append(ms, member{key, val})
}

// WriteDefaults writes a calibration's λ, mask_normalize and mask_guidance
// into the defaults of the pack's likeness.json, keeping every other key
// and the order of the keys. The new manifest is checked, then written
// atomically (a temporary file renamed over the old one). The files'
// digests cover the pack's other files, which do not change; a pack that
// lists likeness.json itself under "files" (a digest a file cannot hold of
// itself) has that entry dropped, and the returned note says so.
func WriteDefaults(p *models.Pack, t Trial) (note string, err error) {
	if !p.HasManifest {
		return "", fmt.Errorf("pack %s has no %s to write defaults into; add one (see the model contract)", p.Name, models.ManifestFile)
	}
	path := filepath.Join(p.Dir, models.ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	top, err := readObject(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	var defs []member
	for _, m := range top {
		if m.key == "defaults" && string(m.val) != "null" {
			if defs, err = readObject(m.val); err != nil {
				return "", fmt.Errorf("%s: \"defaults\": %w", path, err)
			}
		}
	}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	defs = set(defs, "lambda", json.RawMessage(strconv.FormatFloat(t.Lambda, 'g', -1, 64)))
	defs = set(defs, "mask_normalize", str(t.MaskNormalize))
	defs = set(defs, "mask_guidance", str(t.MaskGuidance))
	top = set(top, "defaults", writeObject(defs))
	for i, m := range top {
		if m.key != "files" || string(m.val) == "null" {
			continue
		}
		files, err := readObject(m.val)
		if err != nil {
			return "", fmt.Errorf("%s: \"files\": %w", path, err)
		}
		var kept []member
		for _, f := range files {
			if f.key == models.ManifestFile {
				note = fmt.Sprintf("%s listed its own digest under \"files\"; a file cannot hold its own digest, so that entry was dropped", models.ManifestFile)
				continue
			}
			kept = append(kept, f)
		}
		top[i].val = writeObject(kept)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, writeObject(top), "", "  "); err != nil {
		return "", err
	}
	out.WriteByte('\n')
	if _, err := models.ParseManifest(out.Bytes(), path); err != nil {
		return "", fmt.Errorf("the calibrated manifest does not check, nothing written: %w", err)
	}
	if err := export.WriteBytes(path, out.Bytes(), export.WriteOptions{Overwrite: true}); err != nil {
		return "", err
	}
	return note, nil
}
