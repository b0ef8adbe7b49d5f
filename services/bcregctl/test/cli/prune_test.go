package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// TestPrune: old snapshots go except each corporation's latest; event_seen
// rows dated before watermark − D go, and D may not reach inside the
// poller's look-back.
func TestPrune(t *testing.T) {
	w := newOpsWorld(t)
	for _, h := range []struct {
		corp string
		age  string
	}{{"A1", "40 days"}, {"A1", "35 days"}, {"A1", "1 day"}, {"B2", "50 days"}, {"C3", "60 days"}, {"C3", "31 days"}} {
		w.exec(`INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, corp_json, entry_date)
VALUES ('BC_REG', $1, 0, '0001-01-01', 1, '2019-01-01', '{}', LOCALTIMESTAMP - $2::interval)`, h.corp, h.age)
	}
	wm := regevent.At(100, time.Date(2019, 3, 1, 12, 0, 0, 0, time.UTC))
	w.setWatermark(wm)
	if err := discovery.MarkSeen(w.ctx, w.edb, "BC_REG", []regevent.Event{
		{Position: regevent.At(90, wm.Date.Add(-2*time.Hour)), CorpNum: "A1"},
		{Position: regevent.At(95, wm.Date.Add(-45*time.Minute)), CorpNum: "B2"},
		{Position: regevent.At(99, wm.Date.Add(-5*time.Minute)), CorpNum: "C3"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"nothing named", []string{"prune"}},
		{"inside the look-back", []string{"prune", "--seen-older-than", "5m"}},
		{"bad age", []string{"prune", "--history-older-than", "soon"}},
	} {
		if code, _, _ := run(t, tc.args...); code != 2 {
			t.Errorf("%s: exit %d, want 2", tc.name, code)
		}
	}
	// A dry run counts what would go and changes nothing.
	code, stdout, stderr := run(t, "prune", "--history-older-than", "30d", "--seen-older-than", "30m", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "corp_history_log: 3 snapshots older than 720h0m0s would be deleted (dry run)") ||
		!strings.Contains(stdout, "event_seen: 2 events dated before 2019-03-01T11:30:00 would be deleted (dry run)") {
		t.Errorf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "prune", "--history-older-than", "30d", "--seen-older-than", "30m")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "corp_history_log: 3 snapshots") || !strings.Contains(stdout, "event_seen: 2 events") {
		t.Errorf("stdout:\n%s", stdout)
	}
	// Progress on stderr (not a terminal: the closing line of each table).
	for _, want := range []string{"prune corp_history_log: 3 of 3 rows done", "prune event_seen: 2 of 2 rows done"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress: want %q in\n%s", want, stderr)
		}
	}
	rows, _ := w.edb.Query(w.ctx, `SELECT corp_num || ' ' || extract(day FROM LOCALTIMESTAMP - entry_date)::int FROM corp_history_log ORDER BY record_id`)
	left, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	if diff := cmp.Diff([]string{"A1 1", "B2 50", "C3 31"}, left); diff != "" {
		t.Errorf("snapshots left (-want +got):\n%s", diff)
	}
	rows, _ = w.edb.Query(w.ctx, `SELECT event_id FROM event_seen ORDER BY 1`)
	seen, _ := pgx.CollectRows(rows, pgx.RowTo[int64])
	if diff := cmp.Diff([]int64{99}, seen); diff != "" {
		t.Errorf("seen events left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"prune corp_history_log event_seen 5"}, w.actions()); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
	// BCREG_HISTORY_RETENTION is the default: A1's day-old snapshot is
	// no longer its latest.
	w.exec(`INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, corp_json)
VALUES ('BC_REG', 'A1', 0, '0001-01-01', 1, '2019-01-01', '{}')`)
	t.Setenv("BCREG_HISTORY_RETENTION", "1h")
	if code, stdout, _ := run(t, "prune"); code != 0 || !strings.Contains(stdout, "corp_history_log: 1 snapshots") {
		t.Errorf("with BCREG_HISTORY_RETENTION: exit %d\n%s", code, stdout)
	}
}

// TestPruneSeenKeepsTheAutumnLookBack: with the watermark in the repeated
// autumn hour (01:49, read as its first pass), the poller's look-back in
// real time still reaches the start of the hour (01:00), so `prune
// --seen-older-than 30m` keeps the rows dated 01:00–01:19 that watermark − 30m
// would have deleted: the next poll would publish those events again.
func TestPruneSeenKeepsTheAutumnLookBack(t *testing.T) {
	w := newOpsWorld(t)
	at := func(h, m int) time.Time { return time.Date(2026, 11, 1, h, m, 0, 0, time.UTC) }
	w.setWatermark(regevent.At(100, at(1, 49)))
	if err := discovery.MarkSeen(w.ctx, w.edb, "BC_REG", []regevent.Event{
		{Position: regevent.At(90, at(0, 59)), CorpNum: "A1"},
		{Position: regevent.At(95, at(1, 5)), CorpNum: "B2"},
		{Position: regevent.At(99, at(1, 45)), CorpNum: "C3"},
	}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "prune", "--seen-older-than", "30m")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "event_seen: 1 events dated before 2026-11-01T01:00:00 deleted") {
		t.Errorf("stdout:\n%s", stdout)
	}
	rows, _ := w.edb.Query(w.ctx, `SELECT event_id FROM event_seen ORDER BY 1`)
	seen, _ := pgx.CollectRows(rows, pgx.RowTo[int64])
	if diff := cmp.Diff([]int64{95, 99}, seen); diff != "" {
		t.Errorf("seen events left (-want +got):\n%s", diff)
	}
}
