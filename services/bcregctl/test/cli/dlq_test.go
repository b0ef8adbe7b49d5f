package cli_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestDLQCommands drives `dlq list`, `show`, `requeue` and `purge` against
// dead letters of two stages: filters select, show prints the payload,
// requeue puts the original message back and removes the dead letter,
// purge needs --yes, and the changes are recorded in operator_action.
func TestDLQCommands(t *testing.T) {
	w := newOpsWorld(t)
	ev, _ := messages.Encode(messages.CorpEvent{V: 1, System: "BC_REG", CorpNum: "A1", Prev: regevent.Start, Last: regevent.Start, Reason: "event"})
	w.deadLetter(messages.StageBuilder, "A1", "", ev, 11)
	w.deadLetter(messages.StageBuilder, "B2", "", []byte(`{"b":2}`), 12)
	bundle, _ := messages.Encode(messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: "C3",
		Credentials: []messages.Credential{{Hash: "h3", Schema: "s", Version: "1"}}})
	w.deadLetter(messages.StagePoster, "C3", "h3", bundle, 13)

	listJSON := func(args ...string) []string {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"dlq", "list", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("dlq list %v: exit %d\n%s", args, code, stderr)
		}
		var entries []bus.DLQEntry
		if err := json.Unmarshal([]byte(stdout), &entries); err != nil {
			t.Fatalf("dlq list --json: %v\n%s", err, stdout)
		}
		var corps []string
		for _, e := range entries {
			corps = append(corps, e.DeadLetter.Stage+":"+e.DeadLetter.CorpNum)
		}
		return corps
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{"builder:A1", "builder:B2", "poster:C3"}},
		{"by stage", []string{"--stage", "poster"}, []string{"poster:C3"}},
		{"by corporation", []string{"--corp", "B2"}, []string{"builder:B2"}},
		{"by reason", []string{"--reason", "FAILURE OF A1"}, []string{"builder:A1"}},
		{"limit", []string{"--limit", "1"}, []string{"builder:A1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, listJSON(tc.args...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	code, table, _ := run(t, "dlq", "list", "--stage", "poster")
	if code != 0 || !strings.Contains(table, "SEQ") || !strings.Contains(table, "C3") || !strings.Contains(table, "BCREG_CREDS#13") {
		t.Errorf("dlq list table: exit %d\n%s", code, table)
	}
	code, shown, _ := run(t, "dlq", "show", "3", "--json")
	if code != 0 || !strings.Contains(shown, `"payload_text"`) || !strings.Contains(shown, `\"corp_num\":\"C3\"`) {
		t.Errorf("dlq show 3: exit %d\n%s", code, shown)
	}

	// Requeue A1: its CorpEvent is back on BCREG_EVENTS, byte for byte.
	code, stdout, stderr := run(t, "dlq", "requeue", "--corp", "A1")
	if code != 0 || !strings.Contains(stdout, "requeue: 1 of 1 dead letters") {
		t.Fatalf("dlq requeue: exit %d\n%s%s", code, stdout, stderr)
	}
	events := w.stream(bus.StreamEvents)
	if len(events) != 1 || string(events[0].Data) != string(ev) || events[0].Subject != bus.EventSubject("BC_REG", "A1") ||
		!strings.HasPrefix(events[0].Header.Get("Nats-Msg-Id"), "requeue:BCREG_EVENTS:11:") {
		t.Errorf("BCREG_EVENTS after requeue: %+v", events)
	}
	if diff := cmp.Diff([]string{"builder:B2", "poster:C3"}, listJSON()); diff != "" {
		t.Errorf("DLQ after requeue (-want +got):\n%s", diff)
	}

	// Purge needs --yes.
	if code, _, _ := run(t, "dlq", "purge", "--stage", "builder"); code != 2 {
		t.Errorf("purge without --yes: exit %d, want 2", code)
	}
	if code, _, stderr := run(t, "dlq", "purge", "--stage", "builder", "--yes"); code != 0 {
		t.Fatalf("purge: exit %d\n%s", code, stderr)
	}
	if diff := cmp.Diff([]string{"poster:C3"}, listJSON()); diff != "" {
		t.Errorf("DLQ after purge (-want +got):\n%s", diff)
	}
	// By sequence: the poster's bundle goes back flagged retry_rejected.
	if code, _, stderr := run(t, "dlq", "requeue", "3"); code != 0 {
		t.Fatalf("requeue 3: exit %d\n%s", code, stderr)
	}
	creds := w.stream(bus.StreamCreds)
	if len(creds) != 1 {
		t.Fatalf("BCREG_CREDS: %d messages, want 1", len(creds))
	}
	if b, err := messages.DecodeBundle(creds[0].Data); err != nil || !b.RetryRejected {
		t.Errorf("requeued bundle: retry_rejected=%v err=%v", b.RetryRejected, err)
	}
	if n := len(listJSON()); n != 0 {
		t.Errorf("DLQ not empty: %d", n)
	}
	want := []string{
		`dlq-requeue BCREG_DLQ stage="" corp="A1" reason="" 1`,
		`dlq-purge BCREG_DLQ stage="builder" corp="" reason="" 1`,
		`dlq-requeue BCREG_DLQ stage="" corp="" reason="" 1`,
	}
	if diff := cmp.Diff(want, w.actions()); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
}

func TestDLQUsageAndErrors(t *testing.T) {
	w := newOpsWorld(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"dlq"}, 2, "name a subcommand"},
		{"help", []string{"dlq", "--help"}, 0, "-stage"},
		{"unknown subcommand", []string{"dlq", "nope"}, 2, `unknown command "nope" for "bcregctl dlq"`},
		{"show without a number", []string{"dlq", "show", "x"}, 2, "not a number"},
		{"show a missing one", []string{"dlq", "show", "99"}, 1, "dead letter 99"},
		{"requeue a missing one", []string{"dlq", "requeue", strconv.Itoa(99)}, 1, "dead letter 99"},
		{"NATS unreachable", []string{"dlq", "list"}, 1, "BCREG_NATS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "NATS unreachable" {
				t.Setenv("BCREG_NATS_URL", "nats://127.0.0.1:1")
			}
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
	_ = w
}

