package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/daemon"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestRunMoverRunsTheReconciler: a service with RunMover moves a message
// that exhausted MaxDeliver although its advisory was lost, at the
// configured BCREG_JS_DLQ_RECONCILE_INTERVAL.
func TestRunMoverRunsTheReconciler(t *testing.T) {
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	ctx := testenv.Context(t)
	topo := bus.DefaultTopology()
	topo.BuilderMaxDeliver, topo.ReconcileInterval = 2, time.Second
	if err := topo.Apply(ctx, js); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, js, bus.Outgoing{Subject: bus.EventSubject("BC_REG", "W1"), MsgID: "w1", CorpNum: "W1", Data: []byte(`{}`)}, bus.Backoff{}); err != nil {
		t.Fatal(err)
	}
	testenv.Exhaust(t, js, bus.StreamEvents, bus.ConsumerBuilder)
	// The advisory is lost before any mover sees it.
	adv, _ := js.Stream(ctx, bus.StreamAdvisories)
	if err := adv.Purge(ctx); err != nil {
		t.Fatal(err)
	}

	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(rctx, zaptest.NewLogger(t), daemon.Options{Name: "test", HTTP: config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
			NATS: &config.NATS{URL: config.URL(n.URL())}, Topology: &topo, RunMover: true, Backoff: bus.Backoff{Base: 10 * time.Millisecond}})
	}()
	testenv.WaitFor(t, "the stranded message in BCREG_DLQ", func() bool {
		entries, err := bus.ListDLQ(ctx, js, bus.DLQFilter{Stage: "mover", CorpNum: "W1"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries) == 1
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunWaitsForNATS: a service started before NATS logs its build,
// waits with back-off (logging each refused attempt) and comes up when
// NATS does, applying the topology then: in compose and Kubernetes the
// dependencies start in any order.
func TestRunWaitsForNATS(t *testing.T) {
	ctx := testenv.Context(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there until NATS starts below

	core, logs := observer.New(zap.InfoLevel)
	topo := bus.DefaultTopology()
	topo.Mode = bus.TopologyApply // as make run: nobody else applies it
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(rctx, zap.New(core), daemon.Options{Name: "test", HTTP: config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
			NATS: &config.NATS{URL: config.URL(fmt.Sprintf("nats://127.0.0.1:%d", port))}, Topology: &topo})
	}()
	testenv.WaitFor(t, "a refused NATS connection, logged", func() bool {
		return logs.FilterMessage("waiting for a dependency").Len() > 0
	})
	start := logs.FilterMessage("starting").All()
	if len(start) != 1 || start[0].ContextMap()["version"] != buildinfo.Version {
		t.Errorf("start-up log %v: want one line with version %q", start, buildinfo.Version)
	}
	n := testenv.StartNATS(t, t.TempDir(), port)
	_, js := n.Connect(t)
	testenv.WaitFor(t, "the service up, its topology applied", func() bool {
		return logs.FilterMessage("service started").Len() == 1
	})
	if _, err := js.Stream(ctx, bus.StreamEvents); err != nil {
		t.Errorf("stream %s after start-up: %v", bus.StreamEvents, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunChecksTopologyWithoutRewriting: by default a service only checks
// the topology migrate applied. Tuning done with the nats CLI survives its
// start; a missing stream holds the start-up until migrate creates it;
// BCREG_JS_TOPOLOGY=apply rewrites the tuning back.
func TestRunChecksTopologyWithoutRewriting(t *testing.T) {
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	ctx := testenv.Context(t)
	topo := bus.DefaultTopology()
	if err := topo.Apply(ctx, js); err != nil {
		t.Fatal(err)
	}
	// An operator's tuning: nats consumer edit BCREG_CREDS poster --max-pending 50.
	tuned := topo.Consumers()[bus.StreamCreds]
	tuned.MaxAckPending = 50
	if _, err := js.UpdateConsumer(ctx, bus.StreamCreds, tuned); err != nil {
		t.Fatal(err)
	}
	maxAckPending := func() int {
		c, err := js.Consumer(ctx, bus.StreamCreds, bus.ConsumerPoster)
		if err != nil {
			t.Fatal(err)
		}
		return c.CachedInfo().Config.MaxAckPending
	}
	run := func(topo bus.Topology) *observer.ObservedLogs {
		t.Helper()
		core, logs := observer.New(zap.InfoLevel)
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- daemon.Run(rctx, zap.New(core), daemon.Options{Name: "test", HTTP: config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
				NATS: &config.NATS{URL: config.URL(n.URL())}, Topology: &topo})
		}()
		testenv.WaitFor(t, "the service started", func() bool { return logs.FilterMessage("service started").Len() == 1 })
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return logs
	}

	logs := run(topo)
	if got := maxAckPending(); got != 50 {
		t.Errorf("after a start in check mode, max_ack_pending = %d, want the tuned 50", got)
	}
	drift := logs.FilterMessageSnippet("differs from the configuration").All()
	if len(drift) != 1 || drift[0].ContextMap()["difference"] != "consumer poster on BCREG_CREDS: max_ack_pending is 50, the configuration says 2000" {
		t.Errorf("drift logged: %v, want one warning naming max_ack_pending", drift)
	}

	topo.Mode = bus.TopologyApply
	run(topo)
	if got := maxAckPending(); got != 2000 {
		t.Errorf("after a start in apply mode, max_ack_pending = %d, want the configured 2000", got)
	}
}

// TestReadyOnlyOnTheSchemaItNeeds: a service whose event database has an
// older schema than its build expects is not ready (it would run new code
// on the old schema) until migrate has run; then it is.
func TestReadyOnlyOnTheSchemaItNeeds(t *testing.T) {
	ctx := testenv.Context(t)
	dbURL := testenv.NewDatabase(t) // no migrations: version 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	core, logs := observer.New(zap.InfoLevel)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(rctx, zap.New(core), daemon.Options{Name: "test", HTTP: config.HTTP{Addr: addr, ShutdownTimeout: 5 * time.Second},
			EventDB: &config.EventDB{URL: config.URL(dbURL)}})
	}()
	testenv.WaitFor(t, "the service started", func() bool { return logs.FilterMessage("service started").Len() == 1 })
	ready := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, want, err := func() (int64, int64, error) {
		pool, err := eventdb.Open(ctx, dbURL, "test")
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		return eventdb.SchemaVersions(ctx, pool)
	}()
	if err != nil {
		t.Fatal(err)
	}
	if code, body := ready(); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, fmt.Sprintf("event_db_schema: schema version 0, this build needs %d: run bcregctl migrate", want)) {
		t.Errorf("/readyz on an unmigrated database: %d %q, want 503 naming the schema", code, body)
	}

	pool, err := eventdb.Open(ctx, dbURL, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if code, body := ready(); code != http.StatusOK {
		t.Errorf("/readyz after migrate: %d %q, want 200", code, body)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
