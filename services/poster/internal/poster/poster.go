// Package poster is the poster service: CredentialBundles in from
// BCREG_CREDS, credentials delivered to the issuing agent (VON-X or the
// issuer controller), credential_log updated, bundles acked once each of
// their credentials has a final status (docs/design/rules.md rules 6 and 7).
//
// One handler call takes a batch of bundles. It claims their outstanding
// credential_log rows with a lease, keeps each corporation behind its older
// outstanding rows held by others, packs what may go now into requests,
// sends them within the adaptive per-agent limit, and records every
// credential's answer by position: Y, N plus a DeadLetter, or a counted
// failed attempt (D plus a DeadLetter past the limit). A failure while the
// agent's health check fails, an ordering wait or a misconfigured agent
// counts nothing. See docs/design/poster.md.
package poster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/daemon"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	return daemon.Run(ctx, log, daemon.Options{
		Name: "poster", HTTP: cfg.HTTP, NATS: &cfg.NATS, Topology: &cfg.Topology,
		EventDB: &cfg.EventDB, Backoff: cfg.Backoff, RunMover: true,
		EventDBPoolSize: cfg.poolSize(), MinShutdown: cfg.drainDeadline(),
	}, func(ctx context.Context, deps daemon.Deps) error {
		p, err := New(cfg, deps)
		if err != nil {
			return err
		}
		return p.Run(ctx)
	})
}

// Poster delivers bundles. Create it with New and call Run.
type Poster struct {
	cfg Config
	log *zap.Logger
	js  jetstream.JetStream
	db  *pgxpool.Pool
	// sharer tells the other replicas about the agents (nil with fixed
	// limits, which need nothing from them).
	sharer  *sharer
	m       *metrics
	agents  *agents
	replica string
	calls   atomic.Uint64
	size    int
	lease   time.Duration
	// abort is the parent of every agent request. Requests outlive a
	// graceful stop (so an answer is recorded, not lost to a duplicate
	// later); WithAbort lets a test end it to emulate a crash.
	abort context.Context
	// dbFailing counts statements retrying after the event database
	// failed; while it is not 0 nothing is sent or pulled.
	dbFailing atomic.Int32
	// beat is the consume loop's heartbeat for /livez.
	beat *lifecycle.Heartbeat
	// rec records the answers of concurrent requests together.
	rec *recorder
}

// Option adjusts a Poster built by New.
type Option func(*Poster)

// WithAbort makes ctx the parent of every agent request in place of
// context.Background(). Its end is a kill -9 of the poster: the requests in
// flight are cut and nothing more is recorded (no mark, no retry of a
// failed record). Tests use it to crash a poster in the middle of its work.
func WithAbort(ctx context.Context) Option { return func(p *Poster) { p.abort = ctx } }

// New builds a poster on the daemon's dependencies, registers its metrics
// and adds the agent's health to /readyz.
func New(cfg Config, deps daemon.Deps, opts ...Option) (*Poster, error) {
	eps, err := cfg.Endpoints()
	if err != nil {
		return nil, fmt.Errorf("poster: %w", err)
	}
	m := newMetrics(deps.Health.Registry())
	p := &Poster{
		cfg: cfg, log: deps.Log, js: deps.JS, db: deps.EventDB, m: m,
		agents:  newAgents(deps.Log, m, eps, cfg.Settings, cfg.limitScale(), cfg.requestSize(), cfg.HealthInterval),
		replica: cfg.replicaID(), size: cfg.requestSize(), lease: cfg.lease(),
		abort: context.Background(), rec: newRecorder(deps.EventDB),
	}
	if cfg.Adaptive && deps.NC != nil {
		p.sharer = &sharer{nc: deps.NC, log: deps.Log, replica: p.replica, agents: p.agents}
		p.agents.tellProbe = p.sharer.tellProbe
	}
	for _, o := range opts {
		o(p)
	}
	deps.Health.AddCheck("agent", p.agents.ready)
	p.beat = deps.Health.Heartbeat("consume BCREG_CREDS (poster)")
	return p, nil
}

// Limiters returns each agent's adaptive limiter, in BCREG_AGENT_URL
// order.
func (p *Poster) Limiters() []LimiterState {
	out := make([]LimiterState, len(p.agents.list))
	for i, s := range p.agents.list {
		out[i] = s.limiter.state()
		out[i].Agent = s.name()
	}
	return out
}

// EventDBFailing reports whether a statement of this replica is retrying
// after the event database failed (recording answers, releasing claims):
// meanwhile the poster sends and pulls nothing.
func (p *Poster) EventDBFailing() bool { return p.dbFailing.Load() > 0 }

