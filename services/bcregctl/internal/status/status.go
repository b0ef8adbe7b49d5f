// Package status gathers the pipeline's figures from the event database and
// JetStream into one report (what the original's status script printed, plus
// the streams' lag and the dead letters), renders it for a terminal or as
// JSON, and says when the backlog is empty. `bcregctl status`, the `make run`
// launcher and the console all use this code.
package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// Stream is a work stream and its consumer as the operator sees them.
type Stream struct {
	Messages    uint64 `json:"messages"`
	Pending     uint64 `json:"pending"`     // not yet delivered to a consumer
	InFlight    int    `json:"in_flight"`   // delivered, not yet acked
	Redelivered int    `json:"redelivered"` // delivered more than once, not yet acked
	Waiting     int    `json:"waiting_pulls"`
}

// DLQ summarises the dead-letter stream.
type DLQ struct {
	Total   uint64            `json:"total"`
	ByStage map[string]uint64 `json:"by_stage"`
	Oldest  *time.Time        `json:"oldest,omitempty"`
}

// Report is one snapshot of the pipeline.
type Report struct {
	At       time.Time              `json:"at"`
	EventDB  eventdb.PipelineCounts `json:"event_db"`
	Events   Stream                 `json:"events_stream"`
	Creds    Stream                 `json:"creds_stream"`
	DLQ      DLQ                    `json:"dlq"`
	Received *int64                 `json:"agent_received,omitempty"`
}

// rowQuerier is a pool, connection or transaction; read-only rights suffice.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Collect reads the figures. js may be nil (database figures only).
func Collect(ctx context.Context, db rowQuerier, js jetstream.JetStream) (Report, error) {
	r := Report{At: time.Now().UTC()}
	var err error
	if r.EventDB, err = eventdb.Counts(ctx, db); err != nil {
		return r, err
	}
	if js == nil {
		return r, nil
	}
	if r.Events, err = streamStage(ctx, js, bus.StreamEvents, bus.ConsumerBuilder); err != nil {
		return r, err
	}
	if r.Creds, err = streamStage(ctx, js, bus.StreamCreds, bus.ConsumerPoster); err != nil {
		return r, err
	}
	r.DLQ, err = dlq(ctx, js)
	return r, err
}

func streamStage(ctx context.Context, js jetstream.JetStream, stream, consumer string) (Stream, error) {
	var s Stream
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return s, fmt.Errorf("status: stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("status: stream %s: %w", stream, err)
	}
	s.Messages = info.State.Msgs
	c, err := st.Consumer(ctx, consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.Pending = info.State.Msgs
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("status: consumer %s: %w", consumer, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("status: consumer %s: %w", consumer, err)
	}
	s.Pending, s.InFlight, s.Redelivered, s.Waiting = ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting
	return s, nil
}

func dlq(ctx context.Context, js jetstream.JetStream) (DLQ, error) {
	d := DLQ{ByStage: map[string]uint64{}}
	st, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		return d, fmt.Errorf("status: stream %s: %w", bus.StreamDLQ, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(bus.DLQPrefix+".>"))
	if err != nil {
		return d, fmt.Errorf("status: stream %s: %w", bus.StreamDLQ, err)
	}
	d.Total = info.State.Msgs
	for subj, n := range info.State.Subjects {
		parts := strings.Split(subj, ".")
		if len(parts) > 2 {
			d.ByStage[parts[2]] += n
		}
	}
	if d.Total > 0 {
		t := info.State.FirstTime
		d.Oldest = &t
	}
	return d, nil
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
