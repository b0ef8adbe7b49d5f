package bus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// smallPayload is the server's max payload in these tests: 16 KiB, so
// MaxData is 12 KiB and a dead letter of a message that size (base64,
// ×1.33) does not fit.
const smallPayload = 16 << 10

func setupSmall(t *testing.T) jetstream.JetStream {
	t.Helper()
	n := testenv.NewNATS(t, testenv.WithMaxPayload(smallPayload))
	_, js := n.Connect(t)
	if err := testTopology().Apply(testenv.Context(t), js); err != nil {
		t.Fatal(err)
	}
	return js
}

// TestPublishOverMaxPayloadIsPermanent: the client's "maximum payload
// exceeded" is no ambiguous answer; Publish and PublishRounds fail at once
// with an error that names the corporation and the message id, instead of
// retrying until their deadline.
func TestPublishOverMaxPayloadIsPermanent(t *testing.T) {
	js := setupSmall(t)
	big := bus.Outgoing{Subject: bus.CredSubject("BC_REG", "BIG1"), MsgID: "bundle-big-1", CorpNum: "BIG1",
		Data: bytes.Repeat([]byte("x"), smallPayload+1)}
	small := bus.Outgoing{Subject: bus.CredSubject("BC_REG", "S1"), MsgID: "bundle-s-1", CorpNum: "S1", Data: []byte(`{}`)}
	// A deadline far beyond the test: the old code retried until it.
	ctx, cancel := context.WithTimeout(testenv.Context(t), time.Minute)
	defer cancel()
	tests := []struct {
		name    string
		publish func() error
	}{
		{"Publish", func() error { _, err := bus.Publish(ctx, js, big, fastBackoff); return err }},
		{"PublishRounds", func() error {
			return bus.PublishRounds(ctx, js, []bus.Outgoing{small, big}, bus.RoundOptions{Backoff: fastBackoff, Timeout: time.Minute})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.publish()
			if ctx.Err() != nil {
				t.Fatalf("retried until the deadline: %v", err)
			}
			var tl *bus.TooLargeError
			if !errors.As(err, &tl) || !bus.IsPermanent(err) || !errors.Is(err, nats.ErrMaxPayload) {
				t.Fatalf("err = %v, want a permanent *TooLargeError", err)
			}
			for _, want := range []string{"BIG1", "bundle-big-1", fmt.Sprint(smallPayload)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}
	if got := streamMsgs(t, js, bus.StreamCreds); got != 1 {
		t.Errorf("BCREG_CREDS holds %d messages, want the small one", got)
	}
}

// bigBundle returns a bundle of corp whose encoding is exactly n bytes.
func bigBundle(t *testing.T, corp string, n int) []byte {
	t.Helper()
	b := messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: corp, Credentials: []messages.Credential{
		{Hash: "h-" + corp, Schema: "registration.registries.ca", Attributes: map[string]any{"pad": ""}}}}
	data, err := messages.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	b.Credentials[0].Attributes["pad"] = strings.Repeat("p", n-len(data))
	if data, err = messages.Encode(b); err != nil || len(data) != n {
		t.Fatalf("bundle of %d bytes, want %d (%v)", len(data), n, err)
	}
	return data
}

// TestLargeDeadLetterKeepsPayloadApart: a message of MaxData bytes is
// dead-lettered by the consume loop (its base64 form would not fit); the
// dead letter refers to a copy of its bytes, show reads them back, and a
// requeue restores the message byte for byte and removes the copy.
func TestLargeDeadLetterKeepsPayloadApart(t *testing.T) {
	js := setupSmall(t)
	ctx := testenv.Context(t)
	data := bytes.Repeat([]byte("e"), bus.MaxData(js))
	publishEvent(t, js, "L1", "large-1", data)
	reject := true
	consumeInBackground(t, js, testTopology(), func(_ context.Context, b []jetstream.Msg) []error {
		if reject {
			return []error{bus.Permanent(errors.New("corporation L1: no corporation row"))}
		}
		return []error{nil}
	})
	waitFor(t, "dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	waitFor(t, "original removed", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })

	entries, err := bus.ListDLQ(ctx, js, bus.DLQFilter{CorpNum: "L1"}, 0)
	if err != nil || len(entries) != 1 {
		t.Fatalf("list: %d entries, %v", len(entries), err)
	}
	dl := entries[0].DeadLetter
	if dl.PayloadRef == nil || len(dl.PayloadBase64) != 0 || dl.PayloadSize != len(data) {
		t.Fatalf("dead letter keeps payload inline or no reference: ref %+v, inline %d bytes, size %d", dl.PayloadRef, len(dl.PayloadBase64), dl.PayloadSize)
	}
	got, err := bus.DLQPayload(ctx, js, dl)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("payload read back: %d bytes, %v; want the original %d", len(got), err, len(data))
	}
	state, err := bus.ReadDLQ(ctx, js)
	if err != nil || state.Total != 1 || state.ByStage["builder"] != 1 {
		t.Fatalf("DLQ state %+v (%v): the payload copy counted as a dead letter?", state, err)
	}

	reject = false
	if err := bus.RequeueDLQ(ctx, js, entries[0], fastBackoff, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "requeued message handled", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
	if n := streamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("BCREG_DLQ holds %d messages after the requeue, want 0 (dead letter and its copy removed)", n)
	}
}

// TestPosterPartsShareOnePayloadCopy: the poster dead-letters two
// credentials of one large bundle; both refer to one copy, which stays
// until the last of them is removed; a requeue sends the bundle back byte
// for byte.
func TestPosterPartsShareOnePayloadCopy(t *testing.T) {
	js := setupSmall(t)
	ctx := testenv.Context(t)
	data := bigBundle(t, "P2", bus.MaxData(js))
	subject := bus.CredSubject("BC_REG", "P2")
	for _, hash := range []string{"h1", "h2"} {
		dl := bus.DeadLetterFor(messages.StagePoster, "credential "+hash+": Credential was not stored", 2, bus.StreamCreds, 41, subject,
			nats.Header{bus.HeaderCorpNum: {"P2"}, bus.HeaderCredentialHash: {hash}}, data)
		if err := bus.PublishDeadLetterPart(ctx, js, dl, hash, fastBackoff); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := bus.ListDLQ(ctx, js, bus.DLQFilter{Stage: messages.StagePoster}, 0)
	if err != nil || len(entries) != 2 {
		t.Fatalf("list: %d entries, %v", len(entries), err)
	}
	if a, b := entries[0].DeadLetter.PayloadRef, entries[1].DeadLetter.PayloadRef; a == nil || b == nil || *a != *b {
		t.Fatalf("references %+v and %+v, want one shared copy", a, b)
	}
	if n := streamMsgs(t, js, bus.StreamDLQ); n != 3 {
		t.Fatalf("BCREG_DLQ holds %d messages, want 2 dead letters and 1 copy", n)
	}

	if err := bus.DeleteDLQ(ctx, js, entries[1].Seq); err != nil {
		t.Fatal(err)
	}
	if got, err := bus.DLQPayload(ctx, js, entries[0].DeadLetter); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy gone while a dead letter still uses it: %v", err)
	}
	if err := bus.RequeueDLQ(ctx, js, entries[0], fastBackoff, nil); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("BCREG_DLQ holds %d messages, want 0", n)
	}
	msgs := testenv.StreamMessages(t, js, bus.StreamCreds)
	if len(msgs) != 1 {
		t.Fatalf("BCREG_CREDS holds %d messages, want the requeued bundle", len(msgs))
	}
	if !bytes.Equal(msgs[0].Data, data) {
		t.Errorf("requeued bundle of %d bytes differs from the original's %d", len(msgs[0].Data), len(data))
	}
}

// TestPartAfterDroppedCopyStoresItAgain: a bundle's first dead-lettered
// credential is deleted, and with it the payload copy only it used; a
// second credential of the same bundle, dead-lettered while the copy's id
// is still in the dedup window (its publish answered "duplicate" with the
// deleted copy's sequence), still gets its bytes: the copy is stored again
// under a fresh id.
func TestPartAfterDroppedCopyStoresItAgain(t *testing.T) {
	js := setupSmall(t)
	ctx := testenv.Context(t)
	data := bigBundle(t, "P3", bus.MaxData(js))
	subject := bus.CredSubject("BC_REG", "P3")
	part := func(hash string) bus.DLQEntry {
		t.Helper()
		dl := bus.DeadLetterFor(messages.StagePoster, "credential "+hash+": Credential was not stored", 2, bus.StreamCreds, 43, subject,
			nats.Header{bus.HeaderCorpNum: {"P3"}, bus.HeaderCredentialHash: {hash}}, data)
		if err := bus.PublishDeadLetterPart(ctx, js, dl, hash, fastBackoff); err != nil {
			t.Fatal(err)
		}
		entries, err := bus.ListDLQ(ctx, js, bus.DLQFilter{CorpNum: "P3"}, 0)
		if err != nil || len(entries) != 1 {
			t.Fatalf("list: %d entries, %v; want the one of %s", len(entries), err, hash)
		}
		return entries[0]
	}

	first := part("h1")
	if err := bus.DeleteDLQ(ctx, js, first.Seq); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Fatalf("BCREG_DLQ holds %d messages after deleting the only dead letter, want 0 (its copy dropped)", n)
	}

	second := part("h2").DeadLetter
	if was := first.DeadLetter.PayloadRef; second.PayloadRef == nil || *second.PayloadRef == *was {
		t.Fatalf("second part refers to %+v, want a new copy (the first, %+v, was deleted)", second.PayloadRef, was)
	}
	got, err := bus.DLQPayload(ctx, js, second)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("payload read back: %d bytes, %v; want the original %d", len(got), err, len(data))
	}
}

