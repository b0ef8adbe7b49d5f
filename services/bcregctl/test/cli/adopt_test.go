package cli_test

import (
	"encoding/json"
	"fmt"
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

// smallOriginal is an 8bc273a original at the registry's newest event
// (no date, as 8bc273a kept none) with one posted credential of 0191294,
// its processed work item, A9592574 queued but never processed, and
// 0641655 failed (N).
func smallOriginal(t *testing.T, newest regevent.Position) *originaltest.DB {
	t.Helper()
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.Layout8bc273a)
	orig.Watermark(newest.EventID, time.Time{})
	done := time.Now().Add(-time.Hour)
	ev := originaltest.Event{ID: newest.EventID}
	orig.AddCredential(originaltest.Credential{CorpNum: "0191294", CorpState: "ACT", Last: ev, Type: "REG", ID: "1",
		Schema: "registration.bc_registries", Version: "1.0.36", JSON: `{"a": 1}`, Hash: "h1", ProcessDate: &done, ProcessSuccess: "Y", ProcessMsg: "id-1"})
	orig.AddWorkItem(originaltest.WorkItem{CorpNum: "0191294", Last: ev, ProcessDate: &done, ProcessSuccess: "Y"})
	orig.AddWorkItem(originaltest.WorkItem{CorpNum: "A9592574", Last: ev}) // queued, never processed
	// Failed and never retried by the original.
	orig.AddWorkItem(originaltest.WorkItem{CorpNum: "0641655", Last: ev, ProcessDate: &done, ProcessSuccess: "N",
		ProcessMsg: "'NoneType' object has no attribute 'event_timestmp'"})
	return orig
}

