// Package adopt imports the Python pipeline's event-processor database
// (the switch-over of docs/operations.md §6): its watermark, its
// credential_log (hashes and statuses) and its processed work items are
// imported, so the first poll continues from the original's watermark and
// nothing already issued is issued again (equal hashes). Two layouts of the
// original are read (docs/design/registry.md, "The original's layouts"):
// 8bc273a (PREV_EVENT_ID/LAST_EVENT_ID integers, LAST_EVENT without a date)
// and pre-LEAR (credential_log's PREV_EVENT and LAST_EVENT JSON,
// CREDENTIAL_REASON, LAST_EVENT.EVENT_DATE). create.py wrote upper-case
// names without quotes, which PostgreSQL folds to lower case; names are
// matched case-insensitively, so a copy made with quoted upper-case names
// reads the same.
//
// It reads the original's tables and writes ours in one transaction:
// credential_log and event_by_corp_filing (rows of the original), last_event
// and event_seen (its watermark and look-back window, through
// pkg/eventdb/discovery) and operator_action. Its caller is `bcregctl
// adopt`; originaltest, beneath it, builds originals for the tests.
package adopt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// Layouts of the original's database.
const (
	Layout8bc273a = "8bc273a"
	LayoutPreLEAR = "pre-LEAR"
)

// Original is an inspected event-processor database of the Python
// pipeline.
type Original struct {
	// Layout is Layout8bc273a or LayoutPreLEAR.
	Layout string
	// Watermark is its current watermark: the latest LAST_EVENT row (by
	// event date, then id, where it has dates; by id otherwise).
	Watermark regevent.Position
	// WatermarkDated says whether Watermark.Date comes from the
	// original (pre-LEAR); 8bc273a's must be looked up in the registry.
	WatermarkDated bool
	// Credentials and WorkItems count its rows of the system; Queued are
	// the corporations it had queued (event_by_corp_filing or
	// corp_history_log rows without a process_date) but not processed;
	// Failed those with a work item it marked failed (N), which it never
	// retried. Both are requeued (Requeue).
	Credentials, WorkItems int64
	Queued, Failed         []string

	tables map[string]origTable
}

type origTable struct {
	ident string            // quoted schema.table
	cols  map[string]string // lower-case name → quoted identifier
	types map[string]string // lower-case name → information_schema data_type
}

func (t origTable) has(col string) bool { _, ok := t.cols[col]; return ok }

// col returns the quoted column, or NULL when the table has none.
func (t origTable) col(name string) string {
	if c, ok := t.cols[name]; ok {
		return c
	}
	return "NULL"
}

