package corpops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
)

// Repair is what an audit repair did.
type Repair struct {
	Corps     []string
	Through   int64 // the event the corporations were requeued up to
	Reposted  int   // delivered and failed credentials reset for a re-post
	Published int   // of those, published now (the rest by the outbox sweep)
}

// RepairAudit repairs an audit's corporations, for `bcregctl audit
// --requeue --yes` and the console's Audit page: it requeues them
// (picking up registry changes that raised no event) and re-posts what
// they delivered (OrgBook lost or changed it; the builder issues a known
// credential only once). Both are recorded in operator_action; via names
// who asked.
func RepairAudit(ctx context.Context, pool, src *pgxpool.Pool, js jetstream.JetStream, backoff bus.Backoff, profile string,
	corps []string, via string, log *zap.Logger) (Repair, error) {
	now := time.Now()
	r := Repair{Corps: corps}
	last, err := Plan(ctx, pool, src, corps, 0, now)
	if err != nil {
		return r, err
	}
	r.Through = last.EventID
	if _, err := Publish(ctx, js, pool, backoff, corps, last, now, via); err != nil {
		return r, err
	}
	nonce := fmt.Sprintf("audit-repost:%d", now.UnixNano())
	pub := &outbox.Publisher{JS: js, Log: log, System: messages.SystemBCReg, Profile: profile, MaxBytes: outbox.MaxBytesFor(js),
		Nonce: nonce, Backoff: backoff, Timeout: 30 * time.Second}
	r.Reposted, r.Published, err = Repost(ctx, pool, pub, corps, time.Minute)
	if _, recErr := operator.RecordAction(ctx, pool, "audit-repost", messages.SystemBCReg+" "+strings.Join(corps, " "), int64(r.Reposted),
		map[string]any{"corps": corps, "credentials": r.Reposted, "published": r.Published, "nonce": nonce, "via": via}); recErr != nil {
		return r, recErr
	}
	return r, err
}
