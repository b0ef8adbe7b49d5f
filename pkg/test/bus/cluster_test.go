package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// clusterSetup applies the R3 topology on a three-node cluster.
func clusterSetup(t *testing.T) (*testenv.Cluster, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	c := testenv.NewCluster(t)
	nc, js := c.Connect(t)
	topo := testTopology()
	topo.Replicas = 3
	if err := topo.Apply(testenv.Context(t), js); err != nil {
		t.Fatal(err)
	}
	return c, nc, js
}

// TestPublishWaitsOutLostQuorum: a publish while two of three nodes are
// down neither fails nor duplicates: it retries with its message id until
// the nodes are back, and the stream holds it once.
func TestPublishWaitsOutLostQuorum(t *testing.T) {
	c, _, js := clusterSetup(t)
	ctx := testenv.Context(t)
	publishEvent(t, js, "A1", "before", []byte("x"))
	leader := c.Index(c.StreamLeader(js, bus.StreamEvents))
	down := []int{leader, (leader + 1) % 3}
	for _, i := range down {
		c.Kill(i)
	}
	type result struct {
		ack *jetstream.PubAck
		err error
	}
	// The publish has a connection of its own: its sent-message count
	// shows the attempts.
	pnc, pjs := c.Connect(t)
	sent := pnc.Stats().OutMsgs
	done := make(chan result, 1)
	go func() {
		ack, err := bus.Publish(ctx, pjs, bus.Outgoing{Subject: bus.EventSubject("BC_REG", "A1"), MsgID: "during", CorpNum: "A1", Data: []byte("y")},
			bus.Backoff{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond})
		done <- result{ack, err}
	}()
	// Proof the publish met the lost quorum: it was sent three times.
	testenv.WaitFor(t, "three attempts while quorum is lost", func() bool {
		select {
		case r := <-done:
			t.Fatalf("publish ended while quorum was lost: ack %v, err %v", r.ack, r.err)
		default:
		}
		return pnc.Stats().OutMsgs >= sent+3
	})
	for _, i := range down {
		c.Start(i)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(testenv.Guard):
		t.Fatal("publish never returned after the nodes came back")
	}
	if r.err != nil {
		t.Fatalf("publish after quorum loss: %v", r.err)
	}
	c.WaitCurrent(js, bus.StreamEvents)
	if n := streamMsgs(t, js, bus.StreamEvents); n != 2 {
		t.Errorf("%s holds %d messages, want 2", bus.StreamEvents, n)
	}
}

// TestReadyCheckReportsLostQuorum: /readyz fails while JetStream cannot
// store (two of three nodes down) though the connection is up, and passes
// again when the nodes are back.
func TestReadyCheckReportsLostQuorum(t *testing.T) {
	c, _, _ := clusterSetup(t)
	ctx := testenv.Context(t)
	// Connected to node 0, which stays up.
	own, ojs, err := bus.Connect(ctx, config.NATS{URL: config.URL(c.Nodes[0].URL())}, "ready-test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Close)
	check := bus.ReadyCheck(own, ojs)
	testenv.WaitFor(t, "ready with every node up", func() bool { return check(ctx) == nil })
	c.Kill(1)
	c.Kill(2)
	testenv.WaitFor(t, "not ready while quorum is lost", func() bool { return check(ctx) != nil })
	if own.Status() != nats.CONNECTED {
		t.Fatalf("connection %v, want connected to the node left", own.Status())
	}
	c.Start(1)
	c.Start(2)
	testenv.WaitFor(t, "ready again", func() bool { return check(ctx) == nil })
}

// TestConcurrentApplyOnCluster: the services start together and each
// applies the R3 topology at once; every apply returns.
func TestConcurrentApplyOnCluster(t *testing.T) {
	c := testenv.NewCluster(t)
	topo := testTopology()
	topo.Replicas = 3
	n := 5
	errs := make(chan error, n)
	for range n {
		_, js := c.Connect(t)
		go func() {
			ctx, cancel := context.WithTimeout(testenv.Context(t), 30*time.Second)
			defer cancel()
			errs <- topo.Apply(ctx, js)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("apply: %v", err)
		}
	}
}
