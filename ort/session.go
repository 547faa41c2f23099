package ort

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ortgo "github.com/yalue/onnxruntime_go"
)

// Provider names an execution provider preference.
type Provider string

// Execution providers. Auto tries CUDA, then DirectML, then CPU.
const (
	Auto     Provider = "auto"
	CPU      Provider = "cpu"
	CUDA     Provider = "cuda"
	DirectML Provider = "directml"
)

// ParseProvider accepts the names users type.
func ParseProvider(s string) (Provider, error) {
	switch p := Provider(strings.ToLower(strings.TrimSpace(s))); p {
	case "", Auto:
		return Auto, nil
	case CPU, CUDA, DirectML:
		return p, nil
	case "dml":
		return DirectML, nil
	}
	return "", fmt.Errorf("unknown provider %q: want auto, cpu, cuda or directml", s)
}

// ErrProviderUnavailable means a forced provider could not be used.
var ErrProviderUnavailable = errors.New("execution provider unavailable")

// Options configure a session.
type Options struct {
	Provider Provider
	DeviceID int // GPU index for CUDA and DirectML
	Threads  int // CPU intra-op threads; 0 = ONNX Runtime's default
	// Outputs restricts the computed outputs (e.g. a text encoder's
	// last_hidden_state without its pooler_output); nil = all.
	Outputs []string
	// Signature, when the caller has already read it (ReadSignature), saves
	// reading the model a second time just to learn its tensors.
	Signature *Signature
	// Cache, when set, keeps ONNX Runtime's optimised graph between runs
	// (see Cache).
	Cache *Cache
	// Model, when set, is the model to load instead of the file at path (a
	// rewritten copy of it); path still names it in messages, and external
	// data files are looked up beside path. Such sessions skip the Cache.
	Model []byte
}

// Refusal records why a preferred provider was not used.
type Refusal struct {
	Provider Provider
	Reason   string
}

// Session is one loaded model. Run may be called from several goroutines;
// calls are serialised because the reusable input buffers are per session.
type Session struct {
	Path     string
	Inputs   []TensorInfo
	Outputs  []TensorInfo
	Provider Provider  // the provider the session got
	Refused  []Refusal // the preferred ones it did not get, and why
	// Created is how long creating the native session took (for the
	// provider it got), and Cache what the optimised-graph cache did:
	// CacheHit, CacheStored or CacheOff.
	Created time.Duration
	Cache   string

	mu      sync.Mutex
	sess    *ortgo.DynamicAdvancedSession
	inBufs  map[string]*buffer
	outBufs map[string]*buffer
	runs    atomic.Int64
	inRun   atomic.Int64 // nanoseconds spent inside ONNX Runtime
	closed  bool
}

var liveSessions, liveValues atomic.Int64

// Live reports the native sessions and tensors currently held by this
// package; both return to zero when everything is closed.
func Live() (sessions, values int64) { return liveSessions.Load(), liveValues.Load() }

