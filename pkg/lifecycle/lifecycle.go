// Package lifecycle runs a service's process: the signal context, the HTTP
// side port (/livez with the worker loops' heartbeats, /readyz, /metrics,
// /version) and the bounded, ordered shutdown of
// docs/design/rules.md rule 9 (readiness false, stop pulling, finish or Nak
// in-flight work, flush publishes, drain the connection, close the pool).
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
)

// Main is the thin main of every binary: it builds the signal context, runs
// run, logs a returned error once and exits non-zero.
func Main(service string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, `{"level":"fatal","service":%q,"msg":"exit","error":%q}`+"\n", service, err.Error())
		os.Exit(1)
	}
}

// Check reports whether one dependency is ready; nil means ready.
type Check func(ctx context.Context) error

// Health is the side-port server of a service.
type Health struct {
	log      *zap.Logger
	registry *prometheus.Registry
	mu       sync.Mutex
	checks   map[string]Check
	draining atomic.Bool
	srv      *http.Server
	ln       net.Listener
	// now and bound judge the heartbeats (beats, under mu) for /livez.
	now   func() time.Time
	bound time.Duration
	beats []*Heartbeat
	// pprof: serve /debug/pprof/ (WithPprof).
	pprof bool
}

// NewHealth creates the side port's handlers and a Prometheus registry with
// the Go and process collectors and bcreg_build_info; services register
// their own metrics on Registry().
func NewHealth(log *zap.Logger, opts ...Option) *Health {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := buildinfo.Register(reg); err != nil {
		panic(err) // a fresh registry: cannot collide
	}
	h := &Health{log: log, registry: reg, checks: map[string]Check{}, now: time.Now, bound: DefaultLivenessBound}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Registry is where the service registers its metrics.
func (h *Health) Registry() *prometheus.Registry { return h.registry }

// AddCheck adds a readiness check under a name shown in /readyz.
func (h *Health) AddCheck(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// SetDraining flips readiness to false for good (shutdown has begun).
func (h *Health) SetDraining() { h.draining.Store(true) }

// Handler serves /livez, /readyz, /metrics and /version (the build, JSON),
// and /debug/pprof/ when WithPprof is on.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness touches no dependency (a dead database must not restart
		// us); it fails only when a worker loop stopped turning.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if failed, report := h.Live(); failed {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(report))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", h.serveReady)
	mux.Handle("GET /version", buildinfo.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.registry, promhttp.HandlerOpts{Registry: h.registry}))
	if h.pprof {
		// The index serves the named profiles (heap, goroutine, …) under
		// its own path; profile, trace and symbol are handlers of their own.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (h *Health) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	failed, report := h.Ready(ctx)
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(report))
}

// Ready runs every check and returns whether any failed, with a report of
// one line per check.
func (h *Health) Ready(ctx context.Context) (failed bool, report string) {
	if h.draining.Load() {
		return true, "shutting down\n"
	}
	h.mu.Lock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(h.checks))
	for n, c := range h.checks {
		checks[n] = c
	}
	h.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			failed = true
			report += n + ": " + err.Error() + "\n"
		} else {
			report += n + ": ok\n"
		}
	}
	return failed, report
}

// Serve listens on addr and serves the side port until Shutdown.
func (h *Health) Serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health: listen %s: %w", addr, err)
	}
	h.ln = ln
	h.srv = &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("health server stopped", zap.Error(err))
		}
	}()
	h.log.Info("side port listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the address the side port listens on (after Serve).
func (h *Health) Addr() string {
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Shutdown stops the side port.
func (h *Health) Shutdown(ctx context.Context) error {
	if h.srv == nil {
		return nil
	}
	return h.srv.Shutdown(ctx)
}

// Close stops the side port, waiting at most 5 s for open scrapes: the
// last step of a shutdown, after the work has stopped.
func (h *Health) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.Shutdown(ctx)
}
