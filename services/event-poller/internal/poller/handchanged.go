package poller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// The operators' manage script changes the work tables with SQL
// (docs/design/manage-script.md). Each cycle the active poller turns what
// it changed into work: work items queued by hand become requeue
// CorpEvents, credentials reset by hand are published again through the
// outbox. Both are found through small partial indexes, so a cycle with
// nothing changed by hand costs two index probes.

// handPage is how many hand-changed rows one round handles.
const handPage = 1000

// Operator actions the poller records for rows changed by hand.
const (
	ActionHandQueued = "hand-queued"
	ActionHandReset  = "hand-reset"
)

// handChanged handles the rows changed by hand; wm ends the requeues'
// range. edb is the lock's connection.
func (s *service) handChanged(ctx context.Context, edb *pgxpool.Conn, wm regevent.Position) error {
	if err := s.handQueued(ctx, edb, wm); err != nil {
		return fmt.Errorf("work items queued by hand: %w", err)
	}
	if err := s.handReset(ctx, edb); err != nil {
		return fmt.Errorf("credentials reset by hand: %w", err)
	}
	return nil
}

// handQueued publishes a requeue CorpEvent per corporation with
// event_by_corp_filing rows without a process date, then marks the rows as
// handed over to it (the requeue's own row carries the outcome).
func (s *service) handQueued(ctx context.Context, edb *pgxpool.Conn, wm regevent.Position) error {
	for {
		items, err := operator.SelectWorkItems(ctx, edb, system, operator.WorkItems{Kind: operator.HandQueued, Limit: handPage})
		if err != nil || len(items) == 0 {
			return err
		}
		var corps []string
		var ids []int64
		for _, it := range items {
			if !blank(it.CorpNum) {
				corps = append(corps, it.CorpNum)
			}
			ids = append(ids, it.RecordIDs...)
		}
		out, msgIDs, err := bus.RequeueMsgs(system, corps, wm, time.Now())
		if err != nil {
			return err
		}
		if err := s.publish(ctx, out); err != nil {
			return err
		}
		s.m.published.WithLabelValues(messages.ReasonRequeue).Add(float64(len(out)))
		byCorp := map[string]string{}
		for i, c := range corps {
			byCorp[c] = msgIDs[i]
		}
		marked, err := operator.MarkHandedOver(ctx, edb, items, byCorp)
		if err != nil {
			return err
		}
		if _, err := operator.RecordAction(ctx, edb, ActionHandQueued, "event_by_corp_filing", marked,
			map[string]any{"record_ids": ids, "corps": corps, "msg_ids": msgIDs, "last_event_id": wm.EventID,
				"detected_by": "event-poller " + replicaName()}); err != nil {
			return err
		}
		for i, it := range items {
			s.log.Info("work items queued by hand: corporation requeued", zap.String("corp_num", it.CorpNum),
				zap.Int64s("record_ids", it.RecordIDs), zap.String("msg_id", byCorp[it.CorpNum]), zap.Int("n", i))
		}
		if len(ids) < handPage {
			return nil
		}
	}
}

// handResetLockWait bounds the wait for a builder working on the same
// corporations.
const handResetLockWait = 30 * time.Second

// handReset publishes the outbox of the corporations whose credentials
// were reset to no status by hand (migration 7's trigger put them back
// into the outbox and marked them), in issue order, holding the
// corporations' locks (rule 5), then clears the marks. What is not
// published now stays in the outbox for the builders' sweep.
func (s *service) handReset(ctx context.Context, edb *pgxpool.Conn) error {
	for {
		rows, err := operator.HandResets(ctx, edb, system, handPage)
		if err != nil || len(rows) == 0 {
			return err
		}
		var corps []string
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.RecordID
			if !slices.Contains(corps, r.CorpNum) {
				corps = append(corps, r.CorpNum)
			}
		}
		slices.Sort(corps)
		published, err := s.publishOutbox(ctx, corps)
		if err != nil {
			return err
		}
		if err := operator.ClearHandResets(ctx, edb, ids); err != nil {
			return err
		}
		if _, err := operator.RecordAction(ctx, edb, ActionHandReset, "credential_log", int64(len(ids)),
			map[string]any{"record_ids": ids, "corps": corps, "published": published,
				"detected_by": "event-poller " + replicaName()}); err != nil {
			return err
		}
		s.log.Info("credentials reset by hand: posted again", zap.Strings("corps", corps), zap.Int64s("record_ids", ids),
			zap.Int("published", published))
		if len(rows) < handPage {
			return nil
		}
	}
}

// publishOutbox publishes the unpublished credentials of corps in fresh
// bundles holding their locks, and returns how many it published.
func (s *service) publishOutbox(ctx context.Context, corps []string) (int, error) {
	locks, err := eventdb.LockCorps(ctx, s.edb, corps, handResetLockWait)
	if err != nil {
		return 0, err
	}
	defer locks.Release(context.WithoutCancel(ctx))
	rows, err := outboxdb.Unpublished(ctx, locks.Conn(), system, corps)
	if err != nil {
		return 0, err
	}
	// A fresh nonce: the rows' earlier bundles may still be in the
	// de-duplication window under their plain ids.
	profile := s.cfg.Profile
	if profile == "" {
		profile = "history"
	}
	pub := &outbox.Publisher{JS: s.js, Log: s.log, System: system, Profile: profile, MaxBytes: outbox.MaxBytesFor(s.js),
		Nonce: fmt.Sprintf("hand-reset:%d", time.Now().UnixNano()), Backoff: s.cfg.Backoff, Timeout: s.cfg.PublishTimeout}
	res := pub.PublishRows(ctx, locks.Conn(), rows, nil, ActionHandReset)
	for corp, err := range res.Failed {
		// Left in the outbox: the builders' sweep publishes them.
		s.log.Warn("credentials reset by hand not published now; the builders' sweep publishes them",
			zap.String("corp_num", corp), zap.Error(err))
	}
	return res.Credentials, nil
}
