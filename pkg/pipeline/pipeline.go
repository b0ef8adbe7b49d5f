// Package pipeline reads the pipeline's figures, once, for every reader:
// `bcregctl status`, the console (its pages, its charts' samples and their
// metrics) and the event-poller's alert rules. A Report holds what the
// original's status script printed (processed, outstanding and failed rows
// per work table, the 20 most recent errors) plus the streams' lag, the
// dead letters, the abandoned and released credentials, the registry's
// lead over the watermark and the posting rate with an ETA.
//
// Each source (the event database, NATS, the registry) is read with a
// timeout; what could not be read is named in Report.Problems, so a reader
// decides what an unreadable source means: status and the console fail
// without the event database or NATS (Report.Err), the alerts send an
// "unreachable" alert and judge the rest. Every read is a SELECT, so a
// read-only role on the event database suffices.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// Stream is a work stream and its consumer as the operator sees them.
type Stream = bus.StageState

// DLQ summarises the dead-letter stream.
type DLQ = bus.DLQState

// Source is the registry's lead over the watermark.
type Source struct {
	// Read is false when the registry could not be read (Error says why).
	Read  bool   `json:"read"`
	Error string `json:"error,omitempty"`
	// NewestEventID and NewestEventDate are the registry's newest event
	// not in the future (naive BC local time).
	NewestEventID   int64      `json:"newest_event_id,omitempty"`
	NewestEventDate *time.Time `json:"newest_event_date,omitempty"`
	// EventsBehind counts the events after the watermark; SecondsBehind
	// is how much newer the newest of them is.
	EventsBehind  int64   `json:"events_behind"`
	SecondsBehind float64 `json:"seconds_behind"`
}

// Throughput is the posting rate and what it means for the backlog.
type Throughput struct {
	WindowMinutes int `json:"window_minutes"`
	// PostedPerMinute are the credentials the agent answered (Y or N) per
	// minute, the last 60 seconds first.
	PostedPerMinute []int64 `json:"posted_per_minute"`
	// PerMinute is their average over the window.
	PerMinute float64 `json:"per_minute"`
	// Backlog is the outstanding credentials; ETASeconds the time to post
	// them at PerMinute (absent while nothing is being posted).
	Backlog    int64    `json:"backlog"`
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
}

// Report is one snapshot of the pipeline.
type Report struct {
	At      time.Time               `json:"at"`
	Source  *Source                 `json:"source,omitempty"`
	EventDB operator.PipelineCounts `json:"event_db"`
	Events  Stream                  `json:"events_stream"`
	Creds   Stream                  `json:"creds_stream"`
	DLQ     DLQ                     `json:"dlq"`
	// Abandoned are outstanding credentials whose bundle left BCREG_CREDS
	// without an answer, not yet handed back by the builders' sweep (read
	// only with JetStream).
	Abandoned    *outbox.Abandoned      `json:"abandoned,omitempty"`
	Throughput   Throughput             `json:"throughput"`
	RecentErrors []operator.RecentError `json:"recent_errors"`
	Received     *int64                 `json:"agent_received,omitempty"`
	// Manage answers the manage script's status commands (read when
	// Sources.ManageSince is set: `bcregctl status`).
	Manage *operator.ManageFigures `json:"manage,omitempty"`
	// Problems name the sources that could not be read; their figures are
	// zero (or absent).
	Problems []Problem `json:"-"`
}

// Dependency is a source of figures, named with the setting that points
// at it.
type Dependency string

// The sources.
const (
	EventDB  Dependency = "the event database (BCREG_EVENT_DB_URL)"
	NATS     Dependency = "NATS JetStream (BCREG_NATS_URL)"
	Registry Dependency = "the registry database (BCREG_SOURCE_DB_URL)"
)

// Problem is a source the figures could not be read from.
type Problem struct {
	Of  Dependency
	Err error
}

// Unread reports whether d could not be read.
func (r Report) Unread(d Dependency) bool {
	for _, p := range r.Problems {
		if p.Of == d {
			return true
		}
	}
	return false
}

