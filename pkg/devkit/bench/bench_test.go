package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStmtKeyMatchesLoggedText(t *testing.T) {
	// pg_stat_statements shows constants as $n; the log shows the text as
	// sent (parameters as $n too, constants as written).
	fromStats := "UPDATE credential_log SET claimed_until = now() + $3::interval WHERE claimed_by = $1 AND process_success IS NULL AND kind = $4"
	fromLog := "UPDATE credential_log\n   SET claimed_until = now() + $3::interval\n WHERE claimed_by = $1 AND process_success IS NULL AND kind = 'x'"
	if a, b := stmtKey(fromStats), stmtKey(fromLog); a != b {
		t.Errorf("keys differ:\n%q\n%q", a, b)
	}
	if stmtKey("SELECT a FROM t") == stmtKey("SELECT b FROM t") {
		t.Error("different statements share a key")
	}
}

func TestReadPlans(t *testing.T) {
	log := "2026-11-27 10:00:00.000 UTC [1] LOG:  checkpoint starting: time\n" +
		"2026-11-27 10:00:01.000 UTC [2] LOG:  duration: 45.500 ms  plan:\n" +
		"\tQuery Text: UPDATE credential_log\n" +
		"\t   SET published_at = now() WHERE credential_hash = ANY($1)\n" +
		"\tUpdate on credential_log  (cost=0.42..8.44 rows=0 width=0)\n" +
		"\t  ->  Index Scan using cl_hash_index on credential_log  (cost=0.42..8.44 rows=1 width=14)\n" +
		"2026-11-27 10:00:02.000 UTC [2] LOG:  duration: 90.000 ms  plan:\n" +
		"\tQuery Text: UPDATE credential_log SET published_at = now() WHERE credential_hash = ANY($1)\n" +
		"\tUpdate on credential_log  (cost=0.00..1319.87 rows=0 width=0)\n" +
		"\t  ->  Seq Scan on credential_log  (cost=0.00..1319.87 rows=3 width=14)\n" +
		"2026-11-27 10:00:03.000 UTC [3] LOG:  checkpoint complete\n"
	path := filepath.Join(t.TempDir(), "postgres.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	plans, err := readPlans(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := plans[stmtKey("UPDATE credential_log SET published_at = now() WHERE credential_hash = ANY($1)")]
	if p == nil {
		t.Fatalf("plan not found; keys: %v", plans)
	}
	if p.Count != 2 || p.Slowest != 90*time.Millisecond || !strings.Contains(p.Text, "Seq Scan") || strings.Contains(p.Text, "Query Text") {
		t.Errorf("plan = %+v", p)
	}
}

func TestReadPhases(t *testing.T) {
	log := `{"level":"info","msg":"consuming CorpEvents"}
{"level":"debug","msg":"batch phases","corporations":200,"lock":0.01,"load":0.1,"generate":0.02,"store":0.2,"publish":0.05}
{"level":"debug","msg":"batch phases","corporations":100,"lock":0.01,"load":0.1,"generate":0.02,"store":0.2,"publish":0.05}
`
	path := filepath.Join(t.TempDir(), "builder.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	ph, err := readPhases(path)
	if err != nil {
		t.Fatal(err)
	}
	if ph.Batches != 2 || ph.Corps != 300 || ph.Steps["store"] != 400*time.Millisecond {
		t.Errorf("phases = %+v", ph)
	}
}

func TestPercentiles(t *testing.T) {
	o := &ongoingResult{}
	for i := 1; i <= 200; i++ {
		o.Latencies = append(o.Latencies, time.Duration(i)*time.Millisecond)
	}
	if got := o.pct(0.5); got != 100*time.Millisecond {
		t.Errorf("p50 = %v", got)
	}
	if got := o.pct(0.99); got != 198*time.Millisecond {
		t.Errorf("p99 = %v", got)
	}
	if got := o.max(); got != 200*time.Millisecond {
		t.Errorf("max = %v", got)
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if s.HWM <= 0 || s.RSS <= 0 || s.PPID <= 0 {
		t.Errorf("sample = %+v", s)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := num64(n); got != want {
			t.Errorf("num64(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestChildEnvDropsBCREG(t *testing.T) {
	t.Setenv("BCREG_LOG_LEVEL", "debug")
	for _, kv := range childEnv("BCREG_PROFILE=history") {
		if strings.HasPrefix(kv, "BCREG_LOG_LEVEL=") {
			t.Error("inherited BCREG_ setting passed to a child")
		}
	}
}

func TestNATSNodes(t *testing.T) {
	store := "/data/nats/r01"
	ports := func() func() (int, error) {
		next := 4000
		return func() (int, error) { next++; return next, nil }
	}
	routes := []string{"nats-route://127.0.0.1:4002", "nats-route://127.0.0.1:4004", "nats-route://127.0.0.1:4006"}
	tests := []struct {
		name     string
		replicas int
		want     []NATSNode
		wantArgs [][]string
	}{
		{name: "R1: one server on the store", replicas: 1,
			want:     []NATSNode{{Name: "bcreg-bench", Store: store, Port: 4001}},
			wantArgs: [][]string{{"bench", NATSMode, "--name", "bcreg-bench", "--store", store, "--port", "4001"}}},
		{name: "R3: three nodes, a store each under the run's, routes to all", replicas: 3,
			want: []NATSNode{
				{Name: "nats-0", Store: store + "/nats-0", Port: 4001, ClusterPort: 4002, Routes: routes},
				{Name: "nats-1", Store: store + "/nats-1", Port: 4003, ClusterPort: 4004, Routes: routes},
				{Name: "nats-2", Store: store + "/nats-2", Port: 4005, ClusterPort: 4006, Routes: routes},
			},
			wantArgs: [][]string{
				{"bench", NATSMode, "--name", "nats-0", "--store", store + "/nats-0", "--port", "4001", "--cluster-port", "4002", "--routes", strings.Join(routes, ",")},
				{"bench", NATSMode, "--name", "nats-1", "--store", store + "/nats-1", "--port", "4003", "--cluster-port", "4004", "--routes", strings.Join(routes, ",")},
				{"bench", NATSMode, "--name", "nats-2", "--store", store + "/nats-2", "--port", "4005", "--cluster-port", "4006", "--routes", strings.Join(routes, ",")},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, err := natsNodes(store, tc.replicas, ports())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, nodes); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
			for i, n := range nodes {
				args := n.args()
				if diff := cmp.Diff(tc.wantArgs[i], args); diff != "" {
					t.Errorf("node %d args (-want +got):\n%s", i, diff)
				}
				// The child reads back the node the bench laid out.
				back, err := ParseNATSArgs(args[2:])
				if err != nil {
					t.Fatalf("node %d: %v", i, err)
				}
				if diff := cmp.Diff(n, back); diff != "" {
					t.Errorf("node %d parsed back (-want +got):\n%s", i, diff)
				}
				o := n.options()
				if o.ServerName != n.Name || o.StoreDir != n.Store || o.Port != n.Port || !o.JetStream {
					t.Errorf("node %d options: %+v", i, o)
				}
				if tc.replicas == 1 && (o.Cluster.Port != 0 || len(o.Routes) != 0) {
					t.Errorf("a single server with cluster options: %+v", o.Cluster)
				}
				if tc.replicas > 1 && (o.Cluster.Name != natsClusterName || o.Cluster.Port != n.ClusterPort || len(o.Routes) != tc.replicas) {
					t.Errorf("node %d cluster options: %+v, %d routes", i, o.Cluster, len(o.Routes))
				}
			}
		})
	}
}

func TestParseNATSArgsRefuses(t *testing.T) {
	for name, args := range map[string][]string{
		"no store":           {"--port", "1"},
		"cluster port alone": {"--store", "s", "--port", "1", "--cluster-port", "2"},
		"routes alone":       {"--store", "s", "--port", "1", "--routes", "nats-route://127.0.0.1:2"},
		"a stray argument":   {"--store", "s", "--port", "1", "x"},
		"an unknown flag":    {"--store", "s", "--port", "1", "--domain", "x"},
	} {
		if _, err := ParseNATSArgs(args); err == nil {
			t.Errorf("%s: accepted %v", name, args)
		}
	}
}

func TestClusterReplicas(t *testing.T) {
	if diff := cmp.Diff([]int{3, 5}, clusterReplicas([]int{5, 1, 3, 3})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := clusterReplicas([]int{1}); len(got) != 0 {
		t.Errorf("R1 only: %v", got)
	}
}

func TestReplicationSection(t *testing.T) {
	staging := func(replicas int, wall time.Duration, nats time.Duration) *stagingResult {
		return &stagingResult{N: 2000, Profile: "snapshot", Builders: 2, Replicas: replicas, Processed: 2000, Total: 2000,
			Wall: wall, Deliveries: 2010, StoreBytes: 10 << 20, Usage: usage{NATS: nats, NATSHWM: 50 << 20}}
	}
	rep := &report{Opts: Options{Corps: 2000, Profiles: []string{"snapshot"}}, Staging: []*stagingResult{
		staging(0, 2*time.Second, time.Second), // a report of before R3: R1
		{N: 2000, Profile: "snapshot", Builders: 1, Processed: 2000, Wall: 3 * time.Second},
		staging(3, 4*time.Second, 3*time.Second),
	}, Posting: []*postingResult{
		{N: 2000, Profile: "snapshot", Posters: 2, Overall: 1000, Creds: 3000},
		{N: 2000, Profile: "snapshot", Posters: 2, Replicas: 3, Overall: 500, Creds: 3000},
	}}
	pairs, replicas := rep.replicaPairs()
	if replicas != 3 {
		t.Errorf("replicas = %d", replicas)
	}
	got := map[string][2]float64{}
	for _, p := range pairs {
		got[p.what] = [2]float64{p.one, p.rep}
	}
	want := map[string][2]float64{
		"staging, snapshot, N = 2,000, 2 builders: throughput":             {1000, 500},
		"staging, snapshot, N = 2,000, 2 builders: NATS CPU":               {0.5, 1.5},
		"staging, snapshot, N = 2,000, 2 builders: CorpEvent redeliveries": {10, 10},
		"posting, snapshot, 2 posters, zero-latency agent: throughput":     {1000, 500},
	}
	for what, w := range want {
		if diff := cmp.Diff(w, got[what]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	md := rep.markdown()
	for _, s := range []string{"## 6. R3 vs R1: the cost of replication", "| staging, snapshot, N = 2,000, 2 builders: throughput | 1,000 corporations/s | 500 corporations/s | ×0.50 |", "| 2,000 | snapshot | R3 | 2 |",
		"| staging, snapshot, N = 2,000, 2 builders: CorpEvent redeliveries | 10 | 10 | ×1.00 |"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// The goals are the R1 runs' (the R3 runs have their own section).
	found := false
	for _, g := range rep.goals() {
		if strings.HasPrefix(g.What, "2 · staging throughput, snapshot") {
			found = true
			if strings.Contains(g.Measured, "500/s") {
				t.Errorf("goal counts an R3 run: %+v", g)
			}
		}
	}
	if !found {
		t.Error("no staging throughput goal")
	}
}

// TestWhereTheTimeGoesProfiles: the report puts the slowest stage's Go
// CPU profile beside the statements, and says when pg_stat_statements or
// the profile is missing instead of leaving the section silent.
func TestWhereTheTimeGoesProfiles(t *testing.T) {
	top := "Showing nodes accounting for 9.5s, 80% of 12s total\n      flat  flat%   sum%        cum   cum%\n     2.1s 17.50% 17.50%      2.1s 17.50%  runtime.memmove"
	staging := &stagingResult{N: 2000, Profile: "snapshot", Builders: 2, Processed: 2000, Wall: 2 * time.Second,
		GoCPU: &goProfile{Role: "credential-builder", Top: pprofTop("File: credential-builder\nBuild ID: x\nType: cpu\nTime: 2026-12-07\n" + top + "\n")}}
	posting := &postingResult{N: 2000, Profile: "snapshot", Posters: 2, Overall: 1000, Creds: 3000,
		GoCPU: &goProfile{Role: "poster", Err: "poster-1: pprof: GET …: 404 Not Found (BCREG_PPROF off?)"}}
	tests := []struct {
		name         string
		noStatements bool
		want, not    []string
	}{
		{"with pg_stat_statements", false,
			[]string{"Top functions of the credential-builder services", "```\n" + top + "\n```", "No Go CPU profile of the poster services: poster-1: pprof"},
			[]string{"File: credential-builder", "pg_stat_statements is not available"}},
		{"without pg_stat_statements", true,
			[]string{"No statement figures: pg_stat_statements is not available in the bench's PostgreSQL", "pg_stat_statements not available, so no statement figures"},
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := &report{Opts: Options{Corps: 2000, Profiles: []string{"snapshot"}}, NoStatements: tc.noStatements,
				Staging: []*stagingResult{staging}, Posting: []*postingResult{posting}}
			md := rep.markdown()
			for _, s := range tc.want {
				if !strings.Contains(md, s) {
					t.Errorf("report lacks %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(md, s) {
					t.Errorf("report has %q", s)
				}
			}
		})
	}
}

// TestAuditGoals: the audit's goals (issue 19: N = 100,000 in under a
// minute, memory bounded, clean after a complete delivery) are judged on
// the audit run at N, and the report has its section.
func TestAuditGoals(t *testing.T) {
	run := func(wall time.Duration, rss int64, findings int) *report {
		return &report{Opts: Options{Corps: 100000, Profiles: []string{"history"}},
			Audit: []*auditResult{{N: 100000, Profile: "history", Wall: wall, PeakRSS: rss, Batch: 2000, Audited: 98897, Topics: 98897,
				Findings: findings, Counts: map[string]int{}, OrgBookRows: map[string]int64{"topic": 98933}}}}
	}
	verdicts := func(r *report) []string {
		var out []string
		for _, g := range r.auditGoals() {
			out = append(out, g.verdict())
		}
		return out
	}
	tests := []struct {
		name string
		r    *report
		want []string
	}{
		{"met", run(38*time.Second, 54<<20, 0), []string{"**met**", "**met**", "**met**"}},
		{"too slow", run(86*time.Second, 54<<20, 0), []string{"**not met**", "**met**", "**met**"}},
		{"all in memory", run(38*time.Second, 900<<20, 0), []string{"**met**", "**not met**", "**met**"}},
		{"findings after a complete delivery", run(38*time.Second, 54<<20, 3), []string{"**met**", "**met**", "**not met**"}},
		{"not run", &report{Opts: Options{Corps: 100000, Profiles: []string{"history"}}}, []string{"not measured", "not measured", "not measured"}},
		{"no history profile", &report{Opts: Options{Corps: 100000, Profiles: []string{"snapshot"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, verdicts(tt.r)); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
		})
	}
	if md := run(38*time.Second, 54<<20, 0).markdown(); !strings.Contains(md, "## 7. `bcregctl audit`") || !strings.Contains(md, "| **38.0 s** |") {
		t.Errorf("report without the audit section:\n%s", md)
	}
}

// TestPostingCPUPerCredential: the zero-latency posting table gives the
// cost of posting, posters + PostgreSQL + NATS per credential (issue 18,
// goal 3), without the agent's CPU.
func TestPostingCPUPerCredential(t *testing.T) {
	run := func(posters int, creds int64) *postingResult {
		u := usage{PG: 900 * time.Millisecond, NATS: 100 * time.Millisecond, Procs: []procUsage{{Role: "vonx-sim", CPU: 5 * time.Second}}}
		for i := 1; i <= posters; i++ {
			u.Procs = append(u.Procs, procUsage{Role: fmt.Sprintf("poster-%d", i), CPU: 500 * time.Millisecond})
		}
		return &postingResult{N: 2000, Profile: "history", Posters: posters, Creds: creds, Usage: u}
	}
	tests := []struct {
		name string
		p    *postingResult
		want string
	}{
		{"one poster", run(1, 10000), "150"},
		{"two posters", run(2, 10000), "200"},
		{"nothing answered", run(1, 0), "–"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.p.cpuPerCred()); diff != "" {
				t.Errorf("cpuPerCred (-want +got):\n%s", diff)
			}
		})
	}
	md := (&report{Opts: Options{Corps: 2000, Profiles: []string{"history"}}, Posting: []*postingResult{run(1, 10000)}}).markdown()
	for _, s := range []string{"| CPU µs per credential: posters + PostgreSQL + NATS | foreign CPU |", "| 0 | 0 | 150 | ", "### Posting to a zero-latency agent, history profile, 1 poster(s)"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestIdleCostGoal(t *testing.T) {
	idle := func(poller, pg time.Duration) *idleCost {
		return &idleCost{Wall: time.Minute, Poller: poller, PG: pg}
	}
	tests := []struct {
		name string
		run  *ongoingResult
		want string
	}{
		{"met", &ongoingResult{Profile: "history", PollInterval: time.Second, Idle: idle(300*time.Millisecond, 600*time.Millisecond)}, "**met**"},
		{"above 2 % of one core", &ongoingResult{Profile: "history", PollInterval: time.Second, Idle: idle(600*time.Millisecond, 700*time.Millisecond)}, "**not met**"},
		{"no idle phase", &ongoingResult{Profile: "history", PollInterval: time.Second}, "not measured"},
		{"another poll interval", &ongoingResult{Profile: "history", PollInterval: 5 * time.Second, Idle: idle(0, 0)}, "not measured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{Opts: Options{Profiles: []string{"history"}}, Ongoing: []*ongoingResult{tc.run}}
			got := map[string]string{}
			for _, g := range r.ongoingGoals() {
				got[g.What] = g.verdict()
			}
			want := "4 · idle cost of polling every second, history profile: event-poller + PostgreSQL with nothing appended"
			if got[want] != tc.want {
				t.Errorf("verdict of %q = %q, want %q (rows %v)", want, got[want], tc.want, got)
			}
		})
	}
}

func TestPGSplit(t *testing.T) {
	b := func(pid int, typ, app string, cpu time.Duration) *pgBackend {
		return &pgBackend{PID: pid, BackendType: typ, Application: app, CPU: cpu}
	}
	start := map[int]*pgBackend{
		1: b(1, "client backend", "event-poller", time.Second),
		2: b(2, "client backend", "poster-1", time.Second),
		3: b(3, "checkpointer", "", time.Second),
	}
	end := map[int]*pgBackend{
		1: b(1, "client backend", "event-poller", 1300*time.Millisecond),
		2: b(2, "client backend", "poster-1", 1100*time.Millisecond),
		3: b(3, "checkpointer", "", 1050*time.Millisecond),
		4: b(4, "autovacuum worker", "", 20*time.Millisecond), // started in the window
	}
	got := pgSplit(start, end, 600*time.Millisecond)
	want := []pgPart{
		{What: "backends of the event-poller", CPU: 300 * time.Millisecond},
		{What: "backends of the other services", CPU: 100 * time.Millisecond},
		{What: "background (autovacuum worker, checkpointer)", CPU: 70 * time.Millisecond},
		{What: "rest (postmaster, backends ended in the window)", CPU: 130 * time.Millisecond},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("split (-want +got):\n%s", diff)
	}
}

func TestWithAppName(t *testing.T) {
	got := withAppName("postgres://postgres@127.0.0.1:5432/db?sslmode=disable", "event-poller")
	if want := "postgres://postgres@127.0.0.1:5432/db?application_name=event-poller&sslmode=disable"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
}
