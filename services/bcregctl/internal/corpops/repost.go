package corpops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
)

// ResetAndPublish resets a batch's credentials of the statuses sel names and publishes their
// corporations' outbox, holding the corporations' locks (rule 5), so no
// builder publishes an overlapping bundle meanwhile. It returns the reset
// credentials and how many were published.
func ResetAndPublish(ctx context.Context, pool *pgxpool.Pool, pub *outbox.Publisher, corps []string, sel operator.FailedSince,
	lockWait time.Duration) (reset []string, published int, err error) {
	locks, err := eventdb.LockCorps(ctx, pool, corps, lockWait)
	if err != nil {
		return nil, 0, err
	}
	defer locks.Release(context.WithoutCancel(ctx))
	if reset, err = operator.ResetFailed(ctx, locks.Conn(), messages.SystemBCReg, corps, sel); err != nil {
		return nil, 0, err
	}
	rows, err := outboxdb.Unpublished(ctx, locks.Conn(), messages.SystemBCReg, corps)
	if err != nil {
		return reset, 0, err
	}
	// What is not published stays in the outbox, for the builders' sweep.
	res := pub.PublishRows(ctx, locks.Conn(), rows, nil, "requeue-failed")
	var errs []error
	for _, corp := range slices.Sorted(maps.Keys(res.Failed)) {
		errs = append(errs, fmt.Errorf("corporation %s: %w", corp, res.Failed[corp]))
	}
	return reset, res.Credentials, errors.Join(errs...)
}

// RepostBatch is how many corporations one locked step of a re-post
// covers.
const RepostBatch = 100

// Repost posts the delivered (Y) and failed (N, D) credentials of corps again, in their
// order, as fresh bundles: what `bcregctl audit --requeue` does for a
// corporation whose OrgBook topic lost or changed what was delivered, as
// the builder issues a known credential only once. It returns the
// credentials reset and published.
func Repost(ctx context.Context, pool *pgxpool.Pool, pub *outbox.Publisher, corps []string, lockWait time.Duration) (reset, published int, err error) {
	var errs []error
	for start := 0; start < len(corps); start += RepostBatch {
		batch := corps[start:min(start+RepostBatch, len(corps))]
		r, p, err := ResetAndPublish(ctx, pool, pub, batch, operator.FailedSince{Statuses: []string{delivery.Issued, delivery.Rejected, delivery.Dead}}, lockWait)
		reset, published = reset+len(r), published+p
		if err != nil {
			errs = append(errs, err)
		}
	}
	return reset, published, errors.Join(errs...)
}
