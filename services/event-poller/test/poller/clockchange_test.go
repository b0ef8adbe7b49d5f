package poller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// Clock changes in BC (US rules since 2007): forward on the second Sunday
// of March at 10:00 UTC (02:00 PST becomes 03:00 PDT), back on the first
// Sunday of November at 09:00 UTC (02:00 PDT becomes 01:00 PST, so 01:00 to
// 01:59 is shown twice).
func springForward(year int) time.Time { return sunday(year, time.March, 2).Add(10 * time.Hour) }
func fallBack(year int) time.Time      { return sunday(year, time.November, 1).Add(9 * time.Hour) }

// sunday returns the nth Sunday of the month (00:00 UTC).
func sunday(year int, m time.Month, n int) time.Time {
	d := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, (7-int(d.Weekday()))%7+7*(n-1))
}

// nightEvent is a registry event of a change night: stamped with the BC
// wall clock at the instant at, visible from the instant commit.
type nightEvent struct {
	id         int64
	corp       string
	at, commit time.Time
}

// nights is one poller (skip load, 10-minute look-back) on a controllable
// clock, stepped through change nights one after another, as a poller
// running for years would be.
type nights struct {
	e   *env
	clk *testenv.Clock
	st  *stepper
}

func newNights(t *testing.T, start time.Time) *nights {
	n := &nights{e: newEnv(t), clk: testenv.NewClock(start)}
	cfg := n.e.config(func(c *poller.Config) { c.InitialLoad = poller.InitialLoadSkip })
	var err error
	if n.st, err = n.e.startStepped(cfg, poller.Hooks{Now: n.clk.Now}); err != nil {
		t.Fatalf("first cycle (the watermark at the fixture's newest event): %v", err)
	}
	return n
}

// run commits each event at its commit instant (a poll right after each)
// and polls every pollEvery from start to end. It fails if a poll fails or
// is refused, or if an event's corporation is not published exactly once
// under the id of that event.
func (n *nights) run(t *testing.T, events []nightEvent, start, end time.Time, pollEvery time.Duration) {
	t.Helper()
	refusals := n.e.logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessage("watermark refused").Len()
	var failed []string
	poll := func(at time.Time) {
		n.clk.Set(at)
		if err := n.st.next(); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", regclock.NewLocalTime(regclock.LocalOf(regclock.Registry, at)), err))
		}
	}
	pending := events
	for at := start; !at.After(end); at = at.Add(pollEvery) {
		for len(pending) > 0 && !pending[0].commit.After(at) {
			ev := pending[0]
			pending = pending[1:]
			sourcetest.AddEvent(t, n.e.srcURL, ev.id, ev.corp, regclock.LocalOf(regclock.Registry, ev.at))
			poll(ev.commit)
		}
		poll(at)
	}
	if len(pending) > 0 {
		t.Fatalf("events committed after the end of the night: %+v", pending)
	}
	if len(failed) > 0 {
		t.Errorf("failed polls:\n%s", strings.Join(failed, "\n"))
	}
	if got := n.e.logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessage("watermark refused").Len(); got != refusals {
		t.Errorf("%d polls refused the watermark (error log and alert), want none", got-refusals)
	}
	published := map[string]int{}
	for _, ev := range n.e.events() {
		if ev.Event.Reason == messages.ReasonEvent {
			published[ev.Event.CorpNum+" "+ev.MsgID]++
		}
	}
	for _, ev := range events {
		if got := published[ev.corp+" "+poller.PollMsgID(system, ev.corp, []int64{ev.id})]; got != 1 {
			t.Errorf("event %d of %s stamped %s (%s UTC), committed %s UTC: published %d times, want once",
				ev.id, ev.corp, regclock.NewLocalTime(regclock.LocalOf(regclock.Registry, ev.at)), ev.at.Format("15:04:05"),
				ev.commit.Format("15:04:05"), got)
		}
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			out = append(out, append(append(append([]int{}, p[:i]...), n-1), p[i:]...))
		}
	}
	return out
}

// TestClockChanges: no committed event is skipped, and no poll refused,
// across either clock change, whatever the order in which events commit
// within the 10-minute look-back.
//
// Each night has three events a few minutes apart around the change, with
// ids in stamp order (as a sequence assigns them) and committed in one of
// the six orders, none before its stamp and none later than the look-back;
// a poll runs after each commit and every ten minutes from half an hour
// before to an hour and a half after the change. Autumn: 01:56 PDT (first
// pass), 01:01 PST and 01:04 PST (second pass); the orders that commit the
// first-pass event late are the late commits inside the look-back on the
// change night. Spring: 01:55 PST and 01:58 PST before the skipped hour,
// 03:01 PDT after it; committing a PST event after the PDT one is a late
// commit across the missing hour.
//
// The last night is the report: 01:49 PDT, 01:15 PST and 01:51 PST,
// each committed when stamped, polled every two minutes. Formerly every
// poll of the second pass before 01:49 PST was refused with an error alert
// and the 01:15 PST event was never read.
func TestClockChanges(t *testing.T) {
	n := newNights(t, springForward(2020))
	corps := []string{"6885343", "5081379", "4783263"}
	id := int64(991_000_000)
	night := func(name string, change time.Time, stamps []time.Duration, order []int) {
		events := make([]nightEvent, len(order))
		var commit time.Time
		for k, i := range order {
			at := change.Add(stamps[i])
			if commit.Before(at) {
				commit = at
			}
			commit = commit.Add(10 * time.Second)
			events[k] = nightEvent{id: id + int64(i), corp: corps[i], at: at, commit: commit}
		}
		id += 10
		t.Run(fmt.Sprintf("%s %d commit order %v", name, change.Year(), order), func(t *testing.T) {
			n.run(t, events, change.Add(-30*time.Minute), change.Add(90*time.Minute), 10*time.Minute)
		})
	}
	for k, order := range permutations(3) {
		year := 2021 + k
		night("spring", springForward(year), []time.Duration{-5 * time.Minute, -2 * time.Minute, time.Minute}, order)
		night("autumn", fallBack(year), []time.Duration{-4 * time.Minute, time.Minute, 4 * time.Minute}, order)
	}

	t.Run("autumn 2027 the issue's events", func(t *testing.T) {
		fb := fallBack(2027)
		events := []nightEvent{
			{id: 993_000_001, corp: "6885343", at: fb.Add(-11 * time.Minute)}, // 01:49 PDT
			{id: 993_000_002, corp: "5081379", at: fb.Add(15 * time.Minute)},  // 01:15 PST
			{id: 993_000_003, corp: "4783263", at: fb.Add(51 * time.Minute)},  // 01:51 PST
		}
		for i := range events {
			events[i].commit = events[i].at.Add(time.Second)
		}
		n.run(t, events, fb.Add(-20*time.Minute), fb.Add(80*time.Minute), 2*time.Minute)
	})
}