// TestAdoptCommand: an 8bc273a database (watermark without a date) is
// adopted with the date the registry has for the event, its look-back
// window recorded as seen, and the corporations it left queued requeued; a
// dry run changes nothing; a second adoption is refused.
func TestAdoptCommand(t *testing.T) {
	w := newOpsWorld(t)
	newest := w.newestEvent()
	orig := smallOriginal(t, newest)

	code, stdout, stderr := run(t, "adopt", "--from", orig.URL, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "dry run: would import 1 credentials") || !strings.Contains(stdout, "BCREG_PROFILE=snapshot") ||
		!strings.Contains(stdout, "requeue 2 corporations (1 the original left queued, 1 it failed on): 0641655 A9592574") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	// --json says the same: which corporations were queued, which failed,
	// and that both are requeued.
	code, stdout, stderr = run(t, "adopt", "--from", orig.URL, "--dry-run", "--json")
	var rep struct {
		DryRun                   bool `json:"dry_run"`
		Queued, Failed, Requeued []string
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil {
		t.Fatalf("dry run --json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if diff := cmp.Diff([]string{"A9592574", "0641655", "0641655 A9592574"},
		[]string{strings.Join(rep.Queued, " "), strings.Join(rep.Failed, " "), strings.Join(rep.Requeued, " ")}); diff != "" || !rep.DryRun {
		t.Errorf("dry run --json: queued, failed, requeued (-want +got):\n%s", diff)
	}
	if _, ok, _ := discovery.CurrentWatermark(w.ctx, w.edb, "BC_REG"); ok {
		t.Fatal("the dry run set a watermark")
	}
	code, stdout, stderr = run(t, "adopt", "--from", orig.URL)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	// Progress over the original's rows: 1 credential, then 2 work items.
	if !strings.Contains(stderr, "adopt: 3 of 3 rows done") {
		t.Errorf("progress on stderr:\n%s", stderr)
	}
	for _, want := range []string{"original (8bc273a layout): watermark event 9242902, 1 credentials, 2 processed work items, 1 corporations queued but not processed, 1 failed (N)",
		"adopted: 1 of 1 credentials imported (Y 1), 2 of 2 work items",
		"requeued 2 corporations (1 the original left queued, 1 it failed on): 0641655 A9592574"} {
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
	// The queued and the failed corporation, each requeued over its whole
	// history (known hashes are not issued again).
	var requeued []string
	for _, m := range w.stream(bus.StreamEvents) {
		ev, err := messages.DecodeCorpEvent(m.Data)
		if err != nil || ev.Reason != "requeue" || ev.Prev != regevent.Start || ev.Last.EventID != newest.EventID {
			t.Errorf("requeued %+v (%v)", ev, err)
		}
		requeued = append(requeued, ev.CorpNum)
	}
	if diff := cmp.Diff([]string{"0641655", "A9592574"}, requeued); diff != "" {
		t.Errorf("BCREG_EVENTS (-want +got):\n%s", diff)
	}
	if got := w.actions(); len(got) != 1 || !strings.HasPrefix(got[0], "adopt postgres://") {
		t.Errorf("operator_action %v", got)
	}
	var detail struct {
		Queued, Failed []string
		Requeued       int
	}
	if err := w.edb.QueryRow(w.ctx, `SELECT detail FROM operator_action WHERE action = 'adopt'`).Scan(&detail); err != nil ||
		cmp.Diff([]string{"A9592574"}, detail.Queued) != "" || cmp.Diff([]string{"0641655"}, detail.Failed) != "" || detail.Requeued != 2 {
		t.Errorf("adopt's operator_action detail %+v (%v), want queued A9592574, failed 0641655, 2 requeued", detail, err)
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

// TestAdoptNeverChangesTheOriginal runs every path of `bcregctl adopt`,
// the refused and failed ones included, and compares the original's schema
// and rows (originaltest.Fingerprint) before and after each: a dry run; the
// event database set to the original itself (reached by another URL) or to
// a copy of its tables, both refused before anything is written to either;
// a watermark without a date; an unreachable NATS; an original whose rows
// fail the import half-way; the adoption; a second one refused; a forced
// one.
func TestAdoptNeverChangesTheOriginal(t *testing.T) {
	w := newOpsWorld(t)
	newest := w.newestEvent()
	orig := smallOriginal(t, newest)
	done := time.Now().Add(-time.Hour)

	unknownDate := originaltest.Create(t, testenv.NewDatabase(t), originaltest.Layout8bc273a)
	unknownDate.Watermark(123456789, time.Time{}) // not in the registry
	// A pre-LEAR original whose second credential's position cannot be read:
	// the import fails after the first was copied.
	broken := originaltest.Create(t, testenv.NewDatabase(t), originaltest.LayoutPreLEAR)
	broken.Watermark(newest.EventID, newest.Date.Time)
	bev := originaltest.Event{ID: newest.EventID, Date: newest.Date.Time}
	for i, prev := range []string{"", `{"event_date": "yesterday", "event_id": 1}`} {
		broken.AddCredential(originaltest.Credential{CorpNum: "0191294", CorpState: "ACT", Last: bev, Type: "REG", ID: "1",
			Schema: "registration.registries.ca", Version: "1.0.42", JSON: fmt.Sprintf(`{"b": %d}`, i), Hash: fmt.Sprintf("b%d", i),
			ProcessDate: &done, ProcessSuccess: "Y", ProcessMsg: "id"})
		if prev != "" {
			if _, err := testenv.Pool(t, broken.URL).Exec(w.ctx, `UPDATE CREDENTIAL_LOG SET PREV_EVENT = $1::json WHERE CREDENTIAL_HASH = $2`,
				prev, fmt.Sprintf("b%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyURL := originaltest.Create(t, testenv.NewDatabase(t), originaltest.Layout8bc273a).URL
	originals := []string{orig.URL, unknownDate.URL, broken.URL, copyURL}

	sep := "?"
	if strings.Contains(orig.URL, "?") {
		sep = "&"
	}
	paths := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string
	}{
		{"dry run", nil, []string{"--from", orig.URL, "--dry-run"}, 0, "dry run: would import"},
		{"into the original itself", map[string]string{"BCREG_EVENT_DB_URL": orig.URL + sep + "application_name=other"},
			[]string{"--from", orig.URL}, 1, "is the original's own database"},
		{"dry run into the original itself", map[string]string{"BCREG_EVENT_DB_URL": orig.URL},
			[]string{"--from", orig.URL, "--dry-run"}, 1, "is the original's own database"},
		{"into a copy of the original's tables", map[string]string{"BCREG_EVENT_DB_URL": copyURL},
			[]string{"--from", orig.URL}, 1, "holds the original's tables (CORP_HISTORY_LOG, CREDENTIAL_LOG, EVENT_BY_CORP_FILING, LAST_EVENT)"},
		{"watermark without a date", nil, []string{"--from", unknownDate.URL}, 1, "--watermark-date"},
		{"NATS unreachable", map[string]string{"BCREG_NATS_URL": "nats://127.0.0.1:1"},
			[]string{"--from", orig.URL}, 1, ""},
		{"import fails half-way", nil, []string{"--from", broken.URL}, 1, "yesterday"},
		{"adoption", nil, []string{"--from", orig.URL}, 0, "adopted: 1 of 1 credentials imported"},
		{"second adoption", nil, []string{"--from", orig.URL}, 1, "already has a watermark"},
		{"forced adoption", nil, []string{"--from", orig.URL, "--force"}, 0, "adopted: 0 of 1 credentials imported"},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			before := map[string]string{}
			for _, u := range originals {
				before[u] = originaltest.Fingerprint(t, u)
			}
			for k, v := range p.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := run(t, append([]string{"adopt"}, p.args...)...)
			if code != p.wantCode || !strings.Contains(stdout+stderr, p.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, p.wantCode, p.want, stdout, stderr)
			}
			for i, u := range originals {
				if diff := cmp.Diff(before[u], originaltest.Fingerprint(t, u)); diff != "" {
					t.Errorf("original %d changed (-before +after):\n%s", i, diff)
				}
			}
		})
	}
}
