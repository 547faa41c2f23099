package engine

import (
	"context"
	"time"
)

// The text embeddings a run asks startRun for.
const (
	textNull   = 1 << iota // the empty prompt, for the unconditional branches
	textSource             // p_a
	textTarget             // p_b
)

// run is what Edit, ComputeMask, SDEdit and DiffEdit set up before they
// sample: the job that counts their UNet calls and time, and the text
// embeddings they asked for (nil otherwise).
type run struct {
	j                    *job
	start                time.Time
	ort0                 time.Duration
	null, source, target []float32
}

// startRun starts a run with s's seed, resolves s's prompts and embeds
// those texts (textNull, textSource, textTarget) asks for. An error of
// Prompts (no direction, an unknown one) is returned, never dropped.
func (e *Engine) startRun(ctx context.Context, s Settings, texts int, progress ProgressFunc) (*run, error) {
	r := &run{start: time.Now(), ort0: e.ortTime(), j: newJob(ctx, progress)}
	r.j.seed, r.j.ortTime = s.Seed, e.ortTime
	pa, pb, err := e.Prompts(s)
	if err != nil {
		return nil, err
	}
	for _, t := range []struct {
		want   int
		prompt string
		dst    *[]float32
	}{{textNull, "", &r.null}, {textSource, pa, &r.source}, {textTarget, pb, &r.target}} {
		if texts&t.want == 0 {
			continue
		}
		if *t.dst, err = e.textEmbedding(ctx, t.prompt); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// stats are the run's counters and times so far.
func (e *Engine) stats(r *run) Stats { return newStats(r.j, r.start, e.ortTime()-r.ort0) }
