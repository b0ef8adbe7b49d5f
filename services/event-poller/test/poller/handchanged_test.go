package poller_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

// handAction is an operator_action the poller recorded for rows changed
// by hand.
type handAction struct {
	Action, Target string
	Affected       int64
	RecordIDs      []int64
}

// TestHandChangedRowsBecomeWork: the manage script's SQL run by hand
// becomes work at the active poller's next cycle, once. A work item
// inserted with no process date (queueOrganization) becomes exactly one
// requeue CorpEvent, the row is marked as handed over to it, and an
// operator action names the row; a row inserted already processed is left
// alone. Credentials reset to no status (requeueFailedCreds) are published
// again in one fresh bundle, in their issue order, the rest of the
// corporation's credentials not with them, and an operator action names
// the rows. The cycle after publishes nothing more.
func TestHandChangedRowsBecomeWork(t *testing.T) {
	e := newEnv(t)
	ctx := testenv.Context(t)
	cfg := e.config(func(c *poller.Config) { c.InitialLoad = poller.InitialLoadSkip })
	st, err := e.startStepped(cfg, poller.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	wm, ok := e.watermark()
	if !ok {
		t.Fatal("no watermark after the first cycle")
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.edb.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// queueOrganization's insert, and a processed row beside it.
	var handRow int64
	if err := e.edb.QueryRow(ctx, `INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date,
    last_event_id, last_event_date, entry_date)
VALUES ('BC_REG', '0191294', 0, '0001-01-01', 5, '2019-01-01', now()) RETURNING record_id`).Scan(&handRow); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
    process_date, process_success, process_msg)
VALUES ('BC_REG', 'A9592574', 0, '0001-01-01', 5, '2019-01-01', LOCALTIMESTAMP, 'Y', 'done')`)
	// Four credentials of one corporation, all posted (the poster's
	// answer), two of them then reset by requeueFailedCreds' update.
	for i, h := range []string{"h1", "h2", "h3", "h4"} {
		exec(`INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date, last_event_id, last_event_date,
    credential_type_cd, credential_id, schema_name, schema_version, credential_json, credential_hash, profile,
    process_date, process_success, process_msg, published_at)
VALUES ('BC_REG', 'X1', 'ACT', 0, '0001-01-01', 5, '2019-01-01', 'REG', 'X1', 'registration.registries.ca', '1.0.42',
    json_build_object('n', $1::int), $2, 'history', LOCALTIMESTAMP, $3, 'answer', now())`, i, h, map[bool]string{true: "N", false: "Y"}[i%2 == 0])
	}
	// Reset in the reverse of their issue order: they are posted in issue
	// order all the same.
	for _, h := range []string{"h3", "h1"} {
		exec(`UPDATE credential_log SET process_success = NULL, process_date = NULL, process_msg = NULL
WHERE process_success = 'N' AND credential_hash = $1`, h)
	}
	var resetIDs []int64
	if err := e.edb.QueryRow(ctx, `SELECT array_agg(record_id ORDER BY record_id) FROM credential_log WHERE credential_hash IN ('h1', 'h3')`).Scan(&resetIDs); err != nil {
		t.Fatal(err)
	}

	seq := e.lastSeq()
	if err := st.next(); err != nil {
		t.Fatal(err)
	}
	evs := after(seq, e.events())
	if len(evs) != 1 {
		t.Fatalf("stored %d CorpEvents, want one requeue: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.Event.CorpNum != "0191294" || ev.Event.Reason != messages.ReasonRequeue || ev.Event.Last.EventID != wm.EventID || ev.Event.Prev.EventID != 0 ||
		!strings.HasPrefix(ev.MsgID, "requeue:BC_REG:0191294:") {
		t.Errorf("CorpEvent %s %+v, want a requeue of 0191294 to the watermark %+v", ev.MsgID, ev.Event, wm)
	}
	var success, msg string
	if err := e.edb.QueryRow(ctx, `SELECT coalesce(process_success, ''), coalesce(process_msg, '') FROM event_by_corp_filing WHERE record_id = $1`,
		handRow).Scan(&success, &msg); err != nil {
		t.Fatal(err)
	}
	if success != "Y" || msg != "requeued as "+ev.MsgID {
		t.Errorf("the row inserted by hand: %q %q, want Y \"requeued as %s\"", success, msg, ev.MsgID)
	}

	var bundles [][]string
	for _, m := range testenv.StreamMessages(t, e.js, bus.StreamCreds) {
		b, err := messages.DecodeBundle(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		var hashes []string
		for _, c := range b.Credentials {
			hashes = append(hashes, c.Hash)
		}
		bundles = append(bundles, hashes)
	}
	if diff := cmp.Diff([][]string{{"h1", "h3"}}, bundles); diff != "" {
		t.Errorf("bundles published (-want +got):\n%s", diff)
	}
	var marked int
	if err := e.edb.QueryRow(ctx, `SELECT count(*) FROM credential_log WHERE hand_reset_at IS NOT NULL OR
    (credential_hash IN ('h1', 'h3') AND published_at IS NULL)`).Scan(&marked); err != nil {
		t.Fatal(err)
	}
	if marked != 0 {
		t.Errorf("%d reset credential(s) still marked or unpublished", marked)
	}

	actions := func() []handAction {
		t.Helper()
		var out []handAction
		rows, err := e.edb.Query(ctx, `SELECT action, target, affected, detail FROM operator_action ORDER BY record_id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a handAction
			var detail []byte
			if err := rows.Scan(&a.Action, &a.Target, &a.Affected, &detail); err != nil {
				t.Fatal(err)
			}
			var d struct {
				RecordIDs []int64 `json:"record_ids"`
			}
			if err := json.Unmarshal(detail, &d); err != nil {
				t.Fatal(err)
			}
			a.RecordIDs = d.RecordIDs
			out = append(out, a)
		}
		return out
	}
	want := []handAction{
		{Action: poller.ActionHandQueued, Target: "event_by_corp_filing", Affected: 1, RecordIDs: []int64{handRow}},
		{Action: poller.ActionHandReset, Target: "credential_log", Affected: 2, RecordIDs: resetIDs},
	}
	if diff := cmp.Diff(want, actions()); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}

	// Once: the next cycle finds nothing changed by hand.
	seq = e.lastSeq()
	if err := st.next(); err != nil {
		t.Fatal(err)
	}
	if n := len(after(seq, e.events())); n != 0 {
		t.Errorf("the next cycle stored %d more CorpEvent(s)", n)
	}
	if n := len(testenv.StreamMessages(t, e.js, bus.StreamCreds)); n != 1 {
		t.Errorf("%d bundles after the next cycle, want still 1", n)
	}
	if diff := cmp.Diff(want, actions()); diff != "" {
		t.Errorf("operator_action after the next cycle (-want +got):\n%s", diff)
	}
}
