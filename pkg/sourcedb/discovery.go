package sourcedb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// Event discovery for the event-poller
// (docs/design/registry.md §3): the events of a time window, the corporations
// whose state those events start or end, the FBO links between owners and
// firms, and the corporation list of an initial load. Every query is
// set-based (`= ANY($1)`), whatever the number of events.

// DiscoverQuerier is what the discovery queries need: a pool, a connection
// or a (read-only) transaction.
type DiscoverQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// DiscoverNewestEvent returns the newest event not after now (naive BC
// local): the latest event_timestmp, then the highest event id at it.
// Future-dated rows are never the newest. ok is false when the registry has
// no such event.
func DiscoverNewestEvent(ctx context.Context, q DiscoverQuerier, now time.Time) (e regevent.Event, ok bool, err error) {
	err = q.QueryRow(ctx, `SELECT event_id, coalesce(corp_num, ''), event_timestmp
FROM bc_registries.event
WHERE event_timestmp <= $1 AND event_id IS NOT NULL
ORDER BY event_timestmp DESC, event_id DESC LIMIT 1`, now).Scan(&e.EventID, &e.CorpNum, &e.Date.Time)
	if errors.Is(err, pgx.ErrNoRows) {
		return regevent.Event{}, false, nil
	}
	if err != nil {
		return regevent.Event{}, false, fmt.Errorf("discover newest event: %w", err)
	}
	return e, true, nil
}

// DiscoverEvents returns the events with from <= event_timestmp <= to
// (naive BC local), in timestamp and id order.
func DiscoverEvents(ctx context.Context, q DiscoverQuerier, from, to time.Time) ([]regevent.Event, error) {
	rows, err := q.Query(ctx, `SELECT event_id::bigint, coalesce(corp_num, ''), event_timestmp
FROM bc_registries.event
WHERE event_timestmp >= $1 AND event_timestmp <= $2 AND event_id IS NOT NULL
ORDER BY event_timestmp, event_id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("discover events: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (e regevent.Event, err error) {
		err = r.Scan(&e.EventID, &e.CorpNum, &e.Date.Time)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("discover events: %w", err)
	}
	return list, nil
}

// DiscoveredStateLink says that event EventID started or ended a corp_state
// row of CorpNum (for example the amalgamating companies of an
// amalgamation).
type DiscoveredStateLink struct {
	EventID int64  `db:"event_id"`
	CorpNum string `db:"corp_num"`
}

// DiscoverStateLinks returns the corporations whose corp_state rows start or
// end at one of eventIDs.
func DiscoverStateLinks(ctx context.Context, q DiscoverQuerier, eventIDs []int64) ([]DiscoveredStateLink, error) {
	if len(eventIDs) == 0 {
		return nil, nil
	}
	// UNION of two indexable lookups rather than one OR.
	rows, err := q.Query(ctx, `SELECT start_event_id::bigint AS event_id, corp_num FROM bc_registries.corp_state
WHERE start_event_id = ANY($1::numeric[]) AND corp_num IS NOT NULL
UNION
SELECT end_event_id::bigint AS event_id, corp_num FROM bc_registries.corp_state
WHERE end_event_id = ANY($1::numeric[]) AND corp_num IS NOT NULL`, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("discover state links: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[DiscoveredStateLink])
	if err != nil {
		return nil, fmt.Errorf("discover state links: %w", err)
	}
	return list, nil
}

// DiscoveredFirmLink is an FBO party row: Owner (bus_company_num) owns, or
// owned, Firm (corp_num).
type DiscoveredFirmLink struct {
	Firm  string `db:"firm"`
	Owner string `db:"owner"`
}

// DiscoverFirmLinks returns the FBO links, current and ended, in which one of
// corpNums is the firm or the owner (both directions, since 2020-01 in the
// original).
func DiscoverFirmLinks(ctx context.Context, q DiscoverQuerier, corpNums []string) ([]DiscoveredFirmLink, error) {
	if len(corpNums) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT corp_num AS firm, bus_company_num AS owner FROM bc_registries.corp_party
WHERE bus_company_num = ANY($1) AND party_typ_cd = 'FBO' AND corp_num IS NOT NULL
UNION
SELECT corp_num AS firm, bus_company_num AS owner FROM bc_registries.corp_party
WHERE corp_num = ANY($1) AND party_typ_cd = 'FBO' AND bus_company_num IS NOT NULL`, corpNums)
	if err != nil {
		return nil, fmt.Errorf("discover firm links: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[DiscoveredFirmLink])
	if err != nil {
		return nil, fmt.Errorf("discover firm links: %w", err)
	}
	return list, nil
}

// DiscoverCorpCount counts the distinct corporation numbers of the registry
// (total) and the corporation rows whose number is blank (skipped by the
// initial load).
func DiscoverCorpCount(ctx context.Context, q DiscoverQuerier) (total, blank int64, err error) {
	if err := q.QueryRow(ctx, `SELECT count(DISTINCT corp_num) FILTER (WHERE btrim(corp_num) <> ''),
       count(*) FILTER (WHERE corp_num IS NULL OR btrim(corp_num) = '')
FROM bc_registries.corporation`).Scan(&total, &blank); err != nil {
		return 0, 0, fmt.Errorf("count corporations: %w", err)
	}
	return total, blank, nil
}

// DiscoverCorpNums returns up to limit distinct, non-blank corporation
// numbers after `after`, in byte order (COLLATE "C", the same on every
// server), for an initial load that resumes where it stopped.
func DiscoverCorpNums(ctx context.Context, q DiscoverQuerier, after string, limit int) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT corp_num COLLATE "C" AS corp_num FROM bc_registries.corporation
WHERE corp_num COLLATE "C" > $1 AND btrim(corp_num) <> ''
ORDER BY 1 LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list corporations: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list corporations: %w", err)
	}
	return list, nil
}

