package operator_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestCounts checks every figure of both scopes on rows in every status,
// and that the watermark is the poller's (CurrentWatermark): the latest
// event date, then the highest id at it, of the system asked for; not the
// highest event id of any system.
func TestCounts(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		// Event 100 was recorded first; event 90 is dated later (ids are
		// not in date order), and another system has a higher id.
		`INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES
		  ('BC_REG', 100, '2020-01-01 10:00'), ('BC_REG', 90, '2020-01-01 10:05'), ('OTHER', 500, '2021-01-01')`,
		`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, process_date, process_success)
		 SELECT 'BC_REG', 'W' || s, 0, '0001-01-01', 1, '2020-01-01', CASE WHEN s <> '' THEN LOCALTIMESTAMP END, NULLIF(s, '')
		 FROM unnest(ARRAY['Y', 'Y', 'N', 'S', '']) s`,
		`INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, process_date, process_success)
		 VALUES ('BC_REG', 'W1', 0, '0001-01-01', 1, '2020-01-01', now(), 'Y')`,
		// Credentials: answered Y (the last one a minute ago), N, D, A;
		// outstanding: due and published (the oldest 5 minutes ago, one
		// with failed attempts), unpublished, not yet due; one released.
		`INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
		   credential_type_cd, schema_name, schema_version, credential_json, credential_hash, process_date, process_success,
		   published_at, not_before, attempts, rearmed)
		 VALUES ('BC_REG', 'C1', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'y1', '2020-02-01 10:00', 'Y', now(), NULL, 0, 1),
		        ('BC_REG', 'C1', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'y2', '2020-02-01 11:00', 'Y', now(), NULL, 0, 0),
		        ('BC_REG', 'C2', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'n1', '2020-02-01 10:30', 'N', now(), NULL, 0, 0),
		        ('BC_REG', 'C3', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'd1', '2020-02-01 12:00', 'D', now(), NULL, 10, 0),
		        ('BC_REG', 'C4', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'a1', NULL, 'A', NULL, NULL, 0, 0),
		        ('BC_REG', 'C5', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'o1', NULL, NULL, '2020-03-01 10:00Z', NULL, 2, 0),
		        ('BC_REG', 'C5', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'o2', NULL, NULL, '2020-03-01 10:05Z', NULL, 0, 0),
		        ('BC_REG', 'C6', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'u1', NULL, NULL, NULL, NULL, 0, 0),
		        ('BC_REG', 'C7', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'w1', NULL, NULL, '2020-03-01 09:00Z', now() + interval '2 days', 0, 0)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var lastAnswer time.Time // y2's process_date, read as the database's local clock
	if err := pool.QueryRow(ctx, `SELECT timestamp '2020-02-01 11:00' AT TIME ZONE current_setting('TimeZone')`).Scan(&lastAnswer); err != nil {
		t.Fatal(err)
	}
	wmDate := time.Date(2020, 1, 1, 10, 5, 0, 0, time.UTC)
	oldestWaiting := time.Date(2020, 3, 1, 10, 0, 0, 0, time.UTC)
	state := operator.PipelineCounts{WatermarkEventID: 90, WatermarkEventDate: &wmDate,
		LastAnswer: &lastAnswer, OldestWaiting: &oldestWaiting,
		Tables: map[string]operator.TableCounts{
			"event_by_corp_filing": {Outstanding: 1, Failed: 1},
			"credential_log":       {Outstanding: 3, Failed: 1, DeadLetter: 1, Held: 1, Waiting: 1, Unpublished: 1, Released: 1, Attempting: 1},
		}}
	all := state
	all.Tables = map[string]operator.TableCounts{
		"event_by_corp_filing": {Processed: 4, Outstanding: 1, Failed: 1, Skipped: 1},
		"corp_history_log":     {Processed: 1},
		"credential_log":       {Processed: 4, Outstanding: 3, Failed: 1, DeadLetter: 1, Held: 1, Waiting: 1, Unpublished: 1, Released: 1, Attempting: 1},
	}
	for _, tc := range []struct {
		name  string
		scope operator.CountScope
		want  operator.PipelineCounts
	}{
		{"state", operator.CountState, state},
		{"all", operator.CountAll, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := operator.Counts(ctx, pool, "BC_REG", tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Counts (-want +got):\n%s", diff)
			}
		})
	}
	wm, _, err := discovery.CurrentWatermark(ctx, pool, "BC_REG")
	if err != nil || wm.EventID != 90 || !wm.Date.Equal(wmDate) {
		t.Errorf("CurrentWatermark = %+v, %v; want the status report's", wm, err)
	}
}

// TestCountStateUsesIndexes: the figures the alerts read every minute
// (CountState) reach every row through an index, never by scanning a work
// table, so their cost follows the backlog and the failures, not the
// tables' history. With sequential scans disabled the planner still takes
// one where no index serves a condition: the transaction's statistics
// show it.
func TestCountStateUsesIndexes(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		// The view holds the backend's statistics not yet flushed (the
		// migration's too): compare before and after.
		scans := func() map[string]int64 {
			rows, _ := tx.Query(ctx, `SELECT relname::text, seq_scan FROM pg_stat_xact_user_tables
				WHERE relname IN ('credential_log', 'event_by_corp_filing', 'corp_history_log')`)
			out := map[string]int64{}
			var name string
			var n int64
			if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		before := scans()
		if _, err := operator.Counts(ctx, tx, "BC_REG", operator.CountState); err != nil {
			return err
		}
		if diff := cmp.Diff(before, scans()); diff != "" {
			t.Errorf("Counts(CountState) scanned a table (sequential scans, -before +after):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
