package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// unit is one corporation of a batch: every message of it, coalesced.
type unit struct {
	corp string
	msgs []int                // indexes into the batch
	evs  []messages.CorpEvent // aligned with msgs
	ids  []string             // message ids, aligned with msgs
	// prev and last are the widest range of the messages.
	prev, last regevent.Position

	outcome string // outboxdb.Outcome*
	message string // process_msg
	failure error  // why the corporation cannot be described (outcome N)
	retry   error  // a transient failure: the messages are redelivered
	// committed says the unit's rows are stored: what is left (publishing)
	// is the outbox's job, which the sweep finishes if the messages cannot.
	committed bool
	corpState string
	history   *outboxdb.HistoryEntry
	creds     []outboxdb.NewCredential
	// requeues are the future-dated changes to process when they come due.
	requeues []discovery.FutureRequeue
}

// result is what the consume loop does with the unit's messages; the loop
// logs it, with the corporation.
func (u *unit) result() error {
	switch {
	case u.retry != nil:
		return bus.Fail(u.corp, u.retry)
	case u.failure != nil:
		return bus.Permanent(bus.Fail(u.corp, u.failure))
	}
	return nil
}

// fail records that the corporation cannot be described: outcome N with
// the reason, nothing stored for it but its work items, and a DeadLetter.
func (u *unit) fail(err error) {
	u.outcome, u.message, u.failure = outboxdb.OutcomeFailed, err.Error(), err
	u.history, u.creds, u.requeues = nil, nil, nil
}

func (u *unit) items() []outboxdb.WorkItem {
	out := make([]outboxdb.WorkItem, len(u.evs))
	for i, ev := range u.evs {
		out[i] = outboxdb.WorkItem{CorpNum: u.corp, Prev: ev.Prev, Last: ev.Last, Reason: ev.Reason,
			MsgID: u.ids[i], Outcome: u.outcome, Message: u.message}
	}
	return out
}

// handle is the consume loop's batch handler.
func (s *service) handle(ctx context.Context, msgs []jetstream.Msg) []error {
	start := time.Now()
	results := make([]error, len(msgs))
	units := s.coalesce(msgs, results)
	if len(units) > 0 {
		s.process(ctx, units)
		for _, u := range units {
			for _, i := range u.msgs {
				results[i] = s.settleAs(u, msgs[i])
			}
			s.count(u)
		}
		s.logProcessed(units)
	}
	s.m.duration.Observe(time.Since(start).Seconds())
	s.m.batchSize.Observe(float64(len(msgs)))
	return results
}

// settleAs is the result of one message of u. A unit whose rows are
// committed but whose bundle is not published is redelivered, except on
// the message's last delivery: then it is acked rather than dead-lettered,
// since the outbox holds its credentials and the sweep publishes them.
func (s *service) settleAs(u *unit, m jetstream.Msg) error {
	res := u.result()
	if res == nil || !u.committed || u.failure != nil {
		return res
	}
	if md, err := m.Metadata(); err == nil && s.cfg.BuilderMaxDeliver > 0 && md.NumDelivered >= uint64(s.cfg.BuilderMaxDeliver) {
		s.log.Warn("bundle still unpublished on the message's last delivery; acked, the sweep publishes it from the outbox",
			zap.String("corp_num", u.corp), zap.String("msg_id", msgID(m)), zap.Error(res))
		return nil
	}
	return res
}

func (s *service) count(u *unit) {
	outcome := "retry"
	switch {
	case u.retry != nil:
	case u.outcome == outboxdb.OutcomeDone:
		outcome = "done"
	case u.outcome == outboxdb.OutcomeSkipped:
		outcome = "skipped"
	case u.outcome == outboxdb.OutcomeFailed:
		outcome = "failed"
	}
	s.m.messages.WithLabelValues(outcome).Add(float64(len(u.msgs)))
}

// coalesce decodes the batch and groups its messages by corporation, in
// corp_num order. A message that cannot be decoded gets a permanent error
// in results (it is dead-lettered with the reason).
func (s *service) coalesce(msgs []jetstream.Msg, results []error) []*unit {
	byCorp := map[string]*unit{}
	for i, m := range msgs {
		ev, err := messages.DecodeCorpEvent(m.Data())
		if err == nil && ev.System != system {
			err = fmt.Errorf("%w: system %q is not %s", messages.ErrUndecodable, ev.System, system)
		}
		if err != nil {
			results[i] = bus.Permanent(fmt.Errorf("CorpEvent: %w", err))
			s.m.messages.WithLabelValues("invalid").Inc()
			continue
		}
		u := byCorp[ev.CorpNum]
		if u == nil {
			u = &unit{corp: ev.CorpNum, prev: ev.Prev, last: ev.Last}
			byCorp[ev.CorpNum] = u
		}
		u.msgs = append(u.msgs, i)
		u.evs = append(u.evs, ev)
		u.ids = append(u.ids, msgID(m))
		u.prev, u.last = regevent.Min(u.prev, ev.Prev), regevent.Max(u.last, ev.Last)
	}
	units := make([]*unit, 0, len(byCorp))
	for _, u := range byCorp {
		units = append(units, u)
	}
	slices.SortFunc(units, func(a, b *unit) int { return strings.Compare(a.corp, b.corp) })
	return units
}

