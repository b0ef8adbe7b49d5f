package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

// cluster is the bench's PostgreSQL server (one for the whole run, a fresh
// cluster each run) and the processes it starts. Every process is stopped,
// PostgreSQL included, by close, whatever happened.
type cluster struct {
	opts   *Options
	log    *zap.Logger
	self   string // this executable (the NATS child runs from it)
	pg     *localpg.Server
	pgData string // the cluster's data directory (postmaster.pid)
	pgBase string // DataDirFor(...): data, log
	admin  *pgxpool.Pool
	// statements says pg_stat_statements is loaded; explain that
	// auto_explain logs the plans of statements slower than autoExplainMin.
	statements, explain bool
	logDir              string
	natsDir             string

	mu    sync.Mutex
	procs []*proc // live processes, in start order
}

func newCluster(o *Options, log *zap.Logger) (*cluster, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: own executable: %w", err)
	}
	c := &cluster{opts: o, log: log, self: self,
		logDir:  filepath.Join(o.DataDir, "logs"),
		natsDir: filepath.Join(o.DataDir, "nats")}
	for _, d := range []string{c.logDir, c.natsDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, fmt.Errorf("bench: clear %s: %w", d, err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	return c, nil
}

// startPostgres initialises a fresh cluster (any earlier bench cluster is
// stopped and removed), enables pg_stat_statements and commit timestamps,
// and starts it.
func (c *cluster) startPostgres(ctx context.Context) error {
	base, _ := filepath.Abs(filepath.Join(c.opts.DataDir, "pg"))
	c.pgBase = localpg.DataDirFor(base)
	c.pgData = filepath.Join(c.pgBase, "data")
	lo := localpg.Options{DataDir: c.pgData, LogFile: filepath.Join(c.pgBase, "postgres.log")}
	if _, err := os.Stat(filepath.Join(c.pgData, "PG_VERSION")); err == nil {
		// A cluster left by an interrupted run: stop its server (Start
		// stops a stale one first), then remove it.
		if pg, err := localpg.Start(ctx, lo); err == nil {
			_ = pg.Stop(context.WithoutCancel(ctx))
		}
	}
	if err := os.RemoveAll(c.pgBase); err != nil {
		return fmt.Errorf("bench: remove old cluster: %w", err)
	}
	pg, err := localpg.Start(ctx, lo)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	c.pg = pg
	// Settings that need a restart: ALTER SYSTEM writes
	// postgresql.auto.conf, read at the next start (localpg's own -c
	// settings do not name these).
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return fmt.Errorf("bench: connect: %w", err)
	}
	var statements, explain bool
	_ = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')").Scan(&statements)
	var libdir string
	if err := conn.QueryRow(ctx, "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").Scan(&libdir); err == nil {
		_, err := os.Stat(filepath.Join(libdir, "auto_explain.so"))
		explain = err == nil
	}
	settings := []string{"ALTER SYSTEM SET track_commit_timestamp = on"}
	var preload []string
	if statements {
		preload = append(preload, "pg_stat_statements")
	} else {
		c.log.Warn("pg_stat_statements is not installed: the report has no statement figures")
	}
	if explain {
		// Plans of slow statements go to the server log (no ANALYZE:
		// nearly free); the report shows those of the heaviest ones.
		preload = append(preload, "auto_explain")
	}
	if len(preload) > 0 {
		settings = append(settings, "ALTER SYSTEM SET shared_preload_libraries = '"+strings.Join(preload, "', '")+"'")
	}
	for _, s := range settings {
		if _, err := conn.Exec(ctx, s); err != nil {
			conn.Close(ctx)
			return fmt.Errorf("bench: %s: %w", s, err)
		}
	}
	conn.Close(ctx)
	if err := pg.Stop(ctx); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	lo.Port = pg.Port()
	if c.pg, err = localpg.Start(ctx, lo); err != nil {
		c.pg = nil
		return fmt.Errorf("bench: restart with the bench settings: %w", err)
	}
	if c.admin, err = pgxpool.New(ctx, c.pg.URL("postgres")); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if explain {
		// The library is loaded now, so its settings exist.
		for _, s := range []string{"ALTER SYSTEM SET auto_explain.log_min_duration = '" + autoExplainMin + "'", "SELECT pg_reload_conf()"} {
			if _, err := c.admin.Exec(ctx, s); err != nil {
				c.log.Warn("auto_explain", zap.Error(err))
				explain = false
				break
			}
		}
		c.explain = explain
	}
	if statements {
		if _, err := c.admin.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
			c.log.Warn("pg_stat_statements unavailable: no statement figures", zap.Error(err))
		} else {
			c.statements = true
		}
	}
	return nil
}

