package agentsim

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Received is one issued credential as the simulator recorded it.
type Received struct {
	// Seq numbers the records from 0 in the order of issue; Reset starts over.
	Seq int `json:"seq"`
	// Schema and Version are the credential type it was issued under.
	Schema  string `json:"schema"`
	Version string `json:"version"`
	// Attributes is the attribute object exactly as it arrived, compacted.
	Attributes json.RawMessage `json:"attributes"`
	// Result is the credential id (VON-X) or thread id (controller) returned
	// to the client.
	Result     string    `json:"result"`
	ReceivedAt time.Time `json:"received_at"`
}

// Stats are the simulator's counters since start or the last Reset.
type Stats struct {
	// Requests counts issue requests, whatever their outcome.
	Requests int64 `json:"requests"`
	// Issued counts issued (recorded) credentials.
	Issued int64 `json:"issued"`
	// Rejected counts credentials answered with success false.
	Rejected int64 `json:"rejected"`
	// Failed counts issue requests that did not get a 200 JSON reply: 4xx,
	// 5xx, overload, dropped or aborted connections, non-JSON replies.
	Failed int64 `json:"failed"`
	// Duplicates counts issued credentials whose schema, version and
	// attributes (compared as JSON values) had been issued before.
	Duplicates int64 `json:"duplicates"`
	// InFlight is the number of issue requests being handled now;
	// MaxInFlight is the highest it has been.
	InFlight    int64 `json:"in_flight"`
	MaxInFlight int64 `json:"max_in_flight"`
	// CredentialsInFlight is the number of credentials of admitted requests
	// not yet answered; MaxCredentialsInFlight is the highest it has been.
	CredentialsInFlight    int64 `json:"credentials_in_flight"`
	MaxCredentialsInFlight int64 `json:"max_credentials_in_flight"`
	// Issuing is the number of credentials holding a capacity slot now;
	// MaxIssuing is the highest it has been (never above Capacity).
	Issuing    int64 `json:"issuing"`
	MaxIssuing int64 `json:"max_issuing"`
	// Waiting is the number of credentials waiting for a capacity slot
	// now (each one slows the next credentials down: OverloadPenalty).
	Waiting int64 `json:"waiting"`
	// Injected counts injected faults.
	Injected Injected `json:"injected"`
}

// Injected counts the faults the simulator injected.
type Injected struct {
	Errors     int64 `json:"errors"`
	Hangs      int64 `json:"hangs"`
	Drops      int64 `json:"drops"`
	NonJSON    int64 `json:"non_json"`
	Short      int64 `json:"short"`
	Overloaded int64 `json:"overloaded"`
}

// Sim is a simulated issuing agent. Create it with New, serve Handler (or
// call Serve or ListenAndServe), and Close it when done. Its methods are safe
// for concurrent use.
type Sim struct {
	cfg   Config
	log   *zap.Logger
	types []Schema
	now   func() time.Time
	// pause waits for a latency, a hang or a store timeout: the package's
	// sleep, or in tests a pause the test ends, so no test depends on
	// how fast the machine is.
	pause func(ctx context.Context, d time.Duration) error
	m     *metrics
	prom  http.Handler
	slots *slots

	ctx       context.Context // done when the simulator is closed
	cancel    context.CancelFunc
	closeOnce sync.Once

	idPrefix [8]byte
	idSeq    atomic.Uint64

	mu            sync.Mutex
	faults        Faults
	unsyncedUntil time.Time
	neverSync     bool
	faultRNG      *rand.Rand
	latencyRNG    *rand.Rand
	received      []Received
	seen          map[[32]byte]struct{}
	stats         Stats
	timer         issueTimer
	servers       []*http.Server

	// ob is the OrgBook view of what was issued; obDB, when set, the
	// OrgBook-shaped database it is flushed to.
	ob        *orgBook
	obDB      *pgxpool.Pool
	obFlushMu sync.Mutex
	obKick    chan struct{}
	// obLimit is the OrgBook API's rate limit per client (OrgBookRate).
	obLimit obLimiter
	obDone  chan struct{}
}

// issueTimer is the "issue_credential" timer of VON-X's /status.
type issueTimer struct {
	count, current  int64
	total, min, max float64
}