// msgID is the message's Nats-Msg-Id, or its stream position when a
// publisher set none (a redelivery has the same).
func msgID(m jetstream.Msg) string {
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
		return id
	}
	if md, err := m.Metadata(); err == nil {
		return fmt.Sprintf("seq:%s:%d", md.Stream, md.Sequence.Stream)
	}
	return ""
}

// process builds, stores and publishes the units under their
// corporations' locks, setting each unit's outcome or retry.
func (s *service) process(ctx context.Context, units []*unit) {
	corps := make([]string, len(units))
	for i, u := range units {
		corps[i] = u.corp
	}
	ph := newPhases()
	defer func() { s.log.Debug("batch phases", ph.fields(len(units))...) }()
	locks, err := eventdb.LockCorps(ctx, s.edb, corps, s.cfg.LockWait)
	ph.done("lock")
	if err != nil {
		retryAll(units, fmt.Errorf("builder: %w", err))
		return
	}
	defer locks.Release(context.WithoutCancel(ctx))
	if s.hooks.Locked != nil {
		s.hooks.Locked(corps)
	}
	if s.hooks.Unlocked != nil {
		defer s.hooks.Unlocked(corps)
	}
	// Loading under the locks: a snapshot read after the previous holder
	// released them is at least as new as the one it stored.
	batch, err := s.loader.Load(ctx, corps)
	ph.done("load")
	if err != nil {
		retryAll(units, fmt.Errorf("builder: %w", err))
		return
	}
	now := regclock.At(s.hooks.Now())
	for _, u := range units {
		s.generate(u, batch, now)
	}
	ph.done("generate")
	rows := s.storeIsolating(ctx, locks, units)
	ph.done("store")
	states := map[string]string{}
	var ok []*unit
	for _, u := range units {
		if u.retry == nil {
			u.committed = true
			ok = append(ok, u)
			if u.corpState != "" {
				states[u.corp] = u.corpState
			}
		}
	}
	if len(ok) == 0 {
		return
	}
	if s.hooks.AfterCommit != nil {
		if err := s.hooks.AfterCommit(); err != nil {
			retryAll(ok, err)
			return
		}
	}
	failed := s.publishBundles(ctx, locks.Conn(), rows, states, "batch")
	ph.done("publish")
	for _, u := range ok {
		if err, bad := failed[u.corp]; bad {
			u.retry = err
		}
	}
}

// logProcessed traces the corporations that were processed. A failed or
// retried one is not logged here: the consume loop logs each message's
// outcome once, with the corporation its result carries.
func (s *service) logProcessed(units []*unit) {
	if !s.log.Core().Enabled(zap.DebugLevel) {
		return
	}
	for _, u := range units {
		if u.retry == nil && u.failure == nil {
			s.log.Debug("corporation processed", zap.String("corp_num", u.corp), zap.Strings("msg_ids", u.ids),
				zap.String("outcome", u.outcome), zap.Int("credentials", len(u.creds)))
		}
	}
}

func retryAll(units []*unit, err error) {
	for _, u := range units {
		u.retry = err
	}
}

