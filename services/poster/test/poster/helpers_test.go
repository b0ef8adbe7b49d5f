package poster_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/daemon"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
	"github.com/bcgov/bcreg-events/services/poster/internal/poster"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// env is one test's world: an embedded NATS server with the topology, a
// migrated event database and a vonx-sim on a fixed loopback port (so it
// can be restarted where the poster expects it).
type env struct {
	t      testing.TB
	nats   *testenv.NATS
	js     jetstream.JetStream
	pool   *pgxpool.Pool
	dbURL  string
	topo   bus.Topology
	addr   string
	simMu  sync.Mutex
	sim    *agentsim.Sim
	past   []agentsim.Received // records of simulators stopped earlier
	pastSt agentsim.Stats
	simCtx context.CancelFunc
	simErr chan error
	names  map[string]int // credentials seeded per corporation
	// logs holds the warnings and errors of every replica started.
	logs    *observer.ObservedLogs
	logCore zapcore.Core
}

// testTopology redelivers fast: AckWait 3s (InProgress every second).
func testTopology() bus.Topology {
	t := bus.DefaultTopology()
	t.PosterAckWait = 3 * time.Second
	return t
}

func newEnv(t testing.TB, sim agentsim.Config) *env {
	t.Helper()
	return newEnvWith(t, sim)
}

// newEnvWith is newEnv with NATS server options changed by mods.
func newEnvWith(t testing.TB, sim agentsim.Config, mods ...testenv.NATSOption) *env {
	t.Helper()
	e := &env{t: t, topo: testTopology()}
	e.logCore, e.logs = observer.New(zapcore.WarnLevel)
	e.nats = testenv.NewNATS(t, mods...)
	_, e.js = e.nats.Connect(t)
	if err := e.topo.Apply(testenv.Context(t), e.js); err != nil {
		t.Fatal(err)
	}
	e.pool, e.dbURL = testenv.NewPool(t)
	if _, err := eventdb.Migrate(testenv.Context(t), e.pool); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	e.serveSim(sim, l)
	t.Cleanup(e.stopSim)
	return e
}

func (e *env) serveSim(cfg agentsim.Config, l net.Listener) {
	e.t.Helper()
	s, err := agentsim.New(cfg, zap.NewNop())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	e.simMu.Lock()
	e.sim, e.simCtx, e.simErr = s, cancel, done
	e.simMu.Unlock()
}

// stopSim stops the simulator (the agent goes away: connections refused).
func (e *env) stopSim() {
	e.simMu.Lock()
	s, cancel, done := e.sim, e.simCtx, e.simErr
	e.sim = nil
	e.simMu.Unlock()
	if s == nil {
		return
	}
	cancel()
	<-done
	e.simMu.Lock()
	e.past = append(e.past, s.Received(0)...)
	st := s.Stats()
	e.pastSt.Issued += st.Issued
	e.pastSt.Duplicates += st.Duplicates
	e.pastSt.Failed += st.Failed
	e.simMu.Unlock()
}

// restartSim starts a new simulator on the same address.
func (e *env) restartSim(cfg agentsim.Config) {
	e.t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", e.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("restart simulator on %s: %v", e.addr, err)
	}
	e.serveSim(cfg, l)
}

func (e *env) currentSim() *agentsim.Sim {
	e.simMu.Lock()
	defer e.simMu.Unlock()
	return e.sim
}

// received is every credential any simulator of the test issued.
func (e *env) received() []agentsim.Received {
	e.simMu.Lock()
	defer e.simMu.Unlock()
	out := append([]agentsim.Received(nil), e.past...)
	if e.sim != nil {
		out = append(out, e.sim.Received(0)...)
	}
	return out
}

func (e *env) agentURL() string { return "http://" + e.addr + "/bcreg" }

