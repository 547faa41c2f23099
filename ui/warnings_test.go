package ui

import (
	"path/filepath"
	"strings"
	"testing"

	"likeness/models/synth"
)

// TestPackNoteShowsWarnings: the note beside the pack picker shows what
// app.PackWarnings reports, here a vae_encoder that samples its latent.
func TestPackNoteShowsWarnings(t *testing.T) {
	h := newHarness(t)
	s := h.s
	dir := filepath.Join(s.a.Store.Root, "sampling")
	if _, err := synth.Write(dir, synth.Options{Kind: "mcdm", Resolution: 64, Name: "Sampling VAE", SamplingVAE: "normal"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.a.FindPack(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.LoadPack(p)
	h.idle()
	if s.pack == nil || s.pack.Dir != dir {
		t.Fatalf("pack did not load: %v", rec(s).lastErr)
	}
	if s.w.packNote.Hidden || !strings.Contains(s.w.packNote.Text, "vae_encoder samples its latent") {
		t.Errorf("pack note %q (hidden %v), want the sampling-VAE warning", s.w.packNote.Text, s.w.packNote.Hidden)
	}
}
