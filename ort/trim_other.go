//go:build !linux || !cgo

package ort

func releaseScratch() {}
