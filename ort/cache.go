package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	ortgo "github.com/yalue/onnxruntime_go"
	"golang.org/x/sys/cpu"
)

// Cache asks Open to keep ONNX Runtime's optimised graph of a model: the
// first session for a provider writes it (with its weights in an external
// data file) while it is created, later ones load it with graph
// optimisation off, which skips the optimiser's passes over the weights.
//
// The entry for provider P lives in Dir+"-"+P and is used only when its key
// file equals Key plus the runtime's version, the provider and the CPU's
// vector features (the CPU graph is laid out for them); anything else is
// stale and is rebuilt. Entries are written to a temporary folder and
// renamed into place, so a crash or a concurrent start never leaves half an
// entry to be read.
type Cache struct {
	Dir string // one folder per model, e.g. $XDG_CACHE_HOME/likeness/optimized/<pack>/<role>
	Key string // what the model is: its files' digests or sizes and times
}

// Cache outcomes, reported in Session.Cache.
const (
	CacheHit    = "hit"    // loaded the optimised graph
	CacheStored = "stored" // optimised and wrote the graph for next time
	CacheOff    = ""       // no cache asked for, or none possible (DirectML)
)

const (
	cacheModel = "model.onnx"
	cacheData  = "model.onnx.data"
	cacheKey   = "key"
)

func (c *Cache) entry(p Provider) (dir, key string) {
	key = fmt.Sprintf("%s\nonnxruntime %s\nprovider %s\ncpu %s\n", strings.TrimSpace(c.Key), ortgo.GetVersion(), p, cpuFeatures())
	return c.Dir + "-" + string(p), key
}

// cpuFeatures names what changes the CPU provider's layout choices.
func cpuFeatures() string {
	f := []string{runtime.GOARCH}
	if cpu.X86.HasAVX2 {
		f = append(f, "avx2")
	}
	if cpu.X86.HasAVX512F {
		f = append(f, "avx512f")
	}
	if cpu.X86.HasAVX512VNNI {
		f = append(f, "avx512vnni")
	}
	if cpu.ARM64.HasASIMD {
		f = append(f, "asimd")
	}
	return strings.Join(f, ",")
}

// lookup returns the cached graph's path if the entry is current.
func (c *Cache) lookup(p Provider) (string, bool) {
	dir, key := c.entry(p)
	got, err := os.ReadFile(filepath.Join(dir, cacheKey))
	if err != nil || string(got) != key {
		return "", false
	}
	m := filepath.Join(dir, cacheModel)
	if _, err := os.Stat(m); err != nil {
		return "", false
	}
	return m, true
}

// begin makes the temporary folder a new entry is written to.
func (c *Cache) begin() (string, error) {
	if err := os.MkdirAll(filepath.Dir(c.Dir), 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(filepath.Dir(c.Dir), "."+filepath.Base(c.Dir)+".partial-")
}

// commit writes the key and renames the finished entry into place.
func (c *Cache) commit(tmp string, p Provider) error {
	dir, key := c.entry(p)
	if _, err := os.Stat(filepath.Join(tmp, cacheModel)); err != nil {
		return fmt.Errorf("onnx runtime wrote no optimised model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, cacheKey), []byte(key), 0o644); err != nil {
		return err
	}
	old := dir + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err // another process got there first; its entry is as good
	}
	return os.RemoveAll(old)
}

// forget removes a provider's entry (one ONNX Runtime could not load).
func (c *Cache) forget(p Provider) {
	dir, _ := c.entry(p)
	_ = os.RemoveAll(dir)
}

// EnvSessionConfig names the environment variable that adds ONNX Runtime
// session settings, for measurements: "key=value;key=value", where a key is
// a session config entry (e.g. session.disable_prepacking=1) or one of
// cpu_arena=0|1, mem_pattern=0|1 and malloc_trim=0|1.
const EnvSessionConfig = "LIKENESS_ORT_CONFIG"

// memoryDefaults are the settings that keep peak memory down on the CPU,
// where a large model's weights and activations share the machine's RAM.
// use_device_allocator_for_initializers: weights are allocated exactly,
// not carved from the arena, whose blocks grow by doubling and are never
// returned, so the arena holds activations only.
// cpu_arena=0: no arena for activations either. With the memory pattern on,
// a run makes few large allocations, so the arena saves little time, and
// its doubling blocks cost the most memory: on an SD 1.5-sized UNet at 512
// (`likeness mask`, 2 UNet evaluations, graph cache warm) peak RSS fell from
// 6.04 to 4.87 GiB.
var memoryDefaults = map[Provider]map[string]string{
	CPU: {"session.use_device_allocator_for_initializers": "1", "cpu_arena": "0"},
}

// memoryConfig is a provider's memory settings: memoryDefaults, then the
// entries of env (the value of EnvSessionConfig), which win.
func memoryConfig(p Provider, env string) map[string]string {
	cfg := map[string]string{}
	for k, v := range memoryDefaults[p] {
		cfg[k] = v
	}
	for _, kv := range strings.Split(env, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k != "" {
			cfg[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return cfg
}

func applyMemoryOptions(so *ortgo.SessionOptions, p Provider) error {
	for k, v := range memoryConfig(p, os.Getenv(EnvSessionConfig)) {
		var err error
		switch k {
		case "malloc_trim": // not a session setting (trimScratch)
		case "cpu_arena":
			err = so.SetCpuMemArena(v != "0")
		case "mem_pattern":
			err = so.SetMemPattern(v != "0")
		default:
			err = so.AddSessionConfigEntry(k, v)
		}
		if err != nil {
			return fmt.Errorf("session setting %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// trimScratch reports whether to release session-creation scratch memory
// (releaseScratch) after each session; malloc_trim=0 in
// $LIKENESS_ORT_CONFIG turns it off, for measurements.
func trimScratch() bool {
	for _, kv := range strings.Split(os.Getenv(EnvSessionConfig), ";") {
		if strings.TrimSpace(kv) == "malloc_trim=0" {
			return false
		}
	}
	return true
}
