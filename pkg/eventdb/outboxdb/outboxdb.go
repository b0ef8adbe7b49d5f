// Package outboxdb is the credential outbox's SQL (docs/design/registry.md
// §4, docs/design/rules.md rule 4; docs/design/poller-builder.md,
// "Abandoned rows"): the credential-builder's batch write, which stores in
// one transaction its work items (event_by_corp_filing), the snapshots it
// generated from (corp_history_log), the new credentials (credential_log)
// and its future re-queues (future_requeue, through
// pkg/eventdb/discovery), each with one set-based statement per table for
// a whole batch; then the outbox's life of a credential_log row before the
// poster claims it: unpublished rows, the marks of their bundles' PubAcks
// (published_at, published_seq), the stranded rows the sweep publishes,
// and the rows whose bundle left BCREG_CREDS without an answer (rearmed).
//
// Its callers: the credential-builder (its batches and its sweep, through
// pkg/outbox, which turns the rows into bundles and publishes them) and
// `bcregctl requeue failed` (pkg/outbox again). The poster's side of
// credential_log is pkg/eventdb/delivery.
package outboxdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// isDue is "the credential may be posted now" (eventdb.DueSQL).
var isDue = eventdb.DueSQL("")

// Outcomes of a work item (event_by_corp_filing.process_success).
const (
	OutcomeDone    = "Y" // processed (with or without new credentials)
	OutcomeFailed  = "N" // the corporation cannot be described; dead-lettered
	OutcomeSkipped = "S" // not in the profile's scope
)

// WorkItem is one CorpEvent the builder processed: a row of
// event_by_corp_filing, keyed by its message id.
type WorkItem struct {
	CorpNum    string
	Prev, Last regevent.Position
	Reason     string
	MsgID      string
	Outcome    string // OutcomeDone, OutcomeFailed or OutcomeSkipped
	Message    string // process_msg; "" stores NULL
}

// HistoryEntry is a snapshot the builder generated from (corp_history_log).
type HistoryEntry struct {
	CorpNum    string
	CorpState  string
	Prev, Last regevent.Position
	JSON       []byte // the snapshot document
	Hash       string // SHA-256 of JSON: equal to the latest row's means unchanged
	Message    string // process_msg (e.g. "Withdrawn"); "" stores NULL
}

// NewCredential is a generated credential to store in credential_log.
type NewCredential struct {
	CorpNum      string
	CorpState    string
	Prev, Last   regevent.Position
	Type         string
	CredentialID string
	Schema       string
	Version      string
	JSON         string // the exact hashed text
	Hash         string
	Reason       string
	Profile      string
	// Held credentials are stored as 'A' (processed at insert), never posted.
	Held bool
	// NotBefore, when set, holds the credential back until then.
	NotBefore *time.Time
}

// BatchWrite is what one builder batch stores in one transaction.
type BatchWrite struct {
	System      string
	Items       []WorkItem
	History     []HistoryEntry
	Credentials []NewCredential
	// Requeues are future-dated changes to process again when they come
	// due (future_requeue; the poller publishes them then).
	Requeues []discovery.FutureRequeue
	// OutboxCorps are the corporations whose outbox rows (Unpublished)
	// BatchResult.Outbox returns: the batch's.
	OutboxCorps []string
}

// BatchResult says what a BatchWrite changed.
type BatchResult struct {
	// ItemsRecorded counts work items inserted, or re-recorded after an
	// earlier N; a redelivered message records nothing.
	ItemsRecorded int64
	// SnapshotsLogged counts history rows written (changed snapshots only).
	SnapshotsLogged int64
	// CredentialsStored counts new credentials (known hashes are skipped).
	CredentialsStored int64
	// Outbox are OutboxCorps' unpublished, due, outstanding credentials
	// after the write, as Unpublished returns them: the rows stored before
	// (read) and the new ones (from the batch, not read back).
	Outbox []Row
}

