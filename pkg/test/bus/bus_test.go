package bus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// testTopology keeps redeliveries fast: AckWait 1s, three deliveries.
func testTopology() bus.Topology {
	t := bus.DefaultTopology()
	t.BuilderAckWait, t.BuilderMaxDeliver = time.Second, 3
	return t
}

var fastBackoff = bus.Backoff{Base: 300 * time.Millisecond, Max: time.Second}

func setup(t *testing.T) (jetstream.JetStream, bus.Topology) {
	t.Helper()
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	topo := testTopology()
	if err := topo.Apply(testenv.Context(t), js); err != nil {
		t.Fatal(err)
	}
	return js, topo
}

func publishEvent(t *testing.T, js jetstream.JetStream, corp, id string, data []byte) {
	t.Helper()
	if _, err := bus.Publish(testenv.Context(t), js, bus.Outgoing{Subject: bus.EventSubject("BC_REG", corp), MsgID: id, CorpNum: corp, Data: data}, fastBackoff); err != nil {
		t.Fatal(err)
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(testenv.Context(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// dlqEntries reads every dead letter stored so far (not the payload
// copies of large ones).
func dlqEntries(t *testing.T, js jetstream.JetStream) []messages.DeadLetter {
	t.Helper()
	var out []messages.DeadLetter
	for _, raw := range testenv.StreamMessages(t, js, bus.StreamDLQ) {
		if strings.HasPrefix(raw.Subject, bus.DLQDataPrefix+".") {
			continue
		}
		dl, err := messages.DecodeDeadLetter(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

// waitFor polls cond until it holds, for at most testenv.Guard.
var waitFor = testenv.WaitFor

func consumeInBackground(t *testing.T, js jetstream.JetStream, topo bus.Topology, h bus.Handler) {
	t.Helper()
	consumeWith(t, js, topo, func(*bus.ConsumeOptions) {}, h)
}

// consumeWith runs the builder consumer's loop, options changed by set,
// until the test ends.
func consumeWith(t *testing.T, js jetstream.JetStream, topo bus.Topology, set func(*bus.ConsumeOptions), h bus.Handler) {
	t.Helper()
	opts := bus.ConsumeOptions{
		Stream: bus.StreamEvents, Consumer: bus.ConsumerBuilder, Stage: messages.StageBuilder,
		Workers: 2, BatchSize: 1, MaxDeliver: topo.BuilderMaxDeliver, AckWait: topo.BuilderAckWait, Backoff: fastBackoff,
	}
	set(&opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = bus.Consume(ctx, js, zaptest.NewLogger(t), opts, h)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func TestApplyTopologyTwiceIsNoOp(t *testing.T) {
	js, topo := setup(t)
	ctx := testenv.Context(t)
	publishEvent(t, js, "0191294", "a", []byte(`{}`))
	before := map[string]jetstream.StreamConfig{}
	for _, sc := range topo.Streams() {
		s, _ := js.Stream(ctx, sc.Name)
		before[sc.Name] = s.CachedInfo().Config
	}
	if err := topo.Apply(ctx, js); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	for _, sc := range topo.Streams() {
		s, err := js.Stream(ctx, sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := s.Info(ctx)
		if diff := cmp.Diff(before[sc.Name], info.Config); diff != "" {
			t.Errorf("stream %s changed (-before +after):\n%s", sc.Name, diff)
		}
	}
	if got := streamMsgs(t, js, bus.StreamEvents); got != 1 {
		t.Errorf("messages after re-apply = %d, want 1 (nothing lost)", got)
	}
}

func TestDuplicateMessageIDStoredOnce(t *testing.T) {
	js, _ := setup(t)
	ctx := testenv.Context(t)
	o := bus.Outgoing{Subject: bus.EventSubject("BC_REG", "A1"), MsgID: "BC_REG:A1:abc", Data: []byte(`{"v":1}`)}
	first, err := bus.Publish(ctx, js, o, fastBackoff)
	if err != nil {
		t.Fatal(err)
	}
	second, err := bus.Publish(ctx, js, o, fastBackoff)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate || second.Sequence != first.Sequence {
		t.Errorf("second publish: duplicate=%v seq=%d, want duplicate of seq %d", second.Duplicate, second.Sequence, first.Sequence)
	}
	errs := bus.PublishAll(ctx, js, []bus.Outgoing{o, o}, fastBackoff)
	if diff := cmp.Diff([]error{nil, nil}, errs, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
		t.Errorf("async publish errors:\n%s", diff)
	}
	if got := streamMsgs(t, js, bus.StreamEvents); got != 1 {
		t.Errorf("stored %d messages, want 1", got)
	}
}

func TestTransientFailureRedeliveredAfterBackoff(t *testing.T) {
	js, topo := setup(t)
	publishEvent(t, js, "A1", "t1", []byte(`{}`))
	var mu sync.Mutex
	var times []time.Time
	consumeInBackground(t, js, topo, func(_ context.Context, b []jetstream.Msg) []error {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if len(times) == 1 {
			return []error{errors.New("source database unreachable")}
		}
		return []error{nil}
	})
	waitFor(t, "second delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(times) >= 2 })
	waitFor(t, "ack", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
	mu.Lock()
	gap := times[1].Sub(times[0])
	mu.Unlock()
	// Base 300ms with -20% jitter: never sooner than 240ms (a plain Nak would be ~0).
	if gap < 240*time.Millisecond {
		t.Errorf("redelivered after %v, want the back-off delay (≥ 240ms)", gap)
	}
	if n := len(dlqEntries(t, js)); n != 0 {
		t.Errorf("dead letters = %d, want 0", n)
	}
}

func TestPermanentFailureLandsInDLQWithReason(t *testing.T) {
	js, topo := setup(t)
	publishEvent(t, js, "A 1", "p1", []byte(`{"v":1,"corp_num":"A 1"}`))
	consumeInBackground(t, js, topo, func(_ context.Context, b []jetstream.Msg) []error {
		return []error{bus.Permanent(errors.New("corporation A 1: no corporation row"))}
	})
	waitFor(t, "dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	dl := dlqEntries(t, js)[0]
	want := messages.DeadLetter{V: 1, Stage: "builder", Reason: "corporation A 1: no corporation row", Deliveries: 1,
		OriginalStream: bus.StreamEvents, OriginalSubject: "bcreg.events.BC_REG.~A~201", CorpNum: "A 1",
		PayloadBase64: []byte(`{"v":1,"corp_num":"A 1"}`)}
	if diff := cmp.Diff(want, dl, cmpDeadLetter...); diff != "" {
		t.Errorf("dead letter (-want +got):\n%s", diff)
	}
	waitFor(t, "original removed", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
}

var cmpDeadLetter = []cmp.Option{
	cmp.FilterPath(func(p cmp.Path) bool {
		s := p.String()
		return s == "FailedAt" || s == "OriginalHeaders" || s == "OriginalSeq"
	}, cmp.Ignore()),
}

func TestUndecodableMessageLandsInDLQWithOriginalBytes(t *testing.T) {
	js, topo := setup(t)
	garbage := []byte("\x00not json{")
	publishEvent(t, js, "B2", "u1", garbage)
	consumeInBackground(t, js, topo, func(_ context.Context, b []jetstream.Msg) []error {
		errs := make([]error, len(b))
		for i, m := range b {
			if _, err := messages.DecodeCorpEvent(m.Data()); err != nil {
				errs[i] = bus.Permanent(err)
			}
		}
		return errs
	})
	waitFor(t, "dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	dl := dlqEntries(t, js)[0]
	if diff := cmp.Diff(garbage, dl.PayloadBase64); diff != "" {
		t.Errorf("payload not kept byte for byte:\n%s", diff)
	}
	if !errors.Is(errors.New(dl.Reason), nil) && dl.Reason == "" {
		t.Error("no reason")
	}
}

func TestTransientOnLastDeliveryIsDeadLettered(t *testing.T) {
	js, topo := setup(t)
	publishEvent(t, js, "C3", "l1", []byte(`{}`))
	consumeInBackground(t, js, topo, func(_ context.Context, b []jetstream.Msg) []error {
		return []error{errors.New("agent down")}
	})
	waitFor(t, "dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	if dl := dlqEntries(t, js)[0]; dl.Deliveries != 3 {
		t.Errorf("deliveries = %d, want 3", dl.Deliveries)
	}
	waitFor(t, "original removed", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
}

func TestMoverMovesMessageWhoseHandlerCrashedOnLastDelivery(t *testing.T) {
	js, topo := setup(t)
	ctx := testenv.Context(t)
	publishEvent(t, js, "D4", "m1", []byte(`{"payload":"kept"}`))
	// A handler that "crashes": it takes the message and never answers, on
	// every delivery, so JetStream gives up after MaxDeliver.
	cons, err := js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < topo.BuilderMaxDeliver; i++ {
		mb, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for range mb.Messages() {
			got++
		}
		if got == 0 {
			t.Fatalf("delivery %d not made within a minute", i+1)
		}
	}
	// The server notices the exhausted message when it next tries to deliver
	// (a pull is waiting after the last AckWait ran out): then it sends the
	// advisory and delivers nothing. Pulls wait until it did, however late.
	waitFor(t, "advisory", func() bool {
		mb, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range mb.Messages() {
			t.Fatalf("message delivered beyond MaxDeliver: %s", m.Subject())
		}
		return streamMsgs(t, js, bus.StreamAdvisories) >= 1
	})
	if got := streamMsgs(t, js, bus.StreamAdvisories); got != 1 {
		t.Fatalf("advisories = %d, want 1", got)
	}
	// The mover starts only now: the advisory stream kept the advisory.
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = bus.RunMover(mctx, js, zaptest.NewLogger(t), fastBackoff) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "moved dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	dl := dlqEntries(t, js)[0]
	want := messages.DeadLetter{V: 1, Stage: "mover", Deliveries: 3, OriginalStream: bus.StreamEvents,
		OriginalSubject: "bcreg.events.BC_REG.D4", CorpNum: "D4", PayloadBase64: []byte(`{"payload":"kept"}`)}
	if diff := cmp.Diff(want, dl, append(cmpDeadLetter, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Reason" }, cmp.Ignore()))...); diff != "" {
		t.Errorf("moved dead letter (-want +got):\n%s", diff)
	}
	waitFor(t, "original deleted", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
}

// TestShortPullsLoseNothing: pulls whose wait runs out while the server is
// sending must not drop what it sent. With a client-side fetch deadline
// such messages were delivered but never handled, and came back only after
// AckWait (here a minute, far beyond the test).
func TestShortPullsLoseNothing(t *testing.T) {
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	topo := testTopology()
	topo.BuilderAckWait = time.Minute
	ctx := testenv.Context(t)
	if err := topo.Apply(ctx, js); err != nil {
		t.Fatal(err)
	}
	const total = 2000
	var acks []jetstream.PubAckFuture
	for i := range total {
		m := &nats.Msg{Subject: bus.EventSubject("BC_REG", fmt.Sprintf("C%d", i)), Data: []byte(`{}`), Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("short-%d", i))
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-time.After(time.Minute):
			t.Fatal("publish not acknowledged within a minute")
		}
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = bus.Consume(cctx, js, zaptest.NewLogger(t), bus.ConsumeOptions{
			Stream: bus.StreamEvents, Consumer: bus.ConsumerBuilder, Stage: messages.StageBuilder,
			Workers: 4, BatchSize: 20, BatchWait: time.Millisecond, MaxDeliver: topo.BuilderMaxDeliver,
			AckWait: topo.BuilderAckWait, Backoff: fastBackoff,
		}, func(_ context.Context, b []jetstream.Msg) []error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range b {
				seen[m.Headers().Get(jetstream.MsgIDHeader)] = true
			}
			return make([]error, len(b))
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "every message handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == total })
}

// TestWaitingMessagesAreHandledAtOnce: messages already waiting form a
// batch at once, even a batch smaller than BatchSize. A pull that waited
// for the batch to fill held them until the pull expired (here an hour:
// the builder's 1 s was its largest share of the commit-to-agent latency).
func TestWaitingMessagesAreHandledAtOnce(t *testing.T) {
	js, topo := setup(t)
	for _, c := range []string{"A1", "A2", "A3"} {
		publishEvent(t, js, c, "waiting-"+c, []byte(`{}`))
	}
	batches := make(chan []string, 10)
	consumeWith(t, js, topo, func(o *bus.ConsumeOptions) { o.Workers, o.BatchSize, o.BatchWait = 1, 200, time.Hour },
		func(_ context.Context, b []jetstream.Msg) []error {
			batches <- msgIDs(b)
			return make([]error, len(b))
		})
	select {
	case got := <-batches:
		if diff := cmp.Diff([]string{"waiting-A1", "waiting-A2", "waiting-A3"}, got); diff != "" {
			t.Errorf("first batch (-want +got):\n%s", diff)
		}
	case <-time.After(testenv.Guard):
		t.Fatal("three waiting messages not handled (the pull waits for the batch to fill)")
	}
}

// TestIdleConsumerBatchWait: a consumer that found nothing waiting takes
// the first message that arrives and waits up to BatchWait for the batch
// to fill; a full batch ends the wait.
func TestIdleConsumerBatchWait(t *testing.T) {
	js, topo := setup(t)
	batches := make(chan []string, 10)
	consumeWith(t, js, topo, func(o *bus.ConsumeOptions) {
		o.Workers, o.BatchSize, o.BatchWait = 1, 2, time.Hour
	}, func(_ context.Context, b []jetstream.Msg) []error {
		batches <- msgIDs(b)
		return make([]error, len(b))
	})
	// Publish once the loop waits for a first message (its pull request
	// is open at the server): published as the loop was about to pull,
	// the first message alone was what was waiting, a batch of one.
	cons, err := js.Consumer(testenv.Context(t), bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the loop's pull waiting at the server", func() bool {
		ci, err := cons.Info(testenv.Context(t))
		return err == nil && ci.NumWaiting > 0
	})
	publishEvent(t, js, "B1", "idle-B1", []byte(`{}`))
	publishEvent(t, js, "B2", "idle-B2", []byte(`{}`))
	select {
	case got := <-batches:
		if diff := cmp.Diff([]string{"idle-B1", "idle-B2"}, got); diff != "" {
			t.Errorf("batch (-want +got):\n%s", diff)
		}
	case <-time.After(testenv.Guard):
		t.Fatal("a full batch not handled")
	}
}

func msgIDs(b []jetstream.Msg) []string {
	ids := make([]string, len(b))
	for i, m := range b {
		ids[i] = m.Headers().Get(jetstream.MsgIDHeader)
	}
	return ids
}

func TestSubjectToken(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "0191294", "0191294"},
		{"letters", "FM0123456", "FM0123456"},
		{"space", "A 1", "~A~201"},
		{"dot and wildcard", "a.b*>", "~a~2Eb~2A~3E"},
		{"blank", "", "_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, bus.SubjectToken(tc.in)); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// TestRenewedWaitsNeverExhaustMaxDeliver: with Renew, a message that asks
// to be retried more often than MaxDeliver allows is stored again under a
// fresh id before its last delivery (keeping its original id and first
// publish time) and is never dead-lettered; a plain failure still is.
func TestRenewedWaitsNeverExhaustMaxDeliver(t *testing.T) {
	js, topo := setup(t)
	publishEvent(t, js, "C9", "w1", []byte(`{"n":1}`))
	first := testenv.StreamMessages(t, js, bus.StreamEvents)[0].Time
	type seen struct {
		orig      string
		published time.Time
		data      string
	}
	var mu sync.Mutex
	var calls []seen
	consumeWith(t, js, topo, func(o *bus.ConsumeOptions) { o.Workers, o.Renew = 1, true }, func(_ context.Context, b []jetstream.Msg) []error {
		md, _ := b[0].Metadata()
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, seen{orig: b[0].Headers().Get(bus.HeaderOriginalMsgID), published: bus.PublishedAt(b[0], md), data: string(b[0].Data())})
		if len(calls) <= 3*topo.BuilderMaxDeliver {
			if len(calls)%2 == 0 {
				return []error{bus.RetryAfter(errors.New("counted elsewhere"), 10*time.Millisecond)}
			}
			return []error{bus.Wait(errors.New("waiting"), 10*time.Millisecond)}
		}
		return []error{nil}
	})
	waitFor(t, "acked after the waits", func() bool {
		return streamMsgs(t, js, bus.StreamEvents) == 0 && func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(calls) > 3*topo.BuilderMaxDeliver
		}()
	})
	if n := len(dlqEntries(t, js)); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range calls {
		if c.data != `{"n":1}` || !c.published.Equal(first) || (i >= topo.BuilderMaxDeliver-1 && c.orig != "w1") {
			t.Errorf("call %d: %+v, want the same payload, first published %v, original id w1 once renewed", i+1, c, first)
		}
	}
}

// TestOutcomeLoggedOnceWithFailureContext: the loop logs each outcome of a
// message once, with the message's id and the context of the handler's
// Failure (its corporation even when the message has no header naming it).
func TestOutcomeLoggedOnceWithFailureContext(t *testing.T) {
	js, topo := setup(t)
	ctx := testenv.Context(t)
	if _, err := bus.Publish(ctx, js, bus.Outgoing{Subject: bus.EventSubject("BC_REG", "C9"), MsgID: "f1", Data: []byte(`{}`)}, fastBackoff); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	opts := bus.ConsumeOptions{Stream: bus.StreamEvents, Consumer: bus.ConsumerBuilder, Stage: messages.StageBuilder,
		MaxDeliver: topo.BuilderMaxDeliver, AckWait: topo.BuilderAckWait, Backoff: fastBackoff}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = bus.Consume(cctx, js, zap.New(core), opts, func(_ context.Context, b []jetstream.Msg) []error {
			md, _ := b[0].Metadata()
			err := bus.Fail("C9", fmt.Errorf("corporation C9: failure %d", md.NumDelivered), zap.String("agent", "a1"))
			if md.NumDelivered == 1 {
				return []error{err}
			}
			return []error{bus.Permanent(err)}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	cancel()
	<-done

	type line struct{ Level, Message, MsgID, CorpNum, Agent, Why string }
	var got []line
	for _, e := range logs.All() {
		m := e.ContextMap()
		why, _ := m["reason"].(string)
		if why == "" {
			why, _ = m["error"].(string)
		}
		got = append(got, line{e.Level.String(), e.Message, fmt.Sprint(m["msg_id"]), fmt.Sprint(m["corp_num"]), fmt.Sprint(m["agent"]), why})
	}
	want := []line{
		{"warn", "transient failure, redelivering after back-off", "f1", "C9", "a1", "corporation C9: failure 1"},
		{"error", "message dead-lettered", "f1", "C9", "a1", "corporation C9: failure 2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

// TestFailedRenewalStillReachesDLQ: with Renew, a waiting message whose
// renewal cannot be stored (here the stream now refuses messages as large
// as the renewed copy) is redelivered instead; on its last delivery the
// renewal fails again, the message exhausts MaxDeliver, and the dlq-mover
// moves it to BCREG_DLQ: it is not lost.
func TestFailedRenewalStillReachesDLQ(t *testing.T) {
	js, topo := setup(t)
	ctx := testenv.Context(t)
	data := []byte(`{"payload":"kept"}`)
	publishEvent(t, js, "R5", "r1", data)
	st, err := js.Stream(ctx, bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgSize = int32(len(data)) // the renewed copy carries headers too
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	consumeWith(t, js, topo, func(o *bus.ConsumeOptions) { o.Workers, o.Renew = 1, true }, func(context.Context, []jetstream.Msg) []error {
		calls.Add(1)
		return []error{bus.Wait(errors.New("waiting"), 10*time.Millisecond)}
	})
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = bus.RunMover(mctx, js, zaptest.NewLogger(t), fastBackoff) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "dead letter", func() bool { return len(dlqEntries(t, js)) == 1 })
	waitFor(t, "original removed", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
	dl := dlqEntries(t, js)[0]
	want := messages.DeadLetter{V: 1, Stage: "mover", Deliveries: uint64(topo.BuilderMaxDeliver), OriginalStream: bus.StreamEvents,
		OriginalSubject: bus.EventSubject("BC_REG", "R5"), CorpNum: "R5", PayloadBase64: data}
	if diff := cmp.Diff(want, dl, append(cmpDeadLetter, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Reason" }, cmp.Ignore()))...); diff != "" {
		t.Errorf("moved dead letter (-want +got):\n%s", diff)
	}
	if n := calls.Load(); n != int32(topo.BuilderMaxDeliver) {
		t.Errorf("handler called %d times, want %d (one per delivery, no renewed copy)", n, topo.BuilderMaxDeliver)
	}
}
