//go:build !windows && !darwin

package export

const caseInsensitiveFS = false
