// Package assets holds the files Likeness ships inside its binary: the CLIP BPE
// vocabulary (users have no copy of it; a generated pack is complete on its own),
// the application icon and the sample photos.
package assets

import "embed"

// CLIP is the CLIP BPE vocabulary in Hugging Face format: clip/vocab.json and
// clip/merges.txt (openai/CLIP, MIT licence; see clip/README.md).
//
//go:embed clip/vocab.json clip/merges.txt clip/README.md
var CLIP embed.FS

// Samples holds the sample photos, samples/*.png (held-out cartoon portraits;
// see samples/README.md). The folder is embedded whole so that a build
// without photos still compiles; readers pick the .png files.
//
//go:embed samples
var Samples embed.FS
