// Package config loads a service's configuration from environment variables
// (prefix BCREG_) with envconfig, applies the original Python pipeline's
// variable names as fallbacks, and validates everything at start-up,
// reporting every problem at once.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// Prefix is the prefix of every variable this project reads.
const Prefix = "BCREG"

// Validator is implemented by sub-configs that check themselves after
// loading. Validate returns every problem, joined.
type Validator interface {
	Validate() error
}

// RootValidator is implemented by a service's config for checks across
// sub-configs. It has its own method name so a sub-config's Validate,
// promoted through embedding, is never mistaken for it.
type RootValidator interface {
	ValidateConfig() error
}

// Fallbacker is implemented by sub-configs that fill unset fields from the
// original system's variable names (lookup reads the environment).
type Fallbacker interface {
	ApplyFallbacks(lookup func(string) (string, bool))
}

// Load fills cfg (a pointer to a struct) from the environment. Unlike a plain
// envconfig.Process, which stops at the first bad value, it checks every
// variable and reports all parse errors and validation problems in one error.
func Load(cfg any) error {
	return load(cfg, os.LookupEnv)
}

func load(cfg any, lookup func(string) (string, bool)) error {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load needs a pointer to a struct, got %T", cfg)
	}
	var errs []error
	// Parse each variable alone so one bad value does not hide the others.
	for _, f := range leafFields(rv.Elem().Type()) {
		probe := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type, Tag: f.Tag}}))
		if err := envconfig.Process(Prefix, probe.Interface()); err != nil {
			errs = append(errs, cleanEnvconfigError(err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	if err := envconfig.Process(Prefix, cfg); err != nil {
		return fmt.Errorf("config: %w", cleanEnvconfigError(err))
	}
	walkEmbedded(rv.Elem(), func(v reflect.Value) {
		if fb, ok := v.Addr().Interface().(Fallbacker); ok {
			fb.ApplyFallbacks(lookup)
		}
	})
	walkEmbedded(rv.Elem(), func(v reflect.Value) {
		if val, ok := v.Addr().Interface().(Validator); ok {
			if err := val.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	})
	if val, ok := cfg.(RootValidator); ok {
		if err := val.ValidateConfig(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: invalid settings:\n%w", errors.Join(errs...))
	}
	return nil
}

// cleanEnvconfigError names the variable as an operator sets it (BCREG_X)
// rather than the Go field of the probe struct.
func cleanEnvconfigError(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s=%q: %w", pe.KeyName, pe.Value, pe.Err)
	}
	return err
}

// walkEmbedded calls fn on every embedded sub-config of v, depth first.
func walkEmbedded(v reflect.Value, fn func(reflect.Value)) {
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() || !sf.Anonymous || f.Kind() != reflect.Struct || isLeafType(f.Type()) {
			continue
		}
		walkEmbedded(f, fn)
		fn(f)
	}
}

// leafFields lists the fields envconfig sets, with their tags made absolute
// (nested non-embedded structs get their field's key as a prefix, as
// envconfig does).
func leafFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("ignored") == "true" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && !isLeafType(f.Type) {
			if !f.Anonymous {
				// This project only embeds sub-configs; a named one would
				// change variable names silently.
				panic(fmt.Sprintf("config: sub-config %s must be embedded", f.Name))
			}
			out = append(out, leafFields(f.Type)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

func isLeafType(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, iface := range []reflect.Type{
		reflect.TypeFor[envconfig.Decoder](),
		reflect.TypeFor[envconfig.Setter](),
		reflect.TypeFor[interface{ UnmarshalText([]byte) error }](),
	} {
		if pt.Implements(iface) {
			return true
		}
	}
	return t.Kind() != reflect.Struct
}

// EnvNames returns the variable names a config struct reads, sorted, with a
// name listed once per field that reads it (so duplicates show up).
func EnvNames(cfg any) []string {
	t := reflect.TypeOf(cfg)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for _, f := range leafFields(t) {
		key := f.Tag.Get("envconfig")
		if key == "" {
			key = strings.ToUpper(f.Name)
		}
		names = append(names, Prefix+"_"+key)
	}
	sort.Strings(names)
	return names
}

// Duplicates returns the variable names that more than one field reads.
func Duplicates(cfg any) []string {
	var dup []string
	names := EnvNames(cfg)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] && (len(dup) == 0 || dup[len(dup)-1] != names[i]) {
			dup = append(dup, names[i])
		}
	}
	return dup
}
