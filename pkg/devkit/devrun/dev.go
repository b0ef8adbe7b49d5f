// Package devrun is `bcreg-dev run`, the launcher behind `make run`: the whole
// pipeline on one machine with nothing but Go and the PostgreSQL server
// binaries. It starts NATS with JetStream (embedded, file store under the
// data directory), a local PostgreSQL (initialised on first run, two
// databases: source and event), vonx-sim, loads the demo data on first run,
// applies migrations and topology, then runs the event-poller, two
// credential-builders and two posters as separate processes with distinct
// side ports and name-prefixed logs, and the operator console (`bcregctl
// console`, read-only unless BCREG_CONSOLE_TOKEN is exported), and prints a
// live status until the backlog is empty. Ctrl-C (or SIGTERM to the launcher) stops every child it
// started, PostgreSQL included, before it exits.
package devrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/testkit/fixture"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

// Options configure the launcher.
type Options struct {
	DataDir      string        // .data: NATS store, PostgreSQL data (see localpg.DataDirFor), logs
	BinDir       string        // where the service binaries are (./bin)
	Profile      string        // BCREG_PROFILE for the builders
	ExitWhenIdle bool          // BCREG_RUN_EXIT_WHEN_IDLE
	StatusEvery  time.Duration // live status refresh
	Builders     int
	Posters      int
	Out          io.Writer // status and prefixed logs
}

// Run starts everything, shows the status, and stops everything when ctx
// ends (or, with ExitWhenIdle, once the backlog is empty).
func Run(ctx context.Context, log *zap.Logger, o Options) (err error) {
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("dev: data dir: %w", err)
	}
	l := &launcher{opts: o, log: log}
	defer l.stopAll()

	if err := l.startPostgres(ctx); err != nil {
		return err
	}
	if err := l.startNATS(); err != nil {
		return err
	}
	if err := l.prepareDatabases(ctx); err != nil {
		return err
	}
	if err := l.startServices(ctx); err != nil {
		return err
	}
	return l.watch(ctx)
}

type launcher struct {
	opts     Options
	log      *zap.Logger
	pg       *localpg.Server
	nats     *server.Server
	mu       sync.Mutex
	children []*child
	simAddr  string
	eventURL string
	srcURL   string
}

func (l *launcher) startPostgres(ctx context.Context) error {
	base, _ := filepath.Abs(filepath.Join(l.opts.DataDir, "pg"))
	dir := localpg.DataDirFor(base)
	fmt.Fprintf(l.opts.Out, "dev: PostgreSQL data in %s\n", dir)
	pg, err := localpg.Start(ctx, localpg.Options{DataDir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "postgres.log")})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	l.pg = pg
	l.srcURL, l.eventURL = pg.URL("bcreg_source"), pg.URL("bcreg_events")
	return nil
}

func (l *launcher) startNATS() error {
	store, _ := filepath.Abs(filepath.Join(l.opts.DataDir, "nats"))
	port, err := localpg.FreePort()
	if err != nil {
		return err
	}
	s, err := server.NewServer(&server.Options{ServerName: "bcreg-dev", Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: store, NoSigs: true, NoLog: true})
	if err != nil {
		return fmt.Errorf("dev: nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("dev: embedded NATS did not start within 30s")
	}
	l.nats = s
	fmt.Fprintf(l.opts.Out, "dev: NATS with JetStream at %s (store %s)\n", s.ClientURL(), store)
	return nil
}

// prepareDatabases creates the two databases, loads the demo data into the
// source on first run, and applies migrations and topology.
func (l *launcher) prepareDatabases(ctx context.Context) error {
	admin, err := pgx.Connect(ctx, l.pg.URL("postgres"))
	if err != nil {
		return fmt.Errorf("dev: connect: %w", err)
	}
	defer admin.Close(ctx)
	for _, db := range []string{"bcreg_source", "bcreg_events"} {
		var exists bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		if !exists {
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
				return fmt.Errorf("dev: create %s: %w", db, err)
			}
		}
	}
	src, err := pgx.Connect(ctx, l.srcURL)
	if err != nil {
		return fmt.Errorf("dev: connect source: %w", err)
	}
	var loaded bool
	err = src.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = 'bc_registries' AND table_name = 'filing_type')").Scan(&loaded)
	src.Close(ctx)
	if err != nil {
		return fmt.Errorf("dev: check source: %w", err)
	}
	if !loaded {
		fmt.Fprintln(l.opts.Out, "dev: loading the demo data (the development fixture)")
		if err := loadDemoData(ctx, l.srcURL); err != nil {
			return fmt.Errorf("dev: load demo data: %w", err)
		}
	}
	pool, err := pgxpool.New(ctx, l.eventURL)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer pool.Close()
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	nc, js, err := bus.Connect(ctx, config.NATS{URL: config.URL(l.nats.ClientURL())}, "bcreg-dev-run", l.log)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer nc.Close()
	if err := bus.DefaultTopology().Apply(ctx, js); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	return nil
}

