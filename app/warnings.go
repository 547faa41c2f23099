package app

import "likeness/engine"

// PackWarnings are what the user should know about a loaded pack that is
// not an error, one sentence each, for the UI to show beside the pack (and
// `likeness models check` to print): today, a vae_encoder that samples its
// latent and what Likeness does about it.
func PackWarnings(e *engine.Engine) []string {
	if e == nil {
		return nil
	}
	return e.Warnings()
}
