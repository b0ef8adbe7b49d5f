package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
)

// markTimeout bounds the marking of published credentials.
const markTimeout = 10 * time.Second

// giveUpClaimer names the outbox in credential_log.claimed_by where it gives
// a credential up itself.
const giveUpClaimer = "outbox"

// Publisher publishes outbox rows as bundles and records it: the
// credential-builder's batches and sweep, and the sweep of tests.
type Publisher struct {
	JS      jetstream.JetStream
	Log     *zap.Logger
	System  string
	Profile string // for rows stored without one
	// MaxBytes is the largest bundle (MaxBytesFor); 0: no limit.
	MaxBytes int
	// Nonce, when set, gives the bundles fresh message ids (Options.Nonce:
	// an operator's requeue).
	Nonce   string
	Backoff bus.Backoff
	// Timeout bounds a round's PubAcks (even while stopping, so a clean
	// stop leaves little to the sweep).
	Timeout time.Duration
	// AfterPublish, when set, runs after the PubAcks, before marking (a
	// test's crash point); its error abandons the marking.
	AfterPublish func() error
}

// Published is what PublishRows did.
type Published struct {
	// Bundles counts the bundles stored and marked, Credentials the
	// credentials they carry.
	Bundles, Credentials int
	// Failed are the corporations not fully published and marked, with
	// the reason (the parts before a failure may be published).
	Failed map[string]error
	// TooLarge counts credentials given up (D) as too large for a bundle.
	TooLarge int
}

// PublishRows publishes rows (outboxdb.Unpublished's order) as bundles,
// states overriding the stored corp_state, waits for every PubAck, and
// marks the published credentials with their bundle's stream sequence, on
// q (the connection that holds the corporations' locks). A credential too
// large for any bundle becomes D with the reason, so it neither stays in
// the outbox for ever nor holds its corporation back.
func (p *Publisher) PublishRows(ctx context.Context, q eventdb.Querier, rows []outboxdb.Row, states map[string]string, by string) Published {
	bundles, failed := Bundles(p.System, rows, Options{States: states, Profile: p.Profile, Nonce: p.Nonce, MaxBytes: p.MaxBytes})
	res := Published{Failed: failed}
	for corp, err := range failed {
		p.Log.Error("outbox rows cannot be bundled", zap.String("corp_num", corp), zap.Error(err))
		if p.giveUpTooLarge(ctx, q, err) {
			res.TooLarge++
		}
	}
	if len(bundles) == 0 {
		return res
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.Timeout)
	defer cancel()
	marks, errs := Publish(pctx, p.JS, bundles, p.Backoff)
	published := 0
	for i, b := range bundles {
		if errs[i] != nil {
			if _, seen := failed[b.CorpNum]; !seen {
				failed[b.CorpNum] = fmt.Errorf("publish bundle of %s (id %s): %w", b.CorpNum, b.Msg.MsgID, errs[i])
			}
			continue
		}
		published++
		p.Log.Debug("bundle published", zap.String("corp_num", b.CorpNum), zap.String("msg_id", b.Msg.MsgID),
			zap.Int("credentials", len(b.Hashes)), zap.Int("bytes", len(b.Msg.Data)), zap.String("by", by))
	}
	if p.AfterPublish != nil {
		if err := p.AfterPublish(); err != nil {
			for _, b := range bundles {
				failed[b.CorpNum] = err
			}
			return res
		}
	}
	// Marking gets its own deadline: a publish round that waited out its
	// timeout on a full stream must not leave the accepted bundles unmarked.
	mctx, cancelMark := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancelMark()
	if err := outboxdb.MarkPublished(mctx, q, marks); err != nil {
		// Published but not marked: a retry republishes the same bundles
		// under the same ids, which the stream drops.
		for _, b := range bundles {
			if _, bad := failed[b.CorpNum]; !bad {
				failed[b.CorpNum] = err
			}
		}
		return res
	}
	res.Bundles, res.Credentials = published, len(marks)
	if n := len(bundles) - published; n > 0 {
		p.Log.Warn("bundles not accepted by BCREG_CREDS; they stay in the outbox", zap.Int("bundles", n),
			zap.Int("published", published), zap.String("by", by))
	}
	return res
}

func (p *Publisher) giveUpTooLarge(ctx context.Context, q eventdb.Querier, err error) bool {
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		return false
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	marked, merr := delivery.MarkDead(mctx, q, giveUpClaimer, []string{tl.Hash}, tl.Error())
	if merr != nil {
		p.Log.Error("could not give up a credential too large for a bundle; it stays in the outbox", zap.String("corp_num", tl.CorpNum),
			zap.String("hash", tl.Hash), zap.Error(merr))
		return false
	}
	if len(marked) == 0 {
		return false
	}
	p.Log.Error("credential too large for any bundle: D", zap.String("corp_num", tl.CorpNum), zap.String("hash", tl.Hash),
		zap.Int("bytes", tl.Bytes), zap.Int("max_bytes", tl.Max))
	return true
}

