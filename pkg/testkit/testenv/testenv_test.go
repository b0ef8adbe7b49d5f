package testenv_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestDatabaseIsFreshAndUsable(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := pool.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
		t.Fatal(err)
	}
	other, _ := testenv.NewPool(t)
	var n int
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database sees the first one's table")
	}
}

func TestNATSJetStream(t *testing.T) {
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	if _, err := js.AccountInfo(testenv.Context(t)); err != nil {
		t.Fatalf("jetstream not enabled: %v", err)
	}
}

// TestNATSClusterFailover: an R3 stream of the three-node cluster keeps every
// message across a leader step-down, a SIGKILL of its leader and that
// node's return.
func TestNATSClusterFailover(t *testing.T) {
	c := testenv.NewCluster(t, testenv.WithNodeProcesses())
	nc, js := c.Connect(t)
	ctx := testenv.Context(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	publish := func(id string) {
		t.Helper()
		testenv.WaitFor(t, "publish "+id, func() bool {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := js.Publish(pctx, "t.x", []byte(id), jetstream.WithMsgID(id))
			return err == nil
		})
	}
	publish("1")
	from, to := c.StepDownStream(nc, js, "T")
	if from == to {
		t.Fatalf("leader still %s after step-down", from)
	}
	publish("2")
	leader := c.Index(c.StreamLeader(js, "T"))
	c.Kill(leader)
	publish("3")
	if got := c.StreamLeader(js, "T"); got == c.Nodes[leader].Name {
		t.Fatalf("killed node %s still leads", got)
	}
	c.Start(leader)
	c.WaitCurrent(js, "T")
	publish("3") // a retry: de-duplicated
	if got := len(testenv.StreamMessages(t, js, "T")); got != 3 {
		t.Errorf("stream holds %d messages, want 3", got)
	}
}
