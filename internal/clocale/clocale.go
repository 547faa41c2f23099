// Package clocale maps the POSIX "C" locale to the language tag it means
// before Fyne reads it: Fyne logs a parse error for "C" and "C.UTF-8" (the
// default of many servers and containers) on every start, even for
// command-line use. It must be initialised before fyne.io/fyne/v2/lang, so it
// imports nothing that depends on Fyne and main imports it first.
package clocale

import (
	"os"
	"strings"
)

func init() {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v, ok := os.LookupEnv(k)
		if !ok || v == "" {
			continue
		}
		base, _, _ := strings.Cut(v, ".")
		if base == "C" || base == "POSIX" {
			os.Setenv(k, "en_US.UTF-8")
		}
		return // the first one set is the one that counts
	}
}
