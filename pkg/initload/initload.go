// Package initload is the initial load of docs/design/poller-builder.md: one
// CorpEvent (reason initial-load) per corporation of the registry, in
// corp_num byte order, a page at a time, its progress recorded after each
// page's PubAcks so a restarted load resumes, and the watermark set at the
// end to the newest event noted at the start. The event-poller runs it on a
// first start; `bcregctl initial-load` runs it on demand. Both hold the
// poller's advisory lock while they do, and pass a connection of that lock's
// session, so the two never overlap.
package initload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// EventDB is what the load writes through: the lock session's connection.
type EventDB interface {
	eventdb.Querier
	eventdb.TxBeginner
}

// Options configure a load.
type Options struct {
	System   string
	Source   sourcedb.DiscoverQuerier
	EventDB  EventDB
	LookBack time.Duration
	// Page is how many corporations are published (and the progress
	// recorded) at a time.
	Page int
	// Now returns the naive BC local time.
	Now func() time.Time
	// Publish stores a page's CorpEvents, returning only when every
	// PubAck arrived (bus.PublishRounds, with the caller's stall logging).
	Publish func(ctx context.Context, msgs []bus.Outgoing) error
	// AfterPage, when set, runs after a page's PubAcks and before its
	// progress is recorded; an error stops the load there (as a crash).
	AfterPage func(published int) error
	// OnProgress, when set, is called after every page and at the end;
	// otherwise progress is logged every 5 seconds.
	OnProgress func(Progress)
	Log        *zap.Logger
}

// Progress is where a load stands.
type Progress struct {
	RunID       int64
	Published   int64
	Total       int64
	LastCorpNum string
	// PerSecond is the rate of this process (not counting what a previous
	// one published before a resume).
	PerSecond float64
	Elapsed   time.Duration
	// ETA is the estimated time left (0 when unknown or finished).
	ETA      time.Duration
	Finished bool
}

// ErrNoEvents reports a registry without a single event: no position to
// start from.
var ErrNoEvents = errors.New("the registry has no events yet")

// NoteNewest reads the newest event not after now and the look-back
// window's events behind it: the position a load (or a skip, or an
// adoption) starts from. ok is false when the registry has no events.
func NoteNewest(ctx context.Context, src sourcedb.DiscoverQuerier, now time.Time, lookBack time.Duration) (wm regevent.Position, window []regevent.Event, ok bool, err error) {
	newest, ok, err := sourcedb.DiscoverNewestEvent(ctx, src, now)
	if err != nil || !ok {
		return wm, nil, ok, err
	}
	wm = newest.Position
	if window, err = Window(ctx, src, wm, lookBack); err != nil {
		return wm, nil, false, err
	}
	return wm, window, true, nil
}

// Window returns the events of the look-back window behind wm (at or
// before it): the events a start from wm must record as seen so the first
// poll does not republish them.
func Window(ctx context.Context, src sourcedb.DiscoverQuerier, wm regevent.Position, lookBack time.Duration) ([]regevent.Event, error) {
	events, err := sourcedb.DiscoverEvents(ctx, src, wm.Date.Add(-lookBack), wm.Date.Time)
	if err != nil {
		return nil, err
	}
	var window []regevent.Event
	for _, e := range events {
		if !wm.Before(e.Position) {
			window = append(window, e)
		}
	}
	return window, nil
}

