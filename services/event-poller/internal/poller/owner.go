package poller

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
)

// startOwnerDuties starts what only the active poller does beside its
// cycles: the alert monitor, the corp_history_log retention and the
// scheduled OrgBook audit. The
// returned function stops them (when the lock is released or lost).
func (s *service) startOwnerDuties(ctx context.Context) (stop func()) {
	dctx, cancel := context.WithCancel(ctx)
	mon := alert.NewMonitor(s.cfg.Config, s.log, s.alerts, alert.DBStore{DB: s.edb}, func(ctx context.Context) pipeline.Report {
		// The figures of `bcregctl status`, less the totals that scan the
		// tables' history (docs/design/operator-tooling.md, "One set of
		// figures"): the rules read them every BCREG_ALERT_INTERVAL, and
		// quote the latest error only.
		f := pipeline.Read(ctx, pipeline.Sources{System: system, EventDB: s.edb, Source: s.src, JS: s.js,
			Now: func() time.Time { return regclock.At(s.hooks.Now()) }, Scope: operator.CountState, Errors: 1})
		if s.hooks.Evaluated != nil {
			s.hooks.Evaluated()
		}
		return f
	})
	s.monitor.Store(mon)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		_ = mon.Run(dctx)
	}()
	go func() {
		defer wg.Done()
		s.retention(dctx)
	}()
	go func() {
		defer wg.Done()
		s.auditing(dctx)
	}()
	return func() {
		cancel()
		wg.Wait()
		s.monitor.Store(nil)
	}
}

// report sends an alert through the monitor while this replica is active.
func (s *service) report(ctx context.Context, key string, level alert.Level, msg string) {
	if m := s.monitor.Load(); m != nil {
		m.Report(ctx, key, level, msg)
	}
}

// retention deletes corp_history_log snapshots older than
// BCREG_HISTORY_RETENTION (each corporation's latest is kept) at the start
// and every BCREG_PRUNE_INTERVAL.
func (s *service) retention(ctx context.Context) {
	if s.cfg.HistoryRetention <= 0 {
		return
	}
	for {
		start := time.Now()
		n, err := operator.PruneHistory(ctx, s.edb, s.cfg.HistoryRetention, nil)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("corp_history_log retention failed; retried next interval", zap.Error(err))
		case n > 0:
			s.log.Info("corp_history_log pruned", zap.Int64("deleted", n), zap.Duration("older_than", s.cfg.HistoryRetention),
				zap.Duration("took", time.Since(start)))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.PruneInterval):
		}
	}
}

// replicaName names this replica in alerts: the host (the pod) and pid.
func replicaName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}
