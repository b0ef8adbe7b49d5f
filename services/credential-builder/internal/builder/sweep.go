package builder

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/outbox"
)

// sweepLoop runs the outbox sweep (outbox.Sweeper) every SweepInterval
// (rule 4): credentials whose bundle left BCREG_CREDS without an answer go
// back to the outbox, and what the outbox holds for longer than SweepAge
// is republished. Every replica sweeps; the corporation locks and the
// bundle ids keep that from publishing anything twice.
func (s *service) sweepLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.sweep(ctx)
		}
	}
}

// sweep runs one pass and updates the metrics.
func (s *service) sweep(ctx context.Context) {
	sw := outbox.Sweeper{Publisher: s.publisher(), DB: s.edb, Age: s.cfg.SweepAge, Batch: s.cfg.BatchSize, LockWait: s.cfg.LockWait}
	res, err := sw.Pass(ctx)
	s.m.bundles.WithLabelValues("sweep").Add(float64(res.Bundles))
	s.m.rearmed.WithLabelValues("republish").Add(float64(res.Released))
	s.m.rearmed.WithLabelValues("dead").Add(float64(res.Dead))
	s.m.tooLarge.Add(float64(res.TooLarge))
	if err != nil {
		s.log.Warn("sweep: event database unreachable; next pass retries", zap.Error(err))
		return
	}
	if n, err := outboxdb.Backlog(ctx, s.edb, system); err == nil {
		s.m.backlog.Set(float64(n))
	}
}
