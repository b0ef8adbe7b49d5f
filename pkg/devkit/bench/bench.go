// Package bench is `bcreg-dev bench` (`make bench`): the pipeline's
// benchmarks at registry scale. It runs the real service binaries as
// processes, as `make run` and the end-to-end tests do, on a PostgreSQL
// cluster of its own (fresh each run, with pg_stat_statements and commit
// timestamps) and a NATS server per measured run (a child process, fresh
// store), over synthetic registries written by `bcreg-dev seed`:
//
//  1. staging: event-poller + credential-builder (1 and 2 replicas) from an
//     empty event database to every bundle published, per profile;
//  2. posting: poster (1 and 2 replicas) from a staged backlog to a
//     zero-latency vonx-sim, and to a capacity-limited one over a window;
//  3. ongoing: events appended in small bursts to a caught-up pipeline; the
//     time from each event's commit to the agent accepting its credential;
//  4. peak resident memory and CPU of every process;
//  5. scaling: staging at several registry sizes; at the large one
//     (BENCH_LARGE=1: a million corporations) posting as well, and the
//     disk both need;
//  6. the cost of replication: staging and posting at N again on a
//     three-node NATS cluster with R3 streams (production's topology),
//     beside the R1 runs on one server;
//  7. `bcregctl audit` of the whole registry after the history profile's
//     backlog was delivered to vonx-sim's OrgBook tables.
//
// Every figure is time-boxed; one that reaches its box is reported as "at
// least". The report goes to docs/benchmarks/YYYY-MM-DD-<N>.md and stdout.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// NATSMode is the hidden argument of `bcreg-dev bench` that runs the NATS
// server child.
const NATSMode = "_nats"

// Options configure a bench run.
type Options struct {
	Corps    int      // N, the main registry size: every figure
	Scale    []int    // more sizes for the staging figures (scaling)
	Profiles []string // credential profiles
	Seed     uint64   // synthetic data set

	BinDir    string // service binaries
	DataDir   string // PostgreSQL (see localpg.DataDirFor), NATS stores, logs
	ReportDir string // docs/benchmarks ("" = no file)
	MicroFile string // `make bench-micro` output to include ("" = none)

	Only []string // stages to run: staging, posting, ongoing, audit (empty: all)

	// Replicas are the BCREG_JS_REPLICAS of the staging and posting runs
	// at N: 1 on one NATS server (every run), and each larger value on a
	// cluster of that many nodes (2 builders, 2 posters). Empty: 1 only.
	Replicas []int

	StagingBox time.Duration // per staging run (0: from N)
	PostingBox time.Duration // per posting run to a zero-latency agent (0: from N)

	SimCapacity    int           // capacity-limited agent: credentials at once
	SimCredLatency time.Duration // and the time each holds its slot
	CapWarmup      time.Duration // before the window
	CapWindow      time.Duration // the measured window

	PollInterval time.Duration // ongoing mode's BCREG_POLL_INTERVAL
	OngoingFor   time.Duration // how long events are appended
	BurstEvery   time.Duration // one burst per interval
	BurstSize    int           // events per burst
	// IdleFor is the ongoing mode's idle phase after the bursts: what the
	// caught-up pipeline costs with nothing appended (0: none).
	IdleFor time.Duration

	Perf bool // record system-wide CPU profiles (perf) of the main runs
	Keep bool // keep the PostgreSQL cluster with every run's database, NATS stores (logs are kept anyway)

	// Set are more KEY=VALUE settings for every service (experiments); they
	// are listed in the report.
	Set []string

	Out io.Writer        `json:"-"`
	Now func() time.Time `json:"-"`
}

func (o *Options) wants(stage string) bool { return len(o.Only) == 0 || slices.Contains(o.Only, stage) }

