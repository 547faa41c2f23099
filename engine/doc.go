// Package engine is Likeness's editing engine: it loads a model pack into ONNX
// Runtime sessions, encodes a photo once, and runs the paper's algorithm on it
// (three-way guidance, the self-computed editing mask, mask-guided denoising,
// the no-mask baseline, SDEdit) with progress, cancellation and counters. It
// knows nothing of any user interface.
package engine
