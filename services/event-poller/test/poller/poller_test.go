package poller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zapcore"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

var errCrash = errors.New("simulated crash")

// cmpEvent compares CorpEvents on their content (not when they were made).
var cmpEvent = []cmp.Option{
	cmpopts.IgnoreFields(messages.CorpEvent{}, "DetectedAt"),
	cmp.Comparer(func(a, b regclock.LocalTime) bool { return a.Equal(b.Time) }),
}

// TestInitialLoadThenQuietPolls: the first start publishes one initial-load
// CorpEvent per corporation in corp_num order, sets the watermark to the
// newest event noted at the start and records the look-back window as seen;
// then polls of the quiet registry publish nothing and move nothing.
func TestInitialLoadThenQuietPolls(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	e.mustOnce(cfg, poller.Hooks{})

	want := e.fixtureCorps()
	evs := e.events()
	if diff := cmp.Diff(want, corps(evs)); diff != "" {
		t.Fatalf("initial load corporations, in publish order (-want +got):\n%s", diff)
	}
	newest := e.newestFixtureEvent()
	runID := query[int64](t, e.edb, `SELECT run_id FROM initial_load`)[0]
	for i, ev := range evs {
		wantEv := messages.CorpEvent{V: 1, System: system, CorpNum: want[i], Prev: regevent.Start,
			Last: newest, Reason: messages.ReasonInitialLoad}
		if diff := cmp.Diff(wantEv, ev.Event, cmpEvent...); diff != "" {
			t.Errorf("CorpEvent of %s (-want +got):\n%s", want[i], diff)
		}
		if ev.MsgID != initMsgID(system, want[i], runID) || ev.Subject != bus.EventSubject(system, want[i]) {
			t.Errorf("%s: msg id %q subject %q", want[i], ev.MsgID, ev.Subject)
		}
	}
	if wm, ok := e.watermark(); !ok || wm != newest {
		t.Errorf("watermark = %+v (set %v), want the newest event %+v", wm, ok, newest)
	}
	if got := query[int64](t, e.edb, `SELECT published FROM initial_load WHERE finished_at IS NOT NULL`); !cmp.Equal(got, []int64{int64(len(want))}) {
		t.Errorf("finished runs' published counts = %v, want [%d]", got, len(want))
	}
	wantSeen := query[int64](t, e.srcPool(), `SELECT event_id::bigint FROM bc_registries.event
WHERE event_timestmp BETWEEN $1 AND $2 ORDER BY 1`, newest.Date.Time.Add(-cfg.LookBack), newest.Date.Time)
	if diff := cmp.Diff(wantSeen, query[int64](t, e.edb, `SELECT event_id FROM event_seen ORDER BY 1`)); diff != "" || len(wantSeen) == 0 {
		t.Errorf("event_seen after the load (-want +got):\n%s", diff)
	}

	seq := e.lastSeq()
	for range 3 {
		e.mustOnce(cfg, poller.Hooks{})
	}
	if got := e.lastSeq(); got != seq {
		t.Errorf("quiet polls stored %d messages, want none", got-seq)
	}
	if n := query[int64](t, e.edb, `SELECT count(*) FROM last_event`)[0]; n != 1 {
		t.Errorf("last_event rows = %d, want 1 (quiet polls write nothing)", n)
	}
}

// TestInitialLoadResumesAfterCrash: a poller that dies after publishing a
// page but before recording it resumes the same run; the page is
// re-published under the same ids and stored once.
func TestInitialLoadResumesAfterCrash(t *testing.T) {
	e := newEnv(t)
	cfg := e.config() // 10 corporations a page
	pages := 0
	err := e.once(cfg, poller.Hooks{AfterPublish: func(step string) error {
		if step == poller.StepLoadPage {
			if pages++; pages == 3 {
				return errCrash
			}
		}
		return nil
	}})
	if !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	want := e.fixtureCorps()
	if _, ok := e.watermark(); ok {
		t.Fatal("watermark set before the load finished")
	}
	if got := query[string](t, e.edb, `SELECT last_corp_num FROM initial_load`); !cmp.Equal(got, []string{want[19]}) {
		t.Errorf("recorded progress = %v, want [%s] (two pages)", got, want[19])
	}
	if n := len(e.events()); n != 30 {
		t.Errorf("stored after the crash: %d, want 30 (three pages)", n)
	}

	e.mustOnce(cfg, poller.Hooks{})
	if diff := cmp.Diff(want, corps(e.events())); diff != "" {
		t.Errorf("after resuming, every corporation once (-want +got):\n%s", diff)
	}
	if n := query[int64](t, e.edb, `SELECT count(*) FROM initial_load`)[0]; n != 1 {
		t.Errorf("initial_load runs = %d, want 1 (resumed, not restarted)", n)
	}
	if _, ok := e.watermark(); !ok {
		t.Error("no watermark after the resumed load")
	}
}

