package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// expectedCred is one credential the pipeline must deliver.
type expectedCred struct {
	corp   string
	index  int // position in the corporation's issue order
	hash   string
	reason string // sent as reason_description when not empty
}

// expectedDeliveries runs the generator directly over every corporation of
// the source (the oracle for the pipeline): in-scope corporations'
// credentials that are not held back, in issue order.
func expectedDeliveries(t *testing.T, sourceURL, profileName string) map[string]expectedCred {
	t.Helper()
	want := map[string]expectedCred{}
	for c, res := range generateAll(t, sourceURL, profileName) {
		i := 0
		for _, cr := range res.Credentials {
			// Held-back credentials are never posted; future-dated ones
			// wait for their date.
			if !postable(cr) {
				continue
			}
			want[cr.Hash] = expectedCred{corp: c, index: i, hash: cr.Hash, reason: cr.Reason}
			i++
		}
	}
	if len(want) == 0 {
		t.Fatal("the generator expects no credential at all: fixture not loaded?")
	}
	return want
}

// receivedHash recomputes a received credential's hash: the canonical text
// of its attributes without reason_description, which the poster adds.
func receivedHash(t *testing.T, attrs json.RawMessage) (hash, reason string) {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(attrs)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("received attributes: %v", err)
	}
	reason, _ = m["reason_description"].(string)
	delete(m, "reason_description")
	text, err := canonical.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return canonical.Hash(text), reason
}

// pipeline is a running set of service processes on real dependencies.
type pipeline struct {
	t        *testing.T
	nats     *testenv.NATS
	natsPort int
	// cluster, when set, is the three-node cluster the services use
	// instead of nats (newClusterPipeline).
	cluster *testenv.Cluster
	// rejected are the hashes the agent refuses for good: each must end
	// as N in credential_log and as a poster dead letter.
	rejected map[string]bool
	eventDB  string
	sourceDB string
	simAddr  string
	sim      *agentsim.Client
	env      map[string]string
	procs    map[string]*proc
}

func newPipeline(t *testing.T, profile string) *pipeline {
	t.Helper()
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	n := testenv.StartNATS(t, t.TempDir(), port)
	p := newPipelineOn(t, profile, n.URL())
	p.nats, p.natsPort = n, port
	return p
}

// newPipelineOn is a pipeline whose services use the NATS server(s) of
// natsURL.
func newPipelineOn(t *testing.T, profile, natsURL string) *pipeline {
	t.Helper()
	p := &pipeline{t: t, procs: map[string]*proc{}}
	p.eventDB = testenv.NewDatabase(t)
	p.sourceDB = sourcetest.WholeFixture(t, sourcetest.Template(t))
	p.simAddr = freeAddr(t)
	p.sim = &agentsim.Client{BaseURL: "http://" + p.simAddr}
	p.env = map[string]string{
		"BCREG_NATS_URL": natsURL, "BCREG_EVENT_DB_URL": p.eventDB, "BCREG_SOURCE_DB_URL": p.sourceDB,
		"BCREG_AGENT_URL": "http://" + p.simAddr + "/bcreg", "BCREG_PROFILE": profile,
		"BCREG_MIGRATE": "true", "BCREG_JS_TOPOLOGY": "apply", "BCREG_POLL_INTERVAL": "1s", "BCREG_SHUTDOWN_TIMEOUT": "5s",
		"BCREG_LOG_LEVEL": "info", "BCREG_RETRY_BASE": "200ms", "BCREG_RETRY_MAX": "2s",
		"BCREG_JS_POSTER_ACK_WAIT": "20s", "BCREG_JS_BUILDER_ACK_WAIT": "20s",
		"BCREG_POSTER_REQUEST_TIMEOUT": "5s",
	}
	return p
}

// startSim starts vonx-sim with extra settings.
func (p *pipeline) startSim(extra map[string]string) {
	p.t.Helper()
	pr := start(p.t, "vonx-sim", merge(p.env, map[string]string{"BCREG_SIM_ADDR": p.simAddr}, extra))
	waitHTTP(p.t, pr, "http://"+p.simAddr+"/health", time.Minute)
	p.procs["vonx-sim"] = pr
}