// Inspect reads the layout, watermark and size of the original's
// database at from (read-only use) for system.
func Inspect(ctx context.Context, from eventdb.Querier, system string) (Original, error) {
	o := Original{}
	var err error
	if o.tables, err = readTables(ctx, from); err != nil {
		return o, fmt.Errorf("inspect original: %w", err)
	}
	for _, need := range []struct{ table, cols string }{
		{"last_event", "system_type_cd event_id"},
		{"credential_log", "record_id system_type_cd corp_num credential_type_cd schema_name schema_version credential_json credential_hash process_date process_success"},
	} {
		t, ok := o.tables[need.table]
		if !ok {
			return o, fmt.Errorf("inspect original: no table %s: not an event-processor database of the original", strings.ToUpper(need.table))
		}
		for _, c := range strings.Fields(need.cols) {
			if !t.has(c) {
				return o, fmt.Errorf("inspect original: table %s has no column %s", strings.ToUpper(need.table), strings.ToUpper(c))
			}
		}
	}
	cl := o.tables["credential_log"]
	switch {
	case cl.has("prev_event") && cl.has("last_event"):
		o.Layout = LayoutPreLEAR
	case cl.has("prev_event_id") && cl.has("last_event_id"):
		o.Layout = Layout8bc273a
	default:
		return o, errors.New("inspect original: CREDENTIAL_LOG has neither PREV_EVENT_ID/LAST_EVENT_ID (8bc273a) nor PREV_EVENT/LAST_EVENT (pre-LEAR)")
	}

	le := o.tables["last_event"]
	order := le.col("event_id") + " DESC"
	dateCol := "NULL::timestamp"
	if le.has("event_date") {
		o.WatermarkDated = true
		order = le.col("event_date") + " DESC, " + order
		dateCol = le.col("event_date")
	}
	// The identifiers come from information_schema, quoted; never from input.
	var date *time.Time
	err = from.QueryRow(ctx, `SELECT `+le.col("event_id")+`::bigint, `+dateCol+` FROM `+le.ident+`
WHERE `+le.col("system_type_cd")+` = $1 AND `+le.col("event_id")+` > 0 ORDER BY `+order+` LIMIT 1`, system).
		Scan(&o.Watermark.EventID, &date)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("inspect original: LAST_EVENT has no %s event above 0: the original never finished its initial load; run ours instead", system)
	}
	if err != nil {
		return o, fmt.Errorf("inspect original: read LAST_EVENT: %w", err)
	}
	if date != nil {
		o.Watermark.Date.Time = *date
	} else {
		o.WatermarkDated = false
	}

	if err := from.QueryRow(ctx, `SELECT count(*) FROM `+cl.ident+` WHERE `+cl.col("system_type_cd")+` = $1`, system).Scan(&o.Credentials); err != nil {
		return o, fmt.Errorf("inspect original: count CREDENTIAL_LOG: %w", err)
	}
	var queued, failed []string
	for _, name := range []string{"event_by_corp_filing", "corp_history_log"} {
		t, ok := o.tables[name]
		if !ok || !t.has("corp_num") || !t.has("process_date") {
			continue
		}
		if name == "event_by_corp_filing" {
			if err := from.QueryRow(ctx, `SELECT count(*) FROM `+t.ident+` WHERE `+t.col("system_type_cd")+` = $1 AND `+t.col("process_date")+` IS NOT NULL`, system).Scan(&o.WorkItems); err != nil {
				return o, fmt.Errorf("inspect original: count EVENT_BY_CORP_FILING: %w", err)
			}
		}
		list, err := corpsWhere(ctx, from, t, system, t.col("process_date")+` IS NULL`)
		if err != nil {
			return o, fmt.Errorf("inspect original: queued corporations in %s: %w", strings.ToUpper(name), err)
		}
		queued = append(queued, list...)
		if !t.has("process_success") {
			continue
		}
		// The original never retried a failed (N) work item: the
		// corporation got no credentials for it until its next event.
		list, err = corpsWhere(ctx, from, t, system, t.col("process_date")+` IS NOT NULL AND trim(`+t.col("process_success")+`) = 'N'`)
		if err != nil {
			return o, fmt.Errorf("inspect original: failed corporations in %s: %w", strings.ToUpper(name), err)
		}
		failed = append(failed, list...)
	}
	o.Queued, o.Failed = uniqueSorted(queued), uniqueSorted(failed)
	return o, nil
}