// Run resumes the system's unfinished load, or starts a new one, and runs
// it to the end: the watermark is then the event noted at the start. It
// returns ErrNoEvents (nothing done) when the registry has no events.
func Run(ctx context.Context, o Options) (discovery.InitialLoadRun, error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Page < 1 {
		o.Page = 1000
	}
	run, resumed, err := discovery.UnfinishedInitialLoad(ctx, o.EventDB, o.System)
	if err != nil {
		return run, err
	}
	if resumed {
		o.Log.Info("initial load resumed", zap.Int64("run_id", run.RunID), zap.String("after_corp_num", run.LastCorpNum),
			zap.Int64("published", run.Published), zap.Int64("total", run.Total))
	} else if run, err = start(ctx, o); err != nil {
		return run, err
	}

	// The look-back window's events as of the start were recorded as
	// seen when the run started: the first poll republishes none of
	// them, but does pick up the events committed during the load.
	last := run.Watermark
	p := tracker{start: time.Now(), base: run.Published, o: o}
	for {
		page, err := sourcedb.DiscoverCorpNums(ctx, o.Source, run.LastCorpNum, o.Page)
		if err != nil {
			return run, fmt.Errorf("initial load: %w", err)
		}
		if len(page) == 0 {
			break
		}
		detected := time.Now()
		out := make([]bus.Outgoing, 0, len(page))
		for _, corp := range page {
			m, err := bus.CorpEventMsg(messages.NewInitialLoadEvent(o.System, corp, last, detected), messages.InitialLoadMsgID(o.System, corp, run.RunID))
			if err != nil {
				return run, err
			}
			out = append(out, m)
		}
		if err := o.Publish(ctx, out); err != nil {
			return run, fmt.Errorf("initial load run %d: %w (resumes after %q)", run.RunID, err, run.LastCorpNum)
		}
		if o.AfterPage != nil {
			if err := o.AfterPage(len(out)); err != nil {
				return run, err
			}
		}
		run.LastCorpNum = page[len(page)-1]
		run.Published += int64(len(page))
		run.Total = max(run.Total, run.Published)
		if err := discovery.RecordInitialLoadProgress(ctx, o.EventDB, run.RunID, run.LastCorpNum, run.Published, run.Total); err != nil {
			return run, err
		}
		p.report(run, false)
	}
	if err := discovery.FinishInitialLoad(ctx, o.EventDB, o.System, run); err != nil {
		return run, err
	}
	p.report(run, true)
	return run, nil
}

// start notes the newest event and the corporation count, and records a
// new run with the look-back window's events as seen.
func start(ctx context.Context, o Options) (discovery.InitialLoadRun, error) {
	wm, window, ok, err := NoteNewest(ctx, o.Source, o.Now(), o.LookBack)
	if err != nil {
		return discovery.InitialLoadRun{}, fmt.Errorf("initial load: %w", err)
	}
	if !ok {
		return discovery.InitialLoadRun{}, ErrNoEvents
	}
	total, blanks, err := sourcedb.DiscoverCorpCount(ctx, o.Source)
	if err != nil {
		return discovery.InitialLoadRun{}, fmt.Errorf("initial load: %w", err)
	}
	if blanks > 0 {
		o.Log.Warn("corporation rows without a corporation number are skipped", zap.Int64("rows", blanks))
	}
	run, err := discovery.StartInitialLoad(ctx, o.EventDB, o.System, wm, total, window)
	if err != nil {
		return run, err
	}
	o.Log.Info("initial load started", zap.Int64("run_id", run.RunID), zap.Int64("total", total),
		zap.Int64("watermark_event_id", wm.EventID), zap.Stringer("watermark_date", wm.Date))
	return run, nil
}

// tracker measures a load's advance and reports it.
type tracker struct {
	start  time.Time
	base   int64 // published before this process took over
	logged time.Time
	o      Options
}

const logEvery = 5 * time.Second

func (t *tracker) report(run discovery.InitialLoadRun, done bool) {
	elapsed := time.Since(t.start)
	rate := float64(run.Published-t.base) / max(elapsed.Seconds(), 1e-3)
	p := Progress{RunID: run.RunID, Published: run.Published, Total: run.Total, LastCorpNum: run.LastCorpNum,
		PerSecond: rate, Elapsed: elapsed, Finished: done}
	if !done && rate > 0 {
		p.ETA = time.Duration(float64(run.Total-run.Published) / rate * float64(time.Second))
	}
	if t.o.OnProgress != nil {
		t.o.OnProgress(p)
		return
	}
	if !done && time.Since(t.logged) < logEvery {
		return
	}
	t.logged = time.Now()
	fields := []zap.Field{zap.Int64("run_id", run.RunID), zap.Int64("done", run.Published), zap.Int64("total", run.Total),
		zap.Float64("per_second", float64(int64(rate*10))/10), zap.String("last_corp_num", run.LastCorpNum),
		zap.Duration("elapsed", elapsed.Round(time.Second))}
	if done {
		t.o.Log.Info("initial load finished: watermark set", append(fields,
			zap.Int64("watermark_event_id", run.Watermark.EventID))...)
		return
	}
	if p.ETA > 0 {
		fields = append(fields, zap.Duration("eta", p.ETA.Round(time.Second)))
	}
	t.o.Log.Info("initial load progress", fields...)
}
