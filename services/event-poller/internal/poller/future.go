package poller

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// futurePage is how many due re-queues one round publishes.
const futurePage = 1000

// requeueFuture publishes a CorpEvent (reason future-dated) for every
// future_requeue row that has come due, then marks the rows published. The
// range is the one the original queued: from the first future event (id,
// timestamp) to the last (id, effective date).
func (s *service) requeueFuture(ctx context.Context, edb *pgxpool.Conn) error {
	for {
		due, err := discovery.DueFutureRequeues(ctx, edb, system, regclock.At(s.hooks.Now()), futurePage)
		if err != nil || len(due) == 0 {
			return err
		}
		detected := time.Now()
		out := make([]bus.Outgoing, 0, len(due))
		for _, f := range due {
			if blank(f.CorpNum) {
				s.log.Warn("future re-queue without a corporation number skipped", zap.Int64("record_id", f.RecordID))
				continue
			}
			o, err := bus.CorpEventMsg(messages.NewFutureDatedEvent(system, f.CorpNum,
				regevent.At(f.FirstEventID, f.FirstEventDate), regevent.At(f.EventID, f.DueAt), detected), FutureMsgID(system, f.CorpNum, f.EventID, f.DueAt))
			if err != nil {
				return err
			}
			s.log.Debug("future-dated event due", zap.String("corp_num", f.CorpNum), zap.String("msg_id", o.MsgID),
				zap.Stringer("due_at", regclock.NewLocalTime(f.DueAt)))
			out = append(out, o)
		}
		if err := s.publish(ctx, out); err != nil {
			return err
		}
		s.m.published.WithLabelValues(messages.ReasonFutureDated).Add(float64(len(out)))
		if err := s.afterPublish(StepFuture); err != nil {
			return err
		}
		if err := discovery.MarkFutureRequeuesPublished(ctx, edb, due); err != nil {
			return err
		}
		s.log.Info("future-dated events came due: corporations re-queued", zap.Int("corporations", len(out)))
		if len(due) < futurePage {
			return nil
		}
	}
}
