package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/daemon"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/console"
)

func init() { register(newConsole) }

// consoleConfig is what the console reads; the source database is used
// only when BCREG_SOURCE_DB_URL is set. Like every service it serves
// /livez, /readyz and /metrics on BCREG_HTTP_ADDR; the pages themselves
// are on BCREG_CONSOLE_ADDR (loopback by default: `oc port-forward` reaches
// a pod's loopback, nothing else does).
type consoleConfig struct {
	config.NATS
	config.EventDB
	config.HTTP
	bus.Backoff
	Addr          string        `envconfig:"CONSOLE_ADDR" default:"127.0.0.1:8090"`
	Token         config.Secret `envconfig:"CONSOLE_TOKEN"`
	Profile       string        `envconfig:"PROFILE" default:"history"`
	PostAddresses bool          `envconfig:"POST_ADDRESSES" default:"false"`
	AgentURL      config.URL    `envconfig:"AGENT_URL"`
	AgentHealth   config.URL    `envconfig:"AGENT_HEALTH_URL"`
}

func newConsole(e *env) *cobra.Command {
	var addr string
	var refresh time.Duration
	c := &cobra.Command{
		Use:   "console [--addr HOST:PORT] [--refresh 5s]",
		Short: "operator console in a browser: overview, dead letters, corporation lookup",
		Long: settings(`Serve the operator console: the overview (also as JSON at /api/status), the
dead letters with requeue and purge, and the corporation lookup. Read-only
unless BCREG_CONSOLE_TOKEN is set; binds to loopback by default.`,
			"BCREG_EVENT_DB_URL, BCREG_NATS_URL, BCREG_CONSOLE_ADDR (default of --addr), BCREG_CONSOLE_TOKEN (enables actions), BCREG_SOURCE_DB_URL and BCREG_PROFILE (generate preview), BCREG_AGENT_HEALTH_URL or BCREG_AGENT_URL, BCREG_HTTP_ADDR (side port: /livez, /readyz, /metrics)"),
		Example: `  bcregctl console
  bcregctl console --addr 127.0.0.1:8090 --refresh 10s`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runConsole(c.Context(), e, addr, refresh) },
	}
	c.Flags().StringVar(&addr, "addr", "", "listen address of the pages (default BCREG_CONSOLE_ADDR, else 127.0.0.1:8090)")
	c.Flags().DurationVar(&refresh, "refresh", 5*time.Second, "overview refresh and sampling interval")
	return c
}

func runConsole(ctx context.Context, e *env, addr string, refresh time.Duration) error {
	var cfg consoleConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if addr == "" {
		addr = cfg.Addr
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%w: console address %q: %v", errUsage, addr, err)
	}
	// The side port first: a probe sees the process live while it connects.
	health := lifecycle.NewHealth(e.log, lifecycle.WithPprof(cfg.HTTP.Pprof))
	if err := health.Serve(cfg.HTTP.Addr); err != nil {
		return err
	}
	defer health.Close()
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	health.AddCheck("event_db", daemon.PingCheck(pool))
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-console", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	health.AddCheck("nats", bus.ReadyCheck(nc, js))
	settings := []console.Setting{
		{Name: "event DB", Value: cfg.EventDB.URL.String()},
		{Name: "NATS", Value: cfg.NATS.URL.String()},
	}
	opt := console.Options{DB: pool, JS: js, Token: cfg.Token.Value(), Backoff: cfg.Backoff, Refresh: refresh,
		SampleEvery: refresh, Log: e.log, HealthURL: healthURL(cfg.AgentHealth.Value(), cfg.AgentURL.Value()), Metrics: health.Registry()}
	if envSet("BCREG_SOURCE_DB_URL") {
		var src config.SourceDB
		if err := config.Load(&src); err != nil {
			return err
		}
		var sp *pgxpool.Pool
		if sp, err = sourcedb.Open(ctx, src.URL.Value(), "BCREG_SOURCE_DB_URL"); err != nil {
			return err
		}
		defer sp.Close()
		health.AddCheck("source_db", daemon.PingCheck(sp))
		profile, err := credential.New(cfg.Profile, credential.Options{PostAddresses: cfg.PostAddresses, Log: e.log})
		if err != nil {
			return fmt.Errorf("%w: BCREG_PROFILE: %v", errUsage, err)
		}
		opt.Source, opt.Profile = sp, profile
		settings = append(settings, console.Setting{Name: "source DB", Value: src.URL.String()},
			console.Setting{Name: "profile", Value: profile.Name()})
	}
	opt.Settings = settings
	srv, err := console.New(opt)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("console: listen on %s: %w", addr, err)
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() && opt.Token == "" {
		e.log.Warn("console listens beyond loopback; it is read-only (no BCREG_CONSOLE_TOKEN)", zap.String("addr", ln.Addr().String()))
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go srv.Run(ctx)
	fmt.Fprintf(e.stdout, "console at http://%s/ (%s); side port %s\n", ln.Addr(), map[bool]string{true: "actions enabled", false: "read-only"}[opt.Token != ""], health.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	health.SetDraining()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console: shutdown: %w", err)
	}
	return nil
}

// healthURL is the first agent's health URL: the setting, else VON-X's
// /health at the root of the agent URL's host (README).
func healthURL(health, agent string) string {
	if h := firstOf(health); h != "" {
		return h
	}
	a := firstOf(agent)
	if a == "" {
		return ""
	}
	u, err := url.Parse(a)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/health"
}

func firstOf(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}
