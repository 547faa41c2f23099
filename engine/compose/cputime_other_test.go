//go:build !unix

package compose

import "time"

func cpuTime() time.Duration { return 0 }