// New returns a simulator for cfg. Empty Mode, Issuer, Overload and
// ErrorStatus take their defaults; a nil log discards logs. It fails if cfg
// does not validate or the schemas file cannot be read.
func New(cfg Config, log *zap.Logger) (*Sim, error) {
	return newSim(cfg, log, time.Now, sleep)
}

// NewWithClock is New on a controllable clock: the OrgBook view's dates
// and the OrgBook API's rate limit read now, so a test that drives a
// rate-limited client on the same clock never waits.
func NewWithClock(cfg Config, log *zap.Logger, now func() time.Time) (*Sim, error) {
	return newSim(cfg, log, now, sleep)
}

func newSim(cfg Config, log *zap.Logger, now func() time.Time, pause func(context.Context, time.Duration) error) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agentsim: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	var extra []Schema
	if cfg.SchemasFile != "" {
		var err error
		if extra, err = loadSchemaFile(cfg.SchemasFile); err != nil {
			return nil, fmt.Errorf("agentsim: schemas file: %w", err)
		}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Sim{
		cfg:        cfg,
		log:        log,
		types:      mergeSchemas(extra, BuiltinSchemas()),
		now:        now,
		pause:      pause,
		m:          newMetrics(cfg.Mode),
		slots:      newSlots(cfg.Capacity),
		faultRNG:   rand.New(rand.NewPCG(seed, 0x5eed0001)),
		latencyRNG: rand.New(rand.NewPCG(seed, 0x5eed0002)),
		seen:       make(map[[32]byte]struct{}),
		ob:         newOrgBook(now),
		obKick:     make(chan struct{}, 1),
		obDone:     make(chan struct{}),
	}
	s.prom = promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if _, err := crand.Read(s.idPrefix[:]); err != nil {
		return nil, fmt.Errorf("agentsim: id prefix: %w", err)
	}
	s.setFaultsLocked(cfg.Faults)
	if cfg.OrgBookDBURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		db, err := openOrgBookDB(ctx, cfg.OrgBookDBURL)
		cancel()
		if err != nil {
			return nil, err
		}
		s.obDB = db
		go s.runFlusher(time.Duration(cfg.OrgBookFlush))
	} else {
		close(s.obDone)
	}
	log.Info("agentsim: ready",
		zap.String("mode", cfg.Mode),
		zap.String("issuer", cfg.Issuer),
		zap.Int("credential_types", len(s.types)),
		zap.Uint64("seed", seed),
		zap.Stringer("latency", cfg.Latency),
		zap.Stringer("cred_latency", cfg.CredLatency),
		zap.Int("capacity", cfg.Capacity),
		zap.Int("queue_limit", cfg.QueueLimit),
		zap.Duration("unsynced_for", time.Duration(cfg.UnsyncedFor)))
	return s, nil
}

// Handler returns the simulator's HTTP handler: the agent's routes for the
// configured mode, the control API under /_sim/ and /metrics.
func (s *Sim) Handler() http.Handler { return s }

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.serveControl(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		if !s.obLimit.allow(s.cfg.OrgBookRate, r.RemoteAddr, s.now()) {
			s.m.obThrottled.Inc()
			writeBody(w, http.StatusTooManyRequests, "text/plain; charset=utf-8", []byte("429 Too Many Requests"))
			return
		}
		s.serveOrgBook(w, r)
	case r.URL.Path == "/metrics":
		s.prom.ServeHTTP(w, r)
	case s.ctx.Err() != nil:
		// Closed: the agent's routes, its health check included, answer
		// nothing, as a process going down does. Close ends the requests
		// in progress before its servers stop accepting, and a poster
		// whose request it ended asked the health check in between: it
		// answered "ok", and the poster counted an attempt against the
		// credentials of an agent that was going down.
		closeConn(w)
	case s.cfg.Mode == ModeController:
		s.serveController(w, r)
	default:
		s.serveVonX(w, r)
	}
}

// Close ends hangs and requests in progress (their connections are closed
// without a reply), makes later requests to the agent's routes (issue,
// health, status) fail the same way and shuts down the servers started by
// Serve; the control API and /metrics still answer. It is safe to call more than once.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.mu.Lock()
		servers := s.servers
		s.mu.Unlock()
		for _, srv := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
			cancel()
		}
		<-s.obDone // the last flush of the OrgBook view
	})
	return nil
}

