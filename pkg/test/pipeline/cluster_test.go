package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/test/internal/eventdbtest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var backoff = bus.Backoff{Base: 50 * time.Millisecond, Max: 500 * time.Millisecond}

// figures are the JetStream figures of a report.
type figures struct {
	Events, Creds pipeline.Stream
	DLQ           pipeline.DLQ
	Abandoned     int64
}

// TestFiguresFromAnyNode: the stream, consumer and dead-letter figures are
// the same whichever node the reader is connected to — a follower of every
// leader, after the leaders moved, with a node down (once its replica
// groups have elected new leaders; a read during the election fails, it is
// never wrong), and from a node that returned and caught up.
func TestFiguresFromAnyNode(t *testing.T) {
	c := testenv.NewCluster(t)
	nc, js := c.Connect(t)
	ctx := testenv.Context(t)
	topo := bus.DefaultTopology()
	topo.Replicas = 3
	topo.BuilderAckWait = time.Hour // the held deliveries stay in flight
	if err := topo.Apply(ctx, js); err != nil {
		t.Fatal(err)
	}
	db, _ := eventdbtest.DeliveryDB(t, 0)

	// 5 events, 2 of them delivered and held; 3 bundles; 3 dead letters.
	for i := 1; i <= 5; i++ {
		corp := fmt.Sprintf("E%d", i)
		if _, err := bus.Publish(ctx, js, bus.Outgoing{Subject: bus.EventSubject("BC_REG", corp), MsgID: corp, CorpNum: corp, Data: []byte("{}")}, backoff); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		corp := fmt.Sprintf("C%d", i)
		if _, err := bus.Publish(ctx, js, bus.Outgoing{Subject: bus.CredSubject("BC_REG", corp), MsgID: corp, CorpNum: corp, Data: []byte("{}")}, backoff); err != nil {
			t.Fatal(err)
		}
	}
	builder, err := js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for held < 2 {
		mb, err := builder.Fetch(2-held, jetstream.FetchMaxWait(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for range mb.Messages() {
			held++
		}
	}
	for i, stage := range []string{messages.StageBuilder, messages.StageBuilder, messages.StagePoster} {
		dl := bus.DeadLetterFor(stage, "test", 1, bus.StreamEvents, uint64(100+i), bus.EventSubject("BC_REG", fmt.Sprintf("D%d", i)), nats.Header{}, []byte("{}"))
		if err := bus.PublishDeadLetter(ctx, js, dl, backoff); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{bus.StreamEvents, bus.StreamCreds, bus.StreamDLQ} {
		c.WaitCurrent(js, s)
	}
	want := figures{
		Events: pipeline.Stream{Messages: 5, Pending: 3, InFlight: 2},
		Creds:  pipeline.Stream{Messages: 3, Pending: 3},
		DLQ:    pipeline.DLQ{Total: 3, ByStage: map[string]uint64{messages.StageBuilder: 2, messages.StagePoster: 1}},
	}
	// The dead letters' times and bytes, as the leaders answer them.
	settled, err := read(ctx, c.Nodes[0].URL(), db)
	if err != nil {
		t.Fatal(err)
	}
	want.DLQ.Oldest, want.DLQ.OldestByStage = settled.DLQ.Oldest, settled.DLQ.OldestByStage
	want.DLQ.Bytes, want.DLQ.MaxBytes = settled.DLQ.Bytes, settled.DLQ.MaxBytes
	if len(want.DLQ.OldestByStage) != 2 || want.DLQ.Oldest == nil {
		t.Fatalf("oldest dead letters not read: %+v", settled.DLQ)
	}

	// check reads the figures through every running node until each has
	// answered once; a read that fails (an election in progress) is tried
	// again, a read that answers must answer want.
	check := func(when string) {
		t.Helper()
		for i, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			testenv.WaitFor(t, fmt.Sprintf("%s: figures through %s", when, n.Name), func() bool {
				got, err := read(ctx, n.URL(), db)
				if err != nil {
					t.Logf("%s: through node %d: %v (tried again)", when, i, err)
					return false
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("%s: figures through %s (-want +got):\n%s", when, n.Name, diff)
				}
				return true
			})
		}
	}
	check("settled")

	// Every replica group led by another node.
	c.StepDownStream(nc, js, bus.StreamEvents)
	c.StepDownConsumer(nc, js, bus.StreamEvents, bus.ConsumerBuilder)
	c.StepDownStream(nc, js, bus.StreamCreds)
	c.StepDownConsumer(nc, js, bus.StreamCreds, bus.ConsumerPoster)
	c.StepDownStream(nc, js, bus.StreamDLQ)
	check("leaders moved")

	// The node that leads the builder consumer and BCREG_EVENTS (or the
	// consumer's alone) lost.
	down := c.Index(c.ConsumerLeader(js, bus.StreamEvents, bus.ConsumerBuilder))
	c.Kill(down)
	check("a node down")

	// Back, and caught up.
	c.Start(down)
	for _, s := range []string{bus.StreamEvents, bus.StreamCreds, bus.StreamDLQ} {
		c.WaitCurrent(js, s)
	}
	check("the node back")

	// Quorum lost: one node left. It answers a stream's info from its own
	// replica, without a leader, whatever that replica missed: no figure
	// may be read from such an answer (it is reported unreadable instead).
	x := (down + 1) % 3
	xnc, err := nats.Connect(c.Nodes[x].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer xnc.Close()
	xjs, _ := jetstream.New(xnc)
	dl := bus.DeadLetterFor(messages.StagePoster, "test", 1, bus.StreamEvents, 200, bus.EventSubject("BC_REG", "D9"), nats.Header{}, []byte("{}"))
	if err := bus.PublishDeadLetter(ctx, js, dl, backoff); err != nil {
		t.Fatal(err)
	}
	c.Kill((x + 1) % 3)
	c.Kill((x + 2) % 3)
	// A leader cut off keeps answering until it steps down (it has not
	// heard from its peers for the lost-quorum interval); then the lone
	// node answers every stream's info from its replica.
	for _, stream := range []string{bus.StreamDLQ, bus.StreamEvents} {
		testenv.WaitFor(t, "the lone node answers "+stream+"'s info without a leader", func() bool {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			st, err := xjs.Stream(rctx, stream)
			return err == nil && st.CachedInfo().Cluster != nil && st.CachedInfo().Cluster.Leader == ""
		})
	}
	if d, err := bus.ReadDLQ(ctx, xjs); err == nil {
		t.Errorf("dead letters read from a replica without a leader: %+v", d)
	}
	if s, err := bus.ReadStage(ctx, xjs, bus.StreamEvents, bus.ConsumerBuilder); err == nil {
		t.Errorf("stage read from a replica without a leader: %+v", s)
	}
	if got, err := read(ctx, c.Nodes[x].URL(), db); err == nil {
		t.Errorf("figures read while quorum is lost: %+v", got)
	}
	want.DLQ.Total++
	want.DLQ.ByStage[messages.StagePoster]++
	c.Start((x + 1) % 3)
	c.Start((x + 2) % 3)
	for _, s := range []string{bus.StreamEvents, bus.StreamCreds, bus.StreamDLQ} {
		c.WaitCurrent(js, s)
	}
	testenv.WaitFor(t, "figures after quorum is back", func() bool {
		settled, err = read(ctx, c.Nodes[x].URL(), db)
		return err == nil // the consumers' elections may still run
	})
	want.DLQ.Bytes = settled.DLQ.Bytes
	check("quorum back")
}

// read reads a report through a connection to one node only (a reader
// whose connection reached that node), as `bcregctl status` does.
func read(ctx context.Context, url string, db eventdb.Querier) (figures, error) {
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		return figures{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return figures{}, err
	}
	r := pipeline.Read(ctx, pipeline.Sources{EventDB: db, JS: js, Timeout: 5 * time.Second})
	if err := r.Err(); err != nil {
		return figures{}, err
	}
	f := figures{Events: r.Events, Creds: r.Creds, DLQ: r.DLQ}
	if r.Abandoned != nil {
		f.Abandoned = r.Abandoned.Credentials
	}
	return f, nil
}