// defaults fills in what is derived from N.
func (o *Options) defaults() {
	if o.StagingBox == 0 {
		o.StagingBox = max(2*time.Minute, time.Duration(o.Corps/200)*time.Second)
	}
	if o.PostingBox == 0 {
		o.PostingBox = max(2*time.Minute, time.Duration(o.Corps/250)*time.Second)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// stagingBoxFor is the box of a staging run of n corporations.
func (o *Options) stagingBoxFor(n int) time.Duration {
	if n == o.Corps {
		return o.StagingBox
	}
	return max(2*time.Minute, time.Duration(n/200)*time.Second)
}

// postingBoxFor is the box of a posting run of a backlog of n
// corporations.
func (o *Options) postingBoxFor(n int) time.Duration {
	if n == o.Corps {
		return o.PostingBox
	}
	return max(2*time.Minute, time.Duration(n/250)*time.Second)
}

// Run runs the benchmarks and writes the report.
func Run(ctx context.Context, log *zap.Logger, o Options) (err error) {
	o.defaults()
	started := o.Now()
	b := &bencher{opts: &o, log: log, rep: &report{Started: started, Opts: o}}
	b.rep.Machine = describeMachine(o.DataDir)
	b.rep.LoadStart = loadAvg()
	sizes := b.sizes()
	if need := diskNeeded(sizes, o.Corps, slices.Max(append([]int{1}, o.Replicas...))); b.rep.Machine.DiskFree < need {
		return fmt.Errorf("bench: %s free under %s, the runs need about %s (sizes %v)",
			bytesStr(b.rep.Machine.DiskFree), o.DataDir, bytesStr(need), sizes)
	}
	fmt.Fprintf(o.Out, "bench: N = %d, staging sizes %v, profiles %v; machine %d cores, %s, %s free; load %s\n",
		o.Corps, sizes, o.Profiles, b.rep.Machine.Cores, bytesStr(b.rep.Machine.MemTotal), bytesStr(b.rep.Machine.DiskFree), b.rep.LoadStart)

	c, err := newCluster(&o, log)
	if err != nil {
		return err
	}
	b.c = c
	defer c.close()
	if err := c.startPostgres(ctx); err != nil {
		return err
	}
	b.rep.NoStatements = !c.statements
	b.rep.Versions = b.versions(ctx)
	var runErr error
	for _, n := range sizes {
		if runErr = b.size(ctx, n); runErr != nil {
			b.rep.Failure = runErr.Error()
			if len(b.rep.Failure) > 4000 {
				b.rep.Failure = b.rep.Failure[:4000] + "…"
			}
			break
		}
	}
	if o.MicroFile != "" {
		if text, err := os.ReadFile(o.MicroFile); err == nil {
			b.rep.Micro = string(text)
		} else {
			b.logf("micro-benchmarks: %v (not in the report)", err)
		}
		// The poster benchmark's halving trace (goal 1), which
		// `make bench-micro` writes beside its output (BENCH_PLOT).
		if svg, err := os.ReadFile(filepath.Join(filepath.Dir(o.MicroFile), halvedTraceFile)); err == nil && strings.Contains(b.rep.Micro, agentGoal+"halved") {
			b.rep.MicroTrace = string(svg)
		}
	}
	b.rep.Finished = o.Now()
	b.rep.LoadEnd = loadAvg()
	raw := filepath.Join(o.DataDir, fmt.Sprintf("results-%s-%d.json", started.Format("2006-01-02"), o.Corps))
	if data, err := json.MarshalIndent(b.rep, "", "  "); err == nil {
		if err := os.WriteFile(raw, data, 0o644); err != nil {
			b.logf("raw results: %v", err)
		}
	}
	if err := writeReport(b.rep, o.ReportDir, o.Out); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "bench: raw results in %s (re-render: bcreg-dev bench --from FILE), logs in %s\n", raw, c.logDir)
	return runErr
}

// writeReport writes the report file (when dir is set) and prints the
// summary.
func writeReport(rep *report, dir string, out io.Writer) error {
	fmt.Fprintln(out)
	fmt.Fprint(out, rep.summary())
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, rep.fileName(".md"))
	if err := os.WriteFile(path, []byte(rep.markdown()), 0o644); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	if rep.MicroTrace != "" {
		if err := os.WriteFile(filepath.Join(dir, rep.traceName()), []byte(rep.MicroTrace), 0o644); err != nil {
			return fmt.Errorf("bench: write the halving trace: %w", err)
		}
	}
	fmt.Fprintf(out, "\nbench: report written to %s\n", path)
	return nil
}

// fileName is the report's file name, YYYY-MM-DD-<N> and ext.
func (r *report) fileName(ext string) string {
	return fmt.Sprintf("%s-%d%s", r.Started.Format("2006-01-02"), r.Opts.Corps, ext)
}

// halvedTraceFile is the poster benchmark's plot of the halving run
// (services/poster/test/poster, BENCH_PLOT); traceName is its copy beside
// the report.
const halvedTraceFile = "poster-adaptive-halved.svg"

func (r *report) traceName() string { return r.fileName("-" + halvedTraceFile) }

// Render rewrites the report of a run from its raw results (the JSON file
// a run leaves in its data directory).
func Render(rawFile, reportDir string, out io.Writer) error {
	data, err := os.ReadFile(rawFile)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("bench: %s: %w", rawFile, err)
	}
	return writeReport(&rep, reportDir, out)
}

// bencher runs the stages and fills the report.
type bencher struct {
	opts *Options
	log  *zap.Logger
	c    *cluster
	rep  *report
	seq  int
}

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.opts.Out, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// sizes are the registry sizes, ascending, the main one included.
func (b *bencher) sizes() []int {
	s := append([]int{b.opts.Corps}, b.opts.Scale...)
	slices.Sort(s)
	return slices.Compact(s)
}

