package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// TestRequeueCorp: each corporation named gets a CorpEvent with reason
// requeue over its full range (event 0 at 0001-01-01 to the registry's
// newest event) under a requeue:<system>:<corp>:<nanos> id; a number the
// registry does not know stops the command before anything is published.
func TestRequeueCorp(t *testing.T) {
	w := newOpsWorld(t)
	newest := w.newestEvent()
	w.setWatermark(newest)

	if code, _, stderr := run(t, "requeue", "corp", "0191294", "NOSUCH9"); code != 1 || !strings.Contains(stderr, "NOSUCH9") {
		t.Errorf("unknown corporation: exit %d, want 1 naming it:\n%s", code, stderr)
	}
	if n := len(w.stream(bus.StreamEvents)); n != 0 {
		t.Fatalf("%d messages published for a refused requeue", n)
	}
	code, stdout, stderr := run(t, "requeue", "corp", "0191294", "A9592574", "0191294")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var got []messages.CorpEvent
	for _, m := range w.stream(bus.StreamEvents) {
		ev, err := messages.DecodeCorpEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if id := m.Header.Get("Nats-Msg-Id"); !strings.HasPrefix(id, "requeue:BC_REG:"+ev.CorpNum+":") || m.Subject != bus.EventSubject("BC_REG", ev.CorpNum) {
			t.Errorf("%s: id %q subject %q", ev.CorpNum, id, m.Subject)
		}
		ev.DetectedAt = time.Time{}
		got = append(got, ev)
	}
	last := newest
	want := []messages.CorpEvent{
		{V: 1, System: "BC_REG", CorpNum: "0191294", Prev: regevent.Start, Last: last, Reason: "requeue"},
		{V: 1, System: "BC_REG", CorpNum: "A9592574", Prev: regevent.Start, Last: last, Reason: "requeue"},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b regclock.LocalTime) bool { return a.Equal(b.Time) })); diff != "" {
		t.Errorf("CorpEvents (-want +got):\n%s", diff)
	}
	if !strings.Contains(stdout, "requeue corp: 2 corporation(s)") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if diff := cmp.Diff([]string{"requeue-corp BC_REG 0191294 A9592574 2"}, w.actions()); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}

	// Without the registry the range ends at the watermark (and says so).
	t.Setenv("BCREG_SOURCE_DB_URL", "postgres://127.0.0.1:1/x?connect_timeout=1")
	code, _, stderr = run(t, "requeue", "corp", "0191294")
	if code != 0 || !strings.Contains(stderr, "the range ends at the watermark") {
		t.Errorf("without the registry: exit %d\n%s", code, stderr)
	}
	// Nor a watermark: nothing to end the range at, and the reason the
	// registry could not be read is kept.
	if _, err := w.edb.Exec(w.ctx, `DELETE FROM last_event`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "requeue", "corp", "0191294")
	if code != 1 || !strings.Contains(stderr, "no watermark") || !strings.Contains(stderr, "BCREG_SOURCE_DB_URL") {
		t.Errorf("without the registry or a watermark: exit %d, want 1 with both reasons\n%s", code, stderr)
	}
	for _, args := range [][]string{{"requeue"}, {"requeue", "corp"}, {"requeue", "other"}, {"requeue", "corp", " "}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// credRow is a credential_log row after a requeue.
type credRow struct {
	Hash, Status string
	Attempts     int
	Published    bool
}

// TestRequeueFailed: N and D credentials that failed since --since become
// outstanding again, are published in fresh bundles (one per corporation,
// with every unpublished credential of it, under an id with a nonce) and
// marked published; their poster dead letters are removed; older failures
// and other statuses are left alone until a requeue without --since.
func TestRequeueFailed(t *testing.T) {
	w := newOpsWorld(t)
	w.addCreds(
		cred{corp: "X1", typ: "REG", hash: "x-old-n", status: "N", ago: 3 * time.Hour, msg: "Credential was not stored", published: true},
		cred{corp: "X1", typ: "REL", hash: "x-d", status: "D", ago: 10 * time.Minute, msg: "gave up", published: true, attempts: 10},
		cred{corp: "X1", typ: "ADDR", hash: "x-y", status: "Y", ago: 10 * time.Minute, msg: "ok", published: true},
		cred{corp: "Y2", typ: "REG", hash: "y-n", status: "N", ago: 5 * time.Minute, msg: "Credential was not stored", published: true},
		cred{corp: "Y2", typ: "REL", hash: "y-unpub"},
	)
	for i, h := range []struct{ corp, hash string }{{"X1", "x-old-n"}, {"X1", "x-d"}, {"Y2", "y-n"}} {
		w.deadLetter(messages.StagePoster, h.corp, h.hash, []byte(`{}`), uint64(20+i))
	}
	rows := func() []credRow {
		r, _ := w.edb.Query(w.ctx, `SELECT credential_hash, coalesce(process_success, ''), attempts, published_at IS NOT NULL
FROM credential_log ORDER BY record_id`)
		list, err := pgx.CollectRows(r, pgx.RowToStructByPos[credRow])
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	code, stdout, stderr := run(t, "requeue", "failed", "--since", "1h", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "2 corporation(s): X1 Y2") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "requeue", "failed", "--since", "1h")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "2 credential(s) of 2 corporation(s) reset to outstanding, 3 published in fresh bundles, 2 dead letter(s) removed") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "requeue failed: 2 of 2 corporations done") {
		t.Errorf("progress on stderr:\n%s", stderr)
	}
	want := []credRow{
		{Hash: "x-old-n", Status: "N", Published: true},
		{Hash: "x-d", Published: true},
		{Hash: "x-y", Status: "Y", Published: true},
		{Hash: "y-n", Published: true},
		{Hash: "y-unpub", Published: true},
	}
	if diff := cmp.Diff(want, rows()); diff != "" {
		t.Errorf("credential_log (-want +got):\n%s", diff)
	}
	bundles := map[string][]string{}
	for _, m := range w.stream(bus.StreamCreds) {
		b, err := messages.DecodeBundle(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		var hashes []string
		for _, c := range b.Credentials {
			hashes = append(hashes, c.Hash)
		}
		if id := m.Header.Get("Nats-Msg-Id"); id == messages.BundleMsgID(hashes, "") || len(id) != 64 {
			t.Errorf("bundle of %s has id %q: want a fresh SHA-256 with a nonce", b.CorpNum, id)
		}
		bundles[b.CorpNum] = hashes
	}
	if diff := cmp.Diff(map[string][]string{"X1": {"x-d"}, "Y2": {"y-n", "y-unpub"}}, bundles); diff != "" {
		t.Errorf("bundles (-want +got):\n%s", diff)
	}
	left, _ := bus.ListDLQ(w.ctx, w.js, bus.DLQFilter{}, 0)
	if len(left) != 1 || left[0].DeadLetter.OriginalHeaders[bus.HeaderCredentialHash][0] != "x-old-n" {
		t.Errorf("dead letters left: %+v, want x-old-n's only", left)
	}

	// Without --since the older failure follows.
	if code, _, stderr := run(t, "requeue", "failed", "--status", "N"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if got := rows()[0]; got.Status != "" || got.Attempts != 0 {
		t.Errorf("x-old-n after the second requeue: %+v", got)
	}
	if code, stdout, _ := run(t, "requeue", "failed"); code != 0 || !strings.Contains(stdout, "nothing to do") {
		t.Errorf("nothing failed: exit %d\n%s", code, stdout)
	}
	wantActions := []string{
		"requeue-failed credential_log N,D since " + "SINCE" + " 2",
		"requeue-failed credential_log N since ever 1",
	}
	got := w.actions()
	if len(got) == 2 && strings.HasPrefix(got[0], "requeue-failed credential_log N,D since 20") {
		got[0] = wantActions[0]
	}
	if diff := cmp.Diff(wantActions, got); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
	for _, args := range [][]string{{"requeue", "failed", "--since", "yesterday"}, {"requeue", "failed", "--status", "Y"}, {"requeue", "failed", "x"}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