// config is a poster configuration with test-sized timings.
func (e *env) config(id string) poster.Config {
	var c poster.Config
	c.Logging = config.Logging{Level: "info", Format: "console"}
	c.Topology = e.topo
	c.Backoff = bus.Backoff{Base: 100 * time.Millisecond, Max: 400 * time.Millisecond}
	c.Config = agent.Config{URLs: config.URL(e.agentURL()), Protocol: agent.ProtocolVonX, IssueVersion: "V10", HealthInterval: 100 * time.Millisecond}
	c.Settings = poster.Settings{RequestSize: 20, MaxInflight: 8, InitialInflight: 1, Adaptive: true,
		RequestTimeout: 2 * time.Second, MaxAttempts: 10, Lease: 5 * time.Second, BatchWait: 20 * time.Millisecond,
		HoldDelay: 100 * time.Millisecond, HoldMax: 400 * time.Millisecond, MisconfigRetry: 300 * time.Millisecond, ID: id}
	return c
}

// running is a poster started by a test, with its own NATS connection and
// database pool so it can be killed without touching the others.
type running struct {
	p      *poster.Poster
	health *lifecycle.Health
	nc     *nats.Conn
	pool   *pgxpool.Pool
	cancel context.CancelFunc
	abort  context.CancelFunc
	done   chan error
	once   sync.Once
}

func (e *env) start(cfg poster.Config) *running {
	e.t.Helper()
	log := zaptest.NewLogger(e.t, zaptest.Level(zap.ErrorLevel)).Named(cfg.ID)
	if os.Getenv("POSTER_TEST_LOG") != "" {
		log = zaptest.NewLogger(e.t).Named(cfg.ID)
	}
	log = log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, e.logCore) }))
	nc, err := nats.Connect(e.nats.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	health := lifecycle.NewHealth(log)
	abortCtx, abort := context.WithCancel(context.Background())
	p, err := poster.New(cfg, daemon.Deps{Log: log, Health: health, NC: nc, JS: js, EventDB: pool}, poster.WithAbort(abortCtx))
	if err != nil {
		abort()
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, health: health, nc: nc, pool: pool, cancel: cancel, abort: abort, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	e.t.Cleanup(r.stop)
	return r
}

// stop stops the poster gracefully.
func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		r.abort()
		r.nc.Close()
		r.pool.Close()
	})
}

// kill emulates kill -9: requests in flight are cut, and nothing more
// reaches NATS or the database (no ack, no nak, no release, no mark).
func (r *running) kill() {
	r.once.Do(func() {
		r.nc.Close()
		r.abort()
		go r.pool.Close()
		r.cancel()
		<-r.done
	})
}

// seeded is a credential the test stored and published.
type seeded struct {
	corp     string
	name     string // the unique entity_name that identifies it at the agent
	hash     string
	recordID int64
}

// credSpec describes a credential to seed.
type credSpec struct {
	schema, version string
	reason          string
	notBefore       *time.Time
	attrs           map[string]any
}

// seedBundle stores credentials of one corporation in credential_log (as
// the builder would) and publishes them as one bundle.
func (e *env) seedBundle(corp string, specs ...credSpec) []seeded {
	e.t.Helper()
	ctx := testenv.Context(e.t)
	var creds []messages.Credential
	var out []seeded
	for _, sp := range specs {
		if sp.schema == "" {
			sp.schema, sp.version = "registration.bc_registries", "1.0.36"
		}
		n := e.nextName(corp)
		attrs := map[string]any{"registration_id": corp, "entity_name": n, "entity_status": "ACT",
			"effective_date": "2010-01-01T08:00:00+00:00"}
		for k, v := range sp.attrs {
			attrs[k] = v
		}
		text, _ := json.Marshal(attrs)
		sum := sha256.Sum256(append([]byte(sp.schema+sp.version), text...))
		hash := hex.EncodeToString(sum[:])
		var id int64
		if err := e.pool.QueryRow(ctx, `
			INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date,
			    last_event_id, last_event_date, credential_type_cd, credential_id, schema_name, schema_version,
			    credential_json, credential_hash, credential_reason, profile, not_before, published_at)
			VALUES ('BC_REG', $1, 'ACT', 0, '0001-01-01', 1, '2010-01-01', 'REG', $2, $3, $4, $5, $6, $7, 'history', $8, now())
			RETURNING record_id`,
			corp, n, sp.schema, sp.version, string(text), hash, sp.reason, sp.notBefore).Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		creds = append(creds, messages.Credential{Hash: hash, Type: "REG", CredentialID: n, Schema: sp.schema,
			Version: sp.version, Attributes: attrs, Reason: sp.reason, EffectiveDate: "2010-01-01T08:00:00+00:00"})
		out = append(out, seeded{corp: corp, name: n, hash: hash, recordID: id})
	}
	e.publish(messages.CredentialBundle{V: messages.Version, System: messages.SystemBCReg, CorpNum: corp,
		CorpState: "ACT", Profile: "history", Credentials: creds}, "")
	return out
}

