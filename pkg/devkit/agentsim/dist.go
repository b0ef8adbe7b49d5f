package agentsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kinds of [Dist].
const (
	DistNone    = ""        // no delay
	DistFixed   = "fixed"   // always A
	DistUniform = "uniform" // uniform between A and B
	DistNormal  = "normal"  // normal with mean A and standard deviation B, never below zero
)

// Dist is a distribution of durations. Its text form, used in JSON and
// environment variables, is one of
//
//	""  or "0"              no delay
//	"150ms"                 fixed
//	"uniform(50ms,150ms)"   uniform between the two; "50ms..150ms" is the same
//	"normal(100ms,20ms)"    normal with mean and standard deviation
type Dist struct {
	Kind string
	A, B time.Duration
}

// Fixed returns a distribution that is always d.
func Fixed(d time.Duration) Dist { return Dist{Kind: DistFixed, A: d} }

// Uniform returns a uniform distribution between lo and hi.
func Uniform(lo, hi time.Duration) Dist { return Dist{Kind: DistUniform, A: lo, B: hi} }

// Normal returns a normal distribution, cut at zero.
func Normal(mean, stddev time.Duration) Dist { return Dist{Kind: DistNormal, A: mean, B: stddev} }

// String returns the text form.
func (d Dist) String() string {
	switch d.Kind {
	case DistFixed:
		return d.A.String()
	case DistUniform:
		return fmt.Sprintf("uniform(%v,%v)", d.A, d.B)
	case DistNormal:
		return fmt.Sprintf("normal(%v,%v)", d.A, d.B)
	}
	return "0s"
}

// MarshalText implements encoding.TextMarshaler.
func (d Dist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Dist) UnmarshalText(b []byte) error {
	v, err := ParseDist(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDist parses the text form of a [Dist].
func ParseDist(s string) (Dist, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if s == "" || s == "0" {
		return Dist{}, nil
	}
	two := func(args string) (time.Duration, time.Duration, error) {
		x, y, ok := strings.Cut(args, ",")
		if !ok {
			return 0, 0, fmt.Errorf("%q: want two durations", s)
		}
		a, err := time.ParseDuration(x)
		if err != nil {
			return 0, 0, err
		}
		b, err := time.ParseDuration(y)
		return a, b, err
	}
	var d Dist
	var err error
	switch {
	case strings.HasPrefix(s, "uniform(") && strings.HasSuffix(s, ")"):
		d.Kind = DistUniform
		d.A, d.B, err = two(s[len("uniform(") : len(s)-1])
	case strings.HasPrefix(s, "normal(") && strings.HasSuffix(s, ")"):
		d.Kind = DistNormal
		d.A, d.B, err = two(s[len("normal(") : len(s)-1])
	case strings.Contains(s, ".."):
		d.Kind = DistUniform
		d.A, d.B, err = two(strings.Replace(s, "..", ",", 1))
	default:
		d.Kind = DistFixed
		d.A, err = time.ParseDuration(s)
	}
	if err != nil {
		return Dist{}, fmt.Errorf("distribution %q: %w", s, err)
	}
	if d.Kind == DistFixed && d.A == 0 {
		return Dist{}, nil
	}
	if err := d.validate(); err != nil {
		return Dist{}, fmt.Errorf("distribution %q: %w", s, err)
	}
	return d, nil
}

func (d Dist) validate() error {
	switch d.Kind {
	case DistNone:
		return nil
	case DistFixed:
		if d.A < 0 {
			return errors.New("negative duration")
		}
	case DistUniform:
		if d.A < 0 || d.B < d.A {
			return errors.New("want 0 ≤ min ≤ max")
		}
	case DistNormal:
		if d.A < 0 || d.B < 0 {
			return errors.New("want a mean and a standard deviation ≥ 0")
		}
	default:
		return fmt.Errorf("unknown kind %q", d.Kind)
	}
	return nil
}

// sample draws one duration.
func (d Dist) sample(r *rand.Rand) time.Duration {
	switch d.Kind {
	case DistFixed:
		return d.A
	case DistUniform:
		if d.B <= d.A {
			return d.A
		}
		return d.A + time.Duration(r.Int64N(int64(d.B-d.A)+1))
	case DistNormal:
		v := float64(d.A) + r.NormFloat64()*float64(d.B)
		if v < 0 {
			return 0
		}
		return time.Duration(v)
	}
	return 0
}
