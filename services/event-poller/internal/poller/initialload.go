package poller

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// noteNewest reads the newest event not after now and the look-back
// window's events behind it: the position a load (or a skip) starts from.
func (s *service) noteNewest(ctx context.Context) (wm eventdb.Watermark, window []eventdb.SeenEvent, ok bool, err error) {
	newest, ok, err := source.DiscoverNewestEvent(ctx, s.src, s.hooks.now())
	if err != nil || !ok {
		return wm, nil, ok, err
	}
	wm = eventdb.Watermark{EventID: newest.EventID, EventDate: newest.Timestamp}
	events, err := source.DiscoverEvents(ctx, s.src, wm.EventDate.Add(-s.cfg.LookBack), wm.EventDate)
	if err != nil {
		return wm, nil, false, err
	}
	for _, e := range events {
		if w := (eventdb.Watermark{EventID: e.EventID, EventDate: e.Timestamp}); !wm.Before(w) {
			window = append(window, eventdb.SeenEvent{EventID: e.EventID, CorpNum: e.CorpNum, EventDate: e.Timestamp})
		}
	}
	return wm, window, true, nil
}

// skipLoad starts from the newest event without loading anything
// (BCREG_INITIAL_LOAD=skip).
func (s *service) skipLoad(ctx context.Context, edb *pgxpool.Conn) error {
	wm, window, ok, err := s.noteNewest(ctx)
	if err != nil {
		return fmt.Errorf("skip initial load: %w", err)
	}
	if !ok {
		s.log.Warn("the registry has no events yet; the watermark is set at the first one")
		return nil
	}
	if err := eventdb.SetWatermark(ctx, edb, system, wm, window); err != nil {
		return err
	}
	s.log.Warn("initial load skipped (BCREG_INITIAL_LOAD=skip): polling from the newest event",
		zap.Int64("watermark_event_id", wm.EventID), zap.Stringer("watermark_date", messages.NewLocalTime(wm.EventDate)))
	return nil
}

// initialLoad publishes a CorpEvent (reason initial-load) for every
// corporation of the registry in corp_num order, recording its progress
// after each page so a restarted poller resumes (resume != nil), then sets
// the watermark to the event noted at the start. The look-back window's
// events as of the start are recorded as seen when the run starts: the first
// poll republishes none of them, but does pick up the events committed
// during the load.
func (s *service) initialLoad(ctx context.Context, edb *pgxpool.Conn, resume *eventdb.InitialLoadRun) error {
	var run eventdb.InitialLoadRun
	if resume != nil {
		run = *resume
		s.log.Info("initial load resumed", zap.Int64("run_id", run.RunID), zap.String("after_corp_num", run.LastCorpNum),
			zap.Int64("published", run.Published), zap.Int64("total", run.Total))
	} else {
		wm, window, ok, err := s.noteNewest(ctx)
		if err != nil {
			return fmt.Errorf("initial load: %w", err)
		}
		if !ok {
			s.log.Warn("the registry has no events yet; the initial load waits for the first")
			return nil
		}
		total, blanks, err := source.DiscoverCorpCount(ctx, s.src)
		if err != nil {
			return fmt.Errorf("initial load: %w", err)
		}
		if blanks > 0 {
			s.log.Warn("corporation rows without a corporation number are skipped", zap.Int64("rows", blanks))
		}
		if run, err = eventdb.StartInitialLoad(ctx, edb, system, wm, total, window); err != nil {
			return err
		}
		s.log.Info("initial load started", zap.Int64("run_id", run.RunID), zap.Int64("total", total),
			zap.Int64("watermark_event_id", wm.EventID), zap.Stringer("watermark_date", messages.NewLocalTime(wm.EventDate)))
	}

	prev := messages.EventRef{EventID: 0, Date: messages.ZeroLocal}
	last := messages.EventRef{EventID: run.Watermark.EventID, Date: messages.NewLocalTime(run.Watermark.EventDate)}
	p := progress{start: time.Now(), base: run.Published}
	for {
		page, err := source.DiscoverCorpNums(ctx, s.src, run.LastCorpNum, s.cfg.LoadPage)
		if err != nil {
			return fmt.Errorf("initial load: %w", err)
		}
		if len(page) == 0 {
			break
		}
		detected := time.Now().UTC()
		out := make([]bus.Outgoing, 0, len(page))
		for _, corp := range page {
			o, err := corpEvent(corp, initMsgID(system, corp, run.RunID), prev, last, messages.ReasonInitialLoad, detected)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		if err := s.publish(ctx, out); err != nil {
			return fmt.Errorf("initial load run %d: %w (resumes after %q)", run.RunID, err, run.LastCorpNum)
		}
		s.m.published.WithLabelValues(messages.ReasonInitialLoad).Add(float64(len(out)))
		if err := s.afterPublish("load-page"); err != nil {
			return err
		}
		run.LastCorpNum = page[len(page)-1]
		run.Published += int64(len(page))
		run.Total = max(run.Total, run.Published)
		if err := eventdb.RecordInitialLoadProgress(ctx, edb, run.RunID, run.LastCorpNum, run.Published, run.Total); err != nil {
			return err
		}
		p.report(s.log, run, false)
	}
	if err := eventdb.FinishInitialLoad(ctx, edb, system, run); err != nil {
		return err
	}
	p.report(s.log, run, true)
	return nil
}

// progress logs an initial load's advance at most every progressEvery.
type progress struct {
	start  time.Time
	base   int64 // published before this process took over
	logged time.Time
}

const progressEvery = 5 * time.Second

func (p *progress) report(log *zap.Logger, run eventdb.InitialLoadRun, done bool) {
	if !done && time.Since(p.logged) < progressEvery {
		return
	}
	p.logged = time.Now()
	elapsed := time.Since(p.start)
	rate := float64(run.Published-p.base) / max(elapsed.Seconds(), 1e-3)
	fields := []zap.Field{zap.Int64("run_id", run.RunID), zap.Int64("done", run.Published), zap.Int64("total", run.Total),
		zap.Float64("per_second", float64(int64(rate*10))/10), zap.String("last_corp_num", run.LastCorpNum),
		zap.Duration("elapsed", elapsed.Round(time.Second))}
	if done {
		log.Info("initial load finished: watermark set", append(fields,
			zap.Int64("watermark_event_id", run.Watermark.EventID))...)
		return
	}
	if rate > 0 {
		eta := time.Duration(float64(run.Total-run.Published) / rate * float64(time.Second))
		fields = append(fields, zap.Duration("eta", eta.Round(time.Second)))
	}
	log.Info("initial load progress", fields...)
}