// DiscoverEventDate returns the timestamp of event eventID (naive BC
// local); ok is false when the registry has no such event. Adoption uses it
// for the original's 8bc273a watermark, which recorded only the id.
func DiscoverEventDate(ctx context.Context, q DiscoverQuerier, eventID int64) (ts time.Time, ok bool, err error) {
	err = q.QueryRow(ctx, `SELECT max(event_timestmp) FROM bc_registries.event WHERE event_id = $1 HAVING count(*) > 0`, eventID).Scan(&ts)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read event %d: %w", eventID, err)
	}
	return ts, true, nil
}

// Backlog is how far the registry is ahead of a watermark.
type Backlog struct {
	// Events counts the events after the watermark (by timestamp, then
	// id) and not after now.
	Events int64
	// Newest is the newest of them (HasNewer is false when there is
	// none).
	Newest   regevent.Event
	HasNewer bool
}

// DiscoverBacklog counts the events after the watermark up to now (naive
// BC local) and finds the newest: what the poller has not passed yet.
func DiscoverBacklog(ctx context.Context, q DiscoverQuerier, after regevent.Position, now time.Time) (Backlog, error) {
	var b Backlog
	if err := q.QueryRow(ctx, `SELECT count(*) FROM bc_registries.event
WHERE (event_timestmp, event_id) > ($1, $2) AND event_timestmp <= $3 AND event_id IS NOT NULL`, after.Date.Time, after.EventID, now).Scan(&b.Events); err != nil {
		return b, fmt.Errorf("count events after the watermark: %w", err)
	}
	if b.Events == 0 {
		return b, nil
	}
	newest, ok, err := DiscoverNewestEvent(ctx, q, now)
	if err != nil {
		return b, err
	}
	b.Newest, b.HasNewer = newest, ok
	return b, nil
}

// DiscoverKnownCorps returns which of corpNums the registry has a
// corporation row for.
func DiscoverKnownCorps(ctx context.Context, q DiscoverQuerier, corpNums []string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT corp_num FROM bc_registries.corporation WHERE corp_num = ANY($1)`, corpNums)
	if err != nil {
		return nil, fmt.Errorf("look up corporations: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up corporations: %w", err)
	}
	out := make(map[string]bool, len(list))
	for _, c := range list {
		out[c] = true
	}
	return out, nil
}
