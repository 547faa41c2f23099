//go:build linux && cgo

package ort

/*
#include <malloc.h>
*/
import "C"

// releaseScratch hands the heap memory ONNX Runtime freed while creating a
// session (the parsed model, optimiser copies of weights) back to the
// system. glibc keeps freed chunks below its mmap threshold in its arenas,
// where they would count towards the process's memory until reused.
func releaseScratch() { C.malloc_trim(0) }
