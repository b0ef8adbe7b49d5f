package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestAdoptCommand: an 8bc273a database (watermark without a date) is
// adopted with the date the registry has for the event, its look-back
// window recorded as seen, and the corporations it left queued requeued; a
// dry run changes nothing; a second adoption is refused.
func TestAdoptCommand(t *testing.T) {
	w := newOpsWorld(t)
	newest := w.newestEvent()
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.Layout8bc273a)
	orig.Watermark(newest.EventID, time.Time{})
	done := time.Now().Add(-time.Hour)
	ev := originaltest.Event{ID: newest.EventID}
	orig.AddCredential(originaltest.Credential{CorpNum: "0191294", CorpState: "ACT", Last: ev, Type: "REG", ID: "1",
		Schema: "registration.bc_registries", Version: "1.0.36", JSON: `{"a": 1}`, Hash: "h1", ProcessDate: &done, ProcessSuccess: "Y", ProcessMsg: "id-1"})
	orig.AddWorkItem(originaltest.WorkItem{CorpNum: "0191294", Last: ev, ProcessDate: &done, ProcessSuccess: "Y"})
	orig.AddWorkItem(originaltest.WorkItem{CorpNum: "A9592574", Last: ev}) // queued, never processed

	code, stdout, stderr := run(t, "adopt", "--from", orig.URL, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "dry run: would import 1 credentials") || !strings.Contains(stdout, "BCREG_PROFILE=snapshot") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, ok, _ := discovery.CurrentWatermark(w.ctx, w.edb, "BC_REG"); ok {
		t.Fatal("the dry run set a watermark")
	}
	code, stdout, stderr = run(t, "adopt", "--from", orig.URL)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"original (8bc273a layout): watermark event 9242902, 1 credentials, 1 processed work items, 1 corporations queued",
		"adopted: 1 of 1 credentials imported (Y 1), 1 of 1 work items", "requeued the 1 corporations the original left queued: A9592574"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if wm, ok, _ := discovery.CurrentWatermark(w.ctx, w.edb, "BC_REG"); !ok || wm != newest {
		t.Errorf("watermark %+v, want the registry's event %+v", wm, newest)
	}
	rows, _ := testenv.Pool(t, w.srcURL).Query(w.ctx, `SELECT event_id::bigint FROM bc_registries.event
WHERE event_timestmp BETWEEN $1 AND $2 ORDER BY 1`, newest.Date.Time.Add(-10*time.Minute), newest.Date.Time)
	wantSeen, _ := pgx.CollectRows(rows, pgx.RowTo[int64])
	rows, _ = w.edb.Query(w.ctx, `SELECT event_id FROM event_seen ORDER BY 1`)
	gotSeen, _ := pgx.CollectRows(rows, pgx.RowTo[int64])
	if diff := cmp.Diff(wantSeen, gotSeen); diff != "" || len(wantSeen) == 0 {
		t.Errorf("event_seen (-want +got):\n%s", diff)
	}
	msgs := w.stream(bus.StreamEvents)
	if len(msgs) != 1 {
		t.Fatalf("BCREG_EVENTS: %d messages, want the queued corporation's", len(msgs))
	}
	if ev, _ := messages.DecodeCorpEvent(msgs[0].Data); ev.CorpNum != "A9592574" || ev.Reason != "requeue" || ev.Last.EventID != newest.EventID {
		t.Errorf("requeued %+v", ev)
	}
	if got := w.actions(); len(got) != 1 || !strings.HasPrefix(got[0], "adopt postgres://") {
		t.Errorf("operator_action %v", got)
	}
	if code, _, stderr := run(t, "adopt", "--from", orig.URL); code != 1 || !strings.Contains(stderr, "already has a watermark") {
		t.Errorf("second adoption: exit %d\n%s", code, stderr)
	}
}

func TestAdoptNeedsAWatermarkDate(t *testing.T) {
	w := newOpsWorld(t)
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.Layout8bc273a)
	orig.Watermark(123456789, time.Time{}) // not in the registry
	if code, _, stderr := run(t, "adopt", "--from", orig.URL); code != 1 || !strings.Contains(stderr, "--watermark-date") {
		t.Errorf("unknown event: exit %d\n%s", code, stderr)
	}
	t.Setenv("BCREG_SOURCE_DB_URL", "postgres://127.0.0.1:1/x?connect_timeout=1")
	if code, _, stderr := run(t, "adopt", "--from", orig.URL); code != 1 || !strings.Contains(stderr, "--watermark-date") {
		t.Errorf("no registry: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := run(t, "adopt", "--from", orig.URL, "--watermark-date", "2019-03-01T10:00:00")
	if code != 0 {
		t.Fatalf("with --watermark-date: exit %d\n%s%s", code, stdout, stderr)
	}
	want := regevent.At(123456789, time.Date(2019, 3, 1, 10, 0, 0, 0, time.UTC))
	if wm, ok, _ := discovery.CurrentWatermark(w.ctx, w.edb, "BC_REG"); !ok || wm != want {
		t.Errorf("watermark %+v, want %+v", wm, want)
	}
	for _, args := range [][]string{{"adopt"}, {"adopt", "--from", orig.URL, "--watermark-date", "March"}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := run(t, "adopt", "--from", "postgres://u:secretpw@127.0.0.1:1/x?connect_timeout=1"); code != 1 ||
		!strings.Contains(stderr, "--from") || strings.Contains(stderr, "secretpw") {
		t.Errorf("unreachable original: exit %d\n%s", code, stderr)
	}
}
