package poller

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
)

// minWatermarkYear is the earliest watermark date the poller accepts: an
// older one is a damaged last_event row, not a registry position.
const minWatermarkYear = 1900

// checkWatermark refuses a watermark dated after every wall time the BC
// clock has shown by the instant now, or before 1900: polling from it would
// skip events for good or republish the whole registry. In the second pass
// of a repeated hour the first pass has been shown, so a watermark there is
// not in the future.
func checkWatermark(wm regevent.Position, now time.Time) error {
	switch shown := regclock.LatestWall(regclock.Registry, now); {
	case wm.Date.After(shown):
		return fmt.Errorf("watermark event %d dated %s is in the future (BC local now %s): poll refused; correct last_event",
			wm.EventID, wm.Date, regclock.NewLocalTime(shown))
	case wm.Date.Year() < minWatermarkYear:
		return fmt.Errorf("watermark event %d dated %s is before %d: poll refused; correct last_event",
			wm.EventID, wm.Date, minWatermarkYear)
	}
	return nil
}

// window returns the naive BC local bounds of a poll from watermark date wm
// at the instant now: every wall time the clock showed from the look-back
// before the earliest instant wm can stand for, until now. The look-back is
// so kept in real time across clock changes: in autumn the window spans
// both passes of the repeated hour (a watermark in the first pass does not
// hide the second), in spring it reaches back across the skipped hour.
// checkWatermark has refused a wm after every wall time shown by now, so
// the start is never after now.
func window(wm time.Time, lookBack time.Duration, now time.Time) (from, to time.Time) {
	start := regclock.EarliestInstant(regclock.Registry, wm).Add(-lookBack)
	return regclock.WallSpan(regclock.Registry, start, now)
}

// poll publishes one CorpEvent per corporation affected by the events not
// yet seen in the window (watermark − look-back to now, in real time), then
// records them and advances the watermark in one transaction (rules 2 and
// 3).
func (s *service) poll(ctx context.Context, edb *pgxpool.Conn, wm regevent.Position) error {
	start := time.Now()
	instant := s.hooks.Now()
	if err := checkWatermark(wm, instant); err != nil {
		s.refused.Store(&err)
		s.m.polls.WithLabelValues("refused").Inc()
		s.log.Error("watermark refused", zap.Error(err))
		s.report(ctx, alert.KeyWatermarkRefused, alert.Error, "event-poller: "+err.Error())
		if s.cfg.Once {
			return err
		}
		return nil
	}
	s.refused.Store(nil)
	from, now := window(wm.Date.Time, s.cfg.LookBack, instant)

	found, err := s.discover(ctx, edb, from, now)
	if err != nil {
		s.m.polls.WithLabelValues("error").Inc()
		return err
	}
	s.m.lag.Set(now.Sub(regevent.Max(wm, found.newest).Date.Time).Seconds())
	if len(found.newEvents) == 0 {
		s.m.polls.WithLabelValues("quiet").Inc()
		s.m.duration.Observe(time.Since(start).Seconds())
		s.log.Debug("poll: no new events", zap.Stringer("from", regclock.NewLocalTime(from)))
		return nil
	}
	newWm := regevent.Max(wm, found.newest)
	log := s.log.With(zap.Int64("watermark_event_id", newWm.EventID), zap.Stringer("watermark_date", newWm.Date))
	switch n := len(found.corps); {
	case n > s.cfg.ErrorCorps:
		log.Error("poll found an unusually large number of corporations; proceeding", zap.Int("corporations", n), zap.Int("threshold", s.cfg.ErrorCorps))
		s.report(ctx, alert.KeyPollSize, alert.Error, fmt.Sprintf("event-poller: one poll found %d corporations (more than %d); proceeding", n, s.cfg.ErrorCorps))
	case n > s.cfg.WarnCorps:
		log.Warn("poll found a large number of corporations; proceeding", zap.Int("corporations", n), zap.Int("threshold", s.cfg.WarnCorps))
		s.report(ctx, alert.KeyPollSize, alert.Warning, fmt.Sprintf("event-poller: one poll found %d corporations (more than %d); proceeding", n, s.cfg.WarnCorps))
	}

	prev := regevent.At(wm.EventID, from)
	detected := time.Now()
	out := make([]bus.Outgoing, 0, len(found.corps))
	for _, a := range found.corps {
		o, err := bus.CorpEventMsg(messages.NewPollEvent(system, a.CorpNum, prev, newWm, detected), PollMsgID(system, a.CorpNum, a.EventIDs))
		if err != nil {
			return err
		}
		log.Debug("corporation affected", zap.String("corp_num", a.CorpNum), zap.String("msg_id", o.MsgID),
			zap.Int64s("event_ids", a.EventIDs))
		out = append(out, o)
	}
	if err := s.publish(ctx, out); err != nil {
		s.m.polls.WithLabelValues("error").Inc()
		return fmt.Errorf("poll: %w (watermark not moved)", err)
	}
	s.m.published.WithLabelValues(messages.ReasonEvent).Add(float64(len(out)))
	if err := s.afterPublish(StepPoll); err != nil {
		return err
	}
	horizon := regclock.Horizon(regclock.Registry, newWm.Date.Time, s.cfg.LookBack)
	if err := discovery.AdvanceWatermark(ctx, edb, system, newWm, found.newEvents, horizon); err != nil {
		s.m.polls.WithLabelValues("error").Inc()
		return fmt.Errorf("poll: published %d CorpEvents, then: %w (they will be re-published, de-duplicated by id)", len(out), err)
	}
	s.seen.add(found.newEvents, horizon)
	s.m.polls.WithLabelValues("ok").Inc()
	s.m.newEvents.Add(float64(len(found.newEvents)))
	s.m.corps.Add(float64(len(found.corps)))
	s.m.lag.Set(now.Sub(newWm.Date.Time).Seconds())
	s.m.duration.Observe(time.Since(start).Seconds())
	log.Info("poll published", zap.Int("new_events", len(found.newEvents)), zap.Int("corporations", len(found.corps)),
		zap.Duration("took", time.Since(start)))
	return nil
}

