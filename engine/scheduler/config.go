package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
)

// Config holds the keys of a diffusers scheduler_config.json. It is the
// union of the constructor arguments of the schedulers this package ports;
// each scheduler reads the keys its diffusers constructor takes and fills
// the rest with that constructor's defaults. A key counts as given only when
// it was parsed with a non-null value or passed to Set, so change fields
// through Set (assigning a field directly does not mark it as given).
type Config struct {
	ClassName           string    // _class_name, informative only
	NumTrainTimesteps   int       // num_train_timesteps
	BetaStart           float64   // beta_start
	BetaEnd             float64   // beta_end
	BetaSchedule        string    // beta_schedule
	TrainedBetas        []float64 // trained_betas
	PredictionType      string    // prediction_type
	TimestepSpacing     string    // timestep_spacing
	StepsOffset         int       // steps_offset
	RescaleBetasZeroSNR bool      // rescale_betas_zero_snr
	Thresholding        bool      // thresholding (unsupported when true)

	ClipSample      bool    // clip_sample (DDIM)
	ClipSampleRange float64 // clip_sample_range (DDIM)
	SetAlphaToOne   bool    // set_alpha_to_one (DDIM)

	SolverOrder      int     // solver_order (UniPC; DPM++ 2M is always 2)
	SolverType       string  // solver_type
	PredictX0        bool    // predict_x0 (UniPC)
	LowerOrderFinal  bool    // lower_order_final
	DisableCorrector []int   // disable_corrector (UniPC)
	FinalSigmasType  string  // final_sigmas_type
	UseKarrasSigmas  bool    // use_karras_sigmas
	EulerAtFinal     bool    // euler_at_final (DPM)
	LambdaMinClipped float64 // lambda_min_clipped (DPM); may be -Inf
	AlgorithmType    string  // algorithm_type (DPM)
	SigmaMin         float64 // sigma_min (UniPC Karras); meaningful when set
	SigmaMax         float64 // sigma_max (UniPC Karras); meaningful when set

	// Unsupported switches: New refuses a scheduler whose diffusers class
	// takes one of these keys when it is set to a non-default value.
	UseExponentialSigmas bool   // use_exponential_sigmas
	UseBetaSigmas        bool   // use_beta_sigmas
	UseFlowSigmas        bool   // use_flow_sigmas
	UseLuLambdas         bool   // use_lu_lambdas
	VarianceType         string // variance_type
	SolverP              bool   // solver_p is non-null
	UseDynamicShifting   bool   // use_dynamic_shifting (needs a shift mu only flow-matching pipelines pass)
	ShiftTerminal        bool   // shift_terminal is non-null (UniPC; diffusers allows it only with use_flow_sigmas)

	// Raw holds every key of the parsed document, known or not.
	Raw map[string]json.RawMessage

	set map[string]bool
}

// IsSet reports whether key was given a non-null value.
func (c Config) IsSet(key string) bool { return c.set[key] }

// Set gives key a value as if it had appeared in the JSON document. A nil
// value clears the key back to "not given". Unknown keys are kept in Raw.
func (c *Config) Set(key string, value any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("%w: key %q: %v", ErrInvalidConfig, key, err)
	}
	// Copy on write: Config values are copied freely and must not share maps.
	c.set = maps.Clone(c.set)
	c.Raw = maps.Clone(c.Raw)
	return c.setRaw(key, raw)
}

func (c *Config) setRaw(key string, raw json.RawMessage) error {
	if c.set == nil {
		c.set = map[string]bool{}
	}
	if c.Raw == nil {
		c.Raw = map[string]json.RawMessage{}
	}
	c.Raw[key] = raw
	f, ok := fields[key]
	if !ok {
		return nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		delete(c.set, key)
		return nil
	}
	if err := f.decode(c, raw); err != nil {
		return fmt.Errorf("%w: key %q: %v", ErrInvalidConfig, key, err)
	}
	c.set[key] = true
	return nil
}

// ParseConfig decodes a diffusers scheduler_config.json. Unknown keys are
// kept in Raw and otherwise ignored; null means "use the default". Python's
// json writes -Infinity, Infinity and NaN bare, so those are accepted too.
func ParseConfig(data []byte) (Config, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(pythonJSONConstants(data), &obj); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if obj == nil {
		return Config{}, fmt.Errorf("%w: top level is not a JSON object", ErrInvalidConfig)
	}
	var c Config
	// Sorted so that the first bad key reported is stable.
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if err := c.setRaw(k, obj[k]); err != nil {
			return Config{}, err
		}
	}
	if c.Raw == nil {
		c.Raw = map[string]json.RawMessage{}
		c.set = map[string]bool{}
	}
	return c, nil
}

