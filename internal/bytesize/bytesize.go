// Package bytesize writes byte counts for people: "1.5 GiB", "980 bytes".
package bytesize

import "fmt"

// Format writes n with a binary unit (KiB, MiB, GiB) and one decimal, or in
// bytes below 1 KiB.
func Format(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