// TestDeadLetterFitsWhenNoCopyFits: an original larger than the server now
// allows (stored before its max payload was lowered) is dead-lettered
// without its bytes, naming the bundle's credentials; show and requeue say
// what to do instead.
func TestDeadLetterFitsWhenNoCopyFits(t *testing.T) {
	js := setupSmall(t)
	ctx := testenv.Context(t)
	data := bigBundle(t, "O3", smallPayload+1000)
	dl := bus.DeadLetterFor(messages.StageMover, "exhausted 100 deliveries", 100, bus.StreamCreds, 7, bus.CredSubject("BC_REG", "O3"),
		nats.Header{bus.HeaderCorpNum: {"O3"}}, data)
	if err := bus.PublishDeadLetter(ctx, js, dl, fastBackoff); err != nil {
		t.Fatal(err)
	}
	entries, err := bus.ListDLQ(ctx, js, bus.DLQFilter{CorpNum: "O3"}, 0)
	if err != nil || len(entries) != 1 {
		t.Fatalf("list: %d entries, %v", len(entries), err)
	}
	got := entries[0].DeadLetter
	if diff := cmp.Diff([]string{"h-O3"}, got.CredentialHashes); diff != "" || got.PayloadOmitted == "" || got.PayloadSize != len(data) {
		t.Fatalf("dead letter without bytes: omitted %q, size %d, hashes (-want +got):\n%s", got.PayloadOmitted, got.PayloadSize, diff)
	}
	if _, err := bus.DLQPayload(ctx, js, got); !errors.Is(err, bus.ErrPayloadNotKept) {
		t.Errorf("payload: %v, want ErrPayloadNotKept", err)
	}
	err = bus.RequeueDLQ(ctx, js, entries[0], fastBackoff, nil)
	if !errors.Is(err, bus.ErrPayloadNotKept) || !strings.Contains(err.Error(), "bcregctl requeue") {
		t.Errorf("requeue: %v, want ErrPayloadNotKept naming bcregctl requeue", err)
	}
	if n := len(dlqEntries(t, js)); n != 1 {
		t.Errorf("%d dead letters after the refused requeue, want 1", n)
	}
}