// corpsWhere returns the corporations of t's rows of system that satisfy
// cond (SQL over t's quoted columns).
func corpsWhere(ctx context.Context, from eventdb.Querier, t origTable, system, cond string) ([]string, error) {
	rows, err := from.Query(ctx, `SELECT DISTINCT `+t.col("corp_num")+`::text FROM `+t.ident+`
WHERE `+t.col("system_type_cd")+` = $1 AND `+cond+` AND trim(`+t.col("corp_num")+`) <> ''`, system)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Requeue returns the corporations an adoption requeues: those the
// original left queued and those it failed on, each once, sorted.
func (o Original) Requeue() []string {
	return uniqueSorted(append(slices.Clone(o.Queued), o.Failed...))
}

// readTables reads the columns of the tables named like the original's
// (last_event, event_by_corp_filing, corp_history_log, credential_log) in
// q's search path, the first of a name in the path winning.
func readTables(ctx context.Context, q eventdb.Querier) (map[string]origTable, error) {
	rows, err := q.Query(ctx, `SELECT c.table_schema, c.table_name, c.column_name, c.data_type
FROM information_schema.columns c
WHERE lower(c.table_name) IN ('last_event', 'event_by_corp_filing', 'corp_history_log', 'credential_log')
  AND c.table_schema = ANY (current_schemas(false))
ORDER BY array_position(current_schemas(false), c.table_schema::name), c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	type col struct{ Schema, Table, Column, Type string }
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[col])
	if err != nil {
		return nil, err
	}
	tables := map[string]origTable{}
	for _, c := range cols {
		key := strings.ToLower(c.Table)
		t, ok := tables[key]
		if !ok {
			t = origTable{ident: pgx.Identifier{c.Schema, c.Table}.Sanitize(), cols: map[string]string{}, types: map[string]string{}}
			tables[key] = t
		} else if t.ident != (pgx.Identifier{c.Schema, c.Table}.Sanitize()) {
			continue // the same table in a later schema of the path is hidden
		}
		t.cols[strings.ToLower(c.Column)] = pgx.Identifier{c.Column}.Sanitize()
		t.types[strings.ToLower(c.Column)] = c.Type
	}
	return tables, nil
}

// Plan says how to adopt an inspected original.
type Plan struct {
	System string
	// Watermark is the original's, with its event date (looked up in the
	// registry for 8bc273a).
	Watermark regevent.Position
	// Window are the registry's events of the look-back window behind the
	// watermark, recorded as seen so the first poll does not republish
	// them (empty when the registry could not be read).
	Window []regevent.Event
	// Force imports into an event database that already has a watermark,
	// credentials or an initial-load run (known hashes are skipped either
	// way).
	Force bool
	// From names the original's database in operator_action (no secret).
	From string
	// Progress, when not nil, is told how many of the original's rows
	// (credentials, then processed work items) have been read so far.
	Progress func(rowsRead int64)
}

// Result says what an adoption imported.
type Result struct {
	Layout string
	// Watermark is the event database's watermark afterwards: the
	// original's, unless WatermarkKept says a later one (a forced
	// re-adoption after polling) was kept, the watermark never moving back.
	Watermark     regevent.Position
	WatermarkKept bool
	// Credentials were read; Imported of them were new (not known by hash).
	Credentials, Imported int64
	// ByStatus counts the credentials read by the status they got here
	// ("outstanding": the builder's outbox publishes them).
	ByStatus map[string]int64
	// WorkItems (processed) were read; WorkItemsImported were new.
	WorkItems, WorkItemsImported int64
	// Queued are the corporations the original had queued but not
	// processed, Failed those it failed on (N work items); Requeue both:
	// publish a requeue CorpEvent for each after the commit.
	Queued, Failed, Requeue []string
	ActionID                int64
}

// ErrNotEmpty reports an event database that already holds a watermark,
// credentials or an initial-load run.
var ErrNotEmpty = errors.New("the event database already has a watermark, credentials or an initial load")

// Run imports the original (read from `from`) into the event database in
// one transaction: the credentials in the original's record order (known
// hashes skipped), the processed work items, the watermark, the look-back
// window as seen, and an operator_action row. Re-running it imports
// nothing twice.
func Run(ctx context.Context, to eventdb.TxBeginner, from eventdb.Querier, o Original, plan Plan) (Result, error) {
	res := Result{Layout: o.Layout, Watermark: plan.Watermark, ByStatus: map[string]int64{},
		Queued: o.Queued, Failed: o.Failed, Requeue: o.Requeue()}
	if plan.Watermark.EventID <= 0 || plan.Watermark.Date.Time.IsZero() {
		return res, errors.New("adopt: the watermark needs an event id and its date")
	}
	err := pgx.BeginFunc(ctx, to, func(tx pgx.Tx) error {
		var busy bool
		// An initial load started on this database (a poller that ran
		// before the adoption) may have published corporations already.
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM credential_log WHERE system_type_cd = $1)
    OR EXISTS (SELECT 1 FROM initial_load WHERE system_type_cd = $1)`, plan.System).Scan(&busy); err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
		_, hasWatermark, err := discovery.CurrentWatermark(ctx, tx, plan.System)
		if err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
		if (busy || hasWatermark) && !plan.Force {
			return fmt.Errorf("adopt: %w", ErrNotEmpty)
		}
		var read int64
		count := func(s *rowSource) *rowSource { s.read, s.progress = &read, plan.Progress; return s }
		if err := adoptCredentials(ctx, tx, from, o, plan.System, &res, count); err != nil {
			return err
		}
		if err := adoptWorkItems(ctx, tx, from, o, plan.System, &res, count); err != nil {
			return err
		}
		if err := discovery.MarkSeen(ctx, tx, plan.System, plan.Window); err != nil {
			return err
		}
		// Only forward: a forced re-adoption never moves the watermark back.
		cur, moved, err := discovery.AdvanceTo(ctx, tx, plan.System, plan.Watermark)
		if err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
		res.Watermark, res.WatermarkKept = cur, !moved
		id, err := operator.RecordAction(ctx, tx, "adopt", plan.From, res.Imported, map[string]any{
			"layout": o.Layout, "watermark_event_id": plan.Watermark.EventID,
			"watermark_event_date": plan.Watermark.Date.Time.Format("2006-01-02T15:04:05.999999"),
			"watermark_kept":       !moved, "current_watermark_event_id": cur.EventID,
			"credentials_read": res.Credentials, "credentials_imported": res.Imported, "by_status": res.ByStatus,
			"work_items_imported": res.WorkItemsImported, "queued": res.Queued, "failed": res.Failed, "requeued": len(res.Requeue), "window_events": len(plan.Window),
		})
		res.ActionID = id
		return err
	})
	return res, err
}