// WriteBatch stores a batch's work items, changed snapshots and new
// credentials with one statement per table, sent to the server in one
// round trip, then its future re-queues (discovery.AddFutureRequeues, a
// second round trip when there are any), in tx, and returns with them the
// outbox of b.OutboxCorps. Known credential hashes are left alone (ON CONFLICT DO
// NOTHING), and so is the work item of a message already recorded, unless
// that earlier outcome was N (a retry after an operator's requeue records
// the new outcome). Credentials get record ids in the order given.
func WriteBatch(ctx context.Context, tx pgx.Tx, b BatchWrite) (BatchResult, error) {
	var res BatchResult
	batch := &pgx.Batch{}
	if len(b.Items) > 0 {
		queueItems(batch, b.System, b.Items).Exec(func(tag pgconn.CommandTag) error {
			res.ItemsRecorded = tag.RowsAffected()
			return nil
		})
	}
	if len(b.History) > 0 {
		queueHistory(batch, b.System, b.History).Exec(func(tag pgconn.CommandTag) error {
			res.SnapshotsLogged = tag.RowsAffected()
			return nil
		})
	}
	var old []Row
	if len(b.OutboxCorps) > 0 {
		// Read before the insert below, in the same transaction: the rows
		// stored before this batch (a crash or a full stream left them).
		queueUnpublished(batch, b.System, b.OutboxCorps).Query(func(rows pgx.Rows) error {
			var err error
			old, err = collectRows(rows)
			return err
		})
	}
	var stored []storedCredential
	if len(b.Credentials) > 0 {
		queueCredentials(batch, b.System, b.Credentials).Query(func(rows pgx.Rows) error {
			var err error
			stored, err = pgx.CollectRows(rows, pgx.RowToStructByPos[storedCredential])
			return err
		})
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return res, fmt.Errorf("store batch: %w", err)
		}
	}
	if err := discovery.AddFutureRequeues(ctx, tx, b.System, b.Requeues); err != nil {
		return res, err
	}
	res.CredentialsStored = int64(len(stored))
	res.Outbox = outboxRows(old, stored, b.Credentials, b.OutboxCorps)
	return res, nil
}

// storedCredential is a credential the batch's insert stored.
type storedCredential struct {
	RecordID int64
	Hash     string
	// Outbox: outstanding and due, so it goes into the outbox now.
	Outbox bool
}

// outboxRows merges the rows read before the insert with the new ones of
// corps, built from what the batch stored, in Unpublished's order.
func outboxRows(old []Row, stored []storedCredential, creds []NewCredential, corps []string) []Row {
	if len(stored) == 0 {
		return old
	}
	want := make(map[string]bool, len(corps))
	for _, c := range corps {
		want[c] = true
	}
	byHash := make(map[string]*NewCredential, len(creds))
	for i := range creds {
		byHash[creds[i].Hash] = &creds[i]
	}
	out := old
	for _, s := range stored {
		c := byHash[s.Hash]
		if !s.Outbox || c == nil || !want[c.CorpNum] {
			continue
		}
		out = append(out, Row{RecordID: s.RecordID, CorpNum: c.CorpNum, CorpState: c.CorpState, Profile: c.Profile,
			Prev: c.Prev, Last: c.Last, Type: c.Type, CredentialID: c.CredentialID, Schema: c.Schema, Version: c.Version,
			JSON: c.JSON, Hash: c.Hash, Reason: c.Reason})
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(strings.Compare(a.CorpNum, b.CorpNum), cmp.Compare(a.RecordID, b.RecordID))
	})
	return out
}

// rangeColumns are the prev and last columns of rows written with unnest.
type rangeColumns struct {
	prevIDs, lastIDs     []int64
	prevDates, lastDates []time.Time
}

func newRangeColumns(n int) rangeColumns {
	return rangeColumns{make([]int64, n), make([]int64, n), make([]time.Time, n), make([]time.Time, n)}
}

func (r rangeColumns) set(i int, prev, last regevent.Position) {
	r.prevIDs[i], r.prevDates[i], r.lastIDs[i], r.lastDates[i] = prev.EventID, prev.Date.Time, last.EventID, last.Date.Time
}

func queueItems(batch *pgx.Batch, system string, items []WorkItem) *pgx.QueuedQuery {
	n := len(items)
	corps, reasons, msgIDs, outcomes, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
	r := newRangeColumns(n)
	for i, it := range items {
		corps[i], reasons[i], msgIDs[i], outcomes[i] = it.CorpNum, it.Reason, it.MsgID, it.Outcome
		msgs[i] = nullable(eventdb.ProcessMsg(it.Message))
		r.set(i, it.Prev, it.Last)
	}
	return batch.Queue(`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date,
    last_event_id, last_event_date, reason, msg_id, process_date, process_success, process_msg)
SELECT $1, w.corp_num, w.prev_id, w.prev_date, w.last_id, w.last_date, w.reason, w.msg_id, now(), w.outcome, w.msg
FROM unnest($2::text[], $3::bigint[], $4::timestamp[], $5::bigint[], $6::timestamp[], $7::text[], $8::text[], $9::text[], $10::text[])
     WITH ORDINALITY AS w(corp_num, prev_id, prev_date, last_id, last_date, reason, msg_id, outcome, msg, ord)
ORDER BY w.ord
ON CONFLICT (msg_id) DO UPDATE
   SET process_date = excluded.process_date, process_success = excluded.process_success, process_msg = excluded.process_msg
   WHERE event_by_corp_filing.process_success = 'N'`,
		system, corps, r.prevIDs, r.prevDates, r.lastIDs, r.lastDates, reasons, msgIDs, outcomes, msgs)
}

