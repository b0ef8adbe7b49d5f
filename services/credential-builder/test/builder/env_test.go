package builder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/credential-builder/internal/builder"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var errCrash = fmt.Errorf("simulated crash")

// system is the source system the builder reads.
const system = messages.SystemBCReg

// env is one test's world: the whole development fixture as the registry,
// a migrated event database and an embedded NATS server with the topology.
type env struct {
	t      testing.TB
	js     jetstream.JetStream
	nats   *testenv.NATS
	srcURL string
	edbURL string
	edb    *pgxpool.Pool
	src    *pgxpool.Pool
	topo   bus.Topology
	// profile is the builder's profile (config) and the oracle's.
	profile string
	logs    *observer.ObservedLogs
	log     *zap.Logger
}

func newEnv(t testing.TB, topo ...func(*bus.Topology)) *env {
	t.Helper()
	e := &env{t: t, nats: testenv.NewNATS(t), topo: bus.DefaultTopology(), profile: credential.ProfileSnapshot}
	// Fast redeliveries: a Nak'd message comes back after the test back-off.
	e.topo.BuilderAckWait = 5 * time.Second
	for _, f := range topo {
		f(&e.topo)
	}
	_, e.js = e.nats.Connect(t)
	if err := e.topo.Apply(testenv.Context(t), e.js); err != nil {
		t.Fatal(err)
	}
	e.srcURL = sourcetest.WholeFixture(t, sourcetest.Template(t))
	e.src = testenv.Pool(t, e.srcURL)
	e.edbURL = testenv.NewDatabase(t)
	e.edb = testenv.Pool(t, e.edbURL)
	if _, err := eventdb.Migrate(testenv.Context(t), e.edb); err != nil {
		t.Fatal(err)
	}
	obsLevel := zapcore.InfoLevel
	if os.Getenv("BCREG_TEST_PHASES") != "" {
		obsLevel = zapcore.DebugLevel
	}
	core, logs := observer.New(obsLevel)
	e.logs = logs
	level := zapcore.WarnLevel
	if _, bench := t.(*testing.B); bench {
		level = zapcore.ErrorLevel // fallback warnings for thousands of clones
	}
	e.log = zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(level)).Core(), core))
	return e
}

// config is a fast configuration.
func (e *env) config(mods ...func(*builder.Config)) builder.Config {
	cfg := builder.Config{
		Logging:  config.Logging{Level: "info", Format: "console"},
		HTTP:     config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		NATS:     config.NATS{URL: config.URL(e.nats.URL())},
		Topology: e.topo,
		Backoff:  bus.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		EventDB:  config.EventDB{URL: config.URL(e.edbURL)},
		SourceDB: config.SourceDB{URL: config.URL(e.srcURL)},
		Build: builder.Build{Profile: e.profile, BatchSize: 200, BatchWait: 100 * time.Millisecond, Workers: 2,
			PublishTimeout: time.Second, SweepInterval: time.Hour, SweepAge: time.Minute, LockWait: 10 * time.Second},
	}
	for _, m := range mods {
		m(&cfg)
	}
	if err := cfg.Build.Validate(); err != nil {
		e.t.Fatal(err)
	}
	if err := cfg.ValidateConfig(); err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// replica is a builder running in the background.
type replica struct {
	cancel context.CancelFunc
	stop   func() error
}

func (e *env) start(cfg builder.Config, h builder.Hooks) *replica {
	ctx, cancel := context.WithCancel(context.Background())
	return e.startCtx(ctx, cancel, cfg, h)
}

// startCtx starts a builder on ctx (cancel ends it), for hooks that must
// stop their own replica.
func (e *env) startCtx(ctx context.Context, cancel context.CancelFunc, cfg builder.Config, h builder.Hooks) *replica {
	done := make(chan error, 1)
	go func() { done <- builder.Run(ctx, cfg, e.log, builder.WithHooks(h)) }()
	var once sync.Once
	var err error
	r := &replica{cancel: cancel}
	r.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	e.t.Cleanup(func() { _ = r.stop() })
	return r
}

// newest is the fixture's newest event: the "last" of an initial load.
func (e *env) newest() regevent.Position {
	var id int64
	var ts time.Time
	if err := e.src.QueryRow(testenv.Context(e.t), `SELECT event_id::bigint, event_timestmp FROM bc_registries.event
ORDER BY event_timestmp DESC, event_id DESC LIMIT 1`).Scan(&id, &ts); err != nil {
		e.t.Fatal(err)
	}
	return regevent.At(id, ts)
}

// fixtureCorps lists the registry's corporations in byte order.
func (e *env) fixtureCorps() []string {
	return query[string](e.t, e.src, `SELECT DISTINCT corp_num COLLATE "C" FROM bc_registries.corporation ORDER BY 1`)
}

// publishEvents publishes one CorpEvent per corporation, as the poller
// would, with message ids <prefix>:<corp>.
func (e *env) publishEvents(prefix, reason string, corps []string) {
	e.t.Helper()
	last := e.newest()
	var out []bus.Outgoing
	for _, c := range corps {
		out = append(out, corpEventMsg(e.t, messages.CorpEvent{V: 1, System: system, CorpNum: c,
			Prev: regevent.Start, Last: last, Reason: reason, DetectedAt: time.Now().UTC()},
			prefix+":"+c))
	}
	e.publish(out...)
}

func (e *env) publish(msgs ...bus.Outgoing) {
	e.t.Helper()
	for i, err := range bus.PublishAll(testenv.Context(e.t), e.js, msgs, bus.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}) {
		if err != nil {
			e.t.Fatalf("publish %s: %v", msgs[i].MsgID, err)
		}
	}
}

