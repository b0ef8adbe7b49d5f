package adopt_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestAdoptRequeuesWhatTheOriginalFailedOn: the corporations with a work
// item the original marked failed (N) in EVENT_BY_CORP_FILING or
// CORP_HISTORY_LOG, which it never retried, are requeued with those it
// left queued, each once, in both layouts; one that failed and later
// succeeded is requeued too (its failed range got no credentials);
// skipped (S) and processed (Y) ones are not; the adoption's
// operator_action names them.
func TestAdoptRequeuesWhatTheOriginalFailedOn(t *testing.T) {
	for _, layout := range []string{originaltest.Layout8bc273a, originaltest.LayoutPreLEAR} {
		t.Run(layout, func(t *testing.T) {
			ctx := testenv.Context(t)
			wmDate := time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC)
			orig := originaltest.Create(t, testenv.NewDatabase(t), layout)
			orig.Watermark(1000, wmDate)
			done := time.Date(2019, 3, 2, 10, 0, 0, 0, time.UTC)
			ev := originaltest.Event{ID: 1000, Date: wmDate}
			start := originaltest.Event{Date: regevent.Start.Date.Time}
			item := func(corp, status, msg string, processed bool) {
				w := originaltest.WorkItem{CorpNum: corp, Prev: start, Last: ev, ProcessSuccess: status, ProcessMsg: msg}
				if processed {
					w.ProcessDate = &done
				}
				orig.AddWorkItem(w)
			}
			item("Y1", "Y", "BC", true)
			item("S1", "S", "XP: Skipped, not in scope", true)
			item("F1", "N", "'NoneType' object has no attribute 'event_timestmp'", true)
			item("F3", "N", "no corp_type", true)
			item("F3", "Y", "BC", true) // failed, then processed on a later event
			item("Q1", "", "", false)
			item("F1", "", "", false) // failed, and queued again
			// A snapshot the generator failed on (load-only runs leave
			// CORP_HISTORY_LOG rows for the generator).
			orig.AddHistory(originaltest.History{CorpNum: "F2", CorpState: "ACT", Prev: start, Last: ev, ProcessDate: &done,
				ProcessSuccess: "N", ProcessMsg: "KeyError: 'effective_date'"})
			orig.AddHistory(originaltest.History{CorpNum: "Y1", CorpState: "ACT", Prev: start, Last: ev, ProcessDate: &done, ProcessSuccess: "Y"})

			from, o, pool := inspected(t, orig.URL)
			type corps struct{ Queued, Failed, Requeue []string }
			want := corps{Queued: []string{"F1", "Q1"}, Failed: []string{"F1", "F2", "F3"}, Requeue: []string{"F1", "F2", "F3", "Q1"}}
			if diff := cmp.Diff(want, corps{o.Queued, o.Failed, o.Requeue()}); diff != "" {
				t.Errorf("inspect (-want +got):\n%s", diff)
			}
			res, err := adopt.Run(ctx, pool, from, o, adopt.Plan{System: "BC_REG", Watermark: regevent.At(1000, wmDate)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, corps{res.Queued, res.Failed, res.Requeue}); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			var detail struct {
				Queued, Failed []string
				Requeued       int
			}
			if err := pool.QueryRow(ctx, `SELECT detail FROM operator_action WHERE record_id = $1`, res.ActionID).Scan(&detail); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, corps{detail.Queued, detail.Failed, want.Requeue}); diff != "" || detail.Requeued != 4 {
				t.Errorf("operator_action detail (-want +got):\n%s requeued %d, want 4", diff, detail.Requeued)
			}
		})
	}
}