// LoadConfig reads and parses a scheduler_config.json. A missing file gives
// an error wrapping fs.ErrNotExist.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	return c, nil
}

// DefaultConfig is the model-contract default for a pack without a
// scheduler config: Stable Diffusion 1.5's schedule.
func DefaultConfig() Config {
	c, err := ParseConfig([]byte(`{
		"num_train_timesteps": 1000,
		"beta_start": 0.00085,
		"beta_end": 0.012,
		"beta_schedule": "scaled_linear",
		"steps_offset": 1,
		"set_alpha_to_one": false,
		"clip_sample": false,
		"prediction_type": "epsilon"
	}`))
	if err != nil {
		panic("scheduler: bad built-in default config: " + err.Error())
	}
	return c
}

// pythonJSONConstants quotes the bare NaN, Infinity and -Infinity tokens
// that Python's json module writes, so encoding/json can read them as
// strings.
func pythonJSONConstants(data []byte) []byte {
	if !bytes.Contains(data, []byte("Infinity")) && !bytes.Contains(data, []byte("NaN")) {
		return data
	}
	var out bytes.Buffer
	inStr, esc := false, false
	for i := 0; i < len(data); i++ {
		b := data[i]
		if inStr {
			out.WriteByte(b)
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				inStr = false
			}
			continue
		}
		if b == '"' {
			inStr = true
			out.WriteByte(b)
			continue
		}
		matched := false
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(data[i:], []byte(tok)) {
				out.WriteString(`"` + tok + `"`)
				i += len(tok) - 1
				matched = true
				break
			}
		}
		if !matched {
			out.WriteByte(b)
		}
	}
	return out.Bytes()
}

type field struct {
	decode func(c *Config, raw json.RawMessage) error
	copy   func(dst, src *Config)
}

var fields = map[string]field{
	"_class_name":            stringField(func(c *Config) *string { return &c.ClassName }),
	"num_train_timesteps":    intField(func(c *Config) *int { return &c.NumTrainTimesteps }),
	"beta_start":             floatField(func(c *Config) *float64 { return &c.BetaStart }),
	"beta_end":               floatField(func(c *Config) *float64 { return &c.BetaEnd }),
	"beta_schedule":          stringField(func(c *Config) *string { return &c.BetaSchedule }),
	"trained_betas":          floatsField(func(c *Config) *[]float64 { return &c.TrainedBetas }),
	"prediction_type":        stringField(func(c *Config) *string { return &c.PredictionType }),
	"timestep_spacing":       stringField(func(c *Config) *string { return &c.TimestepSpacing }),
	"steps_offset":           intField(func(c *Config) *int { return &c.StepsOffset }),
	"rescale_betas_zero_snr": boolField(func(c *Config) *bool { return &c.RescaleBetasZeroSNR }),
	"thresholding":           boolField(func(c *Config) *bool { return &c.Thresholding }),
	"clip_sample":            boolField(func(c *Config) *bool { return &c.ClipSample }),
	"clip_sample_range":      floatField(func(c *Config) *float64 { return &c.ClipSampleRange }),
	"set_alpha_to_one":       boolField(func(c *Config) *bool { return &c.SetAlphaToOne }),
	"solver_order":           intField(func(c *Config) *int { return &c.SolverOrder }),
	"solver_type":            stringField(func(c *Config) *string { return &c.SolverType }),
	"predict_x0":             boolField(func(c *Config) *bool { return &c.PredictX0 }),
	"lower_order_final":      boolField(func(c *Config) *bool { return &c.LowerOrderFinal }),
	"disable_corrector":      intsField(func(c *Config) *[]int { return &c.DisableCorrector }),
	"final_sigmas_type":      stringField(func(c *Config) *string { return &c.FinalSigmasType }),
	"use_karras_sigmas":      boolField(func(c *Config) *bool { return &c.UseKarrasSigmas }),
	"euler_at_final":         boolField(func(c *Config) *bool { return &c.EulerAtFinal }),
	"lambda_min_clipped":     floatField(func(c *Config) *float64 { return &c.LambdaMinClipped }),
	"algorithm_type":         stringField(func(c *Config) *string { return &c.AlgorithmType }),
	"sigma_min":              floatField(func(c *Config) *float64 { return &c.SigmaMin }),
	"sigma_max":              floatField(func(c *Config) *float64 { return &c.SigmaMax }),
	"use_exponential_sigmas": boolField(func(c *Config) *bool { return &c.UseExponentialSigmas }),
	"use_beta_sigmas":        boolField(func(c *Config) *bool { return &c.UseBetaSigmas }),
	"use_flow_sigmas":        boolField(func(c *Config) *bool { return &c.UseFlowSigmas }),
	"use_lu_lambdas":         boolField(func(c *Config) *bool { return &c.UseLuLambdas }),
	"variance_type":          stringField(func(c *Config) *string { return &c.VarianceType }),
	"use_dynamic_shifting":   boolField(func(c *Config) *bool { return &c.UseDynamicShifting }),
	"solver_p": {
		decode: func(c *Config, _ json.RawMessage) error { c.SolverP = true; return nil },
		copy:   func(dst, src *Config) { dst.SolverP = src.SolverP },
	},
	"shift_terminal": {
		decode: func(c *Config, _ json.RawMessage) error { c.ShiftTerminal = true; return nil },
		copy:   func(dst, src *Config) { dst.ShiftTerminal = src.ShiftTerminal },
	},
}

