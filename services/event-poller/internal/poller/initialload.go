package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/initload"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
)

// skipLoad starts from the newest event without loading anything
// (BCREG_INITIAL_LOAD=skip).
func (s *service) skipLoad(ctx context.Context, edb *pgxpool.Conn) error {
	wm, window, ok, err := initload.NoteNewest(ctx, s.src, regclock.At(s.hooks.Now()), s.cfg.LookBack)
	if err != nil {
		return fmt.Errorf("skip initial load: %w", err)
	}
	if !ok {
		s.log.Warn("the registry has no events yet; the watermark is set at the first one")
		return nil
	}
	if err := discovery.SetWatermark(ctx, edb, system, wm, window); err != nil {
		return err
	}
	s.log.Warn("initial load skipped (BCREG_INITIAL_LOAD=skip): polling from the newest event",
		zap.Int64("watermark_event_id", wm.EventID), zap.Stringer("watermark_date", wm.Date))
	return nil
}

// initialLoad runs (or resumes) the initial load (package initload) on the
// lock's connection: one CorpEvent per corporation, progress recorded after
// each page, the watermark set at the end.
func (s *service) initialLoad(ctx context.Context, edb *pgxpool.Conn) error {
	s.report(ctx, alert.KeyLoadStarted, alert.Info, "event-poller: initial load running (no watermark yet)")
	run, err := initload.Run(ctx, initload.Options{
		System: system, Source: s.src, EventDB: edb, LookBack: s.cfg.LookBack, Page: s.cfg.LoadPage,
		Now: func() time.Time { return regclock.At(s.hooks.Now()) }, Publish: s.publish, Log: s.log,
		AfterPage: func(n int) error {
			s.beat.Beat()
			s.m.published.WithLabelValues(messages.ReasonInitialLoad).Add(float64(n))
			return s.afterPublish(StepLoadPage)
		},
	})
	switch {
	case errors.Is(err, initload.ErrNoEvents):
		s.log.Warn("the registry has no events yet; the initial load waits for the first")
		return nil
	case err == nil:
		s.report(ctx, alert.KeyLoadFinished, alert.Info, fmt.Sprintf("event-poller: initial load finished: %d corporations published; polling from event %d",
			run.Published, run.Watermark.EventID))
	}
	return err
}

// publish stores every message in BCREG_EVENTS, waiting for each PubAck.
// A full stream (DiscardNew) or an unreachable server is retried, with a
// warning per BCREG_POLL_PUBLISH_TIMEOUT, until it succeeds or ctx ends:
// nothing is skipped, and the caller moves no watermark before it returns
// nil.
func (s *service) publish(ctx context.Context, msgs []bus.Outgoing) error {
	return bus.PublishRounds(ctx, s.js, msgs, bus.RoundOptions{
		Timeout: s.cfg.PublishTimeout, Backoff: s.cfg.Backoff,
		OnStall: func(waiting, attempt int, lastErr error) {
			// A full stream is waited out, round by round: not stuck.
			s.beat.Beat()
			s.m.stalls.Inc()
			s.log.Warn("BCREG_EVENTS did not accept the CorpEvents in time (stream full or NATS unreachable); backing off and retrying",
				zap.Int("waiting", waiting), zap.Int("attempt", attempt), zap.Error(lastErr))
		},
	})
}
