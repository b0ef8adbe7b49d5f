package poster

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

// Config is the poster's configuration (variables BCREG_*).
type Config struct {
	config.Logging
	config.HTTP
	config.NATS
	bus.Topology
	bus.Backoff
	config.EventDB
	agent.Config
	Settings
}

// Settings are the poster's own knobs (BCREG_POSTER_*).
type Settings struct {
	// RequestSize is the most credentials in one request; 0 takes the
	// protocol's default (20 VON-X, 5 controller).
	RequestSize int `envconfig:"POSTER_REQUEST_SIZE"`
	// MaxInflight bounds the requests in flight per replica.
	MaxInflight int `envconfig:"POSTER_MAX_INFLIGHT" default:"16"`
	// InitialInflight is where the adaptive limit starts.
	InitialInflight int `envconfig:"POSTER_INITIAL_INFLIGHT" default:"1"`
	// Adaptive adapts the requests in flight to the agent; false keeps
	// MaxInflight (the original's fixed MAX_CREDS_REQUESTS).
	Adaptive       bool          `envconfig:"POSTER_ADAPTIVE" default:"true"`
	RequestTimeout time.Duration `envconfig:"POSTER_REQUEST_TIMEOUT" default:"240s"`
	// MaxAttempts is how many failed agent attempts a credential gets
	// before it becomes D and is dead-lettered.
	MaxAttempts int `envconfig:"POSTER_MAX_ATTEMPTS" default:"10"`
	// Lease is how long a claim on credential_log rows lasts (renewed
	// before each request); 0 means RequestTimeout + 1m.
	Lease time.Duration `envconfig:"POSTER_LEASE"`
	// BatchWait is how long a batch begun by a bundle arriving at an idle
	// poster waits to fill (0: it takes what is waiting by then; waiting
	// bundles never wait for more).
	BatchWait time.Duration `envconfig:"POSTER_BATCH_WAIT" default:"0s"`
	// HoldDelay and HoldMax bound the redelivery delay of a bundle held
	// back behind an older credential of its corporation (doubling).
	HoldDelay time.Duration `envconfig:"POSTER_HOLD_DELAY" default:"500ms"`
	HoldMax   time.Duration `envconfig:"POSTER_HOLD_MAX" default:"30s"`
	// MisconfigRetry is how often a misconfigured agent is tried again.
	MisconfigRetry time.Duration `envconfig:"POSTER_MISCONFIG_RETRY" default:"60s"`
	// ID names this replica in claimed_by; empty means host name and pid.
	ID string `envconfig:"POSTER_ID"`
}

// ApplyFallbacks takes the original's CREDS_REQUEST_SIZE,
// MAX_CREDS_REQUESTS and MAX_CRED_POSTING_TIMEOUT (seconds) when the
// BCREG_ variables are unset.
func (s *Settings) ApplyFallbacks(lookup func(string) (string, bool)) {
	intFrom := func(bcreg, orig string, dst *int) {
		if _, set := lookup(bcreg); set {
			return
		}
		if v, ok := lookup(orig); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				*dst = n
			}
		}
	}
	intFrom("BCREG_POSTER_REQUEST_SIZE", "CREDS_REQUEST_SIZE", &s.RequestSize)
	intFrom("BCREG_POSTER_MAX_INFLIGHT", "MAX_CREDS_REQUESTS", &s.MaxInflight)
	secs := 0
	intFrom("BCREG_POSTER_REQUEST_TIMEOUT", "MAX_CRED_POSTING_TIMEOUT", &secs)
	if secs > 0 {
		s.RequestTimeout = time.Duration(secs) * time.Second
	}
}

// Validate reports every problem of the poster's own settings at once.
func (s Settings) Validate() error {
	var errs []error
	if s.RequestSize < 0 {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_REQUEST_SIZE=%d: want at least 1 (or 0 for the protocol's default)", s.RequestSize))
	}
	if s.MaxInflight < 1 {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_MAX_INFLIGHT=%d: want at least 1", s.MaxInflight))
	}
	if s.InitialInflight < 1 {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_INITIAL_INFLIGHT=%d: want at least 1", s.InitialInflight))
	}
	if s.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_REQUEST_TIMEOUT=%v: must be positive", s.RequestTimeout))
	}
	if s.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_MAX_ATTEMPTS=%d: want at least 1", s.MaxAttempts))
	}
	if s.Lease < 0 {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_LEASE=%v: must not be negative", s.Lease))
	}
	if s.BatchWait < 0 || s.HoldDelay <= 0 || s.HoldMax < s.HoldDelay || s.MisconfigRetry <= 0 {
		errs = append(errs, errors.New("BCREG_POSTER_BATCH_WAIT must not be negative, BCREG_POSTER_HOLD_DELAY and _MISCONFIG_RETRY must be positive, and BCREG_POSTER_HOLD_MAX at least BCREG_POSTER_HOLD_DELAY"))
	}
	return errors.Join(errs...)
}

// ValidateConfig checks settings that depend on each other.
func (c Config) ValidateConfig() error {
	var errs []error
	if c.Lease > 0 && c.Lease < c.RequestTimeout+LeaseMargin {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_LEASE=%v: want at least BCREG_POSTER_REQUEST_TIMEOUT (%v) + 5s, or a claim could run out during a request and another poster post the same credentials", c.Lease, c.RequestTimeout))
	}
	if c.MaxAttempts >= c.PosterMaxDeliver {
		errs = append(errs, fmt.Errorf("BCREG_POSTER_MAX_ATTEMPTS=%d: want fewer than BCREG_JS_POSTER_MAX_DELIVER (%d): a bundle redelivered without renewal (its renewal failed, or it crashed a poster) has only that many deliveries, and a credential the agent keeps failing must become D by its attempts within them", c.MaxAttempts, c.PosterMaxDeliver))
	}
	return errors.Join(errs...)
}

// requestSize is the effective request size.
func (c Config) requestSize() int {
	if c.RequestSize > 0 {
		return c.RequestSize
	}
	return agent.DefaultRequestSize(c.Protocol)
}

// limitScale is how finely the adaptive limit counts for the protocol.
func (c Config) limitScale() limitScale {
	if c.Protocol == agent.ProtocolController {
		return controllerScale
	}
	return vonxScale(c.requestSize())
}

// LeaseMargin is how much longer than a request a claim must still run
// when the request is sent: the time to record its answer after the
// request's timeout, plus clock slack.
const LeaseMargin = 5 * time.Second

// lease is the effective claim lease.
func (c Config) lease() time.Duration {
	if c.Lease > 0 {
		return c.Lease
	}
	return c.RequestTimeout + time.Minute
}

// poolSize is the event database pool's size unless
// BCREG_EVENT_DB_POOL_SIZE is set: every handler call (one per request in
// flight at most) may run a statement while every request in flight
// records its answer, plus the dlq-mover and the health check. With
// pgx's default (4 on 2 cores) answers queued for a connection behind the
// handlers' claims, and a killed poster lost them.
func (c Config) poolSize() int { return 2*c.MaxInflight + 2 }

// drainDeadline is how long a graceful stop waits at least: a request sent
// just before SIGTERM may take the whole request timeout, and its answer
// must be recorded before the process exits (else another replica posts
// it again). BCREG_SHUTDOWN_TIMEOUT is used when longer. The pod's grace
// period must cover it (deploy/'s manifest tests check).
func (c Config) drainDeadline() time.Duration { return c.RequestTimeout + LeaseMargin }

// replicaID names this replica in claimed_by.
func (c Config) replicaID() string {
	if c.ID != "" {
		return c.ID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "poster"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