// TestInitialLoadSkip: BCREG_INITIAL_LOAD=skip publishes nothing and starts
// from the newest event without republishing its look-back window.
func TestInitialLoadSkip(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(func(c *poller.Config) { c.InitialLoad = poller.InitialLoadSkip })
	e.mustOnce(cfg, poller.Hooks{})
	e.mustOnce(cfg, poller.Hooks{})
	if n := len(e.events()); n != 0 {
		t.Errorf("stored %d CorpEvents, want none", n)
	}
	if wm, ok := e.watermark(); !ok || wm != e.newestFixtureEvent() {
		t.Errorf("watermark = %+v, want the newest event", wm)
	}
}

// TestEventsCommittedDuringLoadArePolledAfterwards: the load notes the
// newest event first; an event committed while it runs is published by the
// first poll (with the firm its corporation owns).
func TestEventsCommittedDuringLoadArePolledAfterwards(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	at := bcNow().Truncate(time.Second)
	var added bool
	e.mustOnce(cfg, poller.Hooks{AfterPublish: func(step string) error {
		if step == poller.StepLoadPage && !added {
			sourcetest.AddEvent(t, e.srcURL, 990_000_100, "0191294", at.Add(-time.Minute))
			added = true
		}
		return nil
	}})
	var polled []storedEvent
	for _, ev := range e.events() {
		if ev.Event.Reason == messages.ReasonEvent {
			polled = append(polled, ev)
		}
	}
	if diff := cmp.Diff([]string{"0191294", "LP0475721"}, corps(polled)); diff != "" {
		t.Fatalf("polled after the load (-want +got):\n%s", diff)
	}
	for _, ev := range polled {
		if want := poller.PollMsgID(system, ev.Event.CorpNum, []int64{990_000_100}); ev.MsgID != want {
			t.Errorf("%s: msg id %s, want %s", ev.Event.CorpNum, ev.MsgID, want)
		}
	}
}

// TestOngoingPollFindsAffectedCorporations (acceptance 2, the poller's
// part): new events bring in their corporations, the corporation whose
// state another's event ended, and the owners and firms of all of these;
// each CorpEvent's id hashes the events that brought it in.
func TestOngoingPollFindsAffectedCorporations(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	e.mustOnce(cfg, poller.Hooks{})
	wm0, _ := e.watermark()
	base := e.lastSeq()

	at := bcNow().Truncate(time.Second)
	o := sourcetest.ApplyOngoing(t, e.srcURL, at)
	e.mustOnce(cfg, poller.Hooks{})
	got := after(base, e.events())
	if diff := cmp.Diff(o.Affected, corps(got)); diff != "" {
		t.Fatalf("affected corporations (-want +got):\n%s", diff)
	}
	e1, e2, e3 := o.EventIDs[0], o.EventIDs[1], o.EventIDs[2]
	broughtBy := map[string]int64{"0191294": e1, "LP0475721": e1, "FM1227394": e2, "A9592574": e2, "7078358": e2,
		"8585951": e3, "2075204": e3}
	newWm := regevent.At(e3, at.Add(-time.Minute))
	for _, ev := range got {
		corp := ev.Event.CorpNum
		want := messages.CorpEvent{V: 1, System: system, CorpNum: corp, Reason: messages.ReasonEvent,
			Prev: regevent.At(wm0.EventID, wm0.Date.Time.Add(-cfg.LookBack)),
			Last: newWm}
		if diff := cmp.Diff(want, ev.Event, cmpEvent...); diff != "" {
			t.Errorf("CorpEvent of %s (-want +got):\n%s", corp, diff)
		}
		if id := poller.PollMsgID(system, corp, []int64{broughtBy[corp]}); ev.MsgID != id {
			t.Errorf("%s: msg id %s, want the hash of event %d", corp, ev.MsgID, broughtBy[corp])
		}
	}
	if wm, _ := e.watermark(); wm != newWm {
		t.Errorf("watermark = %+v, want %+v", wm, newWm)
	}
	seq := e.lastSeq()
	e.mustOnce(cfg, poller.Hooks{})
	if e.lastSeq() != seq {
		t.Error("a second poll re-published the same events")
	}
}