// Open loads a model with the provider preference in opt. The library must
// have been started with Init.
func Open(path string, opt Options) (*Session, error) {
	if opt.Provider == "" {
		opt.Provider = Auto
	}
	if err := Init(""); err != nil {
		return nil, err
	}
	var ins, outs []TensorInfo
	if opt.Signature != nil {
		ins, outs = opt.Signature.Inputs, opt.Signature.Outputs
	} else {
		var err error
		if ins, outs, err = ReadSignature(path); err != nil {
			return nil, err
		}
	}
	order, refused, err := providerOrder(opt.Provider)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	inNames := make([]string, len(ins))
	for i, t := range ins {
		inNames[i] = t.Name
	}
	if opt.Outputs != nil {
		var keep []TensorInfo
		for _, name := range opt.Outputs {
			t, ok := find(outs, name)
			if !ok {
				return nil, fmt.Errorf("%s: no output %q", path, name)
			}
			keep = append(keep, t)
		}
		outs = keep
	}
	outNames := make([]string, len(outs))
	for i, t := range outs {
		outNames[i] = t.Name
	}
	for _, p := range order {
		if reason, ok := unavailable.Load(p); ok && opt.Provider == Auto {
			refused = append(refused, Refusal{p, reason.(string)})
			continue
		}
		start := time.Now()
		sess, cache, err := newCachedSession(path, p, opt, inNames, outNames)
		if trimScratch() {
			releaseScratch()
		}
		if err != nil {
			reason := explain(p, err)
			if providerMissing(err) {
				unavailable.Store(p, reason) // the library lacks it: don't retry per model
			}
			refused = append(refused, Refusal{p, reason})
			if opt.Provider != Auto {
				return nil, fmt.Errorf("%s: %w: %s: %v", path, ErrProviderUnavailable, p, err)
			}
			continue
		}
		liveSessions.Add(1)
		return &Session{Path: path, Inputs: ins, Outputs: outs, Provider: p, Refused: refused,
			Created: time.Since(start), Cache: cache,
			sess: sess, inBufs: map[string]*buffer{}, outBufs: map[string]*buffer{}}, nil
	}
	return nil, fmt.Errorf("%s: no execution provider could load the model: %v", path, refused)
}

func providerOrder(p Provider) ([]Provider, []Refusal, error) {
	switch p {
	case "", Auto:
		var order []Provider
		var refused []Refusal
		order = append(order, CUDA)
		if runtime.GOOS == "windows" {
			order = append(order, DirectML)
		} else {
			refused = append(refused, Refusal{DirectML, "DirectML exists only on Windows"})
		}
		return append(order, CPU), refused, nil
	case CPU, CUDA:
		return []Provider{p}, nil, nil
	case DirectML:
		if runtime.GOOS != "windows" {
			return nil, nil, fmt.Errorf("%w: DirectML exists only on Windows", ErrProviderUnavailable)
		}
		return []Provider{p}, nil, nil
	}
	return nil, nil, fmt.Errorf("unknown provider %q", p)
}

// newCachedSession creates the session through the optimised-graph cache
// when opt asks for one: from the cached graph when it is current, else from
// the model, writing the optimised graph as it goes. A cache that fails in
// any way costs at most a second creation, never the session.
func newCachedSession(path string, p Provider, opt Options, ins, outs []string) (*ortgo.DynamicAdvancedSession, string, error) {
	c := opt.Cache
	if c == nil || c.Dir == "" || p == DirectML || opt.Model != nil { // DirectML compiles nodes, which ONNX Runtime cannot save
		s, err := newSession(path, p, opt, ins, outs, "", false)
		return s, CacheOff, err
	}
	if cached, ok := c.lookup(p); ok {
		s, err := newSession(cached, p, opt, ins, outs, "", true)
		if err == nil {
			return s, CacheHit, nil
		}
		c.forget(p) // unreadable: rebuild it below
	}
	tmp, err := c.begin()
	if err != nil {
		s, err := newSession(path, p, opt, ins, outs, "", false)
		return s, CacheOff, err
	}
	s, err := newSession(path, p, opt, ins, outs, filepath.Join(tmp, cacheModel), false)
	if err != nil {
		os.RemoveAll(tmp)
		if providerMissing(err) {
			return nil, CacheOff, err
		}
		s, err := newSession(path, p, opt, ins, outs, "", false)
		return s, CacheOff, err
	}
	if err := c.commit(tmp, p); err != nil {
		os.RemoveAll(tmp)
		return s, CacheOff, nil
	}
	return s, CacheStored, nil
}