// loadDemoData loads the development fixture and its code tables into the
// source database in one transaction, with the indexes the poller's queries
// need, on a connection of its own (the files set its search_path).
func loadDemoData(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := fixture.Load(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE INDEX ON bc_registries.event (event_timestmp); CREATE INDEX ON bc_registries.event (corp_num)")
		return err
	})
}

func (l *launcher) startServices(ctx context.Context) error {
	simPort, err := localpg.FreePort()
	if err != nil {
		return err
	}
	l.simAddr = fmt.Sprintf("127.0.0.1:%d", simPort)
	common := []string{
		"BCREG_NATS_URL=" + l.nats.ClientURL(),
		"BCREG_EVENT_DB_URL=" + l.eventURL,
		"BCREG_SOURCE_DB_URL=" + l.srcURL,
		"BCREG_AGENT_URL=http://" + l.simAddr + "/bcreg",
		"BCREG_PROFILE=" + l.opts.Profile,
		"BCREG_LOG_FORMAT=console",
		"BCREG_POLL_INTERVAL=5s",
		// The services apply the topology, as before topology ownership
		// moved to bcregctl migrate: nothing else runs migrate here.
		"BCREG_JS_TOPOLOGY=apply",
	}
	if err := l.spawn("vonx-sim", append(common, "BCREG_SIM_ADDR="+l.simAddr)); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+l.simAddr+"/health", 30*time.Second); err != nil {
		return fmt.Errorf("dev: vonx-sim: %w", err)
	}
	type svc struct {
		bin string
		n   int
	}
	for _, s := range []svc{{"event-poller", 1}, {"credential-builder", l.opts.Builders}, {"poster", l.opts.Posters}} {
		for i := 1; i <= s.n; i++ {
			port, err := localpg.FreePort()
			if err != nil {
				return err
			}
			name := s.bin
			if s.n > 1 {
				name = fmt.Sprintf("%s-%d", s.bin, i)
			}
			env := append(append([]string{}, common...), fmt.Sprintf("BCREG_HTTP_ADDR=127.0.0.1:%d", port))
			if err := l.spawnNamed(name, s.bin, env); err != nil {
				return err
			}
			fmt.Fprintf(l.opts.Out, "dev: %s side port http://127.0.0.1:%d (/livez /readyz /metrics)\n", name, port)
		}
	}
	fmt.Fprintf(l.opts.Out, "dev: vonx-sim at http://%s (received: /_sim/received, /_sim/stats)\n", l.simAddr)
	return l.startConsole(common)
}

// startConsole runs `bcregctl console` on 127.0.0.1:8090 (the command's
// default, so the URL is the same every run), or on a free port when 8090
// is taken; BCREG_CONSOLE_ADDR chooses another.
func (l *launcher) startConsole(common []string) error {
	addr := os.Getenv("BCREG_CONSOLE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
		if ln, err := net.Listen("tcp", addr); err != nil {
			port, err := localpg.FreePort()
			if err != nil {
				return err
			}
			addr = fmt.Sprintf("127.0.0.1:%d", port)
		} else {
			ln.Close()
		}
	}
	side, err := localpg.FreePort()
	if err != nil {
		return err
	}
	env := append(append([]string{}, common...), "BCREG_CONSOLE_ADDR="+addr, fmt.Sprintf("BCREG_HTTP_ADDR=127.0.0.1:%d", side))
	if err := l.spawnNamed("console", "bcregctl", env, "console"); err != nil {
		return err
	}
	mode := "read-only; export BCREG_CONSOLE_TOKEN before make run to enable requeue and purge"
	if os.Getenv("BCREG_CONSOLE_TOKEN") != "" {
		mode = "actions enabled with your BCREG_CONSOLE_TOKEN"
	}
	fmt.Fprintf(l.opts.Out, "dev: console at http://%s/ (%s)\n", addr, mode)
	return nil
}

