package adopt_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestForcedAdoptionNeverMovesTheWatermarkBack: after an adoption the
// poller advanced the watermark to an event with a lower id but a later
// date (ids are not issued in date order). A forced re-adoption of the
// same original writes no older watermark row and reports the kept one;
// the watermark the poller reads (discovery.CurrentWatermark) and the one
// status, the console and the alerts show (operator.Counts) are the same
// event with its own date. A re-adoption of an original that got further
// moves the watermark forward.
func TestForcedAdoptionNeverMovesTheWatermarkBack(t *testing.T) {
	d1 := time.Date(2019, 3, 1, 11, 0, 0, 0, time.UTC)
	d2 := time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC)
	d3 := time.Date(2019, 3, 3, 8, 0, 0, 0, time.UTC)
	origWM := regevent.At(1100, d1)
	polled := regevent.At(1000, d2) // lower id, later date
	tests := []struct {
		name      string
		readopt   regevent.Position // the original's watermark at the re-adoption
		want      regevent.Position
		wantKept  bool
		wantAdded int // last_event rows the re-adoption adds
	}{
		{"the original is behind the poller", origWM, polled, true, 0},
		{"the original got further", regevent.At(900, d3), regevent.At(900, d3), false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t)
			orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.LayoutPreLEAR)
			orig.Watermark(origWM.EventID, origWM.Date.Time)
			from, o, pool := inspected(t, orig.URL)
			plan := adopt.Plan{System: "BC_REG", Watermark: origWM}
			if _, err := adopt.Run(ctx, pool, from, o, plan); err != nil {
				t.Fatal(err)
			}
			if err := discovery.AdvanceWatermark(ctx, pool, "BC_REG", polled, nil, d1.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			rowsBefore := watermarkRows(t, pool)

			plan.Watermark, plan.Force = tc.readopt, true
			res, err := adopt.Run(ctx, pool, from, o, plan)
			if err != nil {
				t.Fatal(err)
			}
			if res.Watermark != tc.want || res.WatermarkKept != tc.wantKept {
				t.Errorf("result: watermark %+v kept %v, want %+v %v", res.Watermark, res.WatermarkKept, tc.want, tc.wantKept)
			}
			if got := watermarkRows(t, pool); len(got) != len(rowsBefore)+tc.wantAdded || cmp.Diff(rowsBefore, got[:len(rowsBefore)]) != "" {
				t.Errorf("last_event rows: before %v, after %v; want %d added", rowsBefore, got, tc.wantAdded)
			}
			if wm, ok, err := discovery.CurrentWatermark(ctx, pool, "BC_REG"); err != nil || !ok || wm != tc.want {
				t.Errorf("discovery.CurrentWatermark = %+v %v %v, want %+v", wm, ok, err, tc.want)
			}
			pc, err := operator.Counts(ctx, pool, "BC_REG", operator.CountState)
			if err != nil {
				t.Fatal(err)
			}
			if pc.WatermarkEventID != tc.want.EventID || pc.WatermarkEventDate == nil || !pc.WatermarkEventDate.Equal(tc.want.Date.Time) {
				t.Errorf("status shows event %d at %v, want %+v", pc.WatermarkEventID, pc.WatermarkEventDate, tc.want)
			}
		})
	}
}

// watermarkRows lists last_event as "event_id@date" in insertion order.
func watermarkRows(t *testing.T, q eventdb.Querier) []string {
	t.Helper()
	rows, _ := q.Query(testenv.Context(t), `SELECT event_id || '@' || to_char(event_date, 'YYYY-MM-DD HH24:MI') FROM last_event ORDER BY record_id`)
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return list
}
