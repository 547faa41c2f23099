package cli

import (
	"flag"
	"path/filepath"

	"likeness/engine"
)

// addNoiseFlag adds --noise, the .npy file that replaces the seeded noise.
func addNoiseFlag(fs *flag.FlagSet) *string {
	return fs.String("noise", "", "float32 .npy of shape [1 + mask seeds, 4, h, w] (row 0: the edit's initial latent noise, row 1+i: mask seed i's) used instead of the seeded noise, to compare with another implementation step for step")
}

// readNoise reads path (when given) into the session's settings; editOnly
// accepts a single row, for an edit that computes no mask.
func (ss *session) readNoise(path string, editOnly bool) error {
	if path == "" {
		return nil
	}
	n, err := ss.eng.ReadNoise(path, ss.s.MaskSeeds, editOnly)
	if err != nil {
		return err
	}
	ss.s.Noise = n
	return nil
}

// noiseName is the base name of the settings' noise file, "" without one.
func noiseName(s engine.Settings) string {
	if s.Noise == nil {
		return ""
	}
	return filepath.Base(s.Noise.Name)
}