// Disk per corporation (bytes), history profile, from the N = 1,000,000
// dry run (2026-12-07: registry 3.9 GB, event database 6.5 GB after
// staging and growing to about 8 GB in the posting copy as credentials
// are answered, NATS store 2.0 GB) and N = 100,000 (event database 8.9
// kB per corporation), rounded up.
const (
	diskRegistry = 4_000 // the synthetic registry
	diskEventDB  = 9_000 // an event database after staging
	diskPosted   = 2_000 // the posting copy's growth
	diskStore    = 2_100 // a NATS store, per node
)

// diskPerSize is the peak space of one size's runs: the registry, the
// staged event database and NATS store kept for posting, and one posting
// run's copies of both (a run at a time), plus 2 GiB for PostgreSQL's WAL
// and the logs.
func diskPerSize(n, replicas int) int64 {
	return int64(n)*(diskRegistry+2*diskEventDB+diskPosted+2*int64(replicas)*diskStore) + 2<<30
}

// diskNeeded estimates the space of the largest size's runs, or of the
// cluster's runs at N (a store per node), whichever is more.
func diskNeeded(sizes []int, corps, replicas int) int64 {
	need := diskPerSize(slices.Max(sizes), 1)
	if replicas > 1 {
		need = max(need, diskPerSize(corps, replicas))
	}
	return need
}

// size runs every stage of one registry size.
func (b *bencher) size(ctx context.Context, n int) error {
	main := n == b.opts.Corps
	if n < b.opts.Corps && !b.opts.wants("staging") {
		return nil // the small scaling points measure staging only
	}
	// Again for each size: other work may have used the disk since the
	// start (the million's runs come last, after hours).
	replicas := 1
	if main {
		replicas = slices.Max(append([]int{1}, b.opts.Replicas...))
	}
	if need, free := diskNeeded([]int{n}, n, replicas), diskFree(b.opts.DataDir); free < need {
		return fmt.Errorf("bench: N = %d: %s free under %s, its runs need about %s", n, bytesStr(free), b.opts.DataDir, bytesStr(need))
	}
	src := fmt.Sprintf("src_%d", n)
	if err := b.seed(ctx, n, src); err != nil {
		return err
	}
	defer b.c.dropDB(ctx, src)
	for _, profile := range b.opts.Profiles {
		staged, err := b.stageAndPost(ctx, n, src, profile, 1, b.opts.plan(n))
		if err != nil {
			return err
		}
		if staged != nil && b.opts.wants("ongoing") {
			res, err := b.ongoing(ctx, staged, src, profile)
			if err != nil {
				b.dropStaged(ctx, staged)
				return err
			}
			b.rep.Ongoing = append(b.rep.Ongoing, res)
			fmt.Fprint(b.opts.Out, res.line())
		}
		if staged != nil {
			b.dropStaged(ctx, staged)
		}
		if !main {
			continue
		}
		// The cost of replication: the main configuration again on a
		// cluster (see clusterReplicas).
		for _, rep := range clusterReplicas(b.opts.Replicas) {
			staged, err := b.stageAndPost(ctx, n, src, profile, rep, runPlan{builders: []int{2}, posters: []int{2}, capLimited: true})
			if err != nil {
				return err
			}
			if staged != nil {
				b.dropStaged(ctx, staged)
			}
		}
	}
	return nil
}

