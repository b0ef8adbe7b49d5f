package poller_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// system is the source system the poller reads.
const system = messages.SystemBCReg

// env is one test's world: the whole development fixture as the registry,
// a migrated event database and an embedded NATS server with the topology.
type env struct {
	t      *testing.T
	nats   *testenv.NATS
	js     jetstream.JetStream
	srcURL string
	edbURL string
	edb    *pgxpool.Pool
	topo   bus.Topology
	logs   *observer.ObservedLogs
	log    *zap.Logger
}

func newEnv(t *testing.T, topo ...func(*bus.Topology)) *env {
	t.Helper()
	e := &env{t: t, nats: testenv.NewNATS(t), topo: bus.DefaultTopology()}
	for _, f := range topo {
		f(&e.topo)
	}
	_, e.js = e.nats.Connect(t)
	if err := e.topo.Apply(testenv.Context(t), e.js); err != nil {
		t.Fatal(err)
	}
	e.srcURL = sourcetest.WholeFixture(t, sourcetest.Template(t))
	e.edbURL = testenv.NewDatabase(t)
	e.edb = testenv.Pool(t, e.edbURL)
	if _, err := eventdb.Migrate(testenv.Context(t), e.edb); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	e.logs = logs
	e.log = zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)).Core(), core))
	return e
}

// config is a fast configuration: short intervals, a 10-minute look-back.
func (e *env) config(mods ...func(*poller.Config)) poller.Config {
	cfg := poller.Config{
		Logging:  config.Logging{Level: "info", Format: "console"},
		HTTP:     config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		NATS:     config.NATS{URL: config.URL(e.nats.URL())},
		Topology: e.topo,
		Backoff:  bus.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		EventDB:  config.EventDB{URL: config.URL(e.edbURL)},
		SourceDB: config.SourceDB{URL: config.URL(e.srcURL)},
		Poll: poller.Poll{Interval: 100 * time.Millisecond, LookBack: 10 * time.Minute, InitialLoad: poller.InitialLoadAuto,
			LoadPage: 10, LockRetry: 50 * time.Millisecond, WarnCorps: 10000, ErrorCorps: 100000, PublishTimeout: time.Second,
			PruneInterval: time.Hour},
	}
	for _, m := range mods {
		m(&cfg)
	}
	if err := cfg.Poll.Validate(); err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// once runs one cycle, as `event-poller --once`.
func (e *env) once(cfg poller.Config, h poller.Hooks) error {
	e.t.Helper()
	cfg.Once = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return poller.Run(ctx, cfg, e.log, poller.WithHooks(h))
}

// mustOnce runs one cycle that must succeed.
func (e *env) mustOnce(cfg poller.Config, h poller.Hooks) {
	e.t.Helper()
	if err := e.once(cfg, h); err != nil {
		e.t.Fatalf("poller --once: %v", err)
	}
}

// replica is a poller running in the background.
type replica struct {
	cancel context.CancelFunc
	done   chan error
	stop   func() error
}

func (e *env) start(cfg poller.Config, h poller.Hooks) *replica {
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- poller.Run(ctx, cfg, e.log, poller.WithHooks(h)) }()
	var once sync.Once
	var err error
	r.stop = func() error {
		once.Do(func() { cancel(); err = <-r.done })
		return err
	}
	e.t.Cleanup(func() { _ = r.stop() })
	return r
}

// storedEvent is a CorpEvent found in BCREG_EVENTS.
type storedEvent struct {
	Seq     uint64
	Subject string
	MsgID   string
	Event   messages.CorpEvent
}

// events reads every message stored in BCREG_EVENTS, in stream order.
func (e *env) events() []storedEvent {
	e.t.Helper()
	var out []storedEvent
	for _, raw := range testenv.StreamMessages(e.t, e.js, bus.StreamEvents) {
		ev, err := messages.DecodeCorpEvent(raw.Data)
		if err != nil {
			e.t.Fatalf("seq %d: %v", raw.Sequence, err)
		}
		out = append(out, storedEvent{Seq: raw.Sequence, Subject: raw.Subject, MsgID: raw.Header.Get(jetstream.MsgIDHeader), Event: ev})
	}
	return out
}

