package ui

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFirstRunPreferencesQuiet starts the real Fyne app (in a child
// process: Fyne keeps one current app) with a fresh configuration folder,
// and with the empty preferences file a first run leaves: Fyne must log
// nothing about preferences, and they must still save.
func TestFirstRunPreferencesQuiet(t *testing.T) {
	if os.Getenv("LIKENESS_PREFS_CHILD") == "1" {
		fa := newFyneApp()
		fa.Preferences().SetString("probe", "ok")
		return
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, prefs string)
	}{
		{"no configuration", func(*testing.T, string) {}},
		{"empty preferences file", func(t *testing.T, prefs string) {
			if err := os.MkdirAll(filepath.Dir(prefs), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(prefs, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
			prefs := preferencesPath(AppID)
			if prefs == "" || !strings.HasPrefix(prefs, home) {
				t.Skipf("preferences path %q is not under the test's home on this system", prefs)
			}
			c.setup(t, prefs)
			cmd := exec.Command(os.Args[0], "-test.run=^TestFirstRunPreferencesQuiet$")
			// A well-formed locale: main's internal/clocale, which quiets
			// Fyne's complaint about "C", is not in this test binary.
			cmd.Env = append(os.Environ(), "LIKENESS_PREFS_CHILD=1", "LC_ALL=en_US.UTF-8", "LANG=en_US.UTF-8")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if strings.Contains(string(out), "Fyne error") {
				t.Errorf("the first run logged:\n%s", out)
			}
			data, err := os.ReadFile(prefs)
			if err != nil || !strings.Contains(string(data), `"probe":"ok"`) {
				t.Errorf("preferences file %s: %q (%v)", prefs, data, err)
			}
		})
	}
}

func TestSeedPreferences(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fyne", "id", "preferences.json")
	for _, c := range []struct{ before, after string }{
		{"", "{}\n"},           // missing (created), then empty
		{`{"a":1}`, `{"a":1}`}, // content is kept
	} {
		if c.before != "" {
			if err := os.WriteFile(p, []byte(c.before), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := seedPreferences(p); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != c.after {
			t.Errorf("after seeding %q: %q, want %q", c.before, b, c.after)
		}
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := seedPreferences(p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "{}\n" {
		t.Errorf("an empty file seeds to %q", b)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("left %d files beside the preferences", len(entries))
	}
}