func queueHistory(batch *pgx.Batch, system string, hist []HistoryEntry) *pgx.QueuedQuery {
	n := len(hist)
	corps, states, docs, hashes, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
	r := newRangeColumns(n)
	for i, h := range hist {
		corps[i], states[i], docs[i], hashes[i] = h.CorpNum, h.CorpState, string(h.JSON), h.Hash
		msgs[i] = nullable(eventdb.ProcessMsg(h.Message))
		r.set(i, h.Prev, h.Last)
	}
	// Only a snapshot that differs from the corporation's latest logged one
	// is written: re-processing an unchanged corporation logs nothing. The
	// latest hashes of the batch's corporations come from one scan of
	// chl_corp_hash (migration 00009), not a sub-select per snapshot.
	return batch.Queue(`INSERT INTO corp_history_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date,
    last_event_id, last_event_date, corp_json, corp_json_hash, process_date, process_success, process_msg)
SELECT $1, h.corp_num, h.corp_state, h.prev_id, h.prev_date, h.last_id, h.last_date, h.doc::json, h.hash, now(), 'Y', h.msg
FROM unnest($2::text[], $3::text[], $4::bigint[], $5::timestamp[], $6::bigint[], $7::timestamp[], $8::text[], $9::text[], $10::text[])
     WITH ORDINALITY AS h(corp_num, corp_state, prev_id, prev_date, last_id, last_date, doc, hash, msg, ord)
LEFT JOIN (SELECT DISTINCT ON (c.corp_num) c.corp_num, c.corp_json_hash FROM corp_history_log c
           WHERE c.corp_num = ANY($2) ORDER BY c.corp_num, c.record_id DESC) l ON l.corp_num = h.corp_num
WHERE h.hash IS DISTINCT FROM l.corp_json_hash
ORDER BY h.ord`,
		system, corps, states, r.prevIDs, r.prevDates, r.lastIDs, r.lastDates, docs, hashes, msgs)
}

// queueCredentials queues the insert of creds; its rows are the stored
// ones (storedCredential).
func queueCredentials(batch *pgx.Batch, system string, creds []NewCredential) *pgx.QueuedQuery {
	n := len(creds)
	var (
		corps, states, types, ids, schemas = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		versions, texts, hashes, reasons   = make([]string, n), make([]string, n), make([]string, n), make([]*string, n)
		profiles                           = make([]string, n)
		held                               = make([]bool, n)
		notBefore                          = make([]*time.Time, n)
		r                                  = newRangeColumns(n)
	)
	for i, c := range creds {
		corps[i], states[i], types[i], ids[i], schemas[i] = c.CorpNum, c.CorpState, c.Type, c.CredentialID, c.Schema
		versions[i], texts[i], hashes[i], reasons[i] = c.Version, c.JSON, c.Hash, nullable(c.Reason)
		profiles[i], held[i], notBefore[i] = c.Profile, c.Held, c.NotBefore
		r.set(i, c.Prev, c.Last)
	}
	return batch.Queue(`INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date,
    last_event_id, last_event_date, credential_type_cd, credential_id, schema_name, schema_version, credential_json,
    credential_hash, credential_reason, profile, not_before, process_date, process_success)
SELECT $1, c.corp_num, c.corp_state, c.prev_id, c.prev_date, c.last_id, c.last_date, c.typ, c.id, c.schema, c.version,
       c.text::json, c.hash, c.reason, c.profile, c.not_before,
       CASE WHEN c.held THEN now() END, CASE WHEN c.held THEN 'A' END
FROM unnest($2::text[], $3::text[], $4::bigint[], $5::timestamp[], $6::bigint[], $7::timestamp[], $8::text[], $9::text[],
            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[], $17::bool[])
     WITH ORDINALITY AS c(corp_num, corp_state, prev_id, prev_date, last_id, last_date, typ, id, schema, version,
                          text, hash, reason, profile, not_before, held, ord)
ORDER BY c.ord
ON CONFLICT (credential_hash) DO NOTHING
RETURNING record_id, credential_hash, process_success IS NULL AND `+isDue,
		system, corps, states, r.prevIDs, r.prevDates, r.lastIDs, r.lastDates, types, ids, schemas,
		versions, texts, hashes, reasons, profiles, notBefore, held)
}