// TestOutOfOrderEventInsideLookBackIsPolled (acceptance 3): an event that
// commits after a newer one was polled, with an older timestamp and a lower
// id, is still published while it is inside the look-back window; one
// older than the window is not (the window is the documented bound).
func TestOutOfOrderEventInsideLookBackIsPolled(t *testing.T) {
	e := newEnv(t)
	cfg := e.config() // look-back 10 minutes
	e.mustOnce(cfg, poller.Hooks{})
	at := bcNow().Truncate(time.Second)

	sourcetest.AddEvent(t, e.srcURL, 990_000_010, "6885343", at.Add(-time.Minute))
	e.mustOnce(cfg, poller.Hooks{})
	wm, _ := e.watermark()
	if wm.EventID != 990_000_010 {
		t.Fatalf("watermark %+v, want event 990000010", wm)
	}
	base := e.lastSeq()
	sourcetest.AddEvent(t, e.srcURL, 990_000_009, "5081379", at.Add(-5*time.Minute))  // late, inside the window
	sourcetest.AddEvent(t, e.srcURL, 990_000_008, "4783263", at.Add(-30*time.Minute)) // late, beyond the window
	e.mustOnce(cfg, poller.Hooks{})
	got := after(base, e.events())
	if diff := cmp.Diff([]string{"5081379"}, corps(got)); diff != "" {
		t.Fatalf("published for the late events (-want +got):\n%s", diff)
	}
	if want := poller.PollMsgID(system, "5081379", []int64{990_000_009}); got[0].MsgID != want {
		t.Errorf("msg id %s, want %s", got[0].MsgID, want)
	}
	if now, _ := e.watermark(); now != wm {
		t.Errorf("watermark moved back or forth to %+v; want it to stay at %+v", now, wm)
	}
}

// TestCrashBetweenPublishAndWatermark (acceptance 4, the poller's part): a
// poller killed after the PubAcks and before the watermark write publishes
// the same CorpEvents again when restarted; the stream stores them once.
func TestCrashBetweenPublishAndWatermark(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	e.mustOnce(cfg, poller.Hooks{})
	wm0, _ := e.watermark()
	base := e.lastSeq()
	o := sourcetest.ApplyOngoing(t, e.srcURL, bcNow().Truncate(time.Second))

	err := e.once(cfg, poller.Hooks{AfterPublish: func(step string) error {
		if step == poller.StepPoll {
			return errCrash
		}
		return nil
	}})
	if !errors.Is(err, errCrash) {
		t.Fatalf("crashing run: %v", err)
	}
	if wm, _ := e.watermark(); wm != wm0 {
		t.Fatalf("watermark moved to %+v before the write", wm)
	}
	if n := len(after(base, e.events())); n != len(o.Affected) {
		t.Fatalf("published before the crash: %d, want %d", n, len(o.Affected))
	}
	e.mustOnce(cfg, poller.Hooks{})
	if diff := cmp.Diff(o.Affected, corps(after(base, e.events()))); diff != "" {
		t.Errorf("after the restart, each corporation once (-want +got):\n%s", diff)
	}
	if wm, _ := e.watermark(); wm.EventID != o.EventIDs[2] {
		t.Errorf("watermark = %+v, want event %d", wm, o.EventIDs[2])
	}
}

