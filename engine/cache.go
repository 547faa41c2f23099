package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"likeness/models"
	"likeness/ort"
)

// modelCache is where one model's optimised graph is cached: a folder per
// pack (named by the digest of its path) and model, keyed by every file in
// the model's folder (the .onnx and its external weights): the digest the
// manifest lists, the size and the modification time. Changing, replacing
// or reinstalling a pack changes the key, and the stale entry is rebuilt.
func modelCache(dir string, pack *models.Pack, role string) *ort.Cache {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(pack.Dir)
	if err != nil {
		return nil
	}
	var key strings.Builder
	fmt.Fprintf(&key, "pack %s\nmodel %s\n", abs, role)
	var files []string
	root := filepath.Join(pack.Dir, role)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil
	}
	sort.Strings(files)
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(pack.Dir, p)
		rel = filepath.ToSlash(rel)
		fmt.Fprintf(&key, "%s %d %d", rel, st.Size(), st.ModTime().UnixNano())
		if m := pack.Manifest; m != nil {
			if sum, ok := m.Files[rel]; ok {
				fmt.Fprintf(&key, " %s", sum.SHA256)
			}
		}
		key.WriteByte('\n')
	}
	h := sha256.Sum256([]byte(abs))
	return &ort.Cache{Dir: filepath.Join(dir, hex.EncodeToString(h[:8]), role), Key: key.String()}
}

// PruneGraphCache removes the cached graphs of packs that no longer exist
// (removed, or temporary), so the cache does not grow without end. It reads
// one key file per pack folder.
func PruneGraphCache(dir string) error {
	if dir == "" {
		return nil
	}
	packs, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, p := range packs {
		if !p.IsDir() {
			continue
		}
		keys, _ := filepath.Glob(filepath.Join(dir, p.Name(), "*", "key"))
		if len(keys) == 0 {
			continue // being written, or empty
		}
		b, err := os.ReadFile(keys[0])
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), "\n")
		packDir, ok := strings.CutPrefix(first, "pack ")
		if !ok {
			continue
		}
		if _, err := os.Stat(packDir); os.IsNotExist(err) {
			_ = os.RemoveAll(filepath.Join(dir, p.Name()))
		}
	}
	return nil
}
