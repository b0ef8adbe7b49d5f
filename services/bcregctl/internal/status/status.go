// Package status gathers the pipeline's figures from the event database,
// JetStream and (when it can be read) the registry into one report: what
// the original's status script printed (processed, outstanding and failed
// rows per work table, the 20 most recent errors) plus the streams' lag,
// the dead letters, the registry's lead over the watermark and the posting
// rate with an ETA. It renders the report for a terminal or as JSON, and
// says when the backlog is empty. `bcregctl status`, the `make run`
// launcher and the console all use this code. Every read is a SELECT, so a
// read-only role on the event database suffices.
package status

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
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
	At      time.Time              `json:"at"`
	Source  *Source                `json:"source,omitempty"`
	EventDB eventdb.PipelineCounts `json:"event_db"`
	Events  Stream                 `json:"events_stream"`
	Creds   Stream                 `json:"creds_stream"`
	DLQ     DLQ                    `json:"dlq"`
	// Abandoned are outstanding credentials whose bundle left BCREG_CREDS
	// without an answer, not yet handed back by the builders' sweep (read
	// only with JetStream).
	Abandoned    *outbox.Abandoned     `json:"abandoned,omitempty"`
	Throughput   Throughput            `json:"throughput"`
	RecentErrors []eventdb.RecentError `json:"recent_errors"`
	Received     *int64                `json:"agent_received,omitempty"`
}

// Inputs say where to read.
type Inputs struct {
	EventDB eventdb.Querier
	// JS is JetStream; nil gives database figures only.
	JS jetstream.JetStream
	// Source is the registry; nil leaves Report.Source out, unless
	// SourceErr says why it could not be opened.
	Source    source.DiscoverQuerier
	SourceErr error
	// Now returns the BC local wall clock (default: the clock).
	Now func() time.Time
	// Errors is how many recent errors to list (default 20, as the
	// original's report); Window how many minutes the rate covers
	// (default 10).
	Errors, Window int
}

// Collect reads the figures of the event database and, when js is not nil,
// of JetStream.
func Collect(ctx context.Context, db eventdb.Querier, js jetstream.JetStream) (Report, error) {
	return CollectWith(ctx, Inputs{EventDB: db, JS: js})
}

// CollectWith reads the figures from the inputs given.
func CollectWith(ctx context.Context, in Inputs) (Report, error) {
	if in.Now == nil {
		in.Now = regclock.Now
	}
	if in.Errors <= 0 {
		in.Errors = 20
	}
	if in.Window <= 0 {
		in.Window = 10
	}
	r := Report{At: time.Now().UTC()}
	var err error
	if r.EventDB, err = eventdb.Counts(ctx, in.EventDB); err != nil {
		return r, err
	}
	perMinute, err := eventdb.PostedPerMinute(ctx, in.EventDB, in.Window)
	if err != nil {
		return r, err
	}
	r.Throughput = throughput(perMinute, r.EventDB.Tables["credential_log"].Outstanding)
	if r.RecentErrors, err = eventdb.RecentErrors(ctx, in.EventDB, in.Errors); err != nil {
		return r, err
	}
	switch {
	case in.Source != nil:
		r.Source = readSource(ctx, in.Source, r.EventDB, in.Now())
	case in.SourceErr != nil:
		r.Source = &Source{Error: in.SourceErr.Error()}
	}
	if in.JS == nil {
		return r, nil
	}
	if r.Events, err = bus.ReadStage(ctx, in.JS, bus.StreamEvents, bus.ConsumerBuilder); err != nil {
		return r, err
	}
	if r.Creds, err = bus.ReadStage(ctx, in.JS, bus.StreamCreds, bus.ConsumerPoster); err != nil {
		return r, err
	}
	if r.DLQ, err = bus.ReadDLQ(ctx, in.JS); err != nil {
		return r, err
	}
	ab, err := outbox.FindAbandoned(ctx, in.EventDB, in.JS, messages.SystemBCReg, 0)
	if err != nil {
		return r, err
	}
	r.Abandoned = &ab
	return r, nil
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

// readSource compares the registry's newest event with the watermark; an
// unreadable registry is reported, not fatal (the registry is optional).
func readSource(ctx context.Context, q source.DiscoverQuerier, pc eventdb.PipelineCounts, now time.Time) *Source {
	s := &Source{}
	newest, ok, err := source.DiscoverNewestEvent(ctx, q, now)
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
	wm := regevent.Start
	if pc.WatermarkEventID > 0 && pc.WatermarkEventDate != nil {
		wm = regevent.At(pc.WatermarkEventID, *pc.WatermarkEventDate)
	}
	b, err := source.DiscoverBacklog(ctx, q, wm, now)
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