// clusterReplicas are the replica counts above 1, ascending: each gets
// its own cluster runs at N.
func clusterReplicas(replicas []int) []int {
	var out []int
	for _, r := range replicas {
		if r > 1 {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// runPlan is what stageAndPost runs at one size, profile and replica
// count.
type runPlan struct {
	builders []int // a staging run per builder count; the last one's state is kept
	posters  []int // a zero-latency posting run per poster count (none: no posting)
	// capLimited: also a capacity-limited posting run per poster count.
	capLimited bool
	keepStaged bool // return the staged state (the ongoing run's)
}

// plan is what runs at size n at R1: at N every staging and posting
// run; at the large point (BENCH_LARGE=1: a million corporations, issue
// 18's goal 5) staging with 2 builders and posting with 1 poster, each
// compared with its run at N; at the small scaling points staging only.
func (o *Options) plan(n int) runPlan {
	switch {
	case n > o.Corps:
		return runPlan{builders: []int{2}, posters: []int{1}}
	case n < o.Corps:
		return runPlan{builders: []int{1, 2}}
	}
	return runPlan{builders: []int{1, 2}, posters: []int{1, 2}, capLimited: true, keepStaged: o.wants("ongoing")}
}

// stageAndPost runs the staging runs of one profile and replica count (one
// per builder count; the last one's state is kept for the posting runs,
// which are made with each poster count to a zero-latency agent and, when
// planned, a capacity-limited one). It returns the staged state when
// keepStaged and the last staging run did not reach its box (the caller
// drops it).
func (b *bencher) stageAndPost(ctx context.Context, n int, src, profile string, replicas int, plan runPlan) (*stagedState, error) {
	main := n == b.opts.Corps
	builders, posters, keepStaged := plan.builders, plan.posters, plan.keepStaged
	posting := len(posters) > 0 && b.opts.wants("posting")
	// The audit is measured on the history profile (the one OrgBook BC
	// stores) at R1, from the same staged backlog.
	auditing := main && replicas == 1 && profile == "history" && b.opts.wants("audit")
	if !b.opts.wants("staging") && (posting || auditing || keepStaged) {
		builders = builders[len(builders)-1:] // a staged backlog is still needed
	}
	var staged *stagedState
	for i, bc := range builders {
		keep := i == len(builders)-1 && (posting || auditing || keepStaged)
		res, st, err := b.staging(ctx, n, src, profile, replicas, bc, keep)
		if err != nil {
			return nil, err
		}
		b.rep.Staging = append(b.rep.Staging, res)
		fmt.Fprint(b.opts.Out, res.line())
		if st != nil {
			staged = st
		}
	}
	if staged == nil || !(posting || auditing) {
		return staged, nil
	}
	if auditing {
		res, err := b.audit(ctx, staged, src)
		if err != nil {
			b.dropStaged(ctx, staged)
			return nil, err
		}
		b.rep.Audit = append(b.rep.Audit, res)
		fmt.Fprint(b.opts.Out, res.line())
	}
	for _, capLimited := range []bool{false, true} {
		if !posting || (capLimited && !plan.capLimited) {
			break
		}
		for _, pc := range posters {
			res, err := b.posting(ctx, staged, profile, pc, capLimited)
			if err != nil {
				b.dropStaged(ctx, staged)
				return nil, err
			}
			b.rep.Posting = append(b.rep.Posting, res)
			fmt.Fprint(b.opts.Out, res.line())
		}
	}
	if !keepStaged {
		b.dropStaged(ctx, staged)
		return nil, nil
	}
	return staged, nil
}

// seed writes the synthetic registry with `bcreg-dev seed`.
func (b *bencher) seed(ctx context.Context, n int, db string) error {
	if err := b.c.createDB(ctx, db, ""); err != nil {
		return err
	}
	b.logf("seeding %d corporations into %s", n, db)
	start := time.Now()
	out, err := b.runBin(ctx, "bcreg-dev", []string{"BCREG_SOURCE_DB_URL=" + b.c.url(db)},
		"seed", "--synthetic", fmt.Sprint(n), "--seed", fmt.Sprint(b.opts.Seed))
	if err != nil {
		return err
	}
	wall := time.Since(start)
	b.rep.Seeds = append(b.rep.Seeds, seedResult{N: n, Wall: wall, Output: strings.TrimSpace(out), Bytes: b.c.dbSize(ctx, db)})
	b.logf("seeded %d corporations in %s", n, wall.Round(100*time.Millisecond))
	return nil
}

// runBin runs a command of BinDir (bcregctl, bcreg-dev) to completion and
// returns its standard output.
func (b *bencher) runBin(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(b.opts.BinDir, bin), args...)
	cmd.Env = childEnv(append([]string{"BCREG_LOG_FORMAT=json"}, env...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("bench: %s %s: %w\n%s%s", bin, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// versions reads the software versions.
func (b *bencher) versions(ctx context.Context) versions {
	v := versions{Go: goVersion(), NATS: natsModuleVersion(), Bench: buildVersion()}
	_ = b.c.admin.QueryRow(ctx, "SHOW server_version").Scan(&v.PostgreSQL)
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		v.GoToolchain = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		v.Bench = "commit " + strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
			if n := strings.Count(string(st), "\n"); n > 0 {
				v.Bench += fmt.Sprintf(" plus uncommitted changes to %d tracked files (the binaries are built from the working tree)", n)
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "perf", "version").Output(); err == nil {
		v.Perf = strings.TrimSpace(string(out))
	}
	return v
}

// runName makes a unique, database-safe name.
func (b *bencher) runName(parts ...any) string {
	b.seq++
	s := fmt.Sprintf("r%02d", b.seq)
	for _, p := range parts {
		s += "_" + fmt.Sprint(p)
	}
	return strings.NewReplacer("-", "_", ".", "_").Replace(s)
}

var errStopped = errors.New("bench: interrupted")
