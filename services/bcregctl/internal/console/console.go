// Package console serves the operator console of `bcregctl console`: the
// pipeline at a glance (stages, lag, posting rate, agent health, watermark),
// the dead letters with requeue and purge, a corporation lookup with a
// requeue, and the last OrgBook audit with its repair. Pages are server-rendered html/template with every asset
// embedded; the figures come from pipeline.Collect, the same code as
// `bcregctl status --json`, and the actions call the same code as
// `bcregctl dlq`. The console is read-only unless a token is configured;
// state-changing requests are POSTs that need the token, a CSRF token and a
// same-origin request, and each one is recorded in operator_action.
package console

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regclock"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Setting is one configuration value shown in the page footer; Value must
// already be redacted (config.RedactURL).
type Setting struct {
	Name, Value string
}

// Options configure a Server.
type Options struct {
	// DB is the event-processor database; read-only rights suffice unless
	// Token is set (actions write operator_action).
	DB *pgxpool.Pool
	// JS is the JetStream handle of the pipeline's NATS.
	JS jetstream.JetStream
	// Source is the BC Registries database; nil hides what `generate`
	// would issue and makes a requeue take its last event from the work
	// items.
	Source *pgxpool.Pool
	// Profile is the credential profile of the preview (with Source).
	Profile credential.Profile
	// Token enables actions; empty keeps the console read-only.
	Token string
	// HealthURL is the agent's health URL; empty: not shown.
	HealthURL string
	// Backoff paces publish retries of requeues.
	Backoff bus.Backoff
	// Settings are shown in the footer (redacted).
	Settings []Setting
	// SampleEvery is how often the stream figures are sampled for the lag
	// chart and throughput (default 5s); Refresh is the page refresh.
	SampleEvery, Refresh time.Duration
	// Log receives request errors; nil: no logging.
	Log *zap.Logger
	// Metrics is where the console registers bcreg_console_*; nil: not
	// exported.
	Metrics prometheus.Registerer
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Server is the console's HTTP handler and its sampler.
type Server struct {
	opt     Options
	pages   map[string]*template.Template
	handler http.Handler
	metrics *metrics

	mu      sync.RWMutex
	samples []sample // oldest first, at most one hour
	health  agentHealth
}

// New builds the console. Call Run to sample while it serves.
func New(opt Options) (*Server, error) {
	if opt.DB == nil || opt.JS == nil {
		return nil, fmt.Errorf("console: DB and JS are required")
	}
	if opt.SampleEvery <= 0 {
		opt.SampleEvery = 5 * time.Second
	}
	if opt.Refresh <= 0 {
		opt.Refresh = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	if opt.Metrics == nil {
		opt.Metrics = prometheus.NewRegistry()
	}
	m, err := newMetrics(opt.Metrics)
	if err != nil {
		return nil, fmt.Errorf("console: metrics: %w", err)
	}
	s := &Server{opt: opt, pages: map[string]*template.Template{}, metrics: m}
	for _, p := range []string{"overview", "dlq", "dlqentry", "corp", "audit", "message"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", p, err)
		}
		s.pages[p] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console: static: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /api/status", s.apiStatus)
	mux.HandleFunc("GET /dlq", s.dlqList)
	mux.HandleFunc("GET /dlq/{seq}", s.dlqEntry)
	mux.HandleFunc("POST /dlq/{action}", s.guard(s.dlqAction))
	mux.HandleFunc("GET /corp", s.corp)
	mux.HandleFunc("POST /corp/requeue", s.guard(s.corpRequeue))
	mux.HandleFunc("GET /audit", s.audit)
	mux.HandleFunc("POST /audit/requeue", s.guard(s.auditRequeue))
	// CrossOriginProtection refuses cross-site POSTs by Sec-Fetch-Site and
	// Origin; the CSRF cookie in guard covers browsers that send neither.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, "cross-origin request refused")
	}))
	s.handler = m.instrument(securityHeaders(cop.Handler(mux)))
	return s, nil
}

// ServeHTTP serves the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Run samples the stream figures and the agent's health every SampleEvery
// until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opt.SampleEvery)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bcNow is the registry's clock at the console's (injectable) now.
func (s *Server) bcNow() time.Time {
	return regclock.At(s.opt.Now())
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}
