package ui

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"likeness/app"
)

// newFyneApp creates the Fyne app with Likeness's id and metadata, its
// preferences file seeded first (see seedPreferences).
func newFyneApp() fyne.App {
	fyneapp.SetMetadata(fyne.AppMetadata{ID: AppID, Name: "Likeness", Version: app.Version, Build: app.Build, Icon: Icon})
	if p := preferencesPath(AppID); p != "" {
		_ = seedPreferences(p) // at worst Fyne logs what it would have logged anyway
	}
	return fyneapp.NewWithID(AppID)
}

// seedPreferences makes sure the preferences file at path holds JSON before
// Fyne starts. Fyne reads the file at start and again whenever its folder
// changes, and logs "Preferences load error: EOF" when it finds it empty:
// on a first run its own first save creates the file empty and fills it a
// moment later, and a run stopped in that moment leaves it empty. An
// existing file with content is left alone. The write is atomic.
func seedPreferences(path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".preferences-*.json")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString("{}\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
	}
	return werr
}

// preferencesPath is where Fyne (v2.7, app.storageRoot) keeps the
// preferences of app id on this system: the "fyne" folder of the user's
// configuration folder. "" where that cannot be known.
func preferencesPath(id string) string {
	var root string
	switch runtime.GOOS {
	case "windows":
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(home, "AppData", "Roaming")
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(home, "Library", "Preferences")
	case "linux", "freebsd", "openbsd", "netbsd":
		dir, err := os.UserConfigDir()
		if err != nil {
			return ""
		}
		root = dir
	default:
		return ""
	}
	return filepath.Join(root, "fyne", id, "preferences.json")
}
