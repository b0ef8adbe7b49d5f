package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestDLQListFilterRequeueDelete(t *testing.T) {
	js, topo := setup(t)
	ctx := testenv.Context(t)
	publishEvent(t, js, "A1", "d1", []byte(`{"one":1}`))
	var reject = map[string]bool{"A1": true, "B2": true}
	consumeInBackground(t, js, topo, func(_ context.Context, b []jetstream.Msg) []error {
		errs := make([]error, len(b))
		for i, m := range b {
			if reject[m.Headers().Get(bus.HeaderCorpNum)] {
				errs[i] = bus.Permanent(errors.New("corporation " + m.Headers().Get(bus.HeaderCorpNum) + ": no corporation row"))
			}
		}
		return errs
	})
	// B2 is published once A1 is dead-lettered: with two workers the
	// dead letters of messages handled at once are stored in either order.
	waitFor(t, "A1's dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	publishEvent(t, js, "B2", "d2", []byte(`{"two":2}`))
	waitFor(t, "two dead letters", func() bool { return len(dlqEntries(t, js)) == 2 })

	all, err := bus.ListDLQ(ctx, js, bus.DLQFilter{}, 0)
	if err != nil || len(all) != 2 {
		t.Fatalf("list all: %d entries, %v", len(all), err)
	}
	tests := []struct {
		name   string
		filter bus.DLQFilter
		want   []string
	}{
		{"by stage", bus.DLQFilter{Stage: "builder"}, []string{"A1", "B2"}},
		{"other stage", bus.DLQFilter{Stage: "poster"}, nil},
		{"by corporation", bus.DLQFilter{CorpNum: "B2"}, []string{"B2"}},
		{"by reason", bus.DLQFilter{Reason: "A1: NO CORP"}, []string{"A1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bus.ListDLQ(ctx, js, tc.filter, 0)
			if err != nil {
				t.Fatal(err)
			}
			var corps []string
			for _, e := range got {
				corps = append(corps, e.DeadLetter.CorpNum)
			}
			if diff := cmp.Diff(tc.want, corps); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// The cause is fixed: requeue A1; it is handled and leaves the DLQ.
	delete(reject, "A1")
	a1, _ := bus.ListDLQ(ctx, js, bus.DLQFilter{CorpNum: "A1"}, 0)
	if err := bus.RequeueDLQ(ctx, js, a1[0], fastBackoff, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "requeued message handled", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
	left := dlqEntries(t, js)
	if len(left) != 1 || left[0].CorpNum != "B2" {
		t.Fatalf("DLQ after requeue: %+v, want only B2", left)
	}
	b2, _ := bus.ListDLQ(ctx, js, bus.DLQFilter{CorpNum: "B2"}, 0)
	got, err := bus.GetDLQ(ctx, js, b2[0].Seq)
	if err != nil || string(got.DeadLetter.PayloadBase64) != `{"two":2}` {
		t.Fatalf("get: %+v %v", got, err)
	}
	if err := bus.DeleteDLQ(ctx, js, b2[0].Seq); err != nil {
		t.Fatal(err)
	}
	if n := len(dlqEntries(t, js)); n != 0 {
		t.Errorf("DLQ after purge: %d", n)
	}
}

// TestRequeueAppliesTheEdit: the requeue's edit gets the dead letter and
// its original bytes, and what it returns is what goes back to the stream.
func TestRequeueAppliesTheEdit(t *testing.T) {
	js, _ := setup(t)
	ctx := testenv.Context(t)
	bundle := messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: "C3",
		Credentials: []messages.Credential{{Hash: "h1", Schema: "s", Version: "1"}}}
	data, _ := messages.Encode(bundle)
	dl := bus.DeadLetterFor("poster", "Credential was not stored", 1, bus.StreamCreds, 99, bus.CredSubject("BC_REG", "C3"), nil, data)
	if err := bus.PublishDeadLetter(ctx, js, dl, fastBackoff); err != nil {
		t.Fatal(err)
	}
	entries, _ := bus.ListDLQ(ctx, js, bus.DLQFilter{Stage: "poster"}, 0)
	if len(entries) != 1 {
		t.Fatalf("entries: %d", len(entries))
	}
	var seen []string
	edit := func(dl messages.DeadLetter, b []byte) ([]byte, error) {
		seen = append(seen, dl.OriginalSubject+" "+string(b))
		return []byte("edited"), nil
	}
	if err := bus.RequeueDLQ(ctx, js, entries[0], fastBackoff, edit); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{bus.CredSubject("BC_REG", "C3") + " " + string(data)}, seen); diff != "" {
		t.Errorf("edit called with (-want +got):\n%s", diff)
	}
	s, _ := js.Stream(ctx, bus.StreamCreds)
	raw, err := s.GetLastMsgForSubject(ctx, bus.CredSubject("BC_REG", "C3"))
	if err != nil || string(raw.Data) != "edited" {
		t.Errorf("requeued message %q (%v), want the edit's bytes", raw.Data, err)
	}
}
