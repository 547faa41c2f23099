package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"likeness/models/synth"
)

// TestStartRunReturnsPromptsError: the one set-up of Edit, ComputeMask,
// SDEdit and DiffEdit passes an error of Prompts to its caller (it used to
// be dropped three times over, `pa, pb, _ := e.Prompts(s)`), and embeds
// only the texts asked for.
func TestStartRunReturnsPromptsError(t *testing.T) {
	f := newFixture(t, synth.Options{}, nil)
	ctx := context.Background()
	for name, mut := range map[string]func(*Settings){
		"unknown direction":       func(s *Settings) { s.Direction = "sleepy" },
		"no direction nor target": func(s *Settings) { s.Direction, s.Target = "", "" },
	} {
		s := f.settings()
		mut(&s)
		r, err := f.e.startRun(ctx, s, textNull|textSource|textTarget, nil)
		if !errors.Is(err, ErrBadSettings) || r != nil {
			t.Errorf("%s: startRun = %v, %v; want ErrBadSettings", name, r, err)
		}
		if name == "unknown direction" && (err == nil || !strings.Contains(err.Error(), "sleepy")) {
			t.Errorf("%s: the error does not name the direction: %v", name, err)
		}
	}
	s := f.settings()
	r, err := f.e.startRun(ctx, s, textNull|textTarget, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.null == nil || r.target == nil || r.source != nil {
		t.Errorf("asked for the null and target texts, got null %v, source %v, target %v", r.null != nil, r.source != nil, r.target != nil)
	}
	pa, pb, _ := f.e.Prompts(s)
	want, err := f.e.textEmbedding(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	if pa == pb || len(r.target) != len(want) || r.target[0] != want[0] || r.target[len(want)-1] != want[len(want)-1] {
		t.Errorf("the target embedding is not p_b's (%q)", pb)
	}
	if r.j.seed != s.Seed || r.j.ortTime == nil {
		t.Errorf("the job has seed %d (want %d) and ortTime set %v", r.j.seed, s.Seed, r.j.ortTime != nil)
	}
}

// TestRunsReturnPromptsError: every run of the engine refuses settings
// whose prompts cannot be made, with ErrBadSettings.
func TestRunsReturnPromptsError(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, synth.Options{}, nil)
	sd := newFixture(t, synth.Options{Kind: "sd"}, nil)
	bad := func(f *fixture) Settings {
		s := f.settings()
		s.Direction = "sleepy"
		return s
	}
	runs := map[string]func() error{
		"Edit":        func() error { _, err := f.e.Edit(ctx, f.enc, bad(f), nil, nil); return err },
		"ComputeMask": func() error { _, err := f.e.ComputeMask(ctx, f.enc, bad(f), nil); return err },
		"SDEdit":      func() error { _, err := sd.e.SDEdit(ctx, sd.enc, bad(sd), 0.5, nil); return err },
		"DiffEdit":    func() error { _, err := sd.e.DiffEdit(ctx, sd.enc, bad(sd), 0.8, nil); return err },
	}
	for name, run := range runs {
		if err := run(); !errors.Is(err, ErrBadSettings) || !strings.Contains(err.Error(), "sleepy") {
			t.Errorf("%s: err = %v, want ErrBadSettings naming the direction", name, err)
		}
	}
}

// TestSettingsJSON: Settings embeds models.Defaults and still writes the
// keys exports and reports have always carried, in the same order.
func TestSettingsJSON(t *testing.T) {
	s := Settings{Subject: "woman", Direction: "smile", Seed: 7}
	s.S1, s.S2, s.S3, s.Lambda, s.Steps, s.Scheduler = 1, 2, 3, 0.25, 20, "unipc"
	s.MaskSeeds, s.MaskNoiseSteps, s.BlurKernel = 10, 5, 5
	s.MaskNormalize, s.MaskGuidance = MaskNormalizeThenBlur, MaskGuidanceEq3
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"subject":"woman","direction":"smile","s1":1,"s2":2,"s3":3,"lambda":0.25,"steps":20,"scheduler":"unipc",` +
		`"mask_seeds":10,"mask_noise_steps":5,"blur_kernel":5,"mask_normalize":"normalize_then_blur","mask_guidance":"eq3","seed":7}`
	if string(got) != want {
		t.Errorf("Settings JSON\n got %s\nwant %s", got, want)
	}
	var back Settings
	if err := json.Unmarshal(got, &back); err != nil || back != s {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
