package main

import (
	"bufio"
	"strconv"
	"strings"
)

// metadata reads Version and Build from the [Details] table of FyneApp.toml.
// The file is ours and flat (key = "string" or key = number), so a line
// reader does; a missing version reads as "dev".
func metadata(toml string) (version string, build int) {
	version = "dev"
	section := ""
	sc := bufio.NewScanner(strings.NewReader(toml))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[] ")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "Details" {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if i := strings.Index(v, " #"); i >= 0 && !strings.HasPrefix(v, `"`) {
			v = strings.TrimSpace(v[:i])
		}
		switch k {
		case "Version":
			if s, err := strconv.Unquote(v); err == nil && s != "" {
				version = s
			}
		case "Build":
			if n, err := strconv.Atoi(v); err == nil {
				build = n
			}
		}
	}
	return version, build
}
