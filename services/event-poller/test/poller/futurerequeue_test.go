package poller_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

// TestFutureRequeueFollowsTheEvent: when a future-dated filing's effective
// date moves, its re-queue follows: moved later, it does not fire at the
// old date but at the new one; moved earlier, it fires at the new date and
// not again at the old one; moved after it fired (the re-run at the old
// date sees the new one), it fires again at the new date under a new
// message id. The same date recorded again does not fire twice.
func TestFutureRequeueFollowsTheEvent(t *testing.T) {
	e := newEnv(t)
	start := time.Date(2030, 6, 1, 19, 0, 0, 0, time.UTC) // 12:00 PDT
	clk := testenv.NewClock(start)
	cfg := e.config(func(c *poller.Config) { c.InitialLoad = poller.InitialLoadSkip })
	st, err := e.startStepped(cfg, poller.Hooks{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	local := regclock.LocalOf(regclock.Registry, start)
	d1, d2 := local.Add(time.Hour), local.Add(3*time.Hour) // naive BC local due dates
	first := local.Add(-48 * time.Hour)
	ctx := testenv.Context(t)
	// record is what the builder stores for a corporation's future event.
	record := func(corp string, event int64, due time.Time) {
		t.Helper()
		if err := discovery.AddFutureRequeues(ctx, e.edb, system, []discovery.FutureRequeue{
			{CorpNum: corp, DueAt: due, EventID: event, FirstEventID: 400, FirstEventDate: first}}); err != nil {
			t.Fatal(err)
		}
	}
	type fired struct {
		Corp  string
		Due   time.Time
		MsgID string
	}
	base := e.lastSeq()
	step := func(at time.Time) []fired {
		t.Helper()
		seq := e.lastSeq()
		clk.Set(at)
		if err := st.next(); err != nil {
			t.Fatalf("cycle at %s: %v", at, err)
		}
		var out []fired
		for _, ev := range after(seq, e.events()) {
			if ev.Event.Reason != messages.ReasonFutureDated {
				t.Fatalf("unexpected CorpEvent %+v", ev)
			}
			out = append(out, fired{ev.Event.CorpNum, ev.Event.Last.Date.Time, ev.MsgID})
		}
		return out
	}
	f := func(corp string, event int64, due time.Time) fired {
		return fired{corp, due, poller.FutureMsgID(system, corp, event, due)}
	}

	record("0191294", 501, d1) // moves later before it fires
	record("2075204", 502, d2) // moves earlier
	record("6885343", 503, d1) // fires, then moves later
	record("5081379", 504, d1) // fires, then is recorded again unchanged
	record("0191294", 501, d2)
	record("2075204", 502, d1)

	if diff := cmp.Diff([]fired{f("2075204", 502, d1), f("6885343", 503, d1), f("5081379", 504, d1)},
		step(start.Add(time.Hour+time.Minute))); diff != "" {
		t.Errorf("fired at the first date (-want +got):\n%s", diff)
	}
	// The builder's re-runs at d1.
	record("6885343", 503, d2)
	record("5081379", 504, d1)
	if diff := cmp.Diff([]fired{f("0191294", 501, d2), f("6885343", 503, d2)},
		step(start.Add(3*time.Hour+time.Minute))); diff != "" {
		t.Errorf("fired at the second date (-want +got):\n%s", diff)
	}
	if n := len(after(base, e.events())); n != 5 {
		t.Errorf("stored %d future-dated CorpEvents, want 5", n)
	}
}