func corpEventMsg(t testing.TB, ev messages.CorpEvent, msgID string) bus.Outgoing {
	data, err := messages.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return bus.Outgoing{Subject: bus.EventSubject(system, ev.CorpNum), MsgID: msgID, CorpNum: ev.CorpNum, Data: data}
}

// streamState returns a stream's message count and last sequence.
func (e *env) streamState(name string) (msgs, last uint64) {
	e.t.Helper()
	s, err := e.js.Stream(testenv.Context(e.t), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(testenv.Context(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs, info.State.LastSeq
}

// waitDrained waits until the builder has settled every CorpEvent.
func (e *env) waitDrained(timeout time.Duration) {
	e.t.Helper()
	waitFor(e.t, "BCREG_EVENTS to drain", timeout, func() bool {
		n, _ := e.streamState(bus.StreamEvents)
		return n == 0
	})
}

// storedBundle is a CredentialBundle found in BCREG_CREDS.
type storedBundle struct {
	Seq    uint64
	MsgID  string
	Bundle messages.CredentialBundle
}

// bundles reads every bundle stored in BCREG_CREDS (no poster runs).
func (e *env) bundles() []storedBundle {
	e.t.Helper()
	var out []storedBundle
	for _, raw := range testenv.StreamMessages(e.t, e.js, bus.StreamCreds) {
		b, err := messages.DecodeBundle(raw.Data)
		if err != nil {
			e.t.Fatalf("seq %d: %v", raw.Sequence, err)
		}
		out = append(out, storedBundle{Seq: raw.Sequence, MsgID: raw.Header.Get(jetstream.MsgIDHeader), Bundle: b})
	}
	return out
}

// hashesByCorp returns, per corporation, the credential hashes of the
// bundles in stream order (concatenated when a corporation has several).
func hashesByCorp(bs []storedBundle) map[string][]string {
	out := map[string][]string{}
	for _, b := range bs {
		for _, c := range b.Bundle.Credentials {
			out[b.Bundle.CorpNum] = append(out[b.Bundle.CorpNum], c.Hash)
		}
	}
	return out
}

// expected is what the generator gives for one corporation.
type expected struct {
	Profile string
	Outcome string // Y, N, S
	Message string
	Creds   []credential.Credential
	Requeue []credential.Requeue
}

// posted returns the hashes of the credentials a bundle carries now: not
// held back, not waiting for a future date.
func (x expected) posted() []string {
	var out []string
	for _, c := range x.Creds {
		if !c.Held && !c.NotBefore.After(time.Now()) {
			out = append(out, c.Hash)
		}
	}
	return out
}

// generate runs the env's profile on the registry as it is now, over the
// full range (an initial load): the oracle of what the builder must store
// and publish.
func (e *env) generate(corps []string) map[string]expected {
	e.t.Helper()
	return e.generateAt(corps, regclock.Now())
}

// generateAt is generate with now (naive BC local) as the generator's now.
func (e *env) generateAt(corps []string, now time.Time) map[string]expected {
	e.t.Helper()
	var opts []sourcedb.Option
	if e.profile == credential.ProfileSnapshot {
		opts = append(opts, sourcedb.CurrentOnly())
	}
	batch, err := sourcedb.NewLoader(e.src, nil, opts...).Load(testenv.Context(e.t), corps)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := credential.New(e.profile, credential.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	last := e.newest()
	params := credential.FullRange(last, now)
	out := map[string]expected{}
	for _, c := range corps {
		snap, err := batch.Get(c)
		switch {
		case err != nil:
			out[c] = expected{Profile: e.profile, Outcome: "N", Message: err.Error()}
		case !p.InScope(snap):
			out[c] = expected{Profile: e.profile, Outcome: "S", Message: snap.Corporation.TypeCode() + ": Skipped, not in scope"}
		default:
			res, err := p.Generate(snap, params)
			if err != nil {
				out[c] = expected{Profile: e.profile, Outcome: "N", Message: err.Error()}
				continue
			}
			out[c] = expected{Profile: e.profile, Outcome: "Y", Message: snap.Corporation.TypeCode(), Creds: res.Credentials,
				Requeue: res.Requeue}
		}
	}
	return out
}

// wantBundles is one hash list per corporation with posted credentials.
func wantBundles(x map[string]expected) map[string][]string {
	out := map[string][]string{}
	for c, v := range x {
		if h := v.posted(); len(h) > 0 {
			out[c] = h
		}
	}
	return out
}

// query runs a query and returns one column.
func query[T any](t testing.TB, pool *pgxpool.Pool, sql string, args ...any) []T {
	t.Helper()
	rows, _ := pool.Query(testenv.Context(t), sql, args...)
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	return query[int64](t, pool, sql, args...)[0]
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dlq reads every dead letter.
func (e *env) dlq() []messages.DeadLetter {
	e.t.Helper()
	var out []messages.DeadLetter
	for _, raw := range testenv.StreamMessages(e.t, e.js, bus.StreamDLQ) {
		dl, err := messages.DecodeDeadLetter(raw.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

func freeAddr(t testing.TB) string {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}
