package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestStatusReportsTheKnownState builds a pipeline state (the registry two
// events ahead of the watermark, an initial load half done, work items and
// credentials in every status, a backlog, messages in flight and
// redelivered, dead letters of two stages, recent postings) and checks
// every figure of `status --json`, run with a read-only role.
func TestStatusReportsTheKnownState(t *testing.T) {
	w := newOpsWorld(t)
	wm := w.newestEvent()
	w.setWatermark(wm)
	now := time.Now()
	// The registry moved on: two events the poller has not passed.
	e1, e2 := regclock.At(time.Now()).Add(-2*time.Minute).Truncate(time.Second), regclock.At(time.Now()).Add(-time.Minute).Truncate(time.Second)
	sourcetest.AddEvent(t, w.srcURL, sourcetest.OngoingFirstEventID, "0191294", e1)
	sourcetest.AddEvent(t, w.srcURL, sourcetest.OngoingFirstEventID+1, "A9592574", e2)
	w.exec(`INSERT INTO initial_load (system_type_cd, watermark_event_id, watermark_event_date, last_corp_num, published, total)
VALUES ('BC_REG', $1, $2, '0191294', 5, 52)`, wm.EventID, wm.Date.Time)

	// Work items: 3 done, 1 failed (10 s ago), 2 skipped, 1 outstanding.
	for i, o := range []string{"Y", "Y", "Y", "N", "S", "S", ""} {
		w.exec(`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
    msg_id, process_date, process_success, process_msg)
VALUES ('BC_REG', $1, 0, '0001-01-01', 5, '2019-01-01', $1, CASE WHEN $2 <> '' THEN LOCALTIMESTAMP - interval '10 seconds' END, NULLIF($2, ''),
    CASE WHEN $2 = 'N' THEN 'corporation W4: no corp_type row XX' END)`, []string{"W1", "W2", "W3", "W4", "W5", "W6", "W7"}[i], o)
	}
	w.exec(`INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, corp_json, process_date, process_success)
VALUES ('BC_REG', 'W1', 0, '0001-01-01', 5, '2019-01-01', '{}', now(), 'Y'), ('BC_REG', 'W2', 0, '0001-01-01', 5, '2019-01-01', '{}', now(), 'Y')`)
	future := now.Add(48 * time.Hour)
	w.addCreds(
		cred{corp: "C1", typ: "REG", hash: "y1", status: "Y", ago: 30 * time.Second, msg: "r1", published: true},
		cred{corp: "C1", typ: "REL", hash: "y2", status: "Y", ago: 35 * time.Second, msg: "r2", published: true},
		cred{corp: "C2", typ: "REG", hash: "n1", status: "N", ago: 90 * time.Second, msg: "Credential was not stored: bad", published: true},
		cred{corp: "C2", typ: "REG", hash: "y3", status: "Y", ago: 150 * time.Second, msg: "r3", published: true},
		cred{corp: "C3", typ: "REG", hash: "d1", status: "D", ago: 40 * time.Second, msg: "gave up: 503", published: true, attempts: 10},
		cred{corp: "C4", typ: "ADDR", hash: "a1", status: "A"},
		cred{corp: "C4", typ: "ADDR", hash: "a2", status: "A"},
		cred{corp: "C5", typ: "REG", hash: "o1", published: true, attempts: 2},
		cred{corp: "C5", typ: "REL", hash: "o2", published: true},
		cred{corp: "C6", typ: "REG", hash: "u1"},
		cred{corp: "C7", typ: "REG", hash: "w1", published: true, notBefore: &future},
		cred{corp: "C8", typ: "REG", hash: "ab1", published: true},
	)
	// y3 was republished once after losing its bundle; ab1's bundle was
	// taken and acked by a poster that recorded nothing (it is gone while
	// ab1 is outstanding: abandoned).
	w.exec(`UPDATE credential_log SET rearmed = 1 WHERE credential_hash = 'y3'`)
	abData, _ := messages.Encode(messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: "C8"})
	abAck, err := bus.Publish(w.ctx, w.js, bus.Outgoing{Subject: bus.CredSubject("BC_REG", "C8"), MsgID: "b-C8", Data: abData}, bus.Backoff{})
	if err != nil {
		t.Fatal(err)
	}
	posterCons, _ := w.js.Consumer(w.ctx, bus.StreamCreds, bus.ConsumerPoster)
	taken, _ := posterCons.Fetch(1, jetstream.FetchMaxWait(time.Minute))
	for m := range taken.Messages() {
		_ = m.DoubleAck(w.ctx)
	}
	w.exec(`UPDATE credential_log SET published_seq = $1, published_at = now() - interval '1 minute' WHERE credential_hash = 'ab1'`, int64(abAck.Sequence))

	// BCREG_EVENTS: 5 CorpEvents; the builder took 2 without acking, one
	// of them a second time. BCREG_CREDS: 3 bundles waiting. E3-E5 are
	// published only after the redelivery was taken: the server handles a
	// Nak in its own time, and a waiting E3 could be delivered before it.
	publishEvents := func(corps ...string) {
		for _, c := range corps {
			m, _ := bus.CorpEventMsg(messages.CorpEvent{System: "BC_REG", CorpNum: c, Prev: regevent.Start, Last: regevent.Start, Reason: "event"}, "id-"+c)
			if _, err := bus.Publish(w.ctx, w.js, m, bus.Backoff{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publishEvents("E1", "E2")
	cons, _ := w.js.Consumer(w.ctx, bus.StreamEvents, bus.ConsumerBuilder)
	batch, _ := cons.Fetch(2, jetstream.FetchMaxWait(time.Minute)) // returns once both are there
	var held []jetstream.Msg
	for m := range batch.Messages() {
		held = append(held, m)
	}
	if len(held) != 2 {
		t.Fatalf("fetched %d", len(held))
	}
	_ = held[1].Nak()
	again, _ := cons.Fetch(1, jetstream.FetchMaxWait(time.Minute)) // only the redelivery can come
	for m := range again.Messages() {
		if md, _ := m.Metadata(); md == nil || md.NumDelivered != 2 {
			t.Fatalf("second fetch got %s, not the redelivery", m.Subject())
		}
	}
	publishEvents("E3", "E4", "E5")
	for _, c := range []string{"B1", "B2", "B3"} {
		data, _ := messages.Encode(messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: c})
		if _, err := bus.Publish(w.ctx, w.js, bus.Outgoing{Subject: bus.CredSubject("BC_REG", c), MsgID: "b-" + c, Data: data}, bus.Backoff{}); err != nil {
			t.Fatal(err)
		}
	}
	w.deadLetter(messages.StageBuilder, "W4", "", []byte(`{}`), 1)
	w.deadLetter(messages.StageBuilder, "X9", "", []byte(`{}`), 2)
	w.deadLetter(messages.StagePoster, "C2", "n1", []byte(`{}`), 3)
	dlq := w.stream(bus.StreamDLQ)

	t.Setenv("BCREG_EVENT_DB_URL", w.readOnlyURL())
	code, stdout, stderr := run(t, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s", code, stderr)
	}
	var got pipeline.Report
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}

	// The agent's last answer (y1) and the oldest waiting credential (ab1),
	// as the database stored them.
	var lastAnswer, oldestWaiting time.Time
	if err := w.edb.QueryRow(w.ctx, `SELECT (SELECT process_date AT TIME ZONE current_setting('TimeZone') FROM credential_log WHERE credential_hash = 'y1'),
    (SELECT published_at FROM credential_log WHERE credential_hash = 'ab1')`).Scan(&lastAnswer, &oldestWaiting); err != nil {
		t.Fatal(err)
	}
	// The registry's naive BC local times come as the instants they
	// stand for, with the BC offset (not the wall clock labelled UTC).
	wmDate, e2Date := regclock.WithOffset(regclock.Registry, wm.Date.Time), regclock.WithOffset(regclock.Registry, e2)
	if want := `"watermark_event_date": "` + wmDate.Format(time.RFC3339Nano) + `"`; !strings.Contains(stdout, want) {
		t.Errorf("status --json: want %s (an explicit BC offset):\n%s", want, stdout)
	}
	eta := 4 / 0.4 * 60
	want := pipeline.Report{
		Source: &pipeline.Source{Read: true, NewestEventID: sourcetest.OngoingFirstEventID + 1, NewestEventDate: &e2Date,
			EventsBehind: 2, SecondsBehind: e2.Sub(wm.Date.Time).Seconds()},
		EventDB: operator.PipelineCounts{WatermarkEventID: wm.EventID, WatermarkEventDate: &wmDate, InitialLoadRunning: true,
			InitialLoad: &operator.InitialLoadProgress{RunID: 1, Published: 5, Total: 52},
			Tables: map[string]operator.TableCounts{
				"event_by_corp_filing": {Processed: 6, Outstanding: 1, Failed: 1, Skipped: 2},
				"corp_history_log":     {Processed: 2},
				"credential_log":       {Processed: 5, Outstanding: 4, Failed: 1, DeadLetter: 1, Held: 2, Waiting: 1, Unpublished: 1, Released: 1, Attempting: 1},
			},
			LastAnswer: &lastAnswer, OldestWaiting: &oldestWaiting},
		Events:    pipeline.Stream{Messages: 5, Pending: 3, InFlight: 2, Redelivered: 1},
		Creds:     pipeline.Stream{Messages: 3, Pending: 3},
		Abandoned: &outbox.Abandoned{Credentials: 1, Corps: []string{"C8"}},
		DLQ: pipeline.DLQ{Total: 3, ByStage: map[string]uint64{"builder": 2, "poster": 1}, Oldest: &dlq[0].Time,
			OldestByStage: map[string]time.Time{"builder": dlq[0].Time, "poster": dlq[2].Time}, MaxBytes: 1 << 30},
		Throughput: pipeline.Throughput{WindowMinutes: 10, PostedPerMinute: []int64{2, 1, 1, 0, 0, 0, 0, 0, 0, 0}, PerMinute: 0.4,
			Backlog: 4, ETASeconds: &eta},
		// The manage script's figures (the e2e test compares them with the
		// script's own SQL); every row was stored within the default hour.
		Manage: &operator.ManageFigures{
			Credentials: operator.CredentialSummary{Total: 12, Unprocessed: 5, Processed: 7, Posted: 3, Held: 3, Errors: 1},
			PostedSince: 3, StagedSince: 5, FailedTotal: 1,
			FailedReasons: []operator.FailedReason{{Count: 1, Message: "Credential was not stored: bad"}},
		},
		RecentErrors: []operator.RecentError{
			{Table: "event_by_corp_filing", CorpNum: "W4", Status: "N", Message: "corporation W4: no corp_type row XX"},
			{Table: "credential_log", CorpNum: "C3", Status: "D", Message: "gave up: 503", CredentialHash: "d1", CredentialType: "REG"},
			{Table: "credential_log", CorpNum: "C2", Status: "N", Message: "Credential was not stored: bad", CredentialHash: "n1", CredentialType: "REG"},
		},
	}
	for i, e := range got.RecentErrors {
		if e.At.IsZero() || e.At.After(time.Now()) || time.Since(e.At) > 5*time.Minute {
			t.Errorf("recent error %d at %v", i, e.At)
		}
	}
	opts := []cmp.Option{
		cmpopts.IgnoreFields(pipeline.Report{}, "At"),
		cmpopts.IgnoreFields(operator.InitialLoadProgress{}, "StartedAt"),
		cmpopts.IgnoreFields(operator.RecentError{}, "At"),
		cmpopts.IgnoreFields(operator.ManageFigures{}, "Since", "RecordCounts"),
		cmpopts.IgnoreFields(outbox.Abandoned{}, "Oldest"),
		cmpopts.IgnoreFields(pipeline.DLQ{}, "Bytes"),
		cmpopts.EquateApprox(0, 1e-6),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	}
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Errorf("status --json (-want +got):\n%s", diff)
	}
	if got.DLQ.Bytes == 0 {
		t.Error("dlq bytes = 0, want what the 3 dead letters store")
	}
	if got.Abandoned == nil || got.Abandoned.Oldest == nil {
		t.Errorf("abandoned: %+v, want the oldest publish time", got.Abandoned)
	}

	// The same report for a person: every stage on one screen.
	code, stdout, stderr = run(t, "status")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	for _, line := range []string{
		"registry              newest event 990000002",
		"[initial load running: 5 of 52 corporations published]",
		"BCREG_EVENTS          3 pending, 2 in flight, 1 redelivered, 0 waiting pulls (credential-builder)",
		"event_by_corp_filing  6 processed, 1 outstanding, 1 failed (N), 2 skipped (S)",
		"credential_log        5 processed, 4 outstanding (1 unpublished), 1 waiting, 1 failed (N), 1 dead-lettered (D), 2 held (A), 1 republished after losing their bundle",
		"agent answers         last answer " + lastAnswer.UTC().Format("2006-01-02 15:04:05Z") + "; 1 outstanding credential(s) with failed attempts; the oldest waiting was published " + oldestWaiting.UTC().Format("2006-01-02 15:04:05Z"),
		"abandoned             1 credential(s) of 1 corporation(s) (C8) wait behind a bundle that left BCREG_CREDS without an answer",
		"BCREG_CREDS           3 pending, 0 in flight, 0 redelivered",
		"BCREG_DLQ             3 dead letters: builder 2 (oldest",
		" MiB of 1024.0 MiB (0%)",
		"posting               0.4 credentials/min over the last 10 min [2 1 1 0 0 0 0 0 0 0, newest first]; backlog 4, done in about 10m00s",
		"W4         event_by_corp_filing  corporation W4: no corp_type row XX",
	} {
		if !strings.Contains(stdout, line) {
			t.Errorf("status output lacks %q:\n%s", line, stdout)
		}
	}
}

// TestStatusWithoutTheRegistry: an unreachable registry is reported in the
// report, not an error.
func TestStatusWithoutTheRegistry(t *testing.T) {
	w := newOpsWorld(t)
	w.setWatermark(w.newestEvent())
	t.Setenv("BCREG_SOURCE_DB_URL", "postgres://u:pw@127.0.0.1:1/x?connect_timeout=1")
	code, stdout, stderr := run(t, "status", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var got pipeline.Report
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Source == nil || got.Source.Read || !strings.Contains(got.Source.Error, "BCREG_SOURCE_DB_URL") || strings.Contains(got.Source.Error, "pw@") {
		t.Errorf("source = %+v, want not read, naming BCREG_SOURCE_DB_URL without the password", got.Source)
	}
	if code, _, _ := run(t, "status", "--no-source", "extra"); code != 2 {
		t.Errorf("status with an argument: exit %d, want 2", code)
	}
}

// TestStatusCountsStrandedMessages: a message that exhausted MaxDeliver
// and was not moved (its advisory missed) is counted stranded.
func TestStatusCountsStrandedMessages(t *testing.T) {
	w := newOpsWorld(t)
	if _, err := bus.Publish(w.ctx, w.js, bus.Outgoing{Subject: bus.EventSubject("BC_REG", "S1"), MsgID: "s1", CorpNum: "S1", Data: []byte(`{}`)}, bus.Backoff{}); err != nil {
		t.Fatal(err)
	}
	testenv.Exhaust(t, w.js, bus.StreamEvents, bus.ConsumerBuilder)
	code, stdout, stderr := run(t, "status", "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s", code, stderr)
	}
	var got pipeline.Report
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pipeline.Stream{Messages: 1, Stranded: 1, Redelivered: 1}, got.Events); diff != "" {
		t.Errorf("events stream (-want +got):\n%s", diff)
	}
	if code, stdout, _ = run(t, "status"); code != 0 || !strings.Contains(stdout, "1 stranded past MaxDeliver") {
		t.Errorf("status: exit %d, no stranded figure:\n%s", code, stdout)
	}
}