// Serve serves the simulator on l until ctx is done or the simulator is
// closed, then closes it. It returns nil after a clean shutdown.
func (s *Sim) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          zap.NewStdLog(s.log),
	}
	s.mu.Lock()
	closed := s.ctx.Err() != nil
	if !closed {
		s.servers = append(s.servers, srv)
	}
	s.mu.Unlock()
	if closed {
		l.Close()
		return errors.New("agentsim: serve: simulator closed")
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	s.log.Info("agentsim: listening", zap.String("addr", l.Addr().String()), zap.String("mode", s.cfg.Mode))
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("agentsim: serve: %w", err)
	}
	return nil
}

// ListenAndServe listens on Config.Addr and calls Serve.
func (s *Sim) ListenAndServe(ctx context.Context) error {
	addr := s.cfg.Addr
	if addr == "" {
		addr = DefaultConfig().Addr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agentsim: listen: %w", err)
	}
	return s.Serve(ctx, l)
}

// Schemas returns the credential types the simulator knows, in lookup order.
func (s *Sim) Schemas() []Schema {
	out := make([]Schema, len(s.types))
	for i, t := range s.types {
		t.Attributes = append([]string(nil), t.Attributes...)
		out[i] = t
	}
	return out
}

// Synced reports whether the simulated agent is synchronised.
func (s *Sim) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncedLocked()
}

func (s *Sim) syncedLocked() bool {
	return !s.neverSync && !s.now().Before(s.unsyncedUntil)
}

// Faults returns the current fault settings. UnsyncedFor holds the time that
// remains until the agent is synchronised (zero once it is).
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.Rejections = append(Rejections(nil), f.Rejections...)
	switch {
	case s.neverSync:
	case s.syncedLocked():
		f.UnsyncedFor = 0
	default:
		f.UnsyncedFor = Duration(s.unsyncedUntil.Sub(s.now()))
	}
	return f
}

// SetFaults replaces the fault settings. UnsyncedFor counts from now.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("agentsim: %w", err)
	}
	s.mu.Lock()
	s.setFaultsLocked(f)
	s.mu.Unlock()
	s.log.Info("agentsim: faults set", zap.Any("faults", f))
	return nil
}

func (s *Sim) setFaultsLocked(f Faults) {
	f = f.withDefaults()
	s.faults = f
	s.neverSync = f.UnsyncedFor < 0
	s.unsyncedUntil = s.now().Add(time.Duration(max(f.UnsyncedFor, 0)))
	s.slots.setLimit(f.Capacity)
}

// Received returns the issued credentials in order of issue, skipping the
// first since of them.
func (s *Sim) Received(since int) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.receivedLocked(since)
}

func (s *Sim) receivedLocked(since int) []Received {
	since = max(since, 0)
	if since >= len(s.received) {
		return []Received{}
	}
	out := make([]Received, len(s.received)-since)
	copy(out, s.received[since:])
	for i := range out {
		out[i].Attributes = bytes.Clone(out[i].Attributes)
	}
	return out
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	w := int64(s.slots.waiting())
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Waiting = w
	return st
}

// Reset clears the record of issued credentials and the counters. Result
// ids keep counting, so they stay unique.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = nil
	s.seen = make(map[[32]byte]struct{})
	st := s.stats
	s.stats = Stats{
		InFlight:               st.InFlight,
		MaxInFlight:            st.InFlight,
		CredentialsInFlight:    st.CredentialsInFlight,
		MaxCredentialsInFlight: st.CredentialsInFlight,
		Issuing:                st.Issuing,
		MaxIssuing:             st.Issuing,
	}
	s.timer = issueTimer{current: s.timer.current}
}

