package discovery_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestFutureRequeueFollowsTheEvent: re-recording a corporation's future
// event with a new effective date moves the row's due date, later or
// earlier, and re-arms a row that already fired; the same date again
// changes nothing; a row moved between its reading and its marking stays
// armed; two dates for one event in one call keep the earlier.
func TestFutureRequeueFollowsTheEvent(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	d1, d2, d3 := now.Add(time.Hour), now.Add(3*time.Hour), now.Add(5*time.Hour)
	first := now.Add(-48 * time.Hour)
	row := func(corp string, due time.Time) discovery.FutureRequeue {
		return discovery.FutureRequeue{CorpNum: corp, DueAt: due, EventID: 500, FirstEventID: 400, FirstEventDate: first}
	}
	add := func(rs ...discovery.FutureRequeue) {
		t.Helper()
		if err := discovery.AddFutureRequeues(ctx, pool, "BC_REG", rs); err != nil {
			t.Fatal(err)
		}
	}
	type state struct {
		Corp      string
		Due       time.Time
		Published bool
	}
	read := func() []state {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT corp_num, due_at, published_at IS NOT NULL FROM future_requeue ORDER BY corp_num`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []state
		for rows.Next() {
			var s state
			if err := rows.Scan(&s.Corp, &s.Due, &s.Published); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	add(row("LATER", d1), row("EARLIER", d2), row("FIRED", d1), row("SAME", d1))
	add(row("LATER", d2), row("EARLIER", d1))
	// At d1 the poller publishes what came due.
	due, err := discovery.DueFutureRequeues(ctx, pool, "BC_REG", d1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var dueCorps []string
	for _, f := range due {
		dueCorps = append(dueCorps, f.CorpNum)
	}
	if diff := cmp.Diff([]string{"EARLIER", "FIRED", "SAME"}, dueCorps); diff != "" {
		t.Fatalf("due at d1 (-want +got):\n%s", diff)
	}
	// EARLIER moves again after it was read, before it is marked: it
	// stays armed for its new date.
	add(row("EARLIER", d3))
	if err := discovery.MarkFutureRequeuesPublished(ctx, pool, due); err != nil {
		t.Fatal(err)
	}
	// The re-runs at d1: FIRED's date has moved on, SAME's has not; the
	// batch of DUP names its event twice.
	add(row("FIRED", d3), row("SAME", d1), row("DUP", d3), row("DUP", d2))

	want := []state{
		{"DUP", d2, false},
		{"EARLIER", d3, false},
		{"FIRED", d3, false}, // re-armed for the new date
		{"LATER", d2, false},
		{"SAME", d1, true},
	}
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("future_requeue (-want +got):\n%s", diff)
	}
}
