//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package models

// freeBytes cannot tell on this system; the install is not refused for it.
func freeBytes(string) (int64, bool) { return 0, false }