// startService starts one replica of a service under a unique name.
func (p *pipeline) startService(name, bin string) *proc {
	p.t.Helper()
	addr := freeAddr(p.t)
	pr := start(p.t, bin, merge(p.env, map[string]string{"BCREG_HTTP_ADDR": addr}))
	pr.name, pr.addr = name, addr
	waitHTTP(p.t, pr, "http://"+addr+"/livez", 30*time.Second)
	p.procs[name] = pr
	return pr
}

// waitIdle waits until the streams are empty, nothing is outstanding or
// unpublished, and the agent has received want credentials.
func (p *pipeline) waitIdle(within time.Duration, want int) {
	p.t.Helper()
	ctx := testenv.Context(p.t)
	pool := testenv.Pool(p.t, p.eventDB)
	_, js := p.connect()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		st, err := p.sim.Stats(ctx)
		var outstanding, unpublished int
		if err == nil {
			_ = pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE process_success IS NULL AND (not_before IS NULL OR not_before <= now())),
				count(*) FILTER (WHERE process_success IS NULL AND published_at IS NULL AND (not_before IS NULL OR not_before <= now())) FROM credential_log`).Scan(&outstanding, &unpublished)
		}
		ev, cr := streamMsgs(ctx, js, bus.StreamEvents), streamMsgs(ctx, js, bus.StreamCreds)
		last = fmt.Sprintf("sim issued %d (want %d), outstanding %d, unpublished %d, events %d, creds %d", st.Issued, want, outstanding, unpublished, ev, cr)
		if err == nil && int(st.Issued) >= want && outstanding == 0 && unpublished == 0 && ev == 0 && cr == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.t.Fatalf("pipeline not idle within %v: %s", within, last)
}

// settle waits until the event-poller has completed two more polls (the
// first may have begun before the call) and the pipeline is idle again
// with at least want credentials issued: whatever those polls published
// has then been delivered, and nothing more arrives without a new registry
// event or command. It replaces "wait a few seconds for anything more".
func (p *pipeline) settle(within time.Duration, want int) {
	p.t.Helper()
	from := p.polls()
	waitUntil(p.t, "two more polls", within, func() bool { return p.polls() >= from+2 })
	p.waitIdle(within, want)
}

var pollsLine = regexp.MustCompile(`(?m)^bcreg_poller_polls_total\{result="(?:ok|quiet)"\} (\d+)$`)

// polls is the number of polls the event-poller completed (ok or quiet),
// from its /metrics.
func (p *pipeline) polls() int {
	p.t.Helper()
	pr := p.procs["event-poller"]
	if pr == nil {
		p.t.Fatal("no event-poller running")
	}
	resp, err := http.Get("http://" + pr.addr + "/metrics")
	if err != nil {
		p.t.Fatalf("event-poller metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("event-poller metrics: %v", err)
	}
	n := 0
	for _, m := range pollsLine.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// connect opens a client connection to the pipeline's NATS (any node of
// a cluster).
func (p *pipeline) connect() (*nats.Conn, jetstream.JetStream) {
	p.t.Helper()
	if p.cluster != nil {
		return p.cluster.Connect(p.t)
	}
	return p.nats.Connect(p.t)
}

func streamMsgs(ctx context.Context, js jetstream.JetStream, name string) int {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.State.Msgs)
}

// checkDelivered asserts every expected credential arrived exactly once, in
// per-corporation order, and credential_log shows each as Y with the
// agent's result id.
func (p *pipeline) checkDelivered(want map[string]expectedCred, allowDuplicates bool) (duplicates int) {
	t := p.t
	t.Helper()
	ctx := testenv.Context(t)
	received, err := p.sim.Received(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	resultOf := map[string]string{}
	lastIndex := map[string]int{}
	for _, r := range received {
		h, reason := receivedHash(t, r.Attributes)
		if p.rejected[h] {
			continue
		}
		seen[h]++
		exp, ok := want[h]
		if !ok {
			t.Errorf("agent received a credential nobody expected (schema %s, seq %d)", r.Schema, r.Seq)
			continue
		}
		if reason != exp.reason {
			t.Errorf("corporation %s credential %d: reason_description %q, want %q", exp.corp, exp.index, reason, exp.reason)
		}
		if seen[h] > 1 {
			duplicates++
			continue
		}
		resultOf[h] = r.Result
		if prev, ok := lastIndex[exp.corp]; ok && exp.index < prev {
			t.Errorf("corporation %s: credential %d arrived after credential %d (order broken)", exp.corp, exp.index, prev)
		}
		lastIndex[exp.corp] = exp.index
	}
	var missing []string
	for h, e := range want {
		if seen[h] == 0 {
			missing = append(missing, e.corp+"#"+fmt.Sprint(e.index))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d expected credentials never arrived: %v", len(missing), len(want), missing)
	}
	if duplicates > 0 && !allowDuplicates {
		t.Errorf("%d credentials arrived more than once", duplicates)
	}
	pool := testenv.Pool(t, p.eventDB)
	rows, _ := pool.Query(ctx, `SELECT credential_hash, COALESCE(process_success, ''), COALESCE(process_msg, '') FROM credential_log
		WHERE process_success IS DISTINCT FROM 'A' AND (not_before IS NULL OR not_before <= now())`)
	type logRow struct {
		Hash, Status, Msg string
	}
	logRows, err := pgx.CollectRows(rows, pgx.RowToStructByPos[logRow])
	if err != nil {
		t.Fatal(err)
	}
	if len(logRows) != len(want)+len(p.rejected) {
		t.Errorf("credential_log has %d non-held rows, want %d", len(logRows), len(want)+len(p.rejected))
	}
	for _, r := range logRows {
		if p.rejected[r.Hash] {
			if r.Status != "N" {
				t.Errorf("rejected credential %s is %q (%s), want N", r.Hash[:12], r.Status, r.Msg)
			}
			continue
		}
		if r.Status != "Y" {
			t.Errorf("credential %s is %q (%s), want Y", r.Hash[:12], r.Status, r.Msg)
			continue
		}
		if res, ok := resultOf[r.Hash]; ok && !allowDuplicates && r.Msg != res {
			t.Errorf("credential %s: process_msg %q, agent result %q", r.Hash[:12], r.Msg, res)
		}
	}
	return duplicates
}

// TestPipelineEndToEnd runs the dev fixture through poller → builders →
// posters → vonx-sim with the real binaries, for each profile.
func TestPipelineEndToEnd(t *testing.T) {
	for _, profile := range []string{"snapshot", "history"} {
		t.Run(profile, func(t *testing.T) { runPipeline(t, profile) })
	}
}

func runPipeline(t *testing.T, profile string) {
	p := newPipeline(t, profile)
	want := expectedDeliveries(t, p.sourceDB, profile)
	p.startSim(nil)
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder-1", "credential-builder")
	p.startService("credential-builder-2", "credential-builder")
	p.startService("poster-1", "poster")
	p.startService("poster-2", "poster")
	p.waitIdle(3*time.Minute, len(want))
	p.checkDelivered(want, false)
	_, js := p.connect()
	ctx := testenv.Context(t)
	if n := streamMsgs(ctx, js, bus.StreamDLQ); n != 0 {
		t.Errorf("dead letters: %d, want 0", n)
	}
	// A second poll of the quiet registry issues nothing.
	before, _ := p.sim.Stats(ctx)
	p.settle(time.Minute, len(want))
	after, _ := p.sim.Stats(ctx)
	if after.Issued != before.Issued || after.Requests != before.Requests {
		t.Errorf("quiet registry: agent got %d more requests, %d more credentials", after.Requests-before.Requests, after.Issued-before.Issued)
	}
	t.Logf("profile %s: delivered %d credentials exactly once, in per-corporation order", profile, len(want))
}
