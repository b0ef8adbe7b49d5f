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
// start-up and shutdown deadlines (the latter kept below the pod's
// termination grace period).
type HTTP struct {
	Addr            string        `envconfig:"HTTP_ADDR" default:":8080"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"20s"`
	// LivenessBound is how long a worker loop (consume, poll) may go
	// without a heartbeat before /livez fails and the pod is restarted.
	LivenessBound time.Duration `envconfig:"LIVENESS_BOUND" default:"10m"`
	// Pprof serves Go's profiler on the side port (/debug/pprof/).
	Pprof bool `envconfig:"PPROF" default:"false"`
	Start
}

// Validate checks the listen address and the shutdown deadline.
func (h HTTP) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(h.Addr); err != nil {
		errs = append(errs, fmt.Errorf("BCREG_HTTP_ADDR=%q: %w", h.Addr, err))
	}
	if h.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("BCREG_SHUTDOWN_TIMEOUT=%v: must be positive", h.ShutdownTimeout))
	}
	if h.LivenessBound < time.Minute {
		errs = append(errs, fmt.Errorf("BCREG_LIVENESS_BOUND=%v: want at least 1m (a generous bound: a slow step must not restart the pod)", h.LivenessBound))
	}
	return errors.Join(errs...) // Start validates itself (embedded)
}

// Start bounds how long start-up waits for NATS, the databases and the
// JetStream topology: connections are retried with back-off until then, so
// a service survives its dependencies starting in any order.
type Start struct {
	Timeout time.Duration `envconfig:"START_TIMEOUT" default:"2m"`
}

// Validate checks the bound.
func (s Start) Validate() error {
	if s.Timeout < time.Second {
		return fmt.Errorf("BCREG_START_TIMEOUT=%v: want at least 1s", s.Timeout)
	}
	return nil
}

// NATS is how to reach the NATS servers. The URL may carry user:password@
// (percent-encoded) or a token; it is redacted wherever it is printed.
type NATS struct {
	URL      URL    `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222"`
	Creds    string `envconfig:"NATS_CREDS"`
	User     string `envconfig:"NATS_USER"`
	Password Secret `envconfig:"NATS_PASSWORD"`
	TLSCA    string `envconfig:"NATS_TLS_CA"`
}

// Validate checks every server URL.
func (n NATS) Validate() error {
	var errs []error
	for i, u := range strings.Split(n.URL.Value(), ",") {
		p, err := ParseURL(strings.TrimSpace(u))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("BCREG_NATS_URL: server %d of the list: %w, or give them in BCREG_NATS_USER and BCREG_NATS_PASSWORD", i+1, err))
		case p.Host == "":
			errs = append(errs, fmt.Errorf("BCREG_NATS_URL: server %d of the list (%s) is not a server URL (nats://host:port)", i+1, RedactURL(u)))
		}
	}
	if n.Password != "" && n.User == "" {
		errs = append(errs, errors.New("BCREG_NATS_PASSWORD is set without BCREG_NATS_USER"))
	}
	return errors.Join(errs...)
}

// SourceDB is the BC Registries database (read only). User and Password,
// when set, go into the URL (encoded), so a password needs no escaping: a
// deployment takes them from a Secret as they are.
type SourceDB struct {
	URL      URL    `envconfig:"SOURCE_DB_URL"`
	User     string `envconfig:"SOURCE_DB_USER"`
	Password Secret `envconfig:"SOURCE_DB_PASSWORD"`
	problem  error
}

// ApplyFallbacks builds the URL from the original's BC_REG_DB_* variables
// (defaults localhost, 5454, BC_REGISTRIES) when BCREG_SOURCE_DB_URL is unset,
// then puts BCREG_SOURCE_DB_USER and _PASSWORD into it.
func (s *SourceDB) ApplyFallbacks(lookup func(string) (string, bool)) {
	s.URL, s.problem = dbURL(s.URL, s.User, s.Password, "BCREG_SOURCE_DB", func() string {
		return dsnFrom(lookup, "BC_REG_DB", "localhost", "5454", "BC_REGISTRIES", "")
	})
}

// Validate checks the URL's form.
func (s SourceDB) Validate() error {
	return errors.Join(s.problem, validateDBURL("BCREG_SOURCE_DB", s.URL.Value()))
}

// EventDB is the event-processor database this project owns; User and
// Password as for SourceDB.
type EventDB struct {
	URL      URL    `envconfig:"EVENT_DB_URL"`
	User     string `envconfig:"EVENT_DB_USER"`
	Password Secret `envconfig:"EVENT_DB_PASSWORD"`
	Migrate  bool   `envconfig:"MIGRATE" default:"false"`
	// PoolSize is the most connections the service's pool opens; 0 sizes
	// it from the service's concurrency (see the README's settings table).
	PoolSize int `envconfig:"EVENT_DB_POOL_SIZE" default:"0"`
	problem  error
}

// ApplyFallbacks builds the URL from the original's EVENT_PROC_DB_*
// variables (defaults localhost, 5444, bc_reg_db, user bc_reg_db) when
// BCREG_EVENT_DB_URL is unset, then puts BCREG_EVENT_DB_USER and _PASSWORD
// into it.
func (e *EventDB) ApplyFallbacks(lookup func(string) (string, bool)) {
	e.URL, e.problem = dbURL(e.URL, e.User, e.Password, "BCREG_EVENT_DB", func() string {
		return dsnFrom(lookup, "EVENT_PROC_DB", "localhost", "5444", "bc_reg_db", "bc_reg_db")
	})
}

// Validate checks the URL's form and the pool size.
func (e EventDB) Validate() error {
	var size error
	if e.PoolSize < 0 {
		size = fmt.Errorf("BCREG_EVENT_DB_POOL_SIZE=%d: want at least 1, or 0 to size it from the service's concurrency", e.PoolSize)
	}
	return errors.Join(e.problem, validateDBURL("BCREG_EVENT_DB", e.URL.Value()), size)
}

// dbURL returns the database URL to use: the configured one (else the
// original variables' one) with user and password put in, percent-encoded.
// A password given both in the URL and alone is refused: one of them would
// be ignored silently.
func dbURL(u URL, user string, pw Secret, prefix string, fallback func() string) (URL, error) {
	fromEnv := u != ""
	if !fromEnv {
		u = URL(fallback())
	}
	if user == "" && pw == "" {
		return u, nil
	}
	p, err := ParseURL(u.Value())
	if err != nil {
		return u, nil // reported by Validate
	}
	if _, has := p.User.Password(); has && pw != "" && fromEnv {
		return u, fmt.Errorf("%s_URL carries a password and %s_PASSWORD is set: give it once (in %s_PASSWORD)", prefix, prefix, prefix)
	}
	name := p.User.Username()
	if user != "" {
		name = user
	}
	// A nil p.User answers "" and no password.
	password, has := p.User.Password()
	if pw != "" {
		password, has = pw.Value(), true
	}
	if has {
		p.User = url.UserPassword(name, password)
	} else {
		p.User = url.User(name)
	}
	return URL(p.String()), nil
}

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

func validateDBURL(prefix, raw string) error {
	p, err := ParseURL(raw)
	if err != nil {
		return fmt.Errorf("%s_URL: %w, or give them in %s_USER and %s_PASSWORD", prefix, err, prefix, prefix)
	}
	if p.Scheme != "postgres" && p.Scheme != "postgresql" {
		return fmt.Errorf("%s_URL=%s: want a postgres:// URL", prefix, RedactURL(raw))
	}
	return nil
}