// adoptCredentials streams the original's credential_log rows through a
// temporary table into credential_log.
func adoptCredentials(ctx context.Context, tx pgx.Tx, from eventdb.Querier, o Original, system string, res *Result,
	count func(*rowSource) *rowSource) error {
	t := o.tables["credential_log"]
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE adopt_credential (
    orig_id BIGINT, corp_num TEXT, corp_state TEXT, prev_id BIGINT, prev_date TIMESTAMP, last_id BIGINT, last_date TIMESTAMP,
    typ TEXT, cred_id TEXT, schema_name TEXT, schema_version TEXT, text TEXT, hash TEXT, reason TEXT,
    entry_date TIMESTAMP, end_date TIMESTAMP, process_date TIMESTAMP, process_success TEXT, process_msg TEXT,
    not_before TIMESTAMPTZ) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	now := time.Now()
	prevRef, lastRef := refExprs(t)
	rows, err := from.Query(ctx, `SELECT `+t.col("record_id")+`::bigint, `+t.col("corp_num")+`::text, `+t.col("corp_state")+`::text, `+
		prevRef+`, `+lastRef+`, `+t.col("credential_type_cd")+`::text, `+t.col("credential_id")+`::text, `+
		t.col("schema_name")+`::text, `+t.col("schema_version")+`::text, `+t.col("credential_json")+`::text, `+
		t.col("credential_hash")+`::text, `+t.col("credential_reason")+`::text, `+t.col("entry_date")+`::timestamp, `+
		t.col("end_date")+`::timestamp, `+t.col("process_date")+`::timestamp, `+t.col("process_success")+`::text, `+
		t.col("process_msg")+`::text
FROM `+t.ident+` WHERE `+t.col("system_type_cd")+` = $1 ORDER BY `+t.col("record_id"), system)
	if err != nil {
		return fmt.Errorf("adopt: read CREDENTIAL_LOG: %w", err)
	}
	defer rows.Close()
	src := count(&rowSource{rows: rows, conv: func(r pgx.Rows) ([]any, error) {
		var (
			id                                          int64
			corp, state, typ, credID, schema, version   *string
			text, hash, reason, success, msg            *string
			prevID, lastID                              *int64
			prevDate, lastDate, entry, end, processDate *time.Time
			prevJSON, lastJSON                          *string
		)
		if err := r.Scan(&id, &corp, &state, &prevID, &prevDate, &prevJSON, &lastID, &lastDate, &lastJSON,
			&typ, &credID, &schema, &version, &text, &hash, &reason, &entry, &end, &processDate, &success, &msg); err != nil {
			return nil, err
		}
		if hash == nil || text == nil || corp == nil {
			return nil, fmt.Errorf("CREDENTIAL_LOG record %d has no hash, text or corporation", id)
		}
		prev, err := eventRef(prevID, prevDate, prevJSON)
		if err != nil {
			return nil, fmt.Errorf("CREDENTIAL_LOG record %d: PREV_EVENT: %w", id, err)
		}
		last, err := eventRef(lastID, lastDate, lastJSON)
		if err != nil {
			return nil, fmt.Errorf("CREDENTIAL_LOG record %d: LAST_EVENT: %w", id, err)
		}
		status, pdate, pmsg := adoptedStatus(processDate, success, msg)
		res.Credentials++
		key := deref(status)
		if key == "" {
			key = "outstanding"
		}
		res.ByStatus[key]++
		var notBefore *time.Time
		if status == nil {
			notBefore = eventdb.OriginalNotBefore(*text, now)
		}
		return []any{id, *corp, state, prev.EventID, prev.Date.Time, last.EventID, last.Date.Time, deref(typ), credID,
			deref(schema), deref(version), *text, *hash, reason, entry, end, pdate, status, pmsg, notBefore}, nil
	}})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"adopt_credential"}, []string{"orig_id", "corp_num", "corp_state",
		"prev_id", "prev_date", "last_id", "last_date", "typ", "cred_id", "schema_name", "schema_version", "text", "hash",
		"reason", "entry_date", "end_date", "process_date", "process_success", "process_msg", "not_before"}, src); err != nil {
		return fmt.Errorf("adopt: copy CREDENTIAL_LOG: %w", err)
	}
	// Outstanding credentials stay unpublished: the builder's sweep
	// publishes them (they were generated but never posted) once due by
	// the original's rule.
	tag, err := tx.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date,
    last_event_id, last_event_date, credential_type_cd, credential_id, schema_name, schema_version, credential_json,
    credential_hash, credential_reason, entry_date, end_date, process_date, process_success, process_msg, not_before, published_at)