// Run checks the agents' health, then consumes BCREG_CREDS until ctx ends;
// while no agent is usable nothing is pulled.
func (p *Poster) Run(ctx context.Context) error {
	p.agents.checkAll(ctx)
	go p.rec.run()
	// After the consume loop, which waits for its handlers.
	defer p.rec.stop()
	var wg sync.WaitGroup
	wg.Go(func() { p.agents.healthLoop(ctx) })
	if p.sharer != nil {
		wg.Go(func() {
			if err := p.sharer.run(ctx); err != nil {
				p.log.Warn("not hearing the other poster replicas: each keeps the whole thresholds, and together they keep a longer queue in the agent", zap.Error(err))
			}
		})
	}
	defer wg.Wait()
	p.log.Info("poster consuming", zap.String("replica", p.replica), zap.Int("request_size", p.size),
		zap.Int("max_inflight", p.cfg.MaxInflight), zap.Bool("adaptive", p.cfg.Adaptive),
		zap.String("protocol", p.cfg.Protocol), zap.Int("agents", len(p.agents.list)))
	return bus.Consume(ctx, p.js, p.log, bus.ConsumeOptions{
		Stream: bus.StreamCreds, Consumer: bus.ConsumerPoster, Stage: messages.StagePoster,
		Workers: p.cfg.MaxInflight, BatchSize: p.size, BatchWait: p.cfg.BatchWait,
		MaxDeliver: p.cfg.PosterMaxDeliver, AckWait: p.cfg.PosterAckWait, Backoff: p.cfg.Backoff,
		Gate: p.gate, Renew: true, Heartbeat: p.beat.Beat,
	}, p.handle)
}

// gate is the consume loop's Gate: nothing is pulled while answers cannot
// be recorded, nor while no agent can take a request. A pull takes as
// many bundles as a request holds credentials now (requestShape): a batch
// of full size against a slow agent's small requests was a burst of
// requests that took every slot at once, then a lull (one poster kept 94%
// of the agent busy where pulls of a request's size kept 97%).
func (p *Poster) gate(ctx context.Context) int {
	if p.dbFailing.Load() != 0 || !p.agents.gate(ctx) {
		return 0
	}
	n, _ := p.agents.requestShape()
	return n
}

// inBundle is one received bundle message.
type inBundle struct {
	idx  int
	msg  jetstream.Msg
	md   *jetstream.MsgMetadata
	b    messages.RawBundle
	base *zap.Logger
	// log is built on first use: most bundles never log.
	logOnce sync.Once
	log     *zap.Logger
	result  error
	// pending are the credentials to settle before the ack.
	pending []*cred
	done    bool
}

// logger is the bundle's logger (subject, message id, corporation,
// stream sequence).
func (ib *inBundle) logger() *zap.Logger {
	ib.logOnce.Do(func() {
		ib.log = ib.base.With(zap.String("subject", ib.msg.Subject()), zap.String("msg_id", ib.msg.Headers().Get(jetstream.MsgIDHeader)),
			zap.String("corp_num", ib.b.CorpNum), zap.Uint64("stream_seq", ib.md.Sequence.Stream))
	})
	return ib.log
}

// publishedAt is when the bundle was first published (a renewed copy keeps
// the original's time): an operator's retry_rejected bundle retries only
// what failed before it.
func (ib *inBundle) publishedAt() time.Time { return bus.PublishedAt(ib.msg, ib.md) }

// cred is one credential of a batch and what happened to it.
type cred struct {
	hash     string
	recordID int64
	attempts int
	// retry: an N row an operator's retry_rejected bundle re-sends.
	retry  bool
	c      messages.RawCredential
	bundle *inBundle
	// final: Y, N or D was recorded.
	final bool
	// wait says why it is not final (nil while untouched).
	wait *pendingReason
}

// Reasons a credential is not final after a handler call, in increasing
// priority for the bundle's redelivery.
type pendingKind int

const (
	pendShutdown  pendingKind = iota // the poster is stopping
	pendHeld                         // behind an older row of its corporation, or claimed by another poster
	pendAgentDown                    // the agent's health check fails: nothing counted
	pendMisconf                      // the agent is misconfigured: nothing counted
	pendDB                           // the event database failed
	pendTransient                    // a counted failed attempt
)

type pendingReason struct {
	kind  pendingKind
	err   error
	delay time.Duration
	// agent names the agent that failed, for the bundle's log line.
	agent string
}

func (c *cred) setWait(r *pendingReason) {
	if c.final {
		return
	}
	if c.wait == nil || r.kind > c.wait.kind {
		c.wait = r
	}
}

// handle is the consume loop's handler for a batch of bundles.
func (p *Poster) handle(ctx context.Context, msgs []jetstream.Msg) []error {
	results := make([]error, len(msgs))
	w := &batch{p: p, token: fmt.Sprintf("%s/%d", p.replica, p.calls.Add(1))}
	for i, m := range msgs {
		b, err := messages.DecodeRawBundle(m.Data())
		if err != nil {
			results[i] = bus.Permanent(fmt.Errorf("decode bundle: %w", err))
			continue
		}
		md, err := m.Metadata()
		if err != nil {
			results[i] = bus.Permanent(fmt.Errorf("bundle without JetStream metadata: %w", err))
			continue
		}
		w.bundles = append(w.bundles, &inBundle{idx: i, msg: m, md: md, b: b, base: p.log})
	}
	if len(w.bundles) > 0 {
		w.run(ctx)
		for _, ib := range w.bundles {
			results[ib.idx] = ib.result
		}
	}
	return results
}