func stringField(get func(*Config) *string) field {
	return field{
		decode: func(c *Config, raw json.RawMessage) error {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("want a string, got %s", clip(raw))
			}
			*get(c) = v
			return nil
		},
		copy: func(dst, src *Config) { *get(dst) = *get(src) },
	}
}

func boolField(get func(*Config) *bool) field {
	return field{
		decode: func(c *Config, raw json.RawMessage) error {
			var v bool
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("want true or false, got %s", clip(raw))
			}
			*get(c) = v
			return nil
		},
		copy: func(dst, src *Config) { *get(dst) = *get(src) },
	}
}

func intField(get func(*Config) *int) field {
	return field{
		decode: func(c *Config, raw json.RawMessage) error {
			v, err := decodeInt(raw)
			if err != nil {
				return err
			}
			*get(c) = v
			return nil
		},
		copy: func(dst, src *Config) { *get(dst) = *get(src) },
	}
}

func floatField(get func(*Config) *float64) field {
	return field{
		decode: func(c *Config, raw json.RawMessage) error {
			v, err := decodeFloat(raw)
			if err != nil {
				return err
			}
			*get(c) = v
			return nil
		},
		copy: func(dst, src *Config) { *get(dst) = *get(src) },
	}
}

func floatsField(get func(*Config) *[]float64) field {
	return field{
		decode: func(c *Config, raw json.RawMessage) error {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("want a list of numbers, got %s", clip(raw))
			}
			out := make([]float64, len(items))
			for i, it := range items {
				v, err := decodeFloat(it)
				if err != nil {
					return fmt.Errorf("element %d: %v", i, err)
				}
				out[i] = v
			}
			*get(c) = out
			return nil
		},
		copy: func(dst, src *Config) { *get(dst) = slices.Clone(*get(src)) },
	}
}

func intsField(get func(*Config) *[]int) field {
	return field{
		decode: func(c *Config, raw json.RawMessage) error {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("want a list of integers, got %s", clip(raw))
			}
			out := make([]int, len(items))
			for i, it := range items {
				v, err := decodeInt(it)
				if err != nil {
					return fmt.Errorf("element %d: %v", i, err)
				}
				out[i] = v
			}
			*get(c) = out
			return nil
		},
		copy: func(dst, src *Config) { *get(dst) = slices.Clone(*get(src)) },
	}
}

func decodeInt(raw json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("want an integer, got %s", clip(raw))
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, fmt.Errorf("want an integer, got %s", clip(raw))
	}
	return int(f), nil
}

// decodeFloat accepts a JSON number or one of the strings Python's float()
// understands for the non-finite values ("-inf", "Infinity", "nan", ...).
func decodeFloat(raw json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "-inf", "-infinity":
			return math.Inf(-1), nil
		case "inf", "+inf", "infinity", "+infinity":
			return math.Inf(1), nil
		case "nan":
			return math.NaN(), nil
		}
	}
	return 0, fmt.Errorf("want a number, got %s", clip(raw))
}

func clip(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// ErrInvalidConfig marks a configuration that cannot be read: malformed
// JSON or a key with a value of the wrong type.
var ErrInvalidConfig = errors.New("invalid scheduler config")

// ErrUnsupported marks a configuration diffusers accepts but this port does
// not implement (or one diffusers itself rejects).
var ErrUnsupported = errors.New("unsupported scheduler config")
