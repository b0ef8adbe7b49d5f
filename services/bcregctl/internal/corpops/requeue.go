// Package corpops is how `bcregctl requeue corp` and the console requeue a
// corporation, one implementation for both: the range rule, the messages,
// and the operator_action they record (docs/design/operator-tooling.md,
// "Requeue a corporation"). `bcregctl adopt` builds its messages here too.
package corpops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// Action is the operator_action a requeue records, whoever asked for it.
const Action = "requeue-corp"

// ErrUnknownCorps marks corporations the registry does not have: a
// mistyped number would only end as a dead letter, so none is requeued.
var ErrUnknownCorps = errors.New("not in the registry (BCREG_SOURCE_DB_URL)")

// Plan returns where the requeue of corps ends (their range is always
// regevent.Start to it) and refuses corporations the registry does not
// have. The end is event eventID when it is above 0, else the registry's
// newest event as of now (on its clock), else (src nil: the registry cannot
// be read) the watermark. db is the event database.
func Plan(ctx context.Context, db eventdb.Querier, src *pgxpool.Pool, corps []string, eventID int64, now time.Time) (regevent.Position, error) {
	if src != nil {
		known, err := sourcedb.DiscoverKnownCorps(ctx, src, corps)
		if err != nil {
			return regevent.Position{}, err
		}
		var unknown []string
		for _, c := range corps {
			if !known[c] {
				unknown = append(unknown, c)
			}
		}
		if len(unknown) > 0 {
			return regevent.Position{}, fmt.Errorf("%w: %s; nothing requeued", ErrUnknownCorps, strings.Join(unknown, ", "))
		}
		if eventID > 0 {
			ts, ok, err := sourcedb.DiscoverEventDate(ctx, src, eventID)
			if err != nil {
				return regevent.Position{}, err
			}
			if !ok {
				return regevent.Position{}, fmt.Errorf("--last-event-id %d: no such event in the registry (BCREG_SOURCE_DB_URL)", eventID)
			}
			return regevent.At(eventID, ts), nil
		}
		newest, ok, err := sourcedb.DiscoverNewestEvent(ctx, src, regclock.At(now))
		if err != nil {
			return regevent.Position{}, err
		}
		if ok {
			return newest.Position, nil
		}
	}
	wm, ok, err := discovery.CurrentWatermark(ctx, db, messages.SystemBCReg)
	if err != nil {
		return regevent.Position{}, err
	}
	if !ok {
		return regevent.Position{}, errors.New("no range end: the registry has no event to end at and there is no watermark yet")
	}
	return wm, nil
}

// Messages returns a requeue CorpEvent per corporation over (Start, last]
// and their message ids (bus.RequeueMsgs).
func Messages(corps []string, last regevent.Position, now time.Time) ([]bus.Outgoing, []string, error) {
	return bus.RequeueMsgs(messages.SystemBCReg, corps, last, now)
}

// Publish publishes the requeue of corps up to last (see Plan) and records
// one operator_action; via says who asked ("cli", "console <address>").
// It returns the message ids, in the order of corps.
func Publish(ctx context.Context, js jetstream.JetStream, db eventdb.Querier, backoff bus.Backoff, corps []string, last regevent.Position, now time.Time, via string) ([]string, error) {
	msgs, ids, err := Messages(corps, last, now)
	if err != nil {
		return nil, err
	}
	if err := bus.PublishRounds(ctx, js, msgs, bus.RoundOptions{Timeout: 30 * time.Second, Backoff: backoff}); err != nil {
		return nil, fmt.Errorf("requeue: publish to %s: %w", bus.StreamEvents, err)
	}
	if _, err := operator.RecordAction(ctx, db, Action, messages.SystemBCReg+" "+strings.Join(corps, " "), int64(len(corps)),
		map[string]any{"corps": corps, "msg_ids": ids, "last_event_id": last.EventID, "last_event_date": last.Date.String(), "via": via}); err != nil {
		return ids, err
	}
	return ids, nil
}