SELECT $1, corp_num, corp_state, prev_id, prev_date, last_id, last_date, typ, cred_id, schema_name, schema_version, text::json,
       hash, reason, coalesce(entry_date, LOCALTIMESTAMP), end_date, process_date, process_success, process_msg, not_before,
       CASE WHEN process_success IS NOT NULL THEN now() END
FROM adopt_credential ORDER BY orig_id
ON CONFLICT (credential_hash) DO NOTHING`, system)
	if err != nil {
		return fmt.Errorf("adopt: store credentials: %w", err)
	}
	res.Imported = tag.RowsAffected()
	return nil
}

// adoptWorkItems imports the original's processed work items, keyed by
// msg_id adopt:<record id> so a re-run adds none twice.
func adoptWorkItems(ctx context.Context, tx pgx.Tx, from eventdb.Querier, o Original, system string, res *Result,
	count func(*rowSource) *rowSource) error {
	t, ok := o.tables["event_by_corp_filing"]
	if !ok || !t.has("record_id") || !t.has("corp_num") || !t.has("process_date") {
		return nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE adopt_item (
    orig_id BIGINT, corp_num TEXT, prev_id BIGINT, prev_date TIMESTAMP, last_id BIGINT, last_date TIMESTAMP,
    entry_date TIMESTAMP, process_date TIMESTAMP, process_success TEXT, process_msg TEXT) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	prevRef, lastRef := refExprs(t)
	rows, err := from.Query(ctx, `SELECT `+t.col("record_id")+`::bigint, `+t.col("corp_num")+`::text, `+prevRef+`, `+lastRef+`, `+
		t.col("entry_date")+`::timestamp, `+t.col("process_date")+`::timestamp, `+t.col("process_success")+`::text, `+
		t.col("process_msg")+`::text
FROM `+t.ident+` WHERE `+t.col("system_type_cd")+` = $1 AND `+t.col("process_date")+` IS NOT NULL ORDER BY `+t.col("record_id"), system)
	if err != nil {
		return fmt.Errorf("adopt: read EVENT_BY_CORP_FILING: %w", err)
	}
	defer rows.Close()
	src := count(&rowSource{rows: rows, conv: func(r pgx.Rows) ([]any, error) {
		var (
			id                 int64
			corp, success, msg *string
			prevID, lastID     *int64
			prevDate, lastDate *time.Time
			prevJSON, lastJSON *string
			entry, processDate *time.Time
		)
		if err := r.Scan(&id, &corp, &prevID, &prevDate, &prevJSON, &lastID, &lastDate, &lastJSON, &entry, &processDate, &success, &msg); err != nil {
			return nil, err
		}
		prev, err := eventRef(prevID, prevDate, prevJSON)
		if err != nil {
			return nil, fmt.Errorf("EVENT_BY_CORP_FILING record %d: %w", id, err)
		}
		last, err := eventRef(lastID, lastDate, lastJSON)
		if err != nil {
			return nil, fmt.Errorf("EVENT_BY_CORP_FILING record %d: %w", id, err)
		}
		res.WorkItems++
		return []any{id, deref(corp), prev.EventID, prev.Date.Time, last.EventID, last.Date.Time, entry, processDate, success, msg}, nil
	}})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"adopt_item"}, []string{"orig_id", "corp_num", "prev_id", "prev_date",
		"last_id", "last_date", "entry_date", "process_date", "process_success", "process_msg"}, src); err != nil {
		return fmt.Errorf("adopt: copy EVENT_BY_CORP_FILING: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date,
    last_event_id, last_event_date, reason, msg_id, entry_date, process_date, process_success, process_msg)
SELECT $1, corp_num, prev_id, prev_date, last_id, last_date, 'adopt', 'adopt:' || orig_id, coalesce(entry_date, process_date), process_date,
       left(process_success, 1), left(process_msg, 255)
FROM adopt_item ORDER BY orig_id
ON CONFLICT (msg_id) DO NOTHING`, system)
	if err != nil {
		return fmt.Errorf("adopt: store work items: %w", err)
	}
	res.WorkItemsImported = tag.RowsAffected()
	return nil
}

