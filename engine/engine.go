package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"likeness/engine/scheduler"
	"likeness/engine/tokenizer"
	"likeness/models"
	"likeness/models/onnxpb"
	"likeness/ort"
)

// LoadOptions choose how a pack's models run.
type LoadOptions struct {
	Provider ort.Provider
	Threads  int
	// BatchBranches overrides the branch-batching policy: nil = batch on GPU
	// providers when the UNet's batch is dynamic, one call per branch on CPU
	// (measured on an SD 1.5 UNet at 512: batching 5 branches on CPU saves 3%
	// time but raises peak memory from 4.4 to 15.2 GiB).
	BatchBranches *bool
	Progress      ProgressFunc
	// CacheDir, when set, keeps ONNX Runtime's optimised graph of each model
	// there (per pack, model and provider; see ort.Cache), which makes every
	// start after the first create its sessions faster.
	CacheDir string
}

// LoadStats time a Load: checking the pack (sizes, manifest, every model's
// signature) and creating each model's session.
type LoadStats struct {
	Check    time.Duration
	Sessions time.Duration            // all sessions together
	Session  map[string]time.Duration // by role
	Cache    map[string]string        // by role: ort.CacheHit, ort.CacheStored or "" (off)
}

// ModelInfo tells the user where one model runs and why.
type ModelInfo struct {
	Role     string
	Path     string
	Bytes    int64
	Provider ort.Provider
	Refused  []ort.Refusal
}

// Engine is one loaded pack. Its methods may be called from several
// goroutines; model runs are serialised per session.
type Engine struct {
	Pack *models.Pack
	Sig  *models.Signature
	// Loading is how long Load took, by stage and model.
	Loading LoadStats

	tok   *tokenizer.Tokenizer
	sched scheduler.Config
	batch bool

	text, unet, vaeEnc, vaeDec, imgEnc, proj *ort.Session

	// A sampling vae_encoder made deterministic (see prepareVAE).
	vaeFixes []onnxpb.Fix
	vaeOpt   ort.Options
	vaeFresh bool

	// Optional helper models, opened on first use (see locate.go).
	locOpt  ort.Options
	locSess *ort.Session
	locSize int
	locErr  error
	fgSess  *ort.Session
	fgSize  int
	fgErr   error

	mu        sync.Mutex
	textCache *lru
	nullCS    []float32 // null spatial condition, computed once per engine
	counts    map[string]int
}

// Load validates the pack (files, manifest, every model's signature) and
// creates its sessions. Creating sessions for a real UNet takes seconds, so
// it reports progress and stops between models when ctx is cancelled.
func Load(ctx context.Context, pack *models.Pack, opt LoadOptions) (_ *Engine, err error) {
	if err := ort.Init(""); err != nil {
		return nil, err
	}
	checkStart := time.Now()
	if err := pack.CheckSizes(); err != nil {
		return nil, err
	}
	sig, err := models.CheckSignatures(pack)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(filepath.Join(pack.Dir, "tokenizer", "vocab.json"), filepath.Join(pack.Dir, "tokenizer", "merges.txt"))
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", pack.Name, err)
	}
	cfg, err := scheduler.LoadConfig(filepath.Join(pack.Dir, "scheduler", "scheduler_config.json"))
	if err != nil {
		if !errors.Is(err, errNotExist) {
			return nil, fmt.Errorf("pack %s: %w", pack.Name, err)
		}
		cfg = scheduler.DefaultConfig()
	}
	e := &Engine{Pack: pack, Sig: sig, tok: tok, sched: cfg, textCache: newLRU(64), counts: map[string]int{},
		locOpt:  ort.Options{Provider: opt.Provider, Threads: opt.Threads},
		Loading: LoadStats{Check: time.Since(checkStart), Session: map[string]time.Duration{}, Cache: map[string]string{}}}
	defer func() {
		if err != nil { // free the sessions already created
			err = errors.Join(err, e.Close())
		}
	}()
	roles := []struct {
		role string
		dst  **ort.Session
	}{{"text_encoder", &e.text}, {"unet", &e.unet}, {"vae_encoder", &e.vaeEnc}, {"vae_decoder", &e.vaeDec}}
	if sig.Kind == models.KindMCDM {
		roles = append(roles, struct {
			role string
			dst  **ort.Session
		}{"image_encoder", &e.imgEnc}, struct {
			role string
			dst  **ort.Session
		}{"image_projector", &e.proj})
	}
	for i, r := range roles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Phase: PhaseLoad, Step: i + 1, Steps: len(roles), Label: r.role})
		}
		// The signature check already read each model's tensors.
		ms, _ := sig.Model(r.role)
		o := ort.Options{Provider: opt.Provider, Threads: opt.Threads,
			Outputs: []string{outputOf(r.role, sig)}, Signature: &ort.Signature{Inputs: ms.Inputs, Outputs: ms.Outputs},
			Cache: modelCache(opt.CacheDir, pack, r.role)}
		if r.role == models.RoleVAEEncoder {
			if err := e.prepareVAE(pack.ModelPath(r.role), &o); err != nil {
				return nil, fmt.Errorf("pack %s: %s: %w", pack.Name, r.role, err)
			}
		}
		s, err := ort.Open(pack.ModelPath(r.role), o)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %s: %w", pack.Name, r.role, err)
		}
		*r.dst = s
		e.Loading.Session[r.role], e.Loading.Cache[r.role] = s.Created, s.Cache
		e.Loading.Sessions += s.Created
	}
	if opt.BatchBranches != nil {
		e.batch = *opt.BatchBranches && sig.BatchDynamic
	} else {
		e.batch = sig.BatchDynamic && e.unet.Provider != ort.CPU
	}
	return e, nil
}

