package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Logging selects the log level and encoding.
type Logging struct {
	Level  string `envconfig:"LOG_LEVEL" default:"info"`
	Format string `envconfig:"LOG_FORMAT" default:"json"`
}

// Validate checks the level and format names.
func (l Logging) Validate() error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("BCREG_LOG_LEVEL=%q: want debug, info, warn or error", l.Level))
	}
	switch l.Format {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("BCREG_LOG_FORMAT=%q: want json or console", l.Format))
	}
	return errors.Join(errs...)
}

// HTTP is the side port that serves /livez, /readyz and /metrics, and the
// shutdown deadline (kept below the pod's termination grace period).
type HTTP struct {
	Addr            string        `envconfig:"HTTP_ADDR" default:":8080"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"20s"`
}

// Validate checks the listen address and deadline.
func (h HTTP) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(h.Addr); err != nil {
		errs = append(errs, fmt.Errorf("BCREG_HTTP_ADDR=%q: %v", h.Addr, err))
	}
	if h.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("BCREG_SHUTDOWN_TIMEOUT=%v: must be positive", h.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// NATS is how to reach the NATS servers.
type NATS struct {
	URL      string `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222"`
	Creds    string `envconfig:"NATS_CREDS"`
	User     string `envconfig:"NATS_USER"`
	Password Secret `envconfig:"NATS_PASSWORD"`
	TLSCA    string `envconfig:"NATS_TLS_CA"`
}

// Validate checks every server URL.
func (n NATS) Validate() error {
	var errs []error
	for _, u := range strings.Split(n.URL, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Host == "" {
			errs = append(errs, fmt.Errorf("BCREG_NATS_URL: %q is not a server URL (nats://host:port)", u))
		}
	}
	if n.Password != "" && n.User == "" {
		errs = append(errs, errors.New("BCREG_NATS_PASSWORD is set without BCREG_NATS_USER"))
	}
	return errors.Join(errs...)
}

// SourceDB is the BC Registries database (read only).
type SourceDB struct {
	URL URL `envconfig:"SOURCE_DB_URL"`
}

// ApplyFallbacks builds the URL from the original's BC_REG_DB_* variables
// (defaults localhost, 5454, BC_REGISTRIES) when BCREG_SOURCE_DB_URL is unset.
func (s *SourceDB) ApplyFallbacks(lookup func(string) (string, bool)) {
	if s.URL == "" {
		s.URL = URL(dsnFrom(lookup, "BC_REG_DB", "localhost", "5454", "BC_REGISTRIES", ""))
	}
}

// Validate checks the URL's form.
func (s SourceDB) Validate() error { return validateDBURL("BCREG_SOURCE_DB_URL", s.URL.Value()) }

// EventDB is the event-processor database this project owns.
type EventDB struct {
	URL     URL  `envconfig:"EVENT_DB_URL"`
	Migrate bool `envconfig:"MIGRATE" default:"false"`
}

// ApplyFallbacks builds the URL from the original's EVENT_PROC_DB_*
// variables (defaults localhost, 5444, bc_reg_db, user bc_reg_db) when
// BCREG_EVENT_DB_URL is unset.
func (e *EventDB) ApplyFallbacks(lookup func(string) (string, bool)) {
	if e.URL == "" {
		e.URL = URL(dsnFrom(lookup, "EVENT_PROC_DB", "localhost", "5444", "bc_reg_db", "bc_reg_db"))
	}
}

// Validate checks the URL's form.
func (e EventDB) Validate() error { return validateDBURL("BCREG_EVENT_DB_URL", e.URL.Value()) }

func dsnFrom(lookup func(string) (string, bool), prefix, host, port, db, user string) string {
	get := func(name, def string) string {
		if v, ok := lookup(prefix + "_" + name); ok && v != "" {
			return v
		}
		return def
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(get("HOST", host), get("PORT", port)), Path: "/" + get("DATABASE", db)}
	usr, pw := get("USER", user), get("PASSWORD", "")
	switch {
	case pw != "":
		u.User = url.UserPassword(usr, pw)
	case usr != "":
		u.User = url.User(usr)
	}
	return u.String()
}

func validateDBURL(name, raw string) error {
	p, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: not a URL: %v", name, errors.Unwrap(err))
	}
	if p.Scheme != "postgres" && p.Scheme != "postgresql" {
		return fmt.Errorf("%s=%s: want a postgres:// URL", name, RedactURL(raw))
	}
	return nil
}
