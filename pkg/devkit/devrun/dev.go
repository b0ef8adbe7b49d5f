// Package devrun is `bcreg-dev run`, the launcher behind `make run`: the whole
// pipeline on one machine with nothing but Go and the PostgreSQL server
// binaries. It starts NATS with JetStream (embedded, file store under the
// data directory), a local PostgreSQL (initialised on first run, two
// databases: source and event), vonx-sim, loads the demo data on first run,
// applies migrations and topology, then runs the event-poller, two
// credential-builders and two posters as separate processes with distinct
// side ports and name-prefixed logs, and the operator console (`bcregctl
// console`, read-only unless BCREG_CONSOLE_TOKEN is exported). NATS listens
// on fixed ports (client and monitoring, flags to change them), and the
// launcher prints ready-to-paste inspection commands (nats CLI, /jsz, the
// console, the database URLs), then a live status until the backlog is
// empty: rewritten in place on a terminal, elsewhere a line per change. Ctrl-C (or SIGTERM to the launcher) stops every child it
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
	// NATSPort and NATSMonitorPort are the embedded NATS server's client
	// and monitoring (/jsz, /varz) ports on 127.0.0.1: fixed, so the
	// printed commands work every run; a taken port is an error.
	NATSPort        int
	NATSMonitorPort int
	Out             io.Writer // status and prefixed logs
	// Terminal makes the status line update in place (Out is a terminal).
	Terminal bool
}

// Default ports of the embedded NATS server (bcreg-dev run's flags).
const (
	DefaultNATSPort        = 4222
	DefaultNATSMonitorPort = 8222
)

// Run starts everything, shows the status, and stops everything when ctx
// ends (or, with ExitWhenIdle, once the backlog is empty).
func Run(ctx context.Context, log *zap.Logger, o Options) (err error) {
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("dev: data dir: %w", err)
	}
	l := &launcher{opts: o, log: log, scr: newScreen(o.Out, o.Terminal)}
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
	l.printInspection()
	return l.watch(ctx)
}

type launcher struct {
	opts     Options
	log      *zap.Logger
	scr      *screen
	pg       *localpg.Server
	nats     *server.Server
	mu       sync.Mutex
	children []*child
	simAddr  string
	eventURL string
	srcURL   string
	console  string // the console's URL
}