// autoExplainMin is auto_explain.log_min_duration.
const autoExplainMin = "20ms"

// logPath is the server's log file.
func (c *cluster) logPath() string { return filepath.Join(c.pgBase, "postgres.log") }

// logOffset is the server log's size now: plans logged after it belong to
// the run that starts.
func (c *cluster) logOffset() int64 {
	fi, err := os.Stat(c.logPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// postmasterPID is the server's main process.
func (c *cluster) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(c.pgData, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func (c *cluster) pgCPU() time.Duration {
	pid := c.postmasterPID()
	if pid == 0 {
		return 0
	}
	d, _ := treeCPU(pid)
	return d
}

// createDB makes an empty database, or a copy of template (file copy: no
// WAL for the whole database). A template in use (an autovacuum worker) is
// retried for a while.
func (c *cluster) createDB(ctx context.Context, name, template string) error {
	c.dropAnyway(ctx, name)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		stmt += " TEMPLATE " + pgx.Identifier{template}.Sanitize() + " STRATEGY FILE_COPY"
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if template != "" {
			_, _ = c.admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", template)
		}
		_, err := c.admin.Exec(ctx, stmt)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: %s: %w", stmt, err)
		}
		time.Sleep(time.Second)
	}
}

// vacuum runs VACUUM (ANALYZE) on a database, outside any measured
// window: what autovacuum would do there later does not land in another
// run's figures.
func (c *cluster) vacuum(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.url(name))
	if err != nil {
		return fmt.Errorf("bench: vacuum %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("bench: vacuum %s: %w", name, err)
	}
	return nil
}

// dropDB drops a run's database when it is done with, unless --keep (the
// databases are then left to inspect: table sizes, HOT updates, plans).
func (c *cluster) dropDB(ctx context.Context, name string) {
	if !c.opts.Keep {
		c.dropAnyway(ctx, name)
	}
}

// dropAnyway drops a database, --keep or not (a leftover of an earlier run
// before its name is reused).
func (c *cluster) dropAnyway(ctx context.Context, name string) {
	_, err := c.admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		c.log.Warn("drop database", zap.String("db", name), zap.Error(err))
	}
}

func (c *cluster) dbSize(ctx context.Context, name string) int64 {
	var n int64
	_ = c.admin.QueryRow(ctx, "SELECT pg_database_size($1)", name).Scan(&n)
	return n
}

func (c *cluster) url(db string) string { return c.pg.URL(db) }

// close stops every process still running, then PostgreSQL.
func (c *cluster) close() {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(20 * time.Second)
	}
	if c.admin != nil {
		c.admin.Close()
	}
	if c.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.pg.Stop(ctx); err != nil {
			c.log.Error("stop PostgreSQL", zap.Error(err))
		}
		if !c.opts.Keep {
			_ = os.RemoveAll(c.pgBase)
		}
	}
	if !c.opts.Keep {
		_ = os.RemoveAll(c.natsDir)
	}
}

// env is the environment of a child: ours without any BCREG_ setting (the
// bench decides them all), plus extra.
func childEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BCREG_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// proc is a child process with its output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	addr    string // side port or listen address, "" if none
	started time.Time
	done    chan struct{}
	err     error

	mu      sync.Mutex
	final   *procSample // read just before the stop signal
	rusage  *syscall.Rusage
	stopped bool
}

// start runs bin (a path) with args and env; its output goes to
// logDir/<name>.log.
func (c *cluster) start(name, bin string, args, env []string) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{}), logPath: filepath.Join(c.logDir, name+".log")}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	p.logFile = f
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// Own process group: a terminal's Ctrl-C reaches the bench, which stops
	// the children in order; if the bench dies, the kernel kills them.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	p.started = time.Now()
	go func() {
		p.err = p.cmd.Wait()
		if ps := p.cmd.ProcessState; ps != nil {
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				p.mu.Lock()
				p.rusage = ru
				p.mu.Unlock()
			}
		}
		f.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// sample reads the live process; after it exited, its final figures.