// newSession creates one native session. saveTo, when set, makes ONNX
// Runtime write the optimised graph there (weights in an external file);
// optimised says the model already is one, so the optimiser is skipped.
func newSession(path string, p Provider, opt Options, ins, outs []string, saveTo string, optimised bool) (sess *ortgo.DynamicAdvancedSession, err error) {
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if saveTo != "" {
		if err := so.SetOptimizedModelFilePath(saveTo); err != nil {
			return nil, err
		}
		if err := so.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", cacheData); err != nil {
			return nil, err
		}
		if err := so.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024"); err != nil {
			return nil, err
		}
	}
	if optimised {
		if err := so.SetGraphOptimizationLevel(ortgo.GraphOptimizationLevelDisableAll); err != nil {
			return nil, err
		}
	}
	if err := applyMemoryOptions(so, p); err != nil {
		return nil, err
	}
	if opt.Threads > 0 {
		if err := so.SetIntraOpNumThreads(opt.Threads); err != nil {
			return nil, err
		}
	}
	// Idle pool threads would otherwise spin after each run and take the
	// cores from the Go code between UNet calls (scheduler, guidance).
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, err
	}
	switch p {
	case CUDA:
		co, err := ortgo.NewCUDAProviderOptions()
		if err != nil {
			return nil, firstLine(err)
		}
		defer co.Destroy()
		if err := co.Update(map[string]string{"device_id": fmt.Sprint(opt.DeviceID)}); err != nil {
			return nil, firstLine(err)
		}
		if err := so.AppendExecutionProviderCUDA(co); err != nil {
			return nil, firstLine(err)
		}
	case DirectML:
		// DirectML needs sequential execution and no memory pattern.
		if err := so.SetMemPattern(false); err != nil {
			return nil, err
		}
		if err := so.SetExecutionMode(ortgo.ExecutionModeSequential); err != nil {
			return nil, err
		}
		if err := so.AppendExecutionProviderDirectML(opt.DeviceID); err != nil {
			return nil, firstLine(err)
		}
	}
	if opt.Model != nil && !optimised && saveTo == "" {
		if err := so.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", filepath.Dir(path)); err != nil {
			return nil, err
		}
		sess, err = ortgo.NewDynamicAdvancedSessionWithONNXData(opt.Model, ins, outs, so)
	} else {
		sess, err = ortgo.NewDynamicAdvancedSession(path, ins, outs, so)
	}
	if err != nil {
		return nil, firstLine(err)
	}
	return sess, nil
}

// unavailable remembers providers this process's library lacks.
var unavailable sync.Map // Provider -> reason

func providerMissing(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Failed to load library") || strings.Contains(s, "not available") ||
		strings.Contains(s, "not enabled") || strings.Contains(s, "was not registered")
}

// explain turns ONNX Runtime's refusals into something a user can act on.
func explain(p Provider, err error) string {
	s := err.Error()
	if p == CUDA && strings.Contains(s, "providers_shared") {
		return "this ONNX Runtime build has no CUDA support; set " + EnvLibrary + " to an onnxruntime-gpu library (with CUDA 12 and cuDNN 9 installed)"
	}
	if p == CUDA && strings.Contains(s, "libonnxruntime_providers_cuda") {
		return "the CUDA provider library could not be loaded (are CUDA 12 and cuDNN 9 installed?): " + s
	}
	return s
}

// firstLine keeps refusal reasons readable: ONNX Runtime's messages can run
// to pages of search paths.
func firstLine(err error) error {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	return errors.New(s)
}

// Stats counts the runs of a session and the time spent inside ONNX Runtime.
type Stats struct {
	Runs  int64
	InRun time.Duration
}

// Stats returns the session's counters so far.
func (s *Session) Stats() Stats {
	return Stats{Runs: s.runs.Load(), InRun: time.Duration(s.inRun.Load())}
}

// Input returns the declared input by name.
func (s *Session) Input(name string) (TensorInfo, bool) { return find(s.Inputs, name) }

// Output returns the declared output by name.
func (s *Session) Output(name string) (TensorInfo, bool) { return find(s.Outputs, name) }

