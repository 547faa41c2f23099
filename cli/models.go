package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"likeness/app"
	"likeness/engine"
	"likeness/internal/bytesize"
	"likeness/models"
	"likeness/models/synth"
	"likeness/ort"
)

func runModels(ctx context.Context, env *env, args []string) error {
	if len(args) == 0 {
		return usageErr("want a subcommand: list, install PATH, check DIR, remove NAME, synth [--out DIR]")
	}
	switch args[0] {
	case "list":
		return modelsList(ctx, env, args[1:])
	case "install":
		return modelsInstall(ctx, env, args[1:])
	case "check":
		return modelsCheck(ctx, env, args[1:])
	case "remove":
		return modelsRemove(ctx, env, args[1:])
	case "synth":
		return modelsSynth(ctx, env, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.stdout, modelsHelp)
		return nil
	}
	return usageErr("unknown subcommand %q: want list, install, check, remove or synth", args[0])
}

const modelsHelp = `likeness models: the model packs.

  likeness models list                 the installed packs (and broken ones)
  likeness models install PATH         a pack folder or .zip, verified and copied into the store
  likeness models install --starter    the starter packs built into likeness
  likeness models check DIR|NAME       the manifest, files and models against the contract, then the sessions
  likeness models remove NAME          remove an installed pack
  likeness models synth [--out DIR]    write the analytic demo pack

install, list and check's manifest part need no ONNX Runtime. Each takes -h.
`

type storeFlags struct {
	ortLib string
	dirs   string
}

func addStoreFlags(fs interface {
	StringVar(*string, string, string, string)
}) *storeFlags {
	f := &storeFlags{}
	fs.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime library to load")
	fs.StringVar(&f.dirs, "packs", "", "extra pack folders, separated by "+string(os.PathListSeparator))
	return f
}

func (f *storeFlags) store() *models.Store {
	var extra []string
	if f.dirs != "" {
		extra = strings.Split(f.dirs, string(os.PathListSeparator))
	}
	st := models.DefaultStore(extra...)
	st.Probe = models.UNetChannels
	return st
}