// Err is the failure to read the event database or NATS, without which a
// report is not worth showing; nil when both were read. An unreadable
// registry is shown in Source instead.
func (r Report) Err() error {
	var errs []error
	for _, p := range r.Problems {
		if p.Of != Registry {
			errs = append(errs, fmt.Errorf("read %s: %w", p.Of, p.Err))
		}
	}
	return errors.Join(errs...)
}

// Sources say where to read.
type Sources struct {
	EventDB eventdb.Querier
	// System is the registry's system_type_cd (default BC_REG).
	System string
	// JS is JetStream; nil leaves the stream figures zero (database
	// figures only).
	JS jetstream.JetStream
	// Source is the registry; nil leaves Report.Source out, unless
	// SourceErr says why it could not be opened.
	Source    sourcedb.DiscoverQuerier
	SourceErr error
	// Now returns the BC local wall clock (default: the registry's clock).
	Now func() time.Time
	// Errors is how many recent errors to list (default 20, as the
	// original's report); Window how many minutes the rate covers
	// (default 10).
	Errors, Window int
	// Scope is what operator.Counts reads (default operator.CountAll);
	// CountState also leaves out the registry's count of events behind
	// the watermark (Source.EventsBehind and SecondsBehind stay zero).
	Scope operator.CountScope
	// Timeout bounds the reading of each source, so a hung dependency
	// delays a report by seconds, not forever (default 10s).
	Timeout time.Duration
	// SkipAbandoned leaves Report.Abandoned out: finding them reads a
	// message per delivered, unacknowledged bundle (outbox.FindAbandoned),
	// which a reader that never shows them (the console's samples) should
	// not pay for every few seconds.
	SkipAbandoned bool
	// ManageSince, when set, adds Report.Manage with its windows from
	// then: the record counts scan every table, so only status asks.
	ManageSince *time.Time
}

// Collect reads the figures of the event database and, when js is not nil,
// of JetStream; it fails when either cannot be read.
func Collect(ctx context.Context, db eventdb.Querier, js jetstream.JetStream) (Report, error) {
	r := Read(ctx, Sources{EventDB: db, JS: js})
	return r, r.Err()
}

// Read reads the figures from the sources given; what could not be read
// is named in Problems.
func Read(ctx context.Context, in Sources) Report {
	if in.System == "" {
		in.System = messages.SystemBCReg
	}
	if in.Now == nil {
		in.Now = regclock.Now
	}
	if in.Errors <= 0 {
		in.Errors = 20
	}
	if in.Window <= 0 {
		in.Window = 10
	}
	if in.Scope == 0 {
		in.Scope = operator.CountAll
	}
	if in.Timeout <= 0 {
		in.Timeout = 10 * time.Second
	}
	r := Report{At: time.Now().UTC()}
	read := func(d Dependency, fn func(ctx context.Context) error) {
		rctx, cancel := context.WithTimeout(ctx, in.Timeout)
		defer cancel()
		if err := fn(rctx); err != nil {
			r.Problems = append(r.Problems, Problem{Of: d, Err: err})
		}
	}
	read(EventDB, func(ctx context.Context) error { return readEventDB(ctx, in, &r) })
	switch {
	case in.Source != nil:
		read(Registry, func(ctx context.Context) error {
			// Without the watermark, or for the alerts (CountState), the
			// count of events behind would count the registry's history.
			countBehind := in.Scope == operator.CountAll && !r.Unread(EventDB)
			r.Source = readSource(ctx, in.Source, r.EventDB, in.Now(), countBehind)
			if r.Source.Error != "" {
				return errors.New(r.Source.Error)
			}
			return nil
		})
	case in.SourceErr != nil:
		r.Source = &Source{Error: in.SourceErr.Error()}
		r.Problems = append(r.Problems, Problem{Of: Registry, Err: in.SourceErr})
	}
	if in.JS != nil {
		read(NATS, func(ctx context.Context) error { return readStreams(ctx, in, &r) })
	}
	return r
}