// Row is a stored credential waiting for its bundle's PubAck.
type Row struct {
	RecordID     int64
	CorpNum      string
	CorpState    string
	Profile      string
	Prev, Last   regevent.Position
	Type         string
	CredentialID string
	Schema       string
	Version      string
	JSON         string
	Hash         string
	Reason       string
	// PrevSeq is the BCREG_CREDS sequence of the bundle that carried the
	// row before it came back to the outbox (0: never published): its next
	// bundle gets a message id the dedup window has not seen.
	PrevSeq int64
}

// unpublishedSQL selects the unpublished, due, outstanding (not held)
// credentials of the corporations $2, by corporation and then record id
// (issue order), as collectRows reads them.
var unpublishedSQL = `SELECT record_id, corp_num, coalesce(corp_state, ''), coalesce(profile, ''),
       prev_event_id, prev_event_date, last_event_id, last_event_date,
       credential_type_cd, coalesce(credential_id, ''), schema_name, schema_version, credential_json, credential_hash,
       coalesce(credential_reason, ''), coalesce(published_seq, 0)
FROM credential_log
WHERE corp_num = ANY($2) AND system_type_cd = $1
  AND published_at IS NULL AND process_success IS NULL
  AND ` + isDue + `
ORDER BY corp_num, record_id`

func queueUnpublished(batch *pgx.Batch, system string, corpNums []string) *pgx.QueuedQuery {
	return batch.Queue(unpublishedSQL, system, corpNums)
}

// Unpublished returns the unpublished, due, outstanding (not held)
// credentials of corpNums, by corporation and then record id (issue order).
func Unpublished(ctx context.Context, q eventdb.Querier, system string, corpNums []string) ([]Row, error) {
	rows, err := q.Query(ctx, unpublishedSQL, system, corpNums)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	list, err := collectRows(rows)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return list, nil
}

func collectRows(rows pgx.Rows) ([]Row, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) {
		var o Row
		err := r.Scan(&o.RecordID, &o.CorpNum, &o.CorpState, &o.Profile, &o.Prev.EventID, &o.Prev.Date.Time,
			&o.Last.EventID, &o.Last.Date.Time, &o.Type, &o.CredentialID, &o.Schema, &o.Version, &o.JSON, &o.Hash, &o.Reason, &o.PrevSeq)
		return o, err
	})
}

// PublishMark is a credential whose bundle was acknowledged, and the
// bundle's BCREG_CREDS stream sequence (for a duplicate, the original's).
type PublishMark struct {
	Hash string
	Seq  uint64
}