func (l *launcher) startPostgres(ctx context.Context) error {
	base, _ := filepath.Abs(filepath.Join(l.opts.DataDir, "pg"))
	dir := localpg.DataDirFor(base)
	l.scr.Printf("dev: PostgreSQL data in %s", dir)
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
	port, monitor := l.opts.NATSPort, l.opts.NATSMonitorPort
	if port == 0 {
		port = DefaultNATSPort
	}
	if monitor == 0 {
		monitor = DefaultNATSMonitorPort
	}
	for _, p := range []struct {
		port       int
		what, flag string
	}{{port, "client", "--nats-port"}, {monitor, "monitoring", "--nats-monitor-port"}} {
		if err := portFree(p.port); err != nil {
			return fmt.Errorf("dev: the NATS %s port 127.0.0.1:%d is taken (another NATS server, or make run already running?): stop what holds it, or choose another port with `bcreg-dev run %s PORT` (make run RUN_ARGS='%s PORT'): %w",
				p.what, p.port, p.flag, p.flag, err)
		}
	}
	s, err := server.NewServer(&server.Options{ServerName: "bcreg-dev", Host: "127.0.0.1", Port: port,
		HTTPHost: "127.0.0.1", HTTPPort: monitor,
		JetStream: true, StoreDir: store, NoSigs: true, NoLog: true})
	if err != nil {
		return fmt.Errorf("dev: nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("dev: embedded NATS did not start within 30s")
	}
	l.nats = s
	l.scr.Printf("dev: NATS with JetStream at %s, monitoring at http://127.0.0.1:%d (store %s)", s.ClientURL(), monitor, store)
	return nil
}

// portFree reports why port on 127.0.0.1 cannot be listened on (nil: free).
func portFree(port int) error {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	return ln.Close()
}

// printInspection prints ready-to-paste commands to look inside the
// running pipeline (database URLs redacted as everywhere else).
func (l *launcher) printInspection() {
	nats := "nats --server " + l.nats.ClientURL()
	monitor := fmt.Sprintf("http://127.0.0.1:%d", l.nats.MonitorAddr().Port)
	l.scr.Println("dev: inspect it (ready to paste):")
	for _, line := range [][2]string{
		{"streams", nats + " stream ls"},
		{"poster lag", nats + " consumer report BCREG_CREDS"},
		{"builder lag", nats + " consumer report BCREG_EVENTS"},
		{"JetStream", "curl -s '" + monitor + "/jsz?consumers=true'"},
		{"console", l.console},
		{"source db", config.RedactURL(l.srcURL)},
		{"event db", config.RedactURL(l.eventURL)},
		{"status", "BCREG_EVENT_DB_URL='" + config.RedactURL(l.eventURL) + "' BCREG_SOURCE_DB_URL='" + config.RedactURL(l.srcURL) +
			"' BCREG_NATS_URL=" + l.nats.ClientURL() + " " + filepath.Join(l.opts.BinDir, "bcregctl") + " status"},
	} {
		l.scr.Printf("  %-12s %s", line[0], line[1])
	}
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
		l.scr.Println("dev: loading the demo data (the development fixture)")
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
			l.scr.Printf("dev: %s side port http://127.0.0.1:%d (/livez /readyz /metrics)", name, port)
		}
	}
	l.scr.Printf("dev: vonx-sim at http://%s (received: /_sim/received, /_sim/stats)", l.simAddr)
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
	l.console = "http://" + addr + "/"
	l.scr.Printf("dev: console at %s (%s)", l.console, mode)
	return nil
}

func (l *launcher) spawn(bin string, env []string) error { return l.spawnNamed(bin, bin, env) }

func (l *launcher) spawnNamed(name, bin string, env []string, args ...string) error {
	c, err := startChild(name, filepath.Join(l.opts.BinDir, bin), args, append(os.Environ(), env...), l.scr)
	if err != nil {
		return fmt.Errorf("dev: start %s: %w", name, err)
	}
	l.mu.Lock()
	l.children = append(l.children, c)
	l.mu.Unlock()
	l.scr.Printf("dev: started %s (pid %d)", name, c.cmd.Process.Pid)
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
			l.scr.Println("dev: interrupted, stopping everything")
			return nil
		case <-tick.C:
		}
		if dead := l.deadChild(); dead != nil {
			return fmt.Errorf("dev: %s exited unexpectedly: %w", dead.name, dead.err)
		}
		r, err := pipeline.Collect(ctx, pool, js)
		if err != nil {
			l.scr.Printf("dev: status: %v", err)
			continue
		}
		if st, err := sim.Stats(ctx); err == nil {
			n := st.Issued
			r.Received = &n
		}
		l.scr.Status("status | " + pipeline.Line(r))
		if r.Idle() {
			idleChecks++
		} else {
			idleChecks, announced = 0, false
		}
		if idleChecks >= 2 && !announced {
			announced = true
			l.scr.Println("dev: backlog empty: every credential generated has been delivered to vonx-sim (or held back / dead-lettered as shown)")
			if l.opts.ExitWhenIdle {
				return nil
			}
			l.scr.Println("dev: still polling for new events; Ctrl-C stops everything")
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
	l.scr.Close()
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
			l.scr.Printf("dev: %v", err)
		}
	}
	l.scr.Println("dev: stopped")
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

func startChild(name, path string, args, env []string, out *screen) (*child, error) {
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
	out    *screen
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		p.out.Println(p.prefix + string(p.buf[:i]))
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.out.Println(p.prefix + string(p.buf))
		p.buf = nil
	}
}
