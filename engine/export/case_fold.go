//go:build windows || darwin

package export

// Windows and macOS default filesystems are case-insensitive; folding can
// only make the protection check stricter, never weaker.
const caseInsensitiveFS = true