// Sweeper is the outbox sweep (rule 4; docs/design/poller-builder.md).
type Sweeper struct {
	Publisher
	DB *pgxpool.Pool
	// Age is how old an unpublished credential, or a published one whose
	// bundle is gone, must be before the sweep takes it over.
	Age time.Duration
	// Batch is how many corporations one step locks and publishes.
	Batch int
	// LockWait bounds the wait for corporations a builder holds.
	LockWait time.Duration
}

// SweepResult is what one pass did.
type SweepResult struct {
	// Released counts credentials handed back to the outbox because their
	// bundle was gone; Dead those given up instead (MaxRearms).
	Released, Dead int
	// Bundles counts bundles published; Failed corporations that could
	// not be (the next pass retries them); TooLarge credentials given up.
	Bundles, Failed, TooLarge int
}

// Pass runs one sweep: it first hands back to the outbox the credentials
// whose bundle left BCREG_CREDS without an answer (FindAbandoned,
// Release), then republishes what a crash, a full stream or a release
// left there — credentials unpublished for longer than Age, and waiting
// ones whose not_before has passed — walking the corporations in corp_num
// order a batch at a time under their locks, so a corporation that cannot
// be published is logged and passed, never stopping the pass. It returns
// an error only when the event database could not be read.
func (s *Sweeper) Pass(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	s.release(ctx, &res)
	for after := ""; ctx.Err() == nil; {
		corps, err := outboxdb.StrandedCorps(ctx, s.DB, s.System, s.Age, after, s.Batch)
		if err != nil || len(corps) == 0 {
			return res, err
		}
		after = corps[len(corps)-1]
		pub, err := s.publishCorps(ctx, corps)
		if err != nil {
			// Locks or outbox not had for this page: the next pass retries it.
			s.Log.Warn("sweep skipped a page of corporations", zap.Int("corporations", len(corps)), zap.Error(err))
			res.Failed += len(corps)
			continue
		}
		res.Bundles += pub.Bundles
		res.Failed += len(pub.Failed)
		res.TooLarge += pub.TooLarge
		s.Log.Info("sweep republished stranded credentials", zap.Int("corporations", len(corps)-len(pub.Failed)),
			zap.Int("failed", len(pub.Failed)))
		for corp, err := range pub.Failed {
			s.Log.Warn("sweep could not publish a corporation; the next pass retries", zap.String("corp_num", corp), zap.Error(err))
		}
		if len(corps) < s.Batch {
			break
		}
	}
	return res, nil
}

func (s *Sweeper) release(ctx context.Context, res *SweepResult) {
	ab, err := FindAbandoned(ctx, s.DB, s.JS, s.System, s.Age)
	if err != nil {
		s.Log.Warn("sweep: abandoned bundles not checked", zap.Error(err))
		return
	}
	if len(ab.Seqs) == 0 {
		return
	}
	rows, err := Release(ctx, s.DB, ab)
	if err != nil {
		s.Log.Warn("sweep: abandoned credentials not released", zap.Int64("credentials", ab.Credentials), zap.Error(err))
		return
	}
	for _, r := range rows {
		if r.Dead {
			res.Dead++
			s.Log.Error("credential lost its bundle too often: D", zap.String("corp_num", r.CorpNum), zap.String("hash", r.Hash))
		}
	}
	res.Released = len(rows) - res.Dead
	s.Log.Warn("credentials whose bundle left BCREG_CREDS without an answer go back to the outbox",
		zap.Int("credentials", res.Released), zap.Int("dead", res.Dead), zap.Int("bundles", len(ab.Seqs)),
		zap.Strings("corp_nums", ab.Corps[:min(len(ab.Corps), 10)]))
}

// publishCorps publishes the outbox of corps under their locks (waiting for
// any builder still working on them, then reading what it left).
func (s *Sweeper) publishCorps(ctx context.Context, corps []string) (Published, error) {
	locks, err := eventdb.LockCorps(ctx, s.DB, corps, s.LockWait)
	if err != nil {
		return Published{}, err
	}
	defer locks.Release(context.WithoutCancel(ctx))
	rows, err := outboxdb.Unpublished(ctx, locks.Conn(), s.System, corps)
	if err != nil {
		return Published{}, err
	}
	return s.PublishRows(ctx, locks.Conn(), rows, nil, "sweep"), nil
}