// MarkPublished sets published_at and published_seq on the credentials
// (after their bundle's PubAck). Rows are locked in record_id order, as
// every statement on credential_log locks them, so it never deadlocks with
// the poster; a serialization failure or deadlock is retried.
func MarkPublished(ctx context.Context, q eventdb.Querier, marks []PublishMark) error {
	if len(marks) == 0 {
		return nil
	}
	hashes, seqs := make([]string, len(marks)), make([]int64, len(marks))
	for i, m := range marks {
		hashes[i], seqs[i] = m.Hash, int64(m.Seq)
	}
	err := eventdb.RetryConflicts(ctx, func() error {
		_, err := q.Exec(ctx, `UPDATE credential_log c SET published_at = now(), published_seq = p.seq
FROM (SELECT cl.record_id, x.seq FROM unnest($1::text[], $2::bigint[]) AS x(hash, seq)
      JOIN credential_log cl ON cl.credential_hash = x.hash
      WHERE cl.published_at IS NULL
      ORDER BY cl.record_id FOR UPDATE OF cl) p
WHERE c.record_id = p.record_id`, hashes, seqs)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark credentials published: %w", err)
	}
	return nil
}

// StrandedCorps returns up to limit corporations after the corp_num after
// (in corp_num order; "" from the start) with credentials the sweep must
// publish: unpublished outstanding rows stored more than olderThan ago (a
// crash or a full stream left them, or they came back to the outbox), or
// waiting rows whose not_before has passed. Walking by corp_num lets one
// sweep pass reach every corporation even when some cannot be published.
func StrandedCorps(ctx context.Context, q eventdb.Querier, system string, olderThan time.Duration, after string, limit int) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT corp_num FROM credential_log
WHERE system_type_cd = $1 AND published_at IS NULL AND process_success IS NULL AND corp_num > $4
  AND `+isDue+` AND (not_before IS NOT NULL OR entry_date < LOCALTIMESTAMP - make_interval(secs => $2))
ORDER BY corp_num
LIMIT $3`, system, olderThan.Seconds(), limit, after)
	if err != nil {
		return nil, fmt.Errorf("find stranded credentials: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find stranded credentials: %w", err)
	}
	return list, nil
}

// PublishedBundle is a bundle that carries outstanding credentials, as the
// outbox recorded it.
type PublishedBundle struct {
	Seq         uint64
	CorpNum     string
	Credentials int64
	// PublishedAt is when its credentials were marked published.
	PublishedAt time.Time
}

// PublishedOutstanding returns, by stream sequence, the bundles after
// afterSeq up to maxSeq that carry outstanding, due credentials published more than
// olderThan ago and not under a running lease: the ones a poster is not
// working on, whose bundle must still be in BCREG_CREDS. At most limit.
func PublishedOutstanding(ctx context.Context, q eventdb.Querier, system string, afterSeq, maxSeq uint64, olderThan time.Duration, limit int) ([]PublishedBundle, error) {
	rows, err := q.Query(ctx, `SELECT published_seq, min(corp_num), count(*), min(published_at) FROM credential_log
WHERE published_at IS NOT NULL AND process_success IS NULL AND published_seq > $5 AND published_seq <= $2
  AND system_type_cd = $1
  AND published_at < now() - make_interval(secs => $3)
  AND `+isDue+`
  AND (claimed_until IS NULL OR claimed_until < now())
GROUP BY published_seq ORDER BY published_seq LIMIT $4`, system, int64(maxSeq), olderThan.Seconds(), limit, int64(afterSeq))
	if err != nil {
		return nil, fmt.Errorf("find published outstanding credentials: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PublishedBundle, error) {
		var b PublishedBundle
		var seq int64
		err := r.Scan(&seq, &b.CorpNum, &b.Credentials, &b.PublishedAt)
		b.Seq = uint64(seq)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("find published outstanding credentials: %w", err)
	}
	return list, nil
}

// Rearmed is a credential handed back to the outbox (or given up) because
// its bundle is gone.
type Rearmed struct {
	CorpNum string
	Hash    string
	// Dead: it had been handed back maxRearms times already and is now D.
	Dead bool
}

// Rearm hands the outstanding credentials of the given bundles, which left
// BCREG_CREDS without an answer, back to the outbox (published_at NULL,
// published_seq kept, rearmed + 1), so the sweep republishes them under a
// new message id. A row handed back maxRearms times already becomes D with
// reason instead (a bundle that keeps disappearing, e.g. one that crashes
// every poster). Rows a poster holds under a running lease, and rows a
// newer bundle carries by now, are left alone.
func Rearm(ctx context.Context, q eventdb.Querier, seqs []uint64, maxRearms int, reason string) ([]Rearmed, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	ss := make([]int64, len(seqs))
	for i, s := range seqs {
		ss[i] = int64(s)
	}
	var out []Rearmed
	err := eventdb.RetryConflicts(ctx, func() error {
		rows, err := q.Query(ctx, `UPDATE credential_log c
SET published_at = CASE WHEN c.rearmed >= $2 THEN c.published_at END,
    rearmed = CASE WHEN c.rearmed >= $2 THEN c.rearmed ELSE c.rearmed + 1 END,
    process_success = CASE WHEN c.rearmed >= $2 THEN 'D' END,
    process_date = CASE WHEN c.rearmed >= $2 THEN LOCALTIMESTAMP END,
    process_msg = CASE WHEN c.rearmed >= $2 THEN $3 ELSE c.process_msg END
FROM (SELECT cl.record_id FROM credential_log cl
      WHERE cl.published_seq = ANY($1) AND cl.published_at IS NOT NULL AND cl.process_success IS NULL
        AND (cl.claimed_until IS NULL OR cl.claimed_until < now())
      ORDER BY cl.record_id FOR UPDATE OF cl) p
WHERE c.record_id = p.record_id
RETURNING c.corp_num, c.credential_hash, c.process_success IS NOT NULL`, ss, maxRearms, eventdb.ProcessMsg(reason))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rearmed, error) {
			var x Rearmed
			err := r.Scan(&x.CorpNum, &x.Hash, &x.Dead)
			return x, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rearm credentials: %w", err)
	}
	return out, nil
}

// Backlog counts unpublished, due, outstanding credentials.
func Backlog(ctx context.Context, q eventdb.Querier, system string) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM credential_log
WHERE system_type_cd = $1 AND published_at IS NULL AND process_success IS NULL
  AND `+isDue, system).Scan(&n); err != nil {
		return 0, fmt.Errorf("count outbox backlog: %w", err)
	}
	return n, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
