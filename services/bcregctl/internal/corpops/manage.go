package corpops

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// The twins of the operators' manage script (docs/design/manage-script.md)
// build on the requeue above: work items become requeue CorpEvents, and
// what the script deleted to have everything issued again, Forget deletes.

// Handed is what RequeueItems did.
type Handed struct {
	Corps  []string `json:"corps"`
	MsgIDs []string `json:"msg_ids"`
	// Marked counts the work items marked as handed over to the requeues.
	Marked int64 `json:"work_items_marked"`
}

// RequeueItems publishes a requeue CorpEvent up to last per corporation of
// items (event_by_corp_filing rows an operator selected), marks the rows as
// handed over to it, and records action in operator_action with the rows'
// ids.
func RequeueItems(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, backoff bus.Backoff, items []operator.CorpItems,
	last regevent.Position, now time.Time, action, target string) (Handed, error) {
	var h Handed
	var ids []int64
	for _, it := range items {
		h.Corps = append(h.Corps, it.CorpNum)
		ids = append(ids, it.RecordIDs...)
	}
	msgs, msgIDs, err := Messages(h.Corps, last, now)
	if err != nil {
		return h, err
	}
	if err := bus.PublishRounds(ctx, js, msgs, bus.RoundOptions{Timeout: 30 * time.Second, Backoff: backoff}); err != nil {
		return h, fmt.Errorf("requeue: publish to %s: %w", bus.StreamEvents, err)
	}
	h.MsgIDs = msgIDs
	byCorp := map[string]string{}
	for i, c := range h.Corps {
		byCorp[c] = msgIDs[i]
	}
	if h.Marked, err = operator.MarkHandedOver(ctx, pool, items, byCorp); err != nil {
		return h, err
	}
	_, err = operator.RecordAction(ctx, pool, action, target, h.Marked, map[string]any{"corps": h.Corps, "msg_ids": msgIDs,
		"record_ids": ids, "last_event_id": last.EventID, "last_event_date": last.Date.String()})
	return h, err
}

// Forget deletes the credential_log and corp_history_log rows of corps
// holding their locks (no builder stores for them meanwhile), so their next
// processing issues everything again; with dry it only counts them (the
// deletion rolled back).
func Forget(ctx context.Context, pool *pgxpool.Pool, corps []string, lockWait time.Duration, dry bool) (operator.Forgotten, error) {
	locks, err := eventdb.LockCorps(ctx, pool, corps, lockWait)
	if err != nil {
		return operator.Forgotten{}, err
	}
	defer locks.Release(context.WithoutCancel(ctx))
	tx, err := locks.Begin(ctx)
	if err != nil {
		return operator.Forgotten{}, fmt.Errorf("forget corporations: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	f, err := operator.ForgetCorps(ctx, tx, messages.SystemBCReg, corps)
	if err != nil || dry {
		return f, err
	}
	if err := tx.Commit(ctx); err != nil {
		return f, fmt.Errorf("forget corporations: %w", err)
	}
	return f, nil
}