// generate fills in the unit's outcome, snapshot and credentials.
func (s *service) generate(u *unit, batch *source.Batch, now time.Time) {
	snap, err := batch.Get(u.corp)
	if err != nil {
		u.fail(err)
		return
	}
	if !s.profile.InScope(snap) {
		u.outcome, u.message = outboxdb.OutcomeSkipped, snap.Corporation.TypeCode()+": Skipped, not in scope"
		return
	}
	res, err := s.profile.Generate(snap, credential.Params{Now: now,
		Prev: u.prev, Last: u.last})
	if err != nil {
		if !strings.Contains(err.Error(), u.corp) {
			err = fmt.Errorf("corporation %s: %w", u.corp, err)
		}
		u.fail(err)
		return
	}
	doc, err := snap.JSON()
	if err != nil {
		u.fail(fmt.Errorf("corporation %s: snapshot document: %w", u.corp, err))
		return
	}
	sum := sha256.Sum256(doc)
	u.outcome, u.message, u.corpState = outboxdb.OutcomeDone, snap.Corporation.TypeCode(), res.CorpState
	prev, last := u.prev, u.last
	u.history = &outboxdb.HistoryEntry{CorpNum: u.corp, CorpState: res.CorpState, Prev: prev, Last: last,
		JSON: doc, Hash: hex.EncodeToString(sum[:]), Message: res.Note}
	for _, c := range res.Credentials {
		var nb *time.Time
		if !c.NotBefore.IsZero() {
			nb = &c.NotBefore // stored now, published when it passes (the sweep)
		}
		u.creds = append(u.creds, outboxdb.NewCredential{CorpNum: u.corp, CorpState: res.CorpState, Prev: prev, Last: last,
			Type: c.Type, CredentialID: c.ID, Schema: c.Schema, Version: c.Version, JSON: c.JSON, Hash: c.Hash,
			Reason: c.Reason, Profile: s.profile.Name(), Held: c.Held, NotBefore: nb})
	}
	for _, r := range res.Requeue {
		u.requeues = append(u.requeues, discovery.FutureRequeue{CorpNum: u.corp, DueAt: r.DueAt, EventID: r.EventID,
			FirstEventID: r.FirstEventID, FirstEventDate: r.FirstEventDate})
	}
}

// storeIsolating stores the units in one transaction; when a row breaks a
// constraint (data the database refuses), it stores them one by one so the
// offending corporation alone ends as N and the rest of the batch goes on.
func (s *service) storeIsolating(ctx context.Context, locks *eventdb.CorpLocks, units []*unit) []outboxdb.Row {
	rows, err := s.store(ctx, locks, units)
	if err == nil {
		return rows
	}
	if !isDataError(err) {
		retryAll(units, fmt.Errorf("builder: %w", err))
		return nil
	}
	if len(units) > 1 {
		var all []outboxdb.Row
		for _, u := range units {
			all = append(all, s.storeIsolating(ctx, locks, []*unit{u})...)
		}
		return all
	}
	u := units[0]
	if u.failure != nil {
		// Even its work items are refused: nothing can be recorded.
		return nil
	}
	u.fail(fmt.Errorf("corporation %s: the event database refused its rows: %w", u.corp, err))
	rows, err = s.store(ctx, locks, units)
	if err != nil && !isDataError(err) {
		u.retry = fmt.Errorf("builder: %w", err)
	}
	return rows
}

// isDataError reports an error no retry can fix: the database refused the
// data (SQLSTATE class 22, data exception, or 23, integrity constraint).
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"))
}

// store writes the units' work items, changed snapshots and new
// credentials in one transaction on the locks' connection and returns the
// outbox rows of their corporations (outboxdb.WriteBatch: the new ones as
// stored, the older ones read in the same transaction).
func (s *service) store(ctx context.Context, locks *eventdb.CorpLocks, units []*unit) ([]outboxdb.Row, error) {
	w := outboxdb.BatchWrite{System: system, OutboxCorps: make([]string, 0, len(units))}
	for _, u := range units {
		w.OutboxCorps = append(w.OutboxCorps, u.corp)
		w.Items = append(w.Items, u.items()...)
		if u.history != nil {
			w.History = append(w.History, *u.history)
		}
		w.Credentials = append(w.Credentials, u.creds...)
		w.Requeues = append(w.Requeues, u.requeues...)
	}
	var res outboxdb.BatchResult
	// A deadlock or serialization failure aborts the whole transaction:
	// run it again rather than redelivering the batch.
	err := eventdb.RetryConflicts(ctx, func() error {
		return pgx.BeginFunc(ctx, locks, func(tx pgx.Tx) error {
			var err error
			if res, err = outboxdb.WriteBatch(ctx, tx, w); err != nil {
				return err
			}
			if s.hooks.BeforeCommit != nil {
				return s.hooks.BeforeCommit()
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	s.m.stored.Add(float64(res.CredentialsStored))
	return res.Outbox, nil
}

// phases times the steps of a batch for the debug log.
type phases struct {
	last  time.Time
	steps []zap.Field
}

func newPhases() *phases { return &phases{last: time.Now()} }

func (p *phases) done(step string) {
	now := time.Now()
	p.steps = append(p.steps, zap.Duration(step, now.Sub(p.last)))
	p.last = now
}

func (p *phases) fields(corps int) []zap.Field {
	return append([]zap.Field{zap.Int("corporations", corps)}, p.steps...)
}