// TestBackPressureWhenEventsStreamIsFull: with BCREG_EVENTS full
// (DiscardNew), the initial load backs off and retries; nothing is skipped,
// no watermark is set while CorpEvents wait, and once a consumer drains the
// stream every corporation arrives exactly once.
func TestBackPressureWhenEventsStreamIsFull(t *testing.T) {
	e := newEnv(t, func(tp *bus.Topology) { tp.EventsMaxBytes = 4000 })
	cfg := e.config()
	e.start(cfg, poller.Hooks{})
	waitFor(t, "a publishing stall", func() bool {
		return e.logged(zapcore.WarnLevel, "BCREG_EVENTS did not accept the CorpEvents in time (stream full or NATS unreachable); backing off and retrying")
	})
	if _, ok := e.watermark(); ok {
		t.Fatal("watermark set while CorpEvents wait for room")
	}

	ctx := testenv.Context(t)
	cons, err := e.js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var ids []string
	waitFor(t, "the load to finish and the stream to drain", func() bool {
		mb, err := cons.Fetch(20, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return false
		}
		for m := range mb.Messages() {
			ev, err := messages.DecodeCorpEvent(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			seen[ev.CorpNum]++
			ids = append(ids, m.Headers().Get(jetstream.MsgIDHeader))
			_ = m.Ack()
		}
		_, ok := e.watermark()
		return ok && len(seen) == len(e.fixtureCorps())
	})
	for corp, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times, want once", corp, n)
		}
	}
	if diff := cmp.Diff(e.fixtureCorps(), sorted(mapKeys(seen))); diff != "" {
		t.Errorf("corporations received (-want +got):\n%s", diff)
	}
}

func mapKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTwoPollersOnlyOnePollsAndHandOver (acceptance 5): of two replicas only
// the lock holder polls; stopping it, or killing its database session,
// hands over to the other; no CorpEvent is stored twice.
func TestTwoPollersOnlyOnePollsAndHandOver(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	var cycles, refusals [3]atomic.Int64
	count := func(i int) poller.Hooks {
		return poller.Hooks{OnCycle: func() { cycles[i].Add(1) }, Standby: func() { refusals[i].Add(1) }}
	}
	// standingBy waits until replica i was refused the lock n more times
	// while the active one polled on.
	standingBy := func(i, active int, n int64) {
		t.Helper()
		r, c := refusals[i].Load(), cycles[active].Load()
		waitFor(t, fmt.Sprintf("replica %d refused %d more times", i+1, n), func() bool {
			return refusals[i].Load() >= r+n && cycles[active].Load() > c
		})
	}
	a := e.start(cfg, count(0))
	waitFor(t, "a watermark", func() bool { _, ok := e.watermark(); return ok })
	bHooks := count(1)
	bGate := newGate(cfg.Interval)
	bHooks.Pace = bGate.pace
	b := e.start(cfg, bHooks)
	standingBy(1, 0, 3)
	if cycles[1].Load() != 0 {
		t.Fatalf("the standby polled %d times while the first held the lock", cycles[1].Load())
	}

	// Stop the active one: the standby takes over.
	if err := a.stop(); err != nil {
		t.Fatalf("stop first poller: %v", err)
	}
	waitFor(t, "the second poller to take over", func() bool { return cycles[1].Load() > 0 })
	sourcetest.AddEvent(t, e.srcURL, 990_000_200, "6885343", bcNow().Add(-time.Minute))
	waitFor(t, "the new event's CorpEvent", func() bool { return len(e.events()) == len(e.fixtureCorps())+1 })

	// Kill the new holder's database session (as if its pod vanished): a
	// third replica takes over and the second steps down. The second waits
	// between cycles meanwhile, so the third, not it, takes the freed lock.
	_ = e.start(cfg, count(2))
	standingBy(2, 1, 3)
	if cycles[2].Load() != 0 {
		t.Fatal("third replica polled while the second held the lock")
	}
	bGate.hold(t)
	n1, r1 := cycles[1].Load(), refusals[1].Load()
	if _, err := e.edb.Exec(testenv.Context(t), `SELECT pg_terminate_backend(pid) FROM pg_locks
WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third poller to take over", func() bool { return cycles[2].Load() > 0 })
	bGate.release()
	waitFor(t, "the second poller to stand by", func() bool { return refusals[1].Load() > r1 })
	sourcetest.AddEvent(t, e.srcURL, 990_000_201, "5081379", bcNow().Add(-time.Minute))
	waitFor(t, "the second new event's CorpEvent", func() bool { return len(e.events()) == len(e.fixtureCorps())+2 })
	standingBy(1, 2, 1)
	if n := cycles[1].Load(); n != n1 {
		t.Errorf("second poller polled %d more times after losing its lock", n-n1)
	}
	_ = b.stop()

	byID := map[string]int{}
	for _, ev := range e.events() {
		byID[ev.MsgID]++
	}
	for id, n := range byID {
		if n > 1 {
			t.Errorf("message %s stored %d times", id, n)
		}
	}
}

// TestWatermarkSanity: a watermark in the future is refused: the error is
// logged, /readyz reports it, nothing is published; once it is corrected
// the next cycle polls.
func TestWatermarkSanity(t *testing.T) {
	e := newEnv(t)
	addr := freeAddr(t)
	cfg := e.config(func(c *poller.Config) { c.HTTP.Addr = addr })
	e.mustOnce(cfg, poller.Hooks{})
	if _, err := e.edb.Exec(testenv.Context(t), `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ('BC_REG', 1, '2999-01-01')`); err != nil {
		t.Fatal(err)
	}
	if err := e.once(cfg, poller.Hooks{}); err == nil {
		t.Error("--once with a future watermark succeeded, want an error")
	}
	base := e.lastSeq()
	sourcetest.AddEvent(t, e.srcURL, 990_000_300, "6885343", bcNow().Add(-time.Minute))
	refusals := func() int {
		return e.logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessage("watermark refused").Len()
	}
	before := refusals()
	st, err := e.startStepped(cfg, poller.Hooks{})
	for i := 1; ; i++ { // refused on every cycle
		if err != nil {
			t.Fatalf("cycle %d with a future watermark: %v", i, err)
		}
		if n := refusals() - before; n != i {
			t.Fatalf("after %d cycles with a future watermark, %d logged it refused", i, n)
		}
		if e.lastSeq() != base {
			t.Fatal("published from a refused watermark")
		}
		if i == 2 {
			break
		}
		err = st.next()
	}
	waitFor(t, "/readyz to fail", func() bool { return readyz(addr) == http.StatusServiceUnavailable })
	if _, err := e.edb.Exec(testenv.Context(t), `DELETE FROM last_event WHERE event_date > '2900-01-01'`); err != nil {
		t.Fatal(err)
	}
	if err := st.next(); err != nil {
		t.Fatalf("cycle after the watermark was corrected: %v", err)
	}
	if got := e.lastSeq(); got != base+1 {
		t.Errorf("stream's last sequence %d after the corrected cycle, want %d (the pending event's CorpEvent)", got, base+1)
	}
	waitFor(t, "/readyz to recover", func() bool { return readyz(addr) == http.StatusOK })
}

// TestBlankAndUnsafeCorpNums: an event without a corporation number is
// logged and skipped (and recorded, so it is not reported again); a
// number that is not a valid subject token is escaped in the subject and
// kept in the payload.
func TestBlankAndUnsafeCorpNums(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	e.mustOnce(cfg, poller.Hooks{})
	base := e.lastSeq()
	at := bcNow().Add(-time.Minute)
	sourcetest.AddEvent(t, e.srcURL, 990_000_400, "", at)
	sourcetest.AddEvent(t, e.srcURL, 990_000_401, "   ", at)
	sourcetest.AddEvent(t, e.srcURL, 990_000_402, "A B.1", at)
	e.mustOnce(cfg, poller.Hooks{})
	got := after(base, e.events())
	if len(got) != 1 || got[0].Event.CorpNum != "A B.1" || got[0].Subject != "bcreg.events.BC_REG.~A~20B~2E1" {
		t.Fatalf("published %+v, want one CorpEvent for %q on an escaped subject", got, "A B.1")
	}
	if n := e.logs.FilterMessage("event without a corporation number skipped").Len(); n != 2 {
		t.Errorf("blank-number warnings = %d, want 2", n)
	}
	e.mustOnce(cfg, poller.Hooks{})
	if n := e.logs.FilterMessage("event without a corporation number skipped").Len(); n != 2 {
		t.Errorf("blank-number warnings after another poll = %d, want still 2", n)
	}
}

// TestFutureRequeueComesDue: a future_requeue row that has come due is
// published once (reason future-dated, the range the history profile
// recorded); one not yet due waits.
func TestFutureRequeueComesDue(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	e.mustOnce(cfg, poller.Hooks{})
	base := e.lastSeq()
	now := bcNow().Truncate(time.Second)
	first := now.Add(-48 * time.Hour)
	ctx := testenv.Context(t)
	if err := discovery.AddFutureRequeues(ctx, e.edb, system, []discovery.FutureRequeue{
		{CorpNum: "0191294", DueAt: now.Add(-time.Minute), EventID: 555, FirstEventID: 550, FirstEventDate: first},
		{CorpNum: "2075204", DueAt: now.Add(time.Hour), EventID: 666, FirstEventID: 660, FirstEventDate: first},
	}); err != nil {
		t.Fatal(err)
	}
	e.mustOnce(cfg, poller.Hooks{})
	e.mustOnce(cfg, poller.Hooks{})
	got := after(base, e.events())
	if len(got) != 1 {
		t.Fatalf("published %d, want 1", len(got))
	}
	want := messages.CorpEvent{V: 1, System: system, CorpNum: "0191294", Reason: messages.ReasonFutureDated,
		Prev: regevent.At(550, first),
		Last: regevent.At(555, now.Add(-time.Minute))}
	if diff := cmp.Diff(want, got[0].Event, cmpEvent...); diff != "" {
		t.Errorf("future-dated CorpEvent (-want +got):\n%s", diff)
	}
	if want := "future:BC_REG:0191294:555:" + regclock.NewLocalTime(now.Add(-time.Minute)).String(); got[0].MsgID != want {
		t.Errorf("msg id %s, want %s", got[0].MsgID, want)
	}
	if pending := query[string](t, e.edb, `SELECT corp_num FROM future_requeue WHERE published_at IS NULL`); !cmp.Equal(pending, []string{"2075204"}) {
		t.Errorf("unpublished re-queues = %v, want [2075204]", pending)
	}
}

// TestLargePollIsLoggedAndProceeds: above the warning and error thresholds
// the poll logs and still publishes everything.
func TestLargePollIsLoggedAndProceeds(t *testing.T) {
	tests := []struct {
		name       string
		warn, fail int
		level      zapcore.Level
		msg        string
	}{
		{"above warning", 3, 100, zapcore.WarnLevel, "poll found a large number of corporations; proceeding"},
		{"above error", 2, 5, zapcore.ErrorLevel, "poll found an unusually large number of corporations; proceeding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config(func(c *poller.Config) { c.WarnCorps, c.ErrorCorps = tc.warn, tc.fail })
			e.mustOnce(cfg, poller.Hooks{})
			base := e.lastSeq()
			o := sourcetest.ApplyOngoing(t, e.srcURL, bcNow().Truncate(time.Second))
			e.mustOnce(cfg, poller.Hooks{})
			if !e.logged(tc.level, tc.msg) {
				t.Errorf("no %s log %q", tc.level, tc.msg)
			}
			if n := len(after(base, e.events())); n != len(o.Affected) {
				t.Errorf("published %d, want %d", n, len(o.Affected))
			}
		})
	}
}

// TestQuietPollAsksEventSeenNothing (issue 18, goal 4): a poll whose window
// holds only events the poller recorded itself does not send them to
// event_seen again; every poll reads the whole look-back window, so at a
// 1 s interval it asked about all of it every second. The test holds
// event_seen locked: a poll that asks it waits for the lock. A new event
// beside the known ones is still published once.
func TestQuietPollAsksEventSeenNothing(t *testing.T) {
	e := newEnv(t)
	st, err := e.startStepped(e.config(), poller.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	at := bcNow().Truncate(time.Second)
	sourcetest.AddEvent(t, e.srcURL, 990_000_020, "6885343", at.Add(-time.Minute))
	base := e.lastSeq()
	if err := st.next(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"6885343"}, corps(after(base, e.events()))); diff != "" {
		t.Fatalf("published (-want +got):\n%s", diff)
	}

	ctx := testenv.Context(t)
	tx, err := e.edb.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) }) // before the replica stops
	if _, err := tx.Exec(ctx, `LOCK TABLE event_seen IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	seq := e.lastSeq()
	if err := st.next(); err != nil { // fails the test after a minute if the poll waits for the lock
		t.Fatal(err)
	}
	if e.lastSeq() != seq {
		t.Error("a quiet poll published")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	sourcetest.AddEvent(t, e.srcURL, 990_000_021, "5081379", at.Add(-30*time.Second))
	if err := st.next(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"5081379"}, corps(after(seq, e.events()))); diff != "" {
		t.Errorf("published after the quiet poll (-want +got):\n%s", diff)
	}
}