// lastSeq is the stream's last sequence: it moves only when a message is
// stored.
func (e *env) lastSeq() uint64 {
	e.t.Helper()
	s, err := e.js.Stream(testenv.Context(e.t), bus.StreamEvents)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(testenv.Context(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.LastSeq
}

// after returns the stored events with a sequence above seq.
func after(seq uint64, all []storedEvent) []storedEvent {
	var out []storedEvent
	for _, ev := range all {
		if ev.Seq > seq {
			out = append(out, ev)
		}
	}
	return out
}

// corps returns the corporations of events, in order.
func corps(evs []storedEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Event.CorpNum
	}
	return out
}

// watermark reads the current watermark.
func (e *env) watermark() (regevent.Position, bool) {
	e.t.Helper()
	w, ok, err := discovery.CurrentWatermark(testenv.Context(e.t), e.edb, system)
	if err != nil {
		e.t.Fatal(err)
	}
	return w, ok
}

// query runs a query on the event database and returns one column.
func query[T any](t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []T {
	t.Helper()
	rows, _ := pool.Query(testenv.Context(t), sql, args...)
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// srcPool opens the registry database.
func (e *env) srcPool() *pgxpool.Pool { return testenv.Pool(e.t, e.srcURL) }

// fixtureCorps lists the registry's corporations in byte order.
func (e *env) fixtureCorps() []string {
	got := query[string](e.t, e.srcPool(), `SELECT DISTINCT corp_num COLLATE "C" FROM bc_registries.corporation ORDER BY 1`)
	return got
}

// newestFixtureEvent is the fixture's newest event (it is in 2018).
func (e *env) newestFixtureEvent() regevent.Position {
	var w regevent.Position
	if err := e.srcPool().QueryRow(testenv.Context(e.t), `SELECT event_id::bigint, event_timestmp FROM bc_registries.event
ORDER BY event_timestmp DESC, event_id DESC LIMIT 1`).Scan(&w.EventID, &w.Date.Time); err != nil {
		e.t.Fatal(err)
	}
	return w
}

// bcNow is the naive BC local time now, as the poller sees it.
func bcNow() time.Time { return regclock.Now() }

// waitFor polls cond until it holds, for at most testenv.Guard.
var waitFor = testenv.WaitFor

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// readyz returns the status code of the side port's /readyz.
func readyz(addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// logged reports whether a message was logged at level.
func (e *env) logged(level zapcore.Level, msg string) bool {
	return e.logs.FilterLevelExact(level).FilterMessage(msg).Len() > 0
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// initMsgID is the message id of an initial-load CorpEvent (package
// initload makes them).
func initMsgID(system, corpNum string, runID int64) string {
	return messages.InitialLoadMsgID(system, corpNum, runID)
}

// stepper is a poller whose cycles the test starts one at a time.
type stepper struct {
	t    *testing.T
	step chan struct{}
	done chan error
}

// startStepped starts a poller with h (its pace and cycled are set here)
// and returns once its first cycle is over, with that cycle's outcome.
func (e *env) startStepped(cfg poller.Config, h poller.Hooks) (*stepper, error) {
	st := &stepper{t: e.t, step: make(chan struct{}), done: make(chan error)}
	quit := make(chan struct{})
	h.Pace = func(ctx context.Context) {
		select {
		case <-st.step:
		case <-ctx.Done():
		}
	}
	h.Cycled = func(err error) {
		select {
		case st.done <- err:
		case <-quit:
		}
	}
	e.start(cfg, h)
	e.t.Cleanup(func() { close(quit) }) // runs before the replica's stop
	return st, st.wait()
}

// next runs one cycle and returns its outcome.
func (st *stepper) next() error {
	st.t.Helper()
	select {
	case st.step <- struct{}{}:
	case <-time.After(time.Minute):
		st.t.Fatal("the poller did not become ready for its next cycle within a minute")
	}
	return st.wait()
}

func (st *stepper) wait() error {
	st.t.Helper()
	select {
	case err := <-st.done:
		return err
	case <-time.After(time.Minute):
		st.t.Fatal("no cycle finished within a minute")
	}
	return nil
}

// gate is a pace hook (Hooks.Pace) that waits the interval as the poller
// does, and that the test can hold: the poller then waits between cycles
// until released.
type gate struct {
	interval time.Duration
	mu       sync.Mutex
	held     chan struct{} // closed by release; nil: not held
	parked   chan struct{} // receives when the poller waits on a hold
}

func newGate(interval time.Duration) *gate {
	return &gate{interval: interval, parked: make(chan struct{}, 1)}
}

func (g *gate) pace(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(g.interval):
	}
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held == nil {
		return
	}
	select {
	case g.parked <- struct{}{}:
	default:
	}
	select {
	case <-held:
	case <-ctx.Done():
	}
}

// hold stops the poller after its current cycle and returns once it waits.
func (g *gate) hold(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	g.held = make(chan struct{})
	g.mu.Unlock()
	select {
	case <-g.parked:
	case <-time.After(time.Minute):
		t.Fatal("the poller did not finish its cycle within a minute")
	}
}

// release lets the held poller run its next cycle.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.held)
	g.held = nil
}