// refExprs selects a table's prev and last event as (id, date, json text):
// from PREV_EVENT_ID/LAST_EVENT_ID (and PREV_EVENT_DATE/LAST_EVENT_DATE)
// where it has them, else from the pre-LEAR PREV_EVENT/LAST_EVENT JSON.
func refExprs(t origTable) (prev, last string) {
	one := func(name string) string {
		id, date, js := "NULL::bigint", "NULL::timestamp", "NULL::text"
		if t.has(name + "_id") {
			id = t.col(name+"_id") + "::bigint"
		}
		if t.has(name + "_date") {
			date = t.col(name+"_date") + "::timestamp"
		}
		if t.has(name) {
			js = t.col(name) + "::text"
		}
		return id + ", " + date + ", " + js
	}
	return one("prev_event"), one("last_event")
}

// eventRef combines a stored event position: the id and date columns, or
// the pre-LEAR JSON {"event_date": "<UTC ISO>", "event_id": n}, whose UTC
// date becomes BC local time again. Unknown parts are those of
// regevent.Start (0 and 0001-01-01, the original's year-1 minimum).
func eventRef(id *int64, date *time.Time, js *string) (regevent.Position, error) {
	w := regevent.Start
	if id != nil {
		w.EventID = *id
	}
	if date != nil {
		w.Date.Time = *date
	}
	if js == nil || strings.TrimSpace(*js) == "" || strings.TrimSpace(*js) == "null" {
		return w, nil
	}
	var v struct {
		EventID   json.Number `json:"event_id"`
		EventDate string      `json:"event_date"`
	}
	if err := json.Unmarshal([]byte(*js), &v); err != nil {
		return w, fmt.Errorf("%q: %w", *js, err)
	}
	if v.EventID != "" && id == nil {
		n, err := strconv.ParseInt(v.EventID.String(), 10, 64)
		if err != nil {
			return w, fmt.Errorf("event_id %q: %w", v.EventID, err)
		}
		w.EventID = n
	}
	if v.EventDate != "" && date == nil {
		t, err := parseOriginalDate(v.EventDate)
		if err != nil {
			return w, err
		}
		w.Date.Time = t
	}
	return w, nil
}

// parseOriginalDate reads a pre-LEAR event_date: Python's isoformat() of a
// UTC time ("2018-07-24T17:02:11+00:00", microseconds optional), or a
// naive text taken as UTC; it returns the naive BC local wall clock. Year-1
// and year-2 dates (the original's minimum) are kept as they are.
func parseOriginalDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-07:00", "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() <= 2 {
				return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), nil
			}
			return regclock.LocalOf(regclock.Registry, t), nil
		}
	}
	return time.Time{}, fmt.Errorf("event_date %q is not an ISO date", s)
}

// adoptedStatus maps the original's status to ours. Its outstanding rows
// (no process_date) stay outstanding; Y, N, A (and D) are kept; a row
// processed without a known status becomes N with a message, so it is not
// posted again without an operator's decision (`bcregctl requeue failed`).
func adoptedStatus(processDate *time.Time, success, msg *string) (status *string, date *time.Time, message *string) {
	if processDate == nil {
		return nil, nil, nil
	}
	s := strings.TrimSpace(deref(success))
	switch s {
	case delivery.Issued, delivery.Rejected, delivery.Held, delivery.Dead:
		return &s, processDate, msg
	}
	n := delivery.Rejected
	m := eventdb.ProcessMsg(fmt.Sprintf("adopted: processed by the original with status %q; not posted again unless requeued", s))
	return &n, processDate, &m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func uniqueSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// rowSource feeds CopyFrom from another database's rows, converted one by
// one, so an original of millions of rows streams through.
type rowSource struct {
	rows pgx.Rows
	conv func(pgx.Rows) ([]any, error)
	vals []any
	err  error
	// read counts the rows read (shared by an adoption's sources) and
	// progress, when not nil, is told after each.
	read     *int64
	progress func(int64)
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	s.vals, s.err = s.conv(s.rows)
	if s.err == nil && s.read != nil {
		*s.read++
		if s.progress != nil {
			s.progress(*s.read)
		}
	}
	return s.err == nil
}

func (s *rowSource) Values() ([]any, error) { return s.vals, s.err }

// Err reports a conversion or read error. CopyFrom calls it after every
// buffer it sends, so it must not close the rows (the caller does).
func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}
