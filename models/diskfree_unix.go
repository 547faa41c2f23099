//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package models

import "golang.org/x/sys/unix"

// freeBytes is the space available to unprivileged users on dir's disk.
func freeBytes(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true // the fields' types differ by system
}