// nextName numbers a corporation's credentials in issue order, per test.
func (e *env) nextName(corp string) string {
	e.simMu.Lock()
	defer e.simMu.Unlock()
	if e.names == nil {
		e.names = map[string]int{}
	}
	e.names[corp]++
	return fmt.Sprintf("%s#%03d", corp, e.names[corp])
}

func (e *env) publish(b messages.CredentialBundle, nonce string) {
	e.t.Helper()
	data, err := messages.Encode(b)
	if err != nil {
		e.t.Fatal(err)
	}
	h := sha256.New()
	for _, c := range b.Credentials {
		h.Write([]byte(c.Hash))
	}
	h.Write([]byte(nonce))
	if _, err := bus.Publish(testenv.Context(e.t), e.js, bus.Outgoing{Subject: bus.CredSubject(b.System, b.CorpNum),
		MsgID: hex.EncodeToString(h.Sum(nil)), CorpNum: b.CorpNum, Data: data}, bus.Backoff{Base: 50 * time.Millisecond, Max: time.Second}); err != nil {
		e.t.Fatal(err)
	}
}

// row is a credential_log row's delivery columns.
type row struct {
	Status, Msg string
	Attempts    int
	Published   bool
	NotBefore   bool
}

func (e *env) rows() map[string]row {
	e.t.Helper()
	rs, err := e.pool.Query(testenv.Context(e.t), `SELECT credential_hash, COALESCE(process_success, ''),
		COALESCE(process_msg, ''), attempts, published_at IS NOT NULL, not_before IS NOT NULL FROM credential_log`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]row{}
	for rs.Next() {
		var h string
		var r row
		if err := rs.Scan(&h, &r.Status, &r.Msg, &r.Attempts, &r.Published, &r.NotBefore); err != nil {
			e.t.Fatal(err)
		}
		out[h] = r
	}
	return out
}

// waitFinal waits until every seeded credential has a final status.
func (e *env) waitFinal(creds []seeded) map[string]row {
	e.t.Helper()
	var rows map[string]row
	testenv.WaitFor(e.t, "every credential final", func() bool {
		rows = e.rows()
		for _, c := range creds {
			if rows[c.hash].Status == "" {
				return false
			}
		}
		return true
	})
	return rows
}

func (e *env) streamMsgs(name string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(testenv.Context(e.t), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(testenv.Context(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

func (e *env) deadLetters() []messages.DeadLetter {
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

// byName maps issued credentials to the seeded ones (by entity_name) and
// counts them.
func issuedNames(recs []agentsim.Received) (order []string, count map[string]int) {
	count = map[string]int{}
	for _, r := range recs {
		var a map[string]any
		if err := json.Unmarshal(r.Attributes, &a); err != nil {
			continue
		}
		n, _ := a["entity_name"].(string)
		order = append(order, n)
		count[n]++
	}
	return order, count
}

// checkOrder reports, per corporation, credentials the agent got out of
// record order. Names are "<corp>#<seq>" with seq in issue order.
func checkOrder(t testing.TB, order []string) {
	t.Helper()
	last := map[string]string{}
	for _, n := range order {
		corp, _, _ := strings.Cut(n, "#")
		if prev, ok := last[corp]; ok && n < prev {
			t.Errorf("corporation %s: %s reached the agent after %s", corp, n, prev)
		}
		if n > last[corp] {
			last[corp] = n
		}
	}
}

func statusCounts(rows map[string]row) map[string]int {
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status]++
	}
	return out
}

// decodeAttrs decodes a stored credential_json object.
func decodeAttrs(t testing.TB, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// testutilCounter reads a label-less counter or gauge from a poster's
// registry (the sum over label values otherwise).
func testutilCounter(t testing.TB, r *running, name string) float64 {
	t.Helper()
	mfs, err := r.health.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}
