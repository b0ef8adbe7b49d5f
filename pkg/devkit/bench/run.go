package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

// pipeRun is one measured run: its NATS server and databases, and the
// service processes it started.
type pipeRun struct {
	b    *bencher
	name string
	nats *natsServer
	nc   *nats.Conn
	js   jetstream.JetStream
	// replicas is BCREG_JS_REPLICAS: 1 on one NATS server, more on a
	// cluster of that many nodes.
	replicas int
	eventDB  string // database names
	srcDB    string
	edb      *pgxpool.Pool
	profile  string
	simAddr  string
	sim      *agentsim.Client
	extra    []string // more settings for every service
	procs    []*proc  // services and vonx-sim, in start order
	roles    map[*proc]string
}

// newRun starts NATS (one server, or a cluster for replicas > 1) on store
// (which may hold a staged store's copy) and opens the event database.
func (b *bencher) newRun(ctx context.Context, name, eventDB, srcDB, store, profile string, replicas int) (*pipeRun, error) {
	r := &pipeRun{b: b, name: name, replicas: max(replicas, 1), eventDB: eventDB, srcDB: srcDB, profile: profile, roles: map[*proc]string{}}
	var err error
	if r.nats, err = b.c.startNATS(ctx, name+"-nats", store, r.replicas); err != nil {
		return nil, err
	}
	if r.nc, r.js, err = r.nats.connect(ctx, b.log); err != nil {
		r.close(ctx)
		return nil, err
	}
	if r.edb, err = pgxpool.New(ctx, b.c.url(eventDB)); err != nil {
		r.close(ctx)
		return nil, fmt.Errorf("bench: %w", err)
	}
	return r, nil
}

// env is the environment of a service of the run.
func (r *pipeRun) env(extra ...string) []string { return childEnv(r.settings(extra...)...) }

// settings are the BCREG_ settings every service of the run gets, plus
// extra.
func (r *pipeRun) settings(extra ...string) []string {
	e := []string{
		"BCREG_NATS_URL=" + r.nats.url,
		fmt.Sprintf("BCREG_JS_REPLICAS=%d", r.replicas),
		"BCREG_EVENT_DB_URL=" + r.b.c.url(r.eventDB),
		"BCREG_PROFILE=" + r.profile,
		"BCREG_LOG_FORMAT=json",
		"BCREG_LOG_LEVEL=info",
		"BCREG_MIGRATE=false",
		"BCREG_JS_TOPOLOGY=apply",
		"BCREG_SHUTDOWN_TIMEOUT=20s",
		// Room for the largest registries' backlogs (the defaults are
		// sized for the ongoing flow; DiscardNew would stall the load).
		"BCREG_JS_EVENTS_MAX_BYTES=4294967296",
		"BCREG_JS_CREDS_MAX_BYTES=17179869184",
	}
	if r.srcDB != "" {
		e = append(e, "BCREG_SOURCE_DB_URL="+r.b.c.url(r.srcDB))
	}
	if r.simAddr != "" {
		e = append(e, "BCREG_AGENT_URL=http://"+r.simAddr+"/bcreg")
	}
	e = append(e, r.extra...)
	e = append(e, extra...)
	return append(e, r.b.opts.Set...)
}

// migrate applies the migrations and the topology with `bcregctl migrate`.
func (r *pipeRun) migrate(ctx context.Context) error {
	_, err := r.b.runBin(ctx, "bcregctl", r.settings(), "migrate")
	return err
}

// service starts one replica of a service binary with a side port and
// waits for /livez (ready=false) or /readyz.
func (r *pipeRun) service(ctx context.Context, role, bin string, ready bool, extra ...string) (*proc, error) {
	port, err := localpg.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := r.b.c.start(r.name+"-"+role, filepath.Join(r.b.opts.BinDir, bin), nil,
		r.env(append([]string{"BCREG_HTTP_ADDR=" + addr, "BCREG_PPROF=true"}, extra...)...))
	if err != nil {
		return nil, err
	}
	p.addr = addr
	r.procs = append(r.procs, p)
	r.roles[p] = role
	path := "/livez"
	if ready {
		path = "/readyz"
	}
	if err := waitHTTP(ctx, p, "http://"+addr+path, time.Minute); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", role, err)
	}
	return p, nil
}