// TestDLQRequeueGoesOnPastAFailure: a dead letter that cannot be requeued
// (no original stream) stays in BCREG_DLQ, is named on stderr, and does not
// stop the others; the exit status says something failed and
// operator_action counts only what was done.
func TestDLQRequeueGoesOnPastAFailure(t *testing.T) {
	w := newOpsWorld(t)
	ev, _ := messages.Encode(messages.CorpEvent{V: 1, System: "BC_REG", CorpNum: "A1", Prev: regevent.Start, Last: regevent.Start, Reason: "event"})
	broken := bus.DeadLetterFor(messages.StageBuilder, "no origin", 3, "", 0, "", map[string][]string{bus.HeaderCorpNum: {"Z9"}}, []byte(`{}`))
	if err := bus.PublishDeadLetterPart(w.ctx, w.js, broken, "", bus.Backoff{Base: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	w.deadLetter(messages.StageBuilder, "A1", "", ev, 11)

	code, stdout, stderr := run(t, "dlq", "requeue", "--stage", "builder")
	if code != 1 || !strings.Contains(stdout, "requeue: 1 of 2 dead letters") || !strings.Contains(stderr, "dlq requeue 1: ") {
		t.Errorf("exit %d, want 1 naming dead letter 1:\n%s%s", code, stdout, stderr)
	}
	if events := w.stream(bus.StreamEvents); len(events) != 1 || string(events[0].Data) != string(ev) {
		t.Errorf("BCREG_EVENTS: %d messages, want A1's event", len(events))
	}
	left := w.stream(bus.StreamDLQ)
	if len(left) != 1 || left[0].Sequence != 1 {
		t.Errorf("BCREG_DLQ: %d messages left, want the broken one (seq 1)", len(left))
	}
	if diff := cmp.Diff([]string{`dlq-requeue BCREG_DLQ stage="builder" corp="" reason="" 1`}, w.actions()); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
}

// TestDLQLargeDeadLetter: with the server's max payload low, a poster dead
// letter of a bundle too large to carry inline keeps its bytes apart;
// `dlq show` prints them and `dlq requeue` sends the bundle back and
// leaves nothing in BCREG_DLQ.
func TestDLQLargeDeadLetter(t *testing.T) {
	w := newOpsWorld(t, testenv.WithMaxPayload(16<<10))
	b := messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: "L7", Credentials: []messages.Credential{
		{Hash: "h7", Schema: "s", Version: "1", Attributes: map[string]any{"pad": strings.Repeat("p", bus.MaxData(w.js)-200)}}}}
	bundle, _ := messages.Encode(b)
	w.deadLetter(messages.StagePoster, "L7", "h7", bundle, 21)
	entries, err := bus.ListDLQ(w.ctx, w.js, bus.DLQFilter{}, 0)
	if err != nil || len(entries) != 1 || entries[0].DeadLetter.PayloadRef == nil {
		t.Fatalf("dead letters: %+v, %v; want one keeping its bytes apart", entries, err)
	}
	seq := strconv.FormatUint(entries[0].Seq, 10)
	code, shown, stderr := run(t, "dlq", "show", seq, "--json")
	var out struct {
		Payload string `json:"payload_text"`
	}
	if code != 0 || json.Unmarshal([]byte(shown), &out) != nil || out.Payload != string(bundle) || !strings.Contains(shown, `"payload_ref"`) {
		t.Fatalf("dlq show %s: exit %d, payload of %d bytes, want the bundle's %d\n%.500s%s", seq, code, len(out.Payload), len(bundle), shown, stderr)
	}
	if code, _, stderr := run(t, "dlq", "requeue", seq); code != 0 {
		t.Fatalf("dlq requeue %s: exit %d\n%s", seq, code, stderr)
	}
	creds := w.stream(bus.StreamCreds)
	if len(creds) != 1 {
		t.Fatalf("BCREG_CREDS: %d messages, want the requeued bundle", len(creds))
	}
	if got, err := messages.DecodeBundle(creds[0].Data); err != nil || !got.RetryRejected || got.Credentials[0].Hash != "h7" {
		t.Errorf("requeued bundle: %v (retry_rejected %v)", err, got.RetryRejected)
	}
	if left := w.stream(bus.StreamDLQ); len(left) != 0 {
		t.Errorf("BCREG_DLQ holds %d messages after the requeue, want 0 (dead letter and its copy)", len(left))
	}
}