func (l *launcher) spawn(bin string, env []string) error { return l.spawnNamed(bin, bin, env) }

func (l *launcher) spawnNamed(name, bin string, env []string, args ...string) error {
	c, err := startChild(name, filepath.Join(l.opts.BinDir, bin), args, append(os.Environ(), env...), l.opts.Out)
	if err != nil {
		return fmt.Errorf("dev: start %s: %w", name, err)
	}
	l.mu.Lock()
	l.children = append(l.children, c)
	l.mu.Unlock()
	fmt.Fprintf(l.opts.Out, "dev: started %s (pid %d)\n", name, c.cmd.Process.Pid)
	return nil
}

// watch prints the live status until ctx ends, a child dies, or (with
// ExitWhenIdle) the backlog has been empty for two checks in a row.
func (l *launcher) watch(ctx context.Context) error {
	pool, err := pgxpool.New(ctx, l.eventURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	nc, js, err := bus.Connect(ctx, config.NATS{URL: config.URL(l.nats.ClientURL())}, "bcreg-dev-status", l.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	sim := agentsim.Client{BaseURL: "http://" + l.simAddr}
	idleChecks, announced := 0, false
	tick := time.NewTicker(l.opts.StatusEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(l.opts.Out, "dev: interrupted, stopping everything")
			return nil
		case <-tick.C:
		}
		if dead := l.deadChild(); dead != nil {
			return fmt.Errorf("dev: %s exited unexpectedly: %w", dead.name, dead.err)
		}
		r, err := pipeline.Collect(ctx, pool, js)
		if err != nil {
			fmt.Fprintf(l.opts.Out, "dev: status: %v\n", err)
			continue
		}
		if st, err := sim.Stats(ctx); err == nil {
			n := st.Issued
			r.Received = &n
		}
		fmt.Fprintf(l.opts.Out, "status | %s\n", pipeline.Line(r))
		if r.Idle() {
			idleChecks++
		} else {
			idleChecks, announced = 0, false
		}
		if idleChecks >= 2 && !announced {
			announced = true
			fmt.Fprintln(l.opts.Out, "dev: backlog empty: every credential generated has been delivered to vonx-sim (or held back / dead-lettered as shown)")
			if l.opts.ExitWhenIdle {
				return nil
			}
			fmt.Fprintln(l.opts.Out, "dev: still polling for new events; Ctrl-C stops everything")
		}
	}
}

func (l *launcher) deadChild() *child {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.children {
		select {
		case <-c.done:
			return c
		default:
		}
	}
	return nil
}

// stopAll stops the children (SIGTERM, then SIGKILL after 15 s), then NATS,
// then PostgreSQL.
func (l *launcher) stopAll() {
	l.mu.Lock()
	children := l.children
	l.mu.Unlock()
	var wg sync.WaitGroup
	for i := len(children) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(c *child) { defer wg.Done(); c.stop(15 * time.Second) }(children[i])
	}
	wg.Wait()
	if l.nats != nil {
		l.nats.Shutdown()
		l.nats.WaitForShutdown()
	}
	if l.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := l.pg.Stop(ctx); err != nil {
			fmt.Fprintf(l.opts.Out, "dev: %v\n", err)
		}
	}
	fmt.Fprintln(l.opts.Out, "dev: stopped")
}

func waitHTTP(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %v", url, within)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// child is a service process whose output is prefixed with its name.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startChild(name, path string, args, env []string, out io.Writer) (*child, error) {
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = env
	pw := &prefixWriter{prefix: fmt.Sprintf("%-20s| ", name), out: out}
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	// Own process group: a terminal's Ctrl-C reaches the launcher, which
	// stops the children in order (and a script that signals only the
	// launcher still stops everything).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.err = c.cmd.Wait(); pw.flush(); close(c.done) }()
	return c, nil
}

func (c *child) stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// prefixWriter writes whole lines, each prefixed with the child's name.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	out    io.Writer
	buf    []byte
}

var outMu sync.Mutex

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		outMu.Lock()
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, p.buf[:i])
		outMu.Unlock()
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		outMu.Lock()
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, p.buf)
		outMu.Unlock()
		p.buf = nil
	}
}