// startSim starts vonx-sim with the given BCREG_SIM_ settings.
func (r *pipeRun) startSim(ctx context.Context, settings ...string) error {
	port, err := localpg.FreePort()
	if err != nil {
		return err
	}
	r.simAddr = fmt.Sprintf("127.0.0.1:%d", port)
	r.sim = &agentsim.Client{BaseURL: "http://" + r.simAddr}
	env := childEnv(append([]string{"BCREG_SIM_ADDR=" + r.simAddr, "BCREG_LOG_FORMAT=json", "BCREG_LOG_LEVEL=info", "BCREG_SIM_SEED=1"}, settings...)...)
	p, err := r.b.c.start(r.name+"-vonx-sim", filepath.Join(r.b.opts.BinDir, "vonx-sim"), nil, env)
	if err != nil {
		return err
	}
	p.addr = r.simAddr
	r.procs = append(r.procs, p)
	r.roles[p] = "vonx-sim"
	return waitHTTP(ctx, p, "http://"+r.simAddr+"/health", 30*time.Second)
}

// checkAlive fails when a process of the run has exited.
func (r *pipeRun) checkAlive() error {
	for _, p := range r.procs {
		if p.exited() {
			return fmt.Errorf("bench: %s exited during the run: %w\n%s", r.roles[p], p.err, p.tail())
		}
	}
	if p := r.nats.exited(); p != nil {
		return fmt.Errorf("bench: NATS (%s) exited during the run: %w\n%s", p.name, p.err, p.tail())
	}
	return nil
}

// stopServices stops the run's services (not NATS), newest first.
func (r *pipeRun) stopServices() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop(30 * time.Second)
	}
}

// close stops everything of the run and closes its connections (the
// databases and store stay: the caller drops them).
func (r *pipeRun) close(ctx context.Context) {
	r.stopServices()
	if r.edb != nil {
		r.edb.Close()
	}
	if r.nc != nil {
		r.nc.Close()
	}
	if r.nats != nil {
		r.nats.stop(30 * time.Second)
	}
}

// deliveries is how many deliveries a consumer made (first deliveries and
// redeliveries).
func (r *pipeRun) deliveries(ctx context.Context, stream, name string) uint64 {
	c, err := r.js.Consumer(ctx, stream, name)
	if err != nil {
		return 0
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0
	}
	return info.Delivered.Consumer
}