func find(ts []TensorInfo, name string) (TensorInfo, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// Run evaluates the model. Every declared input must be given; values are
// converted to the declared element types. outShapes gives the shape of each
// output the caller wants (required for float16 outputs, whose buffers must be
// allocated here); outputs not named are computed but dropped only if the model
// allows it, so name all of them. Cancelling ctx terminates the native run.
func (s *Session) Run(ctx context.Context, in map[string]Value, outShapes map[string][]int64) (map[string]Value, error) {
	return s.RunInto(ctx, in, outShapes, nil)
}

// RunInto is Run that writes float outputs into the caller's buffers in dst
// when they have the room, so a denoising loop allocates nothing per call.
func (s *Session) RunInto(ctx context.Context, in map[string]Value, outShapes map[string][]int64, dst map[string][]float32) (map[string]Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("%s: session is closed", s.Path)
	}
	inputs := make([]ortgo.Value, len(s.Inputs))
	for i, info := range s.Inputs {
		v, ok := in[info.Name]
		if !ok {
			return nil, fmt.Errorf("%s: input %q not given", s.Path, info.Name)
		}
		b, err := s.inputBuffer(info, v)
		if err != nil {
			return nil, fmt.Errorf("%s: input %q: %w", s.Path, info.Name, err)
		}
		inputs[i] = b.value
	}
	outputs := make([]ortgo.Value, len(s.Outputs))
	var owned []ortgo.Value
	defer func() {
		for _, v := range owned {
			if v != nil {
				v.Destroy()
				liveValues.Add(-1)
			}
		}
	}()
	for i, info := range s.Outputs {
		shape, ok := outShapes[info.Name]
		if !ok {
			if info.Type == Float16 {
				return nil, fmt.Errorf("%s: output %q is float16 and needs its shape", s.Path, info.Name)
			}
			continue // ONNX Runtime allocates it
		}
		b := s.outBufs[info.Name]
		if b == nil || !sameShape(b.shape, shape) {
			if b != nil {
				b.value.Destroy()
				liveValues.Add(-1)
				delete(s.outBufs, info.Name)
			}
			v, err := newValue(info.Type, shape)
			if err != nil {
				return nil, fmt.Errorf("%s: output %q: %w", s.Path, info.Name, err)
			}
			liveValues.Add(1)
			b = &buffer{typ: info.Type, shape: append([]int64(nil), shape...), value: v}
			s.outBufs[info.Name] = b
		}
		outputs[i] = b.value
	}

	ro, err := ortgo.NewRunOptions()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	defer ro.Destroy()
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(terminated)
		ro.Terminate()
	})
	start := time.Now()
	runErr := s.sess.RunWithOptions(inputs, outputs, ro)
	s.inRun.Add(int64(time.Since(start)))
	s.runs.Add(1)
	if !stop() {
		<-terminated // a Terminate already under way must finish before Destroy
	}
	// Values ONNX Runtime allocated are ours to free from here on.
	for i := range s.Outputs {
		if _, given := outShapes[s.Outputs[i].Name]; !given && outputs[i] != nil {
			liveValues.Add(1)
			owned = append(owned, outputs[i])
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if runErr != nil {
		return nil, fmt.Errorf("%s: run: %w", s.Path, runErr)
	}
	res := make(map[string]Value, len(outputs))
	for i, info := range s.Outputs {
		v, err := readValue(outputs[i], dst[info.Name])
		if err != nil {
			return nil, fmt.Errorf("%s: output %q: %w", s.Path, info.Name, err)
		}
		res[info.Name] = v
	}
	return res, nil
}

// Close frees the native session and its buffers. It is safe to call twice.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, bufs := range []map[string]*buffer{s.inBufs, s.outBufs} {
		for _, b := range bufs {
			errs = append(errs, b.value.Destroy())
			liveValues.Add(-1)
		}
	}
	s.inBufs, s.outBufs = nil, nil
	errs = append(errs, s.sess.Destroy())
	liveSessions.Add(-1)
	return errors.Join(errs...)
}
