package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/devkit/bench"
)

func runBench(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == bench.NATSMode {
		return runBenchNATS(ctx, e, args[1:])
	}
	fs := newFlags(e, "bench", "[--corps N] [--large] [flags]",
		"BENCH_CORPS (default of --corps), BENCH_LARGE=1 (--large); every BCREG_ setting is chosen by the bench")
	self, _ := os.Executable()
	corps := fs.Int("corps", benchEnvInt("BENCH_CORPS", 100_000), "registry size N of every figure")
	large := fs.Bool("large", benchEnvString("BENCH_LARGE", "") == "1", "also stage and post at N = 1,000,000 (goal 5: staging with 2 builders, posting with 1 poster; checks free disk first)")
	scale := fs.String("scale", "10000", "more registry sizes for the staging (scaling) figures, comma separated (\"\" for none)")
	profiles := fs.String("profiles", "snapshot,history", "credential profiles")
	seed := fs.Uint64("seed", 1, "synthetic data set (bcreg-dev seed --seed)")
	replicas := fs.String("replicas", "1,3", "BCREG_JS_REPLICAS of the staging and posting runs at N, comma separated: 1 (one NATS server) and each larger value on a NATS cluster of that many nodes (\"1\" for no cluster runs)")
	only := fs.String("only", "", "run only these stages, comma separated: staging, posting, ongoing, audit (a staged backlog is still built)")
	binDir := fs.String("bin", filepath.Dir(self), "directory with the service binaries")
	dataDir := fs.String("data-dir", ".data/bench", "PostgreSQL cluster (as root: under /var/tmp), NATS stores, logs")
	reportDir := fs.String("report-dir", "docs/benchmarks", "where YYYY-MM-DD-<N>.md is written (\"\" for none)")
	micro := fs.String("micro", "", "output of `make bench-micro` to include in the report")
	stagingBox := fs.Duration("staging-box", 0, "time box of a staging run at N (0: max(2m, N/200 s))")
	postingBox := fs.Duration("posting-box", 0, "time box of a posting run (0: max(2m, N/250 s))")
	simCap := fs.Int("sim-capacity", 40, "capacity-limited agent: credentials issued at once")
	simLat := fs.Duration("sim-cred-latency", 150*time.Millisecond, "capacity-limited agent: time per credential")
	capWarm := fs.Duration("cap-warmup", 15*time.Second, "capacity-limited agent: warm-up before the window")
	capWin := fs.Duration("cap-window", 60*time.Second, "capacity-limited agent: measured window")
	poll := fs.Duration("poll-interval", time.Second, "ongoing mode: BCREG_POLL_INTERVAL (1 s: the interval goal 4 is judged at and the README recommends)")
	ongoingFor := fs.Duration("ongoing", 2*time.Minute, "ongoing mode: how long events are appended")
	burstEvery := fs.Duration("burst-every", time.Second, "ongoing mode: one burst per interval")
	burstSize := fs.Int("burst", 5, "ongoing mode: events per burst")
	idleFor := fs.Duration("idle", time.Minute, "ongoing mode: idle phase after the bursts, measuring what polling costs with nothing appended (0: none)")
	perf := fs.Bool("perf", true, "record system-wide CPU profiles with perf (when installed) during the main runs")
	keep := fs.Bool("keep", false, "keep the PostgreSQL cluster (every run's event database and the registries) and NATS stores after the run")
	from := fs.String("from", "", "only re-render the report from a run's raw results (results-*.json in the data directory)")
	var set benchSettings
	fs.Var(&set, "set", "KEY=VALUE: one more setting for every service (repeatable; experiments, listed in the report)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", errUsage, joinArgs(fs.Args()))
	}
	if *from != "" {
		return bench.Render(*from, *reportDir, e.stdout)
	}
	o := bench.Options{Corps: *corps, Seed: *seed, BinDir: *binDir, DataDir: *dataDir, ReportDir: *reportDir, MicroFile: *micro,
		StagingBox: *stagingBox, PostingBox: *postingBox, SimCapacity: *simCap, SimCredLatency: *simLat,
		CapWarmup: *capWarm, CapWindow: *capWin, PollInterval: *poll, OngoingFor: *ongoingFor, BurstEvery: *burstEvery,
		BurstSize: *burstSize, IdleFor: *idleFor, Perf: *perf, Keep: *keep, Set: set, Out: e.stdout}
	if *corps < 100 {
		return fmt.Errorf("%w: --corps %d: want at least 100", errUsage, *corps)
	}
	for _, s := range benchList(*scale) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			return fmt.Errorf("%w: --scale %q: want sizes of at least 100", errUsage, s)
		}
		o.Scale = append(o.Scale, n)
	}
	if *large {
		o.Scale = append(o.Scale, 1_000_000)
	}
	o.Profiles = benchList(*profiles)
	for _, p := range o.Profiles {
		if p != "snapshot" && p != "history" {
			return fmt.Errorf("%w: --profiles: unknown profile %q", errUsage, p)
		}
	}
	reps, err := benchReplicas(*replicas)
	if err != nil {
		return err
	}
	o.Replicas = reps
	o.Only = benchList(*only)
	for _, s := range o.Only {
		if s != "staging" && s != "posting" && s != "ongoing" && s != "audit" {
			return fmt.Errorf("%w: --only: unknown stage %q", errUsage, s)
		}
	}
	if *simCap < 1 || *simLat <= 0 || *burstSize < 1 || *burstEvery <= 0 || *poll <= 0 || *idleFor < 0 {
		return fmt.Errorf("%w: --sim-capacity, --sim-cred-latency, --burst, --burst-every and --poll-interval must be positive, --idle not negative", errUsage)
	}
	for _, b := range []string{"event-poller", "credential-builder", "poster", "vonx-sim", "bcregctl", "bcreg-dev"} {
		if _, err := os.Stat(filepath.Join(*binDir, b)); err != nil {
			return fmt.Errorf("binary %s not found in %s (run make build, or pass --bin)", b, *binDir)
		}
	}
	return bench.Run(ctx, e.log, o)
}

// runBenchNATS is the bench's NATS child (not for people).
func runBenchNATS(ctx context.Context, e *env, args []string) error {
	n, err := bench.ParseNATSArgs(args)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return bench.ServeNATS(ctx, n)
}

// benchReplicas reads --replicas: 1 to 5 (BCREG_JS_REPLICAS' range), 1
// among them (the R1 runs are every other figure's).
func benchReplicas(s string) ([]int, error) {
	var out []int
	for _, v := range benchList(s) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			return nil, fmt.Errorf("%w: --replicas %q: want numbers from 1 to 5", errUsage, s)
		}
		out = append(out, n)
	}
	if !slices.Contains(out, 1) {
		return nil, fmt.Errorf("%w: --replicas %q: 1 must be among them (the figures besides the cluster's)", errUsage, s)
	}
	return out, nil
}

// benchSettings collects --set KEY=VALUE flags.
type benchSettings []string

func (s *benchSettings) String() string { return strings.Join(*s, " ") }

func (s *benchSettings) Set(v string) error {
	k, _, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(k, "BCREG_") {
		return fmt.Errorf("want BCREG_NAME=VALUE, got %q", v)
	}
	*s = append(*s, v)
	return nil
}

func benchList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func benchEnvString(name, def string) string {
	if v, ok := lookupEnv(name); ok {
		return v
	}
	return def
}

func benchEnvInt(name string, def int) int {
	if v, ok := lookupEnv(name); ok && v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}
