package cli

import (
	"flag"
	"image"
	"strconv"
	"strings"

	"likeness/app"
	"likeness/engine"
	"likeness/ort"
)

// editFlags are the flags shared by edit, mask, compare and stickers.
type editFlags struct {
	fs                     *flag.FlagSet
	pack, input, out       string
	direction, target      string
	subject, scheduler     string
	maskNormalize          string
	maskGuidance           string
	s1, s2, s3, lambda     float64
	steps, maskSeeds       int
	maskNoiseSteps, blur   int
	seed                   uint64
	crop, provider, ortLib string
	threads                int
	json, overwrite        bool
}

func addEditFlags(fs *flag.FlagSet) *editFlags {
	f := &editFlags{fs: fs}
	fs.StringVar(&f.pack, "pack", "", "model pack: a folder or an installed pack's name (default: the only installed pack)")
	fs.StringVar(&f.input, "input", "", "input photo")
	fs.StringVar(&f.out, "out", "", "output file or folder")
	fs.StringVar(&f.direction, "direction", "", "a direction id of the pack (default: its first)")
	fs.StringVar(&f.target, "target", "", "free-text target instead of a direction")
	fs.StringVar(&f.subject, "subject", "", "subject word in the prompts (default: the pack's first)")
	fs.StringVar(&f.scheduler, "scheduler", "", orList(app.Schedulers())+" (default: the pack's)")
	fs.Float64Var(&f.s1, "s1", 0, "image-token guidance scale (default: the pack's)")
	fs.Float64Var(&f.s2, "s2", 0, "input-latent guidance scale (default: the pack's)")
	fs.Float64Var(&f.s3, "s3", 0, "text guidance scale (default: the pack's)")
	fs.Float64Var(&f.lambda, "lambda", 0, "mask threshold λ in [0,1] (default: the pack's)")
	fs.IntVar(&f.steps, "steps", 0, "denoising steps (default: the pack's)")
	fs.IntVar(&f.maskSeeds, "mask-seeds", 0, "noise seeds averaged for the mask (default: the pack's)")
	fs.IntVar(&f.maskNoiseSteps, "mask-noise-steps", 0, "steps of noise for the mask (default: the pack's)")
	fs.IntVar(&f.blur, "blur-kernel", 0, "mask blur kernel, odd (default: the pack's)")
	fs.StringVar(&f.maskNormalize, "mask-normalize", "", "normalize_then_blur (the paper) or blur_then_normalize: the order of the mask's min-max normalisation and blur (default: the pack's)")
	fs.StringVar(&f.maskGuidance, "mask-guidance", "", "eq3 (the paper) or eq3_latent_blend: after each step, the noised input latent outside the mask (default: the pack's)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.StringVar(&f.crop, "crop", "", "the model's square: auto (the default when the pack has a face_box: find the face and put it where the pack wants it), centre (the largest square, horizontally centred, near the top of a tall photo) or x,y,w,h in photo pixels")
	fs.StringVar(&f.provider, "provider", "auto", "execution provider: auto, cpu, cuda or directml")
	fs.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime library to load when none sits beside the likeness binary (default: $LIKENESS_ORT_LIB, else the one make installs)")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads per model (0 = ONNX Runtime's choice)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object with outputs, settings, counters and timings")
	fs.BoolVar(&f.overwrite, "overwrite", false, "replace an existing output file")
	return f
}

func (f *editFlags) set(name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// settings starts from the pack's defaults and applies the flags given.
func (f *editFlags) settings(e *engine.Engine) (engine.Settings, error) {
	s := e.DefaultSettings()
	if f.subject != "" {
		s.Subject = f.subject
	}
	if f.direction != "" {
		s.Direction = f.direction
	}
	s.Target = f.target
	for name, dst := range map[string]*float64{"s1": &s.S1, "s2": &s.S2, "s3": &s.S3, "lambda": &s.Lambda} {
		if f.set(name) {
			*dst = map[string]float64{"s1": f.s1, "s2": f.s2, "s3": f.s3, "lambda": f.lambda}[name]
		}
	}
	if f.set("steps") {
		s.Steps = f.steps
	}
	if f.set("mask-seeds") {
		s.MaskSeeds = f.maskSeeds
	}
	if f.set("mask-noise-steps") {
		s.MaskNoiseSteps = f.maskNoiseSteps
	} else if s.MaskNoiseSteps > s.Steps {
		s.MaskNoiseSteps = max(1, min(s.MaskNoiseSteps, s.Steps)) // the manifest's rule
	}
	if f.set("blur-kernel") {
		s.BlurKernel = f.blur
	}
	if f.scheduler != "" {
		s.Scheduler = f.scheduler
	}
	if f.set("mask-normalize") {
		s.MaskNormalize = f.maskNormalize
	}
	if f.set("mask-guidance") {
		s.MaskGuidance = f.maskGuidance
	}
	s.Seed = f.seed
	if err := e.Validate(s); err != nil {
		return s, usageErr("%v", err)
	}
	return s, nil
}

func (f *editFlags) options() (app.Options, error) {
	p, err := ort.ParseProvider(f.provider)
	if err != nil {
		return app.Options{}, usageErr("--provider: %v", err)
	}
	return app.Options{Provider: p, ORTLib: f.ortLib, Threads: f.threads}, nil
}

func parseCrop(s string) (image.Rectangle, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return image.Rectangle{}, usageErr("--crop %q: want x,y,w,h", s)
	}
	var v [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return image.Rectangle{}, usageErr("--crop %q: %q is not a whole number", s, p)
		}
		v[i] = n
	}
	if v[2] <= 0 || v[3] <= 0 {
		return image.Rectangle{}, usageErr("--crop %q: width and height must be positive", s)
	}
	return image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), nil
}

// orList joins names as "a, b or c" for flag help.
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