func (p *proc) sample() procSample {
	if !p.exited() {
		if s, err := readProc(p.pid()); err == nil {
			return s
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.final != nil {
		return *p.final
	}
	var s procSample
	if p.rusage != nil {
		s.CPU = time.Duration(p.rusage.Utime.Nano() + p.rusage.Stime.Nano())
		s.HWM = p.rusage.Maxrss * 1024
	}
	return s
}

// stop samples the process, sends SIGTERM, and waits (SIGKILL after
// grace). It returns the process's error unless it was the signal's.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.stopped = true
	p.mu.Unlock()
	if !p.exited() {
		if s, err := readProc(p.pid()); err == nil {
			p.mu.Lock()
			p.final = &s
			p.mu.Unlock()
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// peakRSS is the process's peak resident set: VmHWM read before the stop,
// or the kernel's maxrss after the exit, whichever is larger.
func (p *proc) peakRSS() int64 {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	var hwm int64
	if p.final != nil {
		hwm = p.final.HWM
	}
	if p.rusage != nil && p.rusage.Maxrss*1024 > hwm {
		hwm = p.rusage.Maxrss * 1024
	}
	return hwm
}

// tail is the end of the process's log (for error messages).
func (p *proc) tail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// natsServer is the NATS of a run: one child (this executable in its _nats
// mode), or one per node of a cluster.
type natsServer struct {
	nodes []*proc
	url   string // every node's client URL, comma separated
	store string
}

// cpu is the CPU of every node; hwm the sum of their peak resident sets
// (the memory the NATS tier needs).
func (n *natsServer) sample() (cpu time.Duration, hwm int64) {
	for _, p := range n.nodes {
		s := p.sample()
		cpu += s.CPU
		hwm += s.HWM
	}
	return cpu, hwm
}

// exited is a node that exited, or nil.
func (n *natsServer) exited() *proc {
	for _, p := range n.nodes {
		if p.exited() {
			return p
		}
	}
	return nil
}

func (n *natsServer) stop(grace time.Duration) {
	for _, p := range n.nodes {
		p.stop(grace)
	}
}

// startNATS runs NATS with JetStream on store (a directory) as children:
// one server for replicas 1, a cluster of that many nodes otherwise (see
// natsNodes). It returns when JetStream answers and every stream a copied
// store holds has a leader.
func (c *cluster) startNATS(ctx context.Context, name, store string, replicas int) (*natsServer, error) {
	nodes, err := natsNodes(store, replicas, localpg.FreePort)
	if err != nil {
		return nil, err
	}
	n := &natsServer{store: store}
	var urls []string
	for i, node := range nodes {
		pname := name
		if len(nodes) > 1 {
			pname = fmt.Sprintf("%s-%d", name, i)
		}
		p, err := c.start(pname, c.self, node.args(), childEnv())
		if err != nil {
			n.stop(10 * time.Second)
			return nil, err
		}
		n.nodes = append(n.nodes, p)
		urls = append(urls, node.url())
	}
	n.url = strings.Join(urls, ",")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// Ready for clients; JetStream may still be recovering a big store
		// or electing its leaders.
		if nc, err := nats.Connect(n.url); err == nil {
			ready := jetStreamReady(ctx, nc)
			nc.Close()
			if ready {
				return n, nil
			}
		}
		if p := n.exited(); p != nil {
			n.stop(10 * time.Second)
			return nil, fmt.Errorf("bench: NATS exited: %w\n%s", p.err, p.tail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n.stop(10 * time.Second)
			return nil, fmt.Errorf("bench: NATS not ready within 2m\n%s", n.nodes[0].tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jetStreamReady says JetStream answers (a cluster: has a meta leader) and
// every stream has a leader.
func jetStreamReady(ctx context.Context, nc *nats.Conn) bool {
	js, err := jetstream.New(nc)
	if err != nil {
		return false
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return false
	}
	names := js.StreamNames(ctx)
	for s := range names.Name() {
		st, err := js.Stream(ctx, s)
		if err != nil {
			return false
		}
		info, err := st.Info(ctx)
		if err != nil || (info.Cluster != nil && info.Cluster.Leader == "") {
			return false
		}
	}
	return names.Err() == nil
}

// connect opens a NATS connection for the bench's own checks.
func (n *natsServer) connect(ctx context.Context, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	// The bench's own connection: its close and reconnect messages are of
	// no interest.
	return bus.Connect(ctx, config.NATS{URL: config.URL(n.url)}, "bcreg-dev-bench", zap.NewNop())
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, p *proc, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before %s answered: %w\n%s", p.name, url, p.err, p.tail())
		}
		select {
		case <-ctx.Done():
			msg := ""
			if p != nil {
				msg = "\n" + p.tail()
			}
			return fmt.Errorf("%s did not answer 200 within %v%s", url, within, msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// copyDir copies a directory tree (the NATS store of a staged run).
func copyDir(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp -a %s %s: %w: %s", src, dst, err, out)
	}
	return nil
}

var errBoxed = errors.New("time box reached")