func modelsList(_ context.Context, env *env, args []string) error {
	fs := newFlags(env, "models list")
	sf := addStoreFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	// Listing reads manifests and the models' protobuf headers only: no
	// ONNX Runtime needed.
	st := sf.store()
	packs, errs := st.List()
	if *asJSON {
		type row struct {
			Name, Kind, Dir string
			Resolution      int
			Directions      []string
		}
		var rows []row
		for _, p := range packs {
			var ids []string
			for _, d := range p.Manifest.Directions {
				ids = append(ids, d.ID)
			}
			rows = append(rows, row{p.Name, string(p.Manifest.Kind), p.Dir, p.Manifest.Resolution, ids})
		}
		var bad []string
		for _, e := range errs {
			bad = append(bad, e.Error())
		}
		return printJSON(env.stdout, map[string]any{"store": st.Root, "packs": rows, "broken": bad})
	}
	if len(packs) == 0 && len(errs) == 0 {
		fmt.Fprintf(env.stdout, "no packs installed in %s\ninstall the starter packs with `likeness models install --starter` (or a pack with `likeness models install PATH`), or make the analytic demo with `likeness models synth`\n", st.Root)
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tRES\tDIRECTIONS\tFOLDER")
	for _, p := range packs {
		var ids []string
		for _, d := range p.Manifest.Directions {
			ids = append(ids, d.ID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.Name, p.Manifest.Kind, p.Manifest.Resolution, strings.Join(ids, ","), p.Dir)
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintf(env.stderr, "broken pack: %v\n", e)
	}
	return nil
}

func modelsInstall(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "models install")
	sf := addStoreFlags(fs)
	name := fs.String("name", "", "folder name in the store (default: from the manifest)")
	replace := fs.Bool("replace", false, "replace an installed pack of the same name")
	starters := fs.Bool("starter", false, "install the starter packs built into likeness (no PATH); packs already installed with the same files are skipped")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *starters {
		if fs.NArg() != 0 || *name != "" || *replace {
			return usageErr("--starter takes no PATH, --name or --replace")
		}
		return installStarters(ctx, env, sf, app.EmbeddedStarters())
	}
	if fs.NArg() != 1 {
		return usageErr("want one PATH (a pack folder or .zip), or --starter")
	}
	st := sf.store()
	p, err := st.Install(ctx, fs.Arg(0), models.InstallOptions{Name: *name, Replace: *replace, Progress: installProgress(env)})
	if env.tty {
		fmt.Fprint(env.stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if _, err := models.CheckSignatures(p); errors.Is(err, ort.ErrNoLibrary) {
		// A model the protobuf reader cannot parse, and no library to ask:
		// the files are in place, checked when the pack is first loaded.
		fmt.Fprintf(env.stderr, "warning: %v\n(the pack is installed; its models are checked when it is first loaded)\n", err)
	} else if err != nil {
		rmErr := st.Remove(p.Name)
		return fmt.Errorf("installed files are not a usable pack, removed again: %w", joinErr(err, rmErr))
	}
	fmt.Fprintf(env.stdout, "installed %s (%s) in %s\n", p.Name, p.Manifest.Kind, p.Dir)
	return nil
}

// installProgress draws an install's progress on a terminal.
func installProgress(env *env) func(models.Progress) error {
	return func(p models.Progress) error {
		if env.tty && p.Total > 0 {
			fmt.Fprintf(env.stderr, "\r%-8s %5.1f%% %-40.40s", p.Phase, 100*float64(p.Done)/float64(p.Total), p.File)
		}
		return nil
	}
}

// installStarters installs every pack of set (the embedded starter packs
// outside tests) and says what happened to each.
func installStarters(ctx context.Context, env *env, sf *storeFlags, set *app.StarterSet) error {
	// Installing copies and verifies files: no ONNX Runtime needed.
	a, err := app.New(app.Options{ORTLib: sf.ortLib, StoreOnly: true})
	if err != nil {
		return err
	}
	defer a.Close()
	a.Store = sf.store()
	res, err := a.InstallStarters(ctx, set, installProgress(env))
	if env.tty {
		fmt.Fprint(env.stderr, "\r\033[K")
	}
	for _, r := range res {
		switch r.Status {
		case app.StarterUnchanged:
			fmt.Fprintf(env.stdout, "%s: already installed in %s with the same files (SHA-256); skipped\n", r.Pack.Name, r.Dir)
		case app.StarterUpdated:
			fmt.Fprintf(env.stdout, "%s: updated in %s (the installed files differed; checksums verified)\n", r.Pack.Name, r.Dir)
		default:
			fmt.Fprintf(env.stdout, "%s: installed in %s (checksums verified)\n", r.Pack.Name, r.Dir)
		}
	}
	return err
}

func joinErr(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w (and removing it failed: %v)", a, b)
}

func modelsRemove(_ context.Context, env *env, args []string) error {
	fs := newFlags(env, "models remove")
	sf := addStoreFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("want one NAME")
	}
	if err := sf.store().Remove(fs.Arg(0)); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "removed %s\n", fs.Arg(0))
	return nil
}

func modelsCheck(ctx context.Context, env *env, args []string) error {
	fs := newFlags(env, "models check")
	sf := addStoreFlags(fs)
	provider := fs.String("provider", "auto", "execution provider to try: auto, cpu, cuda or directml")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("want one DIR (or installed pack name)")
	}
	prov, err := ort.ParseProvider(*provider)
	if err != nil {
		return usageErr("%v", err)
	}
	a, err := app.New(app.Options{Provider: prov, ORTLib: sf.ortLib})
	noORT := errors.Is(err, ort.ErrNoLibrary)
	if noORT {
		// The manifest, files and signatures are still checked; only the
		// sessions are not created.
		a, err = app.New(app.Options{StoreOnly: true})
	}
	if err != nil {
		return err
	}
	defer a.Close()
	a.Store = sf.store()
	p, err := a.FindPack(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := p.CheckFiles(); err != nil { // sizes and SHA-256 when the manifest lists them
		return err
	}
	if noORT {
		return checkManifestOnly(env, p)
	}
	start := time.Now()
	eng, err := a.Engine(ctx, p, nil)
	if err != nil {
		return err
	}
	// The optional face locator is checked too: a pack that ships a broken
	// one would otherwise fail only when a photo is framed.
	locSize, err := eng.CheckFaceLocator()
	if err != nil {
		return err
	}
	fgSize, err := eng.CheckForeground()
	if err != nil {
		return err
	}
	loadTime := time.Since(start)
	if *asJSON {
		return printJSON(env.stdout, checkReport(eng, loadTime))
	}
	w := env.stdout
	m := p.Manifest
	fmt.Fprintf(w, "pack %s: ok\n  folder:     %s\n  kind:       %s", p.Name, p.Dir, m.Kind)
	if !p.HasManifest {
		fmt.Fprint(w, " (inferred: no likeness.json)")
	}
	fmt.Fprintf(w, "\n  resolution: %d (latent %d, latent_factor %d)\n  text width: D=%d", eng.Sig.Resolution, eng.Sig.Latent, eng.Sig.LatentFactor, eng.Sig.D)
	if m.Kind == models.KindMCDM {
		fmt.Fprintf(w, ", image tokens K=%d, image embedding Dc=%d", eng.Sig.K, eng.Sig.Dc)
	}
	batch := "fixed 1 (one call per guidance branch)"
	if eng.Sig.BatchDynamic {
		batch = "dynamic"
	}
	fmt.Fprintf(w, "\n  unet batch: %s; branches batched: %v\n  vae output: %s\n", batch, eng.Batched(), eng.Sig.EncoderOutput)
	for _, warn := range app.PackWarnings(eng) {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	for _, mi := range eng.Models() {
		ms, _ := eng.Sig.Model(mi.Role)
		fmt.Fprintf(w, "  %-16s %8s  %s\n", mi.Role, bytesize.Format(mi.Bytes), mi.Provider)
		for _, t := range ms.Inputs {
			fmt.Fprintf(w, "      in  %s\n", t)
		}
		for _, t := range ms.Outputs {
			fmt.Fprintf(w, "      out %s\n", t)
		}
		for _, r := range mi.Refused {
			fmt.Fprintf(w, "      %s refused: %s\n", r.Provider, r.Reason)
		}
	}
	if locSize > 0 {
		fmt.Fprintf(w, "  face_locator     image [1,3,%d,%d] -> box [1,5]\n", locSize, locSize)
	}
	if fgSize > 0 {
		fmt.Fprintf(w, "  foreground       image [1,3,%d,%d] -> alpha [1,1,%d,%d] (cut-out for stickers)\n", fgSize, fgSize, fgSize, fgSize)
	}
	if fb := m.FaceBox; fb != nil {
		fmt.Fprintf(w, "  face_box:   %.3f, %.3f, %.3f, %.3f (where the pack wants the face)\n", fb[0], fb[1], fb[2], fb[3])
	}
	fmt.Fprintf(w, "  sessions created in %v\n", loadTime.Round(time.Millisecond))
	return nil
}

// checkManifestOnly is models check without ONNX Runtime: the manifest,
// the files and every model's declared signature, then an error saying
// the sessions were not tried.
func checkManifestOnly(env *env, p *models.Pack) error {
	sig, err := models.CheckSignatures(p)
	if err != nil {
		return err
	}
	w := env.stdout
	m := p.Manifest
	fmt.Fprintf(w, "pack %s: manifest and signatures ok\n  folder:     %s\n  kind:       %s\n  resolution: %d (latent %d, latent_factor %d)\n",
		p.Name, p.Dir, m.Kind, sig.Resolution, sig.Latent, sig.LatentFactor)
	for _, ms := range sig.Models {
		fmt.Fprintf(w, "  %-16s %8s\n", ms.Role, bytesize.Format(ms.Bytes))
	}
	if fb := m.FaceBox; fb != nil {
		fmt.Fprintf(w, "  face_box:   %.3f, %.3f, %.3f, %.3f (where the pack wants the face)\n", fb[0], fb[1], fb[2], fb[3])
	}
	return fmt.Errorf("pack %s: sessions not created: %w", p.Name, ort.ErrNoLibrary)
}

func checkReport(eng *engine.Engine, load time.Duration) map[string]any {
	type model struct {
		Role, Provider  string
		Bytes           int64
		Inputs, Outputs []string
		Refused         []string
	}
	var ms []model
	for _, mi := range eng.Models() {
		sig, _ := eng.Sig.Model(mi.Role)
		m := model{Role: mi.Role, Provider: string(mi.Provider), Bytes: mi.Bytes}
		for _, t := range sig.Inputs {
			m.Inputs = append(m.Inputs, t.String())
		}
		for _, t := range sig.Outputs {
			m.Outputs = append(m.Outputs, t.String())
		}
		for _, r := range mi.Refused {
			m.Refused = append(m.Refused, string(r.Provider)+": "+r.Reason)
		}
		ms = append(ms, m)
	}
	return map[string]any{"ok": true, "name": eng.Pack.Name, "dir": eng.Pack.Dir, "kind": eng.Sig.Kind, "manifest": eng.Pack.HasManifest,
		"resolution": eng.Sig.Resolution, "latent_factor": eng.Sig.LatentFactor, "latent": eng.Sig.Latent, "D": eng.Sig.D, "K": eng.Sig.K, "Dc": eng.Sig.Dc, "batch_dynamic": eng.Sig.BatchDynamic,
		"encoder_output": eng.Sig.EncoderOutput, "warnings": app.PackWarnings(eng), "models": ms, "load_ms": load.Milliseconds()}
}

func modelsSynth(_ context.Context, env *env, args []string) error {
	fs := newFlags(env, "models synth")
	out := fs.String("out", "", "folder to create (must not exist or be empty; default: a folder in the pack store, "+app.DemoPackName+" for the default options)")
	kind := fs.String("kind", "mcdm", "mcdm, ip2p or sd")
	res := fs.Int("resolution", 512, "model resolution (a multiple of --latent-factor)")
	factor := fs.Int("latent-factor", 8, "the VAE's downsampling: 2, 4, 8, 16, 32 or 64 (latent = resolution / factor)")
	name := fs.String("name", "", "pack name (default: a demo name)")
	anySize := fs.Bool("any-size", false, "the UNet takes latents of any height and width (the face region repeats every latent-size cells): what `likeness pairs` needs")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch *kind {
	case "mcdm", "ip2p", "sd":
	default:
		return usageErr("--kind %q: want mcdm, ip2p or sd", *kind)
	}
	if !models.ValidLatentFactor(*factor) {
		return usageErr("--latent-factor %d: want a power of two from 2 to 64", *factor)
	}
	dir, inStore := *out, *out == ""
	if inStore {
		// As the app's "Create demo pack" does: into the pack store, where
		// edit, compare and the app find it without --pack.
		dir = filepath.Join(models.DefaultStore().Root, synthFolder(*kind, *res, *factor))
		if *anySize {
			dir += "-any-size"
		}
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			fmt.Fprintf(env.stdout, "the analytic %s pack is already in the pack store at %s (`likeness models remove %s` removes it)\n", *kind, dir, filepath.Base(dir))
			return nil
		}
	}
	if _, err := synth.Write(dir, synth.Options{Kind: *kind, Resolution: *res, LatentFactor: *factor, Name: *name, AnySize: *anySize}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote the analytic %s pack (a demo that tints a region, not a trained editor) to %s\n", *kind, dir)
	return nil
}

// synthFolder is the store folder of an analytic pack: the app's demo pack
// folder for the defaults, else one named for the options that differ.
func synthFolder(kind string, res, factor int) string {
	name := app.DemoPackName
	if kind != "mcdm" {
		name += "-" + kind
	}
	if res != 512 {
		name += fmt.Sprintf("-%d", res)
	}
	if factor != 8 {
		name += fmt.Sprintf("-f%d", factor)
	}
	return name
}