// consumer is a consumer's backlog: not yet delivered, delivered unacked.
func (r *pipeRun) consumer(ctx context.Context, stream, name string) (pending uint64, inFlight int, err error) {
	c, err := r.js.Consumer(ctx, stream, name)
	if err != nil {
		return 0, 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.NumPending, info.NumAckPending, nil
}

func (r *pipeRun) streamMsgs(ctx context.Context, name string) uint64 {
	s, err := r.js.Stream(ctx, name)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// drained says a consumer has nothing pending or in flight (a missing
// consumer counts as drained: nobody consumed yet and the stream is empty
// is checked by the caller).
func (r *pipeRun) drained(ctx context.Context, stream, name string) bool {
	p, f, err := r.consumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return r.streamMsgs(ctx, stream) == 0
	}
	return err == nil && p == 0 && f == 0
}

// outstanding counts the credentials not yet answered that are due, and
// of those the unpublished ones.
func (r *pipeRun) outstanding(ctx context.Context) (due, unpublished int64, err error) {
	err = r.edb.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE published_at IS NULL)
FROM credential_log WHERE process_success IS NULL AND (not_before IS NULL OR not_before <= now())`).Scan(&due, &unpublished)
	return due, unpublished, err
}

// waitFor polls cond every interval until it holds, the box ends (returns
// errBoxed), ctx ends, or a process dies.
func (r *pipeRun) waitFor(ctx context.Context, box, every time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(box)
	for {
		if err := r.checkAlive(); err != nil {
			return err
		}
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errBoxed
		}
		select {
		case <-ctx.Done():
			return errStopped
		case <-time.After(every):
		}
	}
}

// meter measures the CPU of a run's processes, PostgreSQL, NATS, the bench
// itself and the whole machine over a window.
type meter struct {
	r                                *pipeRun
	t0                               time.Time
	base                             map[*proc]time.Duration
	pg0, nats0, self0, mach0         time.Duration
	load0                            string
	wall, pg, natsCPU, self, machine time.Duration
	procs                            []procUsage
	load1                            string
	natsHWM                          int64
}

func (r *pipeRun) startMeter() *meter {
	m := &meter{r: r, base: map[*proc]time.Duration{}, load0: loadAvg()}
	for _, p := range r.procs {
		m.base[p] = p.sample().CPU
	}
	m.nats0, _ = r.nats.sample()
	m.pg0, m.self0, m.mach0 = r.b.c.pgCPU(), selfCPU(), machineCPU()
	m.t0 = time.Now()
	return m
}

// stop ends the window; processes started after the window began count
// from zero.
func (m *meter) stop() usage {
	r := m.r
	m.wall = time.Since(m.t0)
	m.pg = r.b.c.pgCPU() - m.pg0
	cpu, hwm := r.nats.sample()
	m.natsCPU, m.natsHWM = cpu-m.nats0, hwm
	m.self = selfCPU() - m.self0
	m.machine = machineCPU() - m.mach0
	for _, p := range r.procs {
		s := p.sample()
		m.procs = append(m.procs, procUsage{Role: r.roles[p], CPU: s.CPU - m.base[p], HWM: s.HWM})
	}
	m.load1 = loadAvg()
	return m.usage()
}

func (m *meter) usage() usage {
	u := usage{Wall: m.wall, PG: m.pg, NATS: m.natsCPU, Self: m.self, Machine: m.machine, Procs: m.procs,
		LoadStart: m.load0, LoadEnd: m.load1, NATSHWM: m.natsHWM}
	return u
}

// finishUsage fills in the peak resident sets after the processes exited
// (the kernel's figure covers the whole life).
func (r *pipeRun) finishUsage(u *usage) {
	for i := range u.Procs {
		for p, role := range r.roles {
			if role == u.Procs[i].Role {
				if h := p.peakRSS(); h > u.Procs[i].HWM {
					u.Procs[i].HWM = h
				}
			}
		}
	}
}

// procUsage is one process's share of a window.
type procUsage struct {
	Role string
	CPU  time.Duration
	HWM  int64
}

// usage is what a window cost.
type usage struct {
	Wall                    time.Duration
	Procs                   []procUsage
	PG, NATS, Self, Machine time.Duration
	LoadStart, LoadEnd      string
	NATSHWM                 int64
}

// ours is the CPU of everything the bench started.
func (u usage) ours() time.Duration {
	t := u.PG + u.NATS + u.Self
	for _, p := range u.Procs {
		t += p.CPU
	}
	return t
}

// foreign is the machine's busy time that was not ours (other work on the
// machine during the window).
func (u usage) foreign() time.Duration { return max(0, u.Machine-u.ours()) }

// cpuOf sums the CPU of the processes whose role starts with prefix.
func (u usage) cpuOf(prefix string) time.Duration {
	var t time.Duration
	for _, p := range u.Procs {
		if strings.HasPrefix(p.Role, prefix) {
			t += p.CPU
		}
	}
	return t
}

// removeStore deletes a NATS store directory unless --keep.
func (b *bencher) removeStore(dir string) {
	if !b.opts.Keep {
		_ = os.RemoveAll(dir)
	}
}
