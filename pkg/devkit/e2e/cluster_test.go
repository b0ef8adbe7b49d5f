package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/devkit/synth"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// clusterSynthCorps is the synthetic registry added to the demo data in
// the cluster fault tests (BCREG_E2E_CLUSTER_CORPS overrides it): sized so
// that the four tests stay within CI's budget on two loaded cores.
const clusterSynthCorps = 2000

// Poster settings of the cluster tests: the in-flight bound of duplicates
// at the agent is posters × in-flight requests × credentials per request.
const (
	clusterPosters     = 2
	clusterInflight    = 2
	clusterRequestSize = 2
	inFlightBound      = clusterPosters * clusterInflight * clusterRequestSize
)

// clusterRun is a pipeline on a three-node cluster (R3 streams and
// consumers) over the demo data and a synthetic registry, with poison
// messages on both work streams.
type clusterRun struct {
	*pipeline
	c    *testenv.Cluster
	nc   *nats.Conn
	js   jetstream.JetStream
	want map[string]expectedCred
}

func startClusterRun(t *testing.T) *clusterRun {
	t.Helper()
	c := testenv.NewCluster(t, testenv.WithNodeProcesses())
	p := newPipelineOn(t, "snapshot", c.URLs())
	p.cluster = c
	p.env["BCREG_JS_REPLICAS"] = "3"
	p.env["BCREG_BUILDER_BATCH"] = "10"
	p.env["BCREG_POSTER_REQUEST_SIZE"] = strconv.Itoa(clusterRequestSize)
	p.env["BCREG_POSTER_MAX_INFLIGHT"] = strconv.Itoa(clusterInflight)
	p.env["BCREG_POSTER_ADAPTIVE"] = "false"
	p.env["BCREG_JS_DLQ_RECONCILE_INTERVAL"] = "5s"
	ctx := testenv.Context(t)
	n := clusterSynthCorps
	if v := os.Getenv("BCREG_E2E_CLUSTER_CORPS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if _, err := synth.Seed(ctx, testenv.Pool(t, p.sourceDB), synth.Options{Corporations: n, Seed: 20}); err != nil {
		t.Fatal(err)
	}
	r := &clusterRun{pipeline: p, c: c}
	r.nc, r.js = c.Connect(t)
	r.want = expectedDeliveries(t, p.sourceDB, "snapshot")

	// Poison at the poster: the agent refuses two registration
	// credentials for good.
	p.rejected = map[string]bool{}
	var rules string
	hashes := make([]string, 0, len(r.want))
	for h := range r.want {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	all := generateAll(t, p.sourceDB, "snapshot")
	for _, h := range hashes {
		e := r.want[h]
		cr := all[e.corp].Credentials
		for _, x := range cr {
			if x.Hash != h || x.Type != "REG" || len(p.rejected) == 2 {
				continue
			}
			var attrs struct {
				ID string `json:"registration_id"`
			}
			_ = json.Unmarshal([]byte(x.JSON), &attrs)
			rules += "schema=registration.bc_registries,attribute=registration_id,value=" + attrs.ID + ";"
			p.rejected[h] = true
			delete(r.want, h)
		}
	}
	if len(p.rejected) != 2 {
		t.Fatalf("found %d registration credentials to reject, want 2", len(p.rejected))
	}
	p.startSim(map[string]string{"BCREG_SIM_REJECT": rules, "BCREG_SIM_LATENCY": "uniform(50ms,100ms)", "BCREG_SIM_SEED": "20"})
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder-1", "credential-builder")
	p.startService("credential-builder-2", "credential-builder")
	for i := 1; i <= clusterPosters; i++ {
		p.startService("poster-"+strconv.Itoa(i), "poster")
	}
	// Poison at the builder: an event that is no CorpEvent.
	if _, err := bus.Publish(ctx, r.js, bus.Outgoing{Subject: bus.EventSubject("BC_REG", "POISON1"), MsgID: "poison-1", CorpNum: "POISON1", Data: []byte("not json")}, bus.Backoff{Base: 100 * time.Millisecond, Max: time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster run: %d credentials expected (demo data + %d synthetic corporations), 2 rejected by the agent, 1 poison event", len(r.want), n)
	return r
}

// issued is what the agent has issued so far.
func (r *clusterRun) issued() int64 {
	st, err := r.sim.Stats(testenv.Context(r.t))
	if err != nil {
		return -1
	}
	return st.Issued
}

// progress waits until the agent has issued n more credentials than now
// (the pipeline is moving again), or all of them.
func (r *clusterRun) progress(what string, n int64) {
	r.t.Helper()
	from := r.issued()
	all := int64(len(r.want))
	testenv.WaitFor(r.t, what, func() bool { i := r.issued(); return i >= from+n || i >= all })
}

// midLoad waits until a fraction of the credentials is issued.
func (r *clusterRun) midLoad(fraction float64) {
	r.t.Helper()
	n := int64(float64(len(r.want)) * fraction)
	testenv.WaitFor(r.t, "load under way", func() bool { return r.issued() >= n })
}

// finish waits for the end of the load and checks it: every credential
// once (duplicates at the agent only within bound), in order, the
// rejected ones N, and exactly the poison messages in the DLQ.
func (r *clusterRun) finish(dupBound int) {
	t := r.t
	t.Helper()
	r.waitIdle(5*time.Minute, len(r.want))
	dups := r.checkDelivered(r.want, true)
	if dups > dupBound {
		t.Errorf("%d duplicates at the agent, bound %d", dups, dupBound)
	}
	ctx := testenv.Context(t)
	var dlq bus.DLQState
	testenv.WaitFor(t, "the poison messages in the DLQ", func() bool {
		d, err := bus.ReadDLQ(ctx, r.js)
		dlq = d
		return err == nil && d.ByStage["builder"] == 1 && d.ByStage["poster"] == 2
	})
	if dlq.Total != 3 {
		t.Errorf("DLQ holds %d dead letters (%v), want the 3 poison messages", dlq.Total, dlq.ByStage)
	}
	for name, pr := range r.procs {
		select {
		case <-pr.done:
			t.Errorf("%s exited: %v", name, pr.err)
		default:
		}
	}
	t.Logf("%d credentials delivered, 0 lost, 0 wrong, %d duplicates at the agent (bound %d), DLQ %v", len(r.want), dups, dupBound, dlq.ByStage)
}

// ready is the HTTP status of a service's /readyz.
func ready(pr *proc) int {
	resp, err := http.Get("http://" + pr.addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClusterLeadersKilled: the leaders of BCREG_EVENTS, BCREG_CREDS and
// the poster consumer step down and then are killed with SIGKILL (and come
// back), one after another, mid-load.
func TestClusterLeadersKilled(t *testing.T) {
	r := startClusterRun(t)
	r.midLoad(0.1)
	faults := 0
	for _, target := range []struct{ stream, consumer string }{
		{bus.StreamEvents, ""}, {bus.StreamCreds, ""}, {bus.StreamCreds, bus.ConsumerPoster},
	} {
		name := target.stream + "/" + target.consumer
		var from, to string
		if target.consumer == "" {
			from, to = r.c.StepDownStream(r.nc, r.js, target.stream)
		} else {
			from, to = r.c.StepDownConsumer(r.nc, r.js, target.stream, target.consumer)
		}
		t.Logf("%s: leader stepped down %s -> %s at %d issued", name, from, to, r.issued())
		r.progress("progress after the step-down of "+name, 20)
		leader := to
		if target.consumer != "" {
			leader = r.c.ConsumerLeader(r.js, target.stream, target.consumer)
		}
		i := r.c.Index(leader)
		r.c.Kill(i)
		t.Logf("%s: leader %s killed (SIGKILL) at %d issued", name, leader, r.issued())
		r.progress("progress after the kill of the leader of "+name, 20)
		r.c.Start(i)
		r.c.WaitCurrent(r.js, target.stream)
		faults += 2
	}
	r.finish(faults * inFlightBound)
}

// TestClusterNodeLost: a node (the leader of BCREG_CREDS) is lost for good
// mid-load; the other two keep quorum and the pipeline goes on.
func TestClusterNodeLost(t *testing.T) {
	r := startClusterRun(t)
	r.midLoad(0.2)
	leader := r.c.StreamLeader(r.js, bus.StreamCreds)
	r.c.Kill(r.c.Index(leader))
	start := time.Now()
	r.progress("progress with one node lost", 20)
	t.Logf("node %s lost for good at %d issued; the pipeline issued again %v later", leader, r.issued(), time.Since(start).Round(time.Millisecond))
	r.finish(inFlightBound)
}

// TestClusterQuorumLost: two nodes down at once; the services pause (not
// ready, nothing marked failed, no process exits) and resume by
// themselves when the nodes return.
func TestClusterQuorumLost(t *testing.T) {
	r := startClusterRun(t)
	r.midLoad(0.2)
	down := []int{0, 1}
	for _, i := range down {
		r.c.Kill(i)
	}
	t.Logf("nodes %s and %s killed at %d issued", r.c.Nodes[0].Name, r.c.Nodes[1].Name, r.issued())
	poster := r.procs["poster-1"]
	testenv.WaitFor(t, "the poster not ready while quorum is lost", func() bool { return ready(poster) == http.StatusServiceUnavailable })
	pool := testenv.Pool(t, r.eventDB)
	var failed int
	if err := pool.QueryRow(testenv.Context(t), `SELECT count(*) FROM credential_log WHERE process_success = 'N'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed > len(r.rejected) {
		t.Errorf("%d credentials marked failed while quorum was lost (only %d are rejected by the agent)", failed, len(r.rejected))
	}
	for _, i := range down {
		r.c.Start(i)
	}
	testenv.WaitFor(t, "the poster ready again", func() bool { return ready(poster) == http.StatusOK })
	r.progress("progress after the nodes returned", 20)
	r.finish(2 * inFlightBound)
}

// TestClusterRollingRestart: the three nodes restart one after another,
// each waiting for the streams to be current again, as a StatefulSet
// upgrade does.
func TestClusterRollingRestart(t *testing.T) {
	r := startClusterRun(t)
	r.midLoad(0.1)
	for i := range r.c.Nodes {
		r.c.Stop(i)
		t.Logf("%s stopped (SIGTERM) at %d issued", r.c.Nodes[i].Name, r.issued())
		r.c.Start(i)
		for _, s := range []string{bus.StreamEvents, bus.StreamCreds, bus.StreamDLQ, bus.StreamAdvisories} {
			r.c.WaitCurrent(r.js, s)
		}
	}
	r.finish(3 * inFlightBound)
}
