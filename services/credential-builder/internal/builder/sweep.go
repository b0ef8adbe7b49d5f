package builder

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// sweepLoop republishes, every SweepInterval, what a crash or a full
// stream left in the outbox: credentials unpublished for longer than
// SweepAge, and waiting ones whose not_before has passed (rule 4). Every
// replica sweeps; the corporation locks and the bundle ids keep that from
// publishing anything twice.
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

// sweep runs one pass, a batch of corporations at a time.
func (s *service) sweep(ctx context.Context) {
	for ctx.Err() == nil {
		corps, err := eventdb.StrandedCorps(ctx, s.edb, system, s.cfg.SweepAge, s.cfg.BatchSize)
		if err != nil {
			s.log.Warn("sweep: event database unreachable", zap.Error(err))
			return
		}
		if len(corps) == 0 {
			break
		}
		failed, err := s.sweepCorps(ctx, corps)
		if err != nil {
			s.log.Warn("sweep failed; next pass retries", zap.Error(err))
			return
		}
		s.log.Info("sweep republished stranded credentials", zap.Int("corporations", len(corps)-len(failed)),
			zap.Int("failed", len(failed)))
		if len(failed) > 0 || len(corps) < s.cfg.BatchSize {
			break
		}
	}
	if n, err := eventdb.OutboxBacklog(ctx, s.edb, system); err == nil {
		s.m.backlog.Set(float64(n))
	}
}

// sweepCorps publishes the outbox of corps under their locks (waiting for
// any builder still working on them, then reading what it left).
func (s *service) sweepCorps(ctx context.Context, corps []string) (map[string]error, error) {
	locks, err := eventdb.LockCorps(ctx, s.edb, corps, s.cfg.LockWait)
	if err != nil {
		return nil, err
	}
	defer locks.Release(context.WithoutCancel(ctx))
	rows, err := eventdb.Unpublished(ctx, locks.Conn(), system, corps)
	if err != nil {
		return nil, err
	}
	return s.publishBundles(ctx, locks.Conn(), rows, nil, "sweep"), nil
}