// Close frees every session. Safe on a partly loaded engine.
func (e *Engine) Close() error {
	var errs []error
	e.mu.Lock()
	loc, fg := e.locSess, e.fgSess
	e.locSess, e.locErr = nil, errors.New("engine closed")
	e.fgSess, e.fgErr = nil, errors.New("engine closed")
	e.mu.Unlock()
	for _, s := range []*ort.Session{e.text, e.unet, e.vaeEnc, e.vaeDec, e.imgEnc, e.proj, loc, fg} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// Models reports each loaded model's provider and size.
func (e *Engine) Models() []ModelInfo {
	var out []ModelInfo
	for _, ms := range e.Sig.Models {
		mi := ModelInfo{Role: ms.Role, Path: ms.Path, Bytes: ms.Bytes}
		if s := e.session(ms.Role); s != nil {
			mi.Provider, mi.Refused = s.Provider, s.Refused
		}
		out = append(out, mi)
	}
	return out
}

func (e *Engine) session(role string) *ort.Session {
	switch role {
	case "text_encoder":
		return e.text
	case "unet":
		return e.unet
	case "vae_encoder":
		return e.vaeEnc
	case "vae_decoder":
		return e.vaeDec
	case "image_encoder":
		return e.imgEnc
	case "image_projector":
		return e.proj
	}
	return nil
}

// Batched reports whether guidance branches share one UNet call.
func (e *Engine) Batched() bool { return e.batch }

// Manifest is the pack's manifest.
func (e *Engine) Manifest() *models.Manifest { return e.Pack.Manifest }

// ortTime sums the time all sessions spent inside ONNX Runtime.
func (e *Engine) ortTime() time.Duration {
	var d time.Duration
	for _, s := range []*ort.Session{e.text, e.unet, e.vaeEnc, e.vaeDec, e.imgEnc, e.proj} {
		if s != nil {
			d += s.Stats().InRun
		}
	}
	return d
}

// unetRuns counts UNet session calls (not branch evaluations).
func (e *Engine) unetRuns() int64 { return e.unet.Stats().Runs }

// outputOf names the one output the engine reads from each model.
func outputOf(role string, sig *models.Signature) string {
	switch role {
	case "text_encoder":
		return "last_hidden_state"
	case "unet":
		return "out_sample"
	case "vae_encoder":
		return sig.EncoderOutput
	case "vae_decoder":
		return "sample"
	case "image_encoder":
		return "image_embeds"
	}
	return "image_tokens"
}
