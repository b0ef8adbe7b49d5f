package outboxdb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// Counters of pg_stat_user_tables that tableStat reads.
const (
	// statScans: how many times the table was scanned, sequentially or
	// by an index.
	statScans = `coalesce(seq_scan, 0) + coalesce(idx_scan, 0)`
	// statTuplesRead: how many of its rows were read, sequentially or
	// through an index.
	statTuplesRead = `coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)`
)

// tableStat is a counter of table (statScans, statTuplesRead), this
// connection's own reads included (its pending counts are flushed first).
func tableStat(t *testing.T, conn *pgx.Conn, table, counter string) int64 {
	t.Helper()
	ctx := testenv.Context(t)
	// The flush happens when the session goes idle after this statement.
	if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := conn.QueryRow(ctx, `SELECT `+counter+` FROM pg_stat_user_tables WHERE relname = $1`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWriteBatchReturnsTheOutbox: a batch's write returns its
// corporations' outbox as Unpublished reads it afterwards — the rows left
// unpublished before (first, in issue order) and the new outstanding, due
// ones, but neither held nor future-dated ones, nor a known hash — and
// logs only the snapshots that differ from their corporation's latest,
// found for the whole batch with one scan of corp_history_log, where a
// sub-select per snapshot scanned it once per snapshot.
func TestWriteBatchReturnsTheOutbox(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// A has an unpublished credential from before and two snapshots (the
	// latest "a2"); B a published credential "b-old" and one snapshot "b1".
	for _, q := range []string{
		`INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date, last_event_id, last_event_date,
			credential_type_cd, credential_id, schema_name, schema_version, credential_json, credential_hash, profile, published_at, published_seq)
		VALUES ('BC_REG', 'A', 'ACT', 0, '0001-01-01', 5, '2020-01-01', 'REG', 'A-1', 's', '1', '{"x": 1}', 'a-old', 'history', NULL, 3),
		       ('BC_REG', 'B', 'ACT', 0, '0001-01-01', 5, '2020-01-01', 'REG', 'B-1', 's', '1', '{"x": 2}', 'b-old', 'history', now(), 4)`,
		`INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, corp_json, corp_json_hash)
		VALUES ('BC_REG', 'A', 0, '0001-01-01', 1, '2019-01-01', '{}', 'a1'), ('BC_REG', 'A', 0, '0001-01-01', 2, '2019-02-01', '{}', 'a2'),
		       ('BC_REG', 'B', 0, '0001-01-01', 2, '2019-02-01', '{}', 'b1')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	prev, last := regevent.Start, regevent.At(9, time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC))
	later := time.Now().Add(24 * time.Hour)
	cred := func(corp, hash, json string) outboxdb.NewCredential {
		return outboxdb.NewCredential{CorpNum: corp, CorpState: "ACT", Prev: prev, Last: last, Type: "REG", CredentialID: corp + "-2",
			Schema: "registration.registries.ca", Version: "1.0.42", JSON: json, Hash: hash, Reason: "new", Profile: "history"}
	}
	held, future := cred("A", "a-held", `{"addr": "x"}`), cred("B", "b-future", `{"b": 1}`)
	held.Held, future.NotBefore = true, &later
	w := outboxdb.BatchWrite{System: "BC_REG", OutboxCorps: []string{"A", "B", "C"},
		Items: []outboxdb.WorkItem{
			{CorpNum: "A", Prev: prev, Last: last, Reason: "event", MsgID: "m1", Outcome: outboxdb.OutcomeDone},
			{CorpNum: "B", Prev: prev, Last: last, Reason: "event", MsgID: "m2", Outcome: outboxdb.OutcomeDone},
			{CorpNum: "C", Prev: prev, Last: last, Reason: "event", MsgID: "m3", Outcome: outboxdb.OutcomeDone},
		},
		History: []outboxdb.HistoryEntry{
			{CorpNum: "A", CorpState: "ACT", Prev: prev, Last: last, JSON: []byte(`{"a": 2}`), Hash: "a2"},
			{CorpNum: "B", CorpState: "ACT", Prev: prev, Last: last, JSON: []byte(`{"b":  2}`), Hash: "b2"},
			{CorpNum: "C", CorpState: "ACT", Prev: prev, Last: last, JSON: []byte(`{"c": 1}`), Hash: "c1"},
		},
		Credentials: []outboxdb.NewCredential{
			cred("A", "a-new", `{"z": 1,  "a": "é"}`), held, future, cred("C", "b-old", `{"x": 2}`), cred("C", "c-new", `{"c": [1, 2]}`),
		},
	}
	conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	before := tableStat(t, conn, "corp_history_log", statScans)
	var res outboxdb.BatchResult
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		res, err = outboxdb.WriteBatch(ctx, tx, w)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := tableStat(t, conn, "corp_history_log", statScans) - before; n > 1 {
		t.Errorf("the batch scanned corp_history_log %d times for 3 snapshots, want 1", n)
	}
	counts := [3]int64{res.ItemsRecorded, res.SnapshotsLogged, res.CredentialsStored}
	if diff := cmp.Diff([3]int64{3, 2, 4}, counts); diff != "" {
		t.Errorf("items, snapshots, credentials stored (-want +got):\n%s", diff)
	}
	want, err := outboxdb.Unpublished(ctx, pool, "BC_REG", w.OutboxCorps)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, r := range want {
		hashes = append(hashes, r.Hash)
	}
	if diff := cmp.Diff([]string{"a-old", "a-new", "c-new"}, hashes); diff != "" {
		t.Fatalf("outbox after the write (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, res.Outbox); diff != "" {
		t.Errorf("outbox returned by the write, against the one read after it (-want +got):\n%s", diff)
	}
	var logged []string
	rows, err := pool.Query(ctx, `SELECT corp_num || ' ' || corp_json_hash || ' ' || corp_json::text FROM corp_history_log ORDER BY record_id`)
	if err != nil {
		t.Fatal(err)
	}
	if logged, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"A a1 {}", "A a2 {}", "B b1 {}", `B b2 {"b":  2}`, `C c1 {"c": 1}`}, logged); diff != "" {
		t.Errorf("corp_history_log (-want +got):\n%s", diff)
	}
}

// TestWriteBatchReadsOnlyItsCorporationsOutbox: the batch's outbox is read
// through the corporations' own rows even when the statistics were
// gathered before the outstanding rows of an initial load were stored (no
// poster runs while staging, so every stored credential stays outstanding):
// planned on those statistics, the read took the status index for "few
// outstanding rows" and read every outstanding row of the table, once per
// batch.
func TestWriteBatchReadsOnlyItsCorporationsOutbox(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// The statistics: the first batches' held credentials (A).
	if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
		last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash,
		process_success, process_date)
		SELECT 'BC_REG', 'H' || g, 0, '0001-01-01', 1, '2020-01-01', 'ADDR', 's', '1', '{}', 'held' || g, 'A', now()
		FROM generate_series(1, 1000) g; ANALYZE credential_log`); err != nil {
		t.Fatal(err)
	}
	// Earlier batches: 20,000 published, outstanding credentials of other
	// corporations, stored after the statistics.
	if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
		last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash, published_at)
		SELECT 'BC_REG', 'P' || g, 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'old' || g, now()
		FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	prev, last := regevent.Start, regevent.At(9, time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC))
	w := outboxdb.BatchWrite{System: "BC_REG", OutboxCorps: []string{"A", "B"}, Credentials: []outboxdb.NewCredential{
		{CorpNum: "A", Prev: prev, Last: last, Type: "REG", Schema: "s", Version: "1", JSON: `{"a": 1}`, Hash: "a1"},
	}}
	before := tableStat(t, conn, "credential_log", statTuplesRead)
	var res outboxdb.BatchResult
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		res, err = outboxdb.WriteBatch(ctx, tx, w)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := tableStat(t, conn, "credential_log", statTuplesRead) - before; n > 10 {
		t.Errorf("the batch of 2 corporations read %d rows of credential_log, want at most 10 (its own)", n)
	}
	if len(res.Outbox) != 1 || res.Outbox[0].Hash != "a1" {
		t.Errorf("outbox %+v, want a1", res.Outbox)
	}
}