// findings are what a poll found.
type findings struct {
	newEvents []regevent.Event  // not yet in event_seen
	newest    regevent.Position // the newest event of the window (zero if none)
	corps     []affected
}

// discover reads the window's events and the links of the new ones in one
// consistent view of the registry.
func (s *service) discover(ctx context.Context, edb *pgxpool.Conn, from, now time.Time) (*findings, error) {
	d := &findings{}
	err := pgx.BeginTxFunc(ctx, s.src, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		events, err := sourcedb.DiscoverEvents(ctx, tx, from, now)
		if err != nil {
			return err
		}
		for _, e := range events {
			d.newest = regevent.Max(d.newest, e.Position)
		}
		if d.newEvents, err = s.unseen(ctx, edb, events); err != nil {
			return err
		}
		if len(d.newEvents) == 0 {
			return nil
		}
		ids := make([]int64, 0, len(d.newEvents))
		var first []string
		for _, e := range d.newEvents {
			ids = append(ids, e.EventID)
			if blank(e.CorpNum) {
				s.log.Warn("event without a corporation number skipped", zap.Int64("event_id", e.EventID),
					zap.Stringer("event_date", e.Date))
				continue
			}
			first = append(first, e.CorpNum)
		}
		states, err := sourcedb.DiscoverStateLinks(ctx, tx, ids)
		if err != nil {
			return err
		}
		for _, l := range states {
			first = append(first, l.CorpNum)
		}
		firms, err := sourcedb.DiscoverFirmLinks(ctx, tx, first)
		if err != nil {
			return err
		}
		d.corps = affectedCorps(d.newEvents, states, firms)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	return d, nil
}

// unseen returns the events of the window not yet in event_seen. Those
// this replica knows to be there are not asked about again: every poll
// reads the whole look-back window, and a quiet one at a 1 s interval would
// otherwise send it all to event_seen every second.
func (s *service) unseen(ctx context.Context, edb *pgxpool.Conn, events []regevent.Event) ([]regevent.Event, error) {
	ask := s.seen.unknown(events)
	unseen, err := discovery.UnseenEvents(ctx, edb, system, ask)
	if err != nil {
		return nil, err
	}
	s.seen.addSeen(ask, unseen)
	return unseen, nil
}

// afterPublish runs Hooks.AfterPublish.
func (s *service) afterPublish(step string) error {
	if s.hooks.AfterPublish == nil {
		return nil
	}
	if err := s.hooks.AfterPublish(step); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}