func readEventDB(ctx context.Context, in Sources, r *Report) error {
	pc, err := operator.Counts(ctx, in.EventDB, in.System, in.Scope)
	if err != nil {
		return err
	}
	perMinute, err := operator.PostedPerMinute(ctx, in.EventDB, in.Window)
	if err != nil {
		return err
	}
	recent, err := operator.RecentErrors(ctx, in.EventDB, in.Errors)
	if err != nil {
		return err
	}
	r.EventDB, r.RecentErrors = pc, recent
	r.Throughput = throughput(perMinute, pc.Tables["credential_log"].Outstanding)
	if in.ManageSince != nil {
		m, err := operator.Manage(ctx, in.EventDB, *in.ManageSince)
		if err != nil {
			return err
		}
		r.Manage = &m
	}
	return nil
}

func readStreams(ctx context.Context, in Sources, r *Report) error {
	ev, err := bus.ReadStage(ctx, in.JS, bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		return err
	}
	cr, err := bus.ReadStage(ctx, in.JS, bus.StreamCreds, bus.ConsumerPoster)
	if err != nil {
		return err
	}
	d, err := bus.ReadDLQ(ctx, in.JS)
	if err != nil {
		return err
	}
	r.Events, r.Creds, r.DLQ = ev, cr, d
	if in.SkipAbandoned {
		return nil
	}
	ab, err := outbox.FindAbandoned(ctx, in.EventDB, in.JS, in.System, 0)
	if err != nil {
		return err
	}
	r.Abandoned = &ab
	return nil
}

func throughput(perMinute []int64, backlog int64) Throughput {
	t := Throughput{WindowMinutes: len(perMinute), PostedPerMinute: perMinute, Backlog: backlog}
	var sum int64
	for _, n := range perMinute {
		sum += n
	}
	if len(perMinute) > 0 {
		t.PerMinute = float64(sum) / float64(len(perMinute))
	}
	if t.PerMinute > 0 {
		eta := float64(backlog) / t.PerMinute * 60
		t.ETASeconds = &eta
	}
	return t
}

// readSource reads the registry's newest event and, with countBehind, how
// far it is ahead of the watermark; an unreadable registry is reported in
// Source.Error.
func readSource(ctx context.Context, q sourcedb.DiscoverQuerier, pc operator.PipelineCounts, now time.Time, countBehind bool) *Source {
	s := &Source{}
	newest, ok, err := sourcedb.DiscoverNewestEvent(ctx, q, now)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Read = true
	if !ok {
		return s
	}
	s.NewestEventID = newest.EventID
	d := newest.Date.Time
	s.NewestEventDate = &d
	if !countBehind {
		return s
	}
	wm := regevent.Start
	if pc.WatermarkEventID > 0 && pc.WatermarkEventDate != nil {
		wm = regevent.At(pc.WatermarkEventID, *pc.WatermarkEventDate)
	}
	b, err := sourcedb.DiscoverBacklog(ctx, q, wm, now)
	if err != nil {
		s.Read, s.Error = false, err.Error()
		return s
	}
	s.EventsBehind = b.Events
	if b.HasNewer && wm.EventID > 0 {
		s.SecondsBehind = b.Newest.Date.Sub(wm.Date.Time).Seconds()
	}
	return s
}

// Idle reports whether nothing is left to do: no initial load running,
// nothing pending or in flight on either stream, no work item outstanding,
// and no due credential unposted or unpublished.
func (r Report) Idle() bool {
	cl := r.EventDB.Tables["credential_log"]
	eb := r.EventDB.Tables["event_by_corp_filing"]
	return r.EventDB.WatermarkEventID > 0 && !r.EventDB.InitialLoadRunning &&
		r.Events.Messages == 0 && r.Events.InFlight == 0 &&
		r.Creds.Messages == 0 && r.Creds.InFlight == 0 &&
		eb.Outstanding == 0 && cl.Outstanding == 0 && cl.Unpublished == 0
}
