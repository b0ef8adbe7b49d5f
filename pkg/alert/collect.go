package alert

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Sources are where Collect reads the figures.
type Sources struct {
	System  string
	EventDB eventdb.Querier
	// Source is the registry; nil skips the watermark check.
	Source source.DiscoverQuerier
	JS     jetstream.JetStream
	// LocalNow returns the BC local wall clock (naive).
	LocalNow func() time.Time
}

// readTimeout bounds each read, so a hung dependency delays an evaluation
// by seconds, not forever.
const readTimeout = 10 * time.Second

// Collect reads the figures the rules need; what cannot be read is left
// nil and named in Problems (with the setting that points at it).
func Collect(ctx context.Context, s Sources) Figures {
	f := Figures{Instant: time.Now(), LocalNow: s.LocalNow()}
	read := func(what string, fn func(ctx context.Context) error) {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		if err := fn(rctx); err != nil && ctx.Err() == nil {
			f.Problems = append(f.Problems, Problem{What: what, Err: err})
		}
	}
	read("the event database (BCREG_EVENT_DB_URL)", func(ctx context.Context) error {
		db, err := eventdb.ReadAlertFigures(ctx, s.EventDB)
		if err != nil {
			return err
		}
		wm, ok, err := eventdb.CurrentWatermark(ctx, s.EventDB, s.System)
		if err != nil {
			return err
		}
		if ok {
			f.Watermark = &wm
		}
		errs, err := eventdb.RecentErrors(ctx, s.EventDB, 1)
		if err != nil {
			return err
		}
		if len(errs) > 0 {
			f.LatestError = errs[0].CorpNum + ": " + errs[0].Message
		}
		f.DB = &db
		return nil
	})
	read("NATS JetStream (BCREG_NATS_URL)", func(ctx context.Context) error {
		ev, err := bus.ReadStage(ctx, s.JS, bus.StreamEvents, bus.ConsumerBuilder)
		if err != nil {
			return err
		}
		cr, err := bus.ReadStage(ctx, s.JS, bus.StreamCreds, bus.ConsumerPoster)
		if err != nil {
			return err
		}
		d, err := bus.ReadDLQ(ctx, s.JS)
		if err != nil {
			return err
		}
		ab, err := outbox.FindAbandoned(ctx, s.EventDB, s.JS, s.System, 0)
		if err != nil {
			return err
		}
		f.Events, f.Creds, f.DLQ, f.Abandoned = &ev, &cr, &d, &ab
		return nil
	})
	if s.Source != nil {
		read("the registry database (BCREG_SOURCE_DB_URL)", func(ctx context.Context) error {
			e, ok, err := source.DiscoverNewestEvent(ctx, s.Source, f.LocalNow)
			if err != nil {
				return err
			}
			if ok {
				f.SourceNewest = &e.Date.Time
			}
			return nil
		})
	}
	return f
}