// newID returns a UUID-shaped id: a random per-instance prefix and a
// counter.
func (s *Sim) newID() string {
	var b [16]byte
	copy(b[:8], s.idPrefix[:])
	binary.BigEndian.PutUint64(b[8:], s.idSeq.Add(1))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// record records an issued credential under id.
func (s *Sim) record(schema, version string, attrs json.RawMessage, id string) {
	key := sha256.New()
	fmt.Fprintf(key, "%q %q ", schema, version)
	key.Write(canonicalJSON(attrs))
	var k [32]byte
	key.Sum(k[:0])

	s.mu.Lock()
	if _, dup := s.seen[k]; dup {
		s.stats.Duplicates++
	}
	s.seen[k] = struct{}{}
	if !s.cfg.NoRecord {
		s.received = append(s.received, Received{
			Seq:        len(s.received),
			Schema:     schema,
			Version:    version,
			Attributes: attrs,
			Result:     id,
			ReceivedAt: s.now().UTC(),
		})
	}
	s.stats.Issued++
	s.mu.Unlock()
	s.m.issued.Inc()
	if err := s.ob.ingest(schema, version, attrs, id); err != nil {
		s.log.Warn("agentsim: not stored in the OrgBook view", zap.String("schema", schema), zap.String("credential_id", id), zap.Error(err))
	}
}

// canonicalJSON rewrites a JSON value with sorted keys and no spaces, so that
// equal values compare equal.
func canonicalJSON(raw []byte) []byte {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return b
}

func (s *Sim) countRejected(n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.stats.Rejected += int64(n)
	s.mu.Unlock()
	s.m.rejected.Add(float64(n))
}

func (s *Sim) countInjected(kind string) {
	s.mu.Lock()
	switch kind {
	case "error":
		s.stats.Injected.Errors++
	case "hang":
		s.stats.Injected.Hangs++
	case "drop":
		s.stats.Injected.Drops++
	case "non_json":
		s.stats.Injected.NonJSON++
	case "short":
		s.stats.Injected.Short++
	case "overload":
		s.stats.Injected.Overloaded++
	}
	s.mu.Unlock()
	s.m.faults.WithLabelValues(kind).Inc()
}

// snapshot returns the fault settings for one request.
func (s *Sim) snapshot() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// sample draws a latency.
func (s *Sim) sample(d Dist) time.Duration {
	if d.Kind == DistNone {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return d.sample(s.latencyRNG)
}

// admit lets n more credentials in unless that goes past
// Capacity + QueueLimit.
func (s *Sim) admit(n int, f Faults) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.QueueLimit > 0 && f.Capacity > 0 && s.stats.CredentialsInFlight+int64(n) > int64(f.Capacity+f.QueueLimit) {
		return false
	}
	s.stats.CredentialsInFlight += int64(n)
	s.stats.MaxCredentialsInFlight = max(s.stats.MaxCredentialsInFlight, s.stats.CredentialsInFlight)
	s.m.credsInFlight.Add(float64(n))
	return true
}

func (s *Sim) unadmit(n int) {
	s.mu.Lock()
	s.stats.CredentialsInFlight -= int64(n)
	s.mu.Unlock()
	s.m.credsInFlight.Sub(float64(n))
}

// createCred holds a capacity slot for one credential's creation time.
func (s *Sim) createCred(ctx context.Context, f Faults) error {
	waiting, err := s.slots.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.slots.release()
	s.mu.Lock()
	s.stats.Issuing++
	s.stats.MaxIssuing = max(s.stats.MaxIssuing, s.stats.Issuing)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stats.Issuing--
		s.mu.Unlock()
	}()
	d := s.sample(f.CredLatency)
	if f.OverloadPenalty > 0 && f.Capacity > 0 && waiting > 0 {
		d = time.Duration(float64(d) * (1 + f.OverloadPenalty*float64(waiting)/float64(f.Capacity)))
	}
	return s.pause(ctx, d)
}

// createCreds creates n credentials concurrently, as the agent does inside
// a group.
func (s *Sim) createCreds(ctx context.Context, f Faults, n int) error {
	if n == 1 {
		return s.createCred(ctx, f)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.createCred(ctx, f) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Sim) timerStart() time.Time {
	s.mu.Lock()
	s.timer.current++
	s.mu.Unlock()
	return time.Now()
}

func (s *Sim) timerStop(start time.Time) {
	d := time.Since(start).Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.timer
	t.current--
	if t.count == 0 || d < t.min {
		t.min = d
	}
	t.max = max(t.max, d)
	t.count++
	t.total += d
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// storeTimeout is the effective StoreTimeout.
func (s *Sim) storeTimeout(f Faults) time.Duration {
	if f.StoreTimeout > 0 {
		return time.Duration(f.StoreTimeout)
	}
	if s.cfg.Mode == ModeController {
		return 120 * time.Second
	}
	return 300 * time.Second
}
