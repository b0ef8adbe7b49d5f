package bench

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// report is everything a run measured.
type report struct {
	Started, Finished  time.Time
	Opts               Options
	Machine            machine
	Versions           versions
	LoadStart, LoadEnd string
	Seeds              []seedResult
	Staging            []*stagingResult
	Posting            []*postingResult
	Ongoing            []*ongoingResult
	Audit              []*auditResult
	Micro              string
	// MicroTrace is the poster benchmark's halving trace (an SVG plot:
	// credentials/s and credentials in flight over time; goal 1).
	MicroTrace string
	Failure    string // the error that ended the run early
	// NoStatements: pg_stat_statements was not available in the bench's
	// PostgreSQL, so the report has no statement figures (and says so).
	NoStatements bool
}

type versions struct {
	Go, GoToolchain, PostgreSQL, NATS, Bench, Perf string
}

type seedResult struct {
	N      int
	Wall   time.Duration
	Output string
	Bytes  int64
}

func goVersion() string { return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH }

// natsModuleVersion is the nats-server module this binary (and so the
// NATS child) was built with.
func natsModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/nats-io/nats-server/v2" {
				return d.Version
			}
		}
	}
	return "?"
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			return rev + modified
		}
	}
	return "?"
}

// markdown is the report file.
func (r *report) markdown() string {
	var w strings.Builder
	o := r.Opts
	fmt.Fprintf(&w, "# Benchmarks at registry scale: N = %s (%s)\n\n", num(o.Corps), r.Started.Format("2006-01-02"))
	fmt.Fprintf(&w, "Written by `make bench` (`bcreg-dev bench`, package `pkg/devkit/bench`) on %s, in %s. "+
		"Every figure below was measured in this run; figures that reached their time box are marked ≥.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), dur(r.Finished.Sub(r.Started)))
	if r.Failure != "" {
		fmt.Fprintf(&w, "**The run ended early with an error; the figures below are those measured before it.**\n\n```\n%s\n```\n\n", r.Failure)
	}
	w.WriteString("```sh\nmake bench                       # N = 100,000 (BENCH_CORPS=... to change; BENCH_LARGE=1 adds N = 1,000,000)\n```\n\n")
	if len(o.Only) > 0 {
		fmt.Fprintf(&w, "**A partial run**: `--only %s --profiles %s` (a staged backlog is built for it); goals of the other stages are not measured here. "+
			"The machine is shared with other work: the load averages below, and each table's *foreign CPU* or *other load*, say how busy it was.\n\n",
			strings.Join(o.Only, ","), strings.Join(o.Profiles, ","))
	}

	w.WriteString("## Goals\n\nThe number before a goal is issue 18's (2 cores, PostgreSQL and NATS on the same machine); `docs/design/benchmarks.md` says which run decides each. " +
		"Where a goal is not met, *Where the time goes* below has the profiles of the slowest stage.\n\n| goal | target | measured | |\n| --- | --- | --- | --- |\n")
	goals := r.goals()
	for _, g := range goals {
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", g.What, g.Target, orDash(g.Measured), g.verdict())
	}
	w.WriteString("\n")
	writeNotMet(&w, goals)

	r.writeMachine(&w)
	r.writeStaging(&w)
	r.writePosting(&w)
	r.writeOngoing(&w)
	r.writeResources(&w)
	r.writeScaling(&w)
	r.writeReplication(&w)
	r.writeAudit(&w)
	r.writeWhere(&w)
	r.writeMicro(&w)
	r.writeMethod(&w)
	return w.String()
}

// writeNotMet lists, for each goal not met, where its time goes and what
// to read next.
func writeNotMet(w *strings.Builder, goals []goal) {
	var lines []string
	for _, g := range goals {
		if g.Met != nil && !*g.Met && g.Where != "" {
			lines = append(lines, fmt.Sprintf("- **%s**: %s.\n", g.What, g.Where))
		}
	}
	if len(lines) == 0 {
		return
	}
	w.WriteString("Not met, where the time goes and what to read next:\n\n" + strings.Join(lines, "") + "\n")
}

// summary is what stdout gets at the end: the goals and the main tables.
func (r *report) summary() string {
	var w strings.Builder
	w.WriteString("Goals\n\n| goal | target | measured | |\n| --- | --- | --- | --- |\n")
	for _, g := range r.goals() {
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", g.What, g.Target, orDash(g.Measured), g.verdict())
	}
	w.WriteString("\n")
	r.writeStaging(&w)
	r.writePosting(&w)
	r.writeOngoing(&w)
	r.writeResources(&w)
	r.writeReplication(&w)
	r.writeAudit(&w)
	return w.String()
}

func (r *report) writeMachine(w *strings.Builder) {
	m, v, o := r.Machine, r.Versions, r.Opts
	w.WriteString("## Machine, versions, configuration\n\n| | |\n| --- | --- |\n")
	fmt.Fprintf(w, "| CPU | %d cores (`%s`) |\n", m.Cores, orDash(m.CPUModel))
	fmt.Fprintf(w, "| memory | %s |\n", bytesStr(m.MemTotal))
	fmt.Fprintf(w, "| free disk at start | %s (under `%s`) |\n", bytesStr(m.DiskFree), m.DiskPath)
	fmt.Fprintf(w, "| kernel | Linux %s |\n", m.Kernel)
	fmt.Fprintf(w, "| load average (1, 5, 15 min) | %s at the start, %s at the end |\n", r.LoadStart, r.LoadEnd)
	fmt.Fprintf(w, "| Go | %s (bench binary); toolchain: %s |\n", v.Go, orDash(v.GoToolchain))
	stmts := "pg_stat_statements and "
	if r.NoStatements {
		stmts = "track_commit_timestamp; pg_stat_statements not available, so no statement figures, and "
	}
	fmt.Fprintf(w, "| PostgreSQL | %s, one local server for everything (`pkg/testkit/localpg` settings: fsync off, shared_buffers 128MB, max_connections 200; plus %strack_commit_timestamp) |\n", v.PostgreSQL, stmts)
	fmt.Fprintf(w, "| NATS | nats-server %s with JetStream (file store), a child process of the bench, fresh store per run; streams R1 on one server, and R3 on a three-node cluster of such children (routes on loopback, cluster `nats` as in production) for the runs marked R3 |\n", v.NATS)
	fmt.Fprintf(w, "| source | %s |\n", v.Bench)
	if v.Perf != "" && o.Perf {
		fmt.Fprintf(w, "| CPU profiles | %s, system-wide at 49 Hz, during the main staging (2 builders) and zero-latency posting (2 posters) runs |\n", v.Perf)
	}
	fmt.Fprintf(w, "| registry | `bcreg-dev seed --synthetic N --seed %d` (package `pkg/devkit/synth`) |\n", o.Seed)
	fmt.Fprintf(w, "| services | the binaries of `%s`, one process per replica; defaults but: `BCREG_LOG_LEVEL=info` (builders `debug` in the staging runs, for the batch-phase breakdown), `BCREG_JS_CREDS_MAX_BYTES` 16 GiB and `BCREG_JS_EVENTS_MAX_BYTES` 4 GiB (room for the largest backlogs) |\n", o.BinDir)
	fmt.Fprintf(w, "| zero-latency agent | vonx-sim, `BCREG_SIM_CAPACITY=0` (no limit), no latency; in the posting runs `BCREG_SIM_NO_RECORD=true` (counters only: the record of every credential would take gigabytes at a million) |\n")
	fmt.Fprintf(w, "| capacity-limited agent | vonx-sim, `BCREG_SIM_CAPACITY=%d`, `BCREG_SIM_CRED_LATENCY=%s` (capacity %.1f credentials/s), queue unlimited, overload penalty 0.5 (defaults); warm-up %s, window %s |\n",
		o.SimCapacity, o.SimCredLatency, float64(o.SimCapacity)/o.SimCredLatency.Seconds(), o.CapWarmup, o.CapWindow)
	fmt.Fprintf(w, "| ongoing mode | `BCREG_POLL_INTERVAL=%s`; `bcreg-dev seed --append-events %d` every %s for %s; 2 builders, 2 posters, zero-latency agent |\n",
		o.PollInterval, o.BurstSize, o.BurstEvery, o.OngoingFor)
	if len(o.Set) > 0 {
		fmt.Fprintf(w, "| extra settings (`--set`) | `%s` |\n", strings.Join(o.Set, "`, `"))
	}
	fmt.Fprintf(w, "| time boxes | at N = %s: staging %s, posting %s; other sizes: staging max(2 min, N/200 s), posting max(2 min, N/250 s) |\n", num(o.Corps), o.StagingBox, o.PostingBox)
	w.WriteString("\n")
	if len(r.Seeds) > 0 {
		w.WriteString("Registries written by `bcreg-dev seed`:\n\n| N | wall | corporations/s | database size | output |\n| ---: | ---: | ---: | ---: | --- |\n")
		for _, s := range r.Seeds {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", num(s.N), dur(s.Wall), num(int(rate(int64(s.N), s.Wall))), bytesStr(s.Bytes),
				strings.ReplaceAll(s.Output, "\n", "<br>"))
		}
		w.WriteString("\n")
	}
}

func (r *report) writeStaging(w *strings.Builder) {
	if len(r.Staging) == 0 {
		return
	}
	w.WriteString("## 1. Initial-load staging (event-poller + credential-builder)\n\n")
	w.WriteString("From the poller's start (builders already running) to: the initial load finished, every corporation's work item processed, no due credential unpublished. No poster runs.\n\n")
	w.WriteString("| N | profile | streams | builders | wall | corporations/s | credentials/s | corporations (Y / S / N) | credentials published | held (A) / future-dated | bundles | dead letters | CorpEvent redeliveries | poller publishing | event DB | NATS store | foreign CPU |\n")
	w.WriteString("| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Staging {
		fmt.Fprintf(w, "| %s | %s | R%d | %d | %s%s | **%s%s** | %s%s | %s of %s (%s / %s / %s) | %s | %s / %s | %s | %d | %s | %s | %s | %s | %s |\n",
			num(s.N), s.Profile, s.r(), s.Builders, atLeast(s.Boxed), dur(s.Wall), atLeast(s.Boxed), num(int(s.corpsPerSec())), atLeast(s.Boxed), num(int(s.credsPerSec())),
			num64(s.Processed), num64(s.Total), num64(s.Y), num64(s.S), num64(s.NRow), num64(s.Creds), num64(s.Held), num64(s.Future),
			num(int(s.Bundles)), s.DLQ, redeliveries(s.Deliveries, uint64(s.Processed)), dur(s.PollerPublish), bytesStr(s.EventDBBytes), bytesStr(s.StoreBytes), foreign(s.Usage))
	}
	w.WriteString("\n*foreign CPU*: the machine's busy CPU time during the run that none of the bench's processes used (other work on the shared machine), as a share of the run's wall time × cores.\n\n")
}

// redeliveries is deliveries beyond one per message ("–" when unknown).
func redeliveries(deliveries, msgs uint64) string {
	if deliveries == 0 {
		return "–"
	}
	if deliveries < msgs {
		return "0"
	}
	return num64(int64(deliveries - msgs))
}

func foreign(u usage) string {
	if u.Wall <= 0 {
		return "–"
	}
	cores := float64(runtime.NumCPU())
	return fmt.Sprintf("%.0f%%", 100*u.foreign().Seconds()/(u.Wall.Seconds()*cores))
}

func (r *report) writePosting(w *strings.Builder) {
	if len(r.Posting) == 0 {
		return
	}
	w.WriteString("## 2. Posting (poster → vonx-sim)\n\n")
	w.WriteString("Each run starts from a copy of the staged state of the 2-builder staging run (event database and NATS store): every credential published, none posted.\n\n")
	w.WriteString("Zero-latency agent, from the posters' start to the last answer recorded:\n\n")
	w.WriteString("| N | profile | streams | posters | backlog | wall | credentials/s overall | steady (middle 80%) | Y / N / D | agent requests | credentials per request | adaptive limit at the end | bundle redeliveries | failed requests | duplicates | CPU µs per credential: posters + PostgreSQL + NATS | foreign CPU | event DB after | NATS store after |\n")
	w.WriteString("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range r.Posting {
		if p.CapLimited {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | R%d | %d | %s | %s%s | **%s%s** | %s | %s / %s / %s | %s | %.1f | %.0f | %s | %d | %d | %s | %s | %s | %s |\n",
			num(p.N), p.Profile, p.r(), p.Posters, num64(p.Backlog), atLeast(p.Boxed), dur(p.Wall), atLeast(p.Boxed), num(int(p.Overall)), num(int(p.Steady)),
			num64(p.Creds), num64(p.NRows), num64(p.DRows), num64(p.Sim.Requests), float64(p.Sim.Issued)/float64(max(p.Sim.Requests, 1)),
			p.Metrics.Limit, redeliveries(p.Deliveries, p.Bundles), p.Sim.Failed, p.Sim.Duplicates, p.cpuPerCred(), foreign(p.Usage), diskStr(p.EventDBBytes), diskStr(p.StoreBytes))
	}
	w.WriteString("\n*CPU µs per credential*: the CPU time of the posters, PostgreSQL and NATS over the run (utime + stime from /proc) per credential answered: the cost of posting, without the agent (vonx-sim, listed in section 4).\n")
	w.WriteString("\nCapacity-limited agent, credentials issued over the window after the warm-up:\n\n")
	w.WriteString("| N | profile | streams | posters | agent | window | issued | credentials/s | of capacity | failed requests | agent slots: mean busy, mean waiting, idle with none waiting | max credentials in flight at the agent | poster requests: credentials each, mean time | adaptive limit at the end | each poster's limiter: no-load / smoothed latency per credential, mean (no-load max), replicas heard (fewest) | backlog ran out |\n")
	w.WriteString("| ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | --- | --- |\n")
	for _, p := range r.Posting {
		if !p.CapLimited {
			continue
		}
		lims := make([]string, len(p.Limiters))
		for i, l := range p.Limiters {
			lims[i] = l.String()
		}
		fmt.Fprintf(w, "| %s | %s | R%d | %d | %s | %s | %s | %.1f | **%.1f%%** | %d | %.1f, %.1f, %.0f%% | %d | %.1f, %s | %.0f | %s | %v |\n",
			num(p.N), p.Profile, p.r(), p.Posters, p.agent(&r.Opts), dur(p.Window), num64(p.WindowIssued), p.Achieved, 100*p.Achieved/p.CapacityPerSec,
			p.Sim.Failed, p.MeanIssuing, p.MeanWaiting, 100*p.IdleShare, p.Sim.MaxCredentialsInFlight, p.Metrics.credsPerRequest(), dur(p.Metrics.meanRequest()), p.Metrics.Limit,
			cmp.Or(strings.Join(lims, "; "), "–"), p.BacklogRanOut)
	}
	w.WriteString("\n")
}

func (r *report) writeOngoing(w *strings.Builder) {
	if len(r.Ongoing) == 0 {
		return
	}
	w.WriteString("## 3. Ongoing mode: source commit → agent acceptance\n\n")
	w.WriteString("The whole pipeline (poller, 2 builders, 2 posters) on a copy of the staged state and registry; after it delivered the initial load's backlog, events are appended in bursts with `bcreg-dev seed --append-events`. Latency per event: PostgreSQL's commit timestamp of the event row (`pg_xact_commit_timestamp`) to vonx-sim's `received_at` of the first credential of that corporation issued after it. Events that change nothing issued (an annual report, an address change held back) get no credential and are counted, not measured; corporations appended twice are left out.\n\n")
	w.WriteString("| N | profile | poll interval | events (bursts) | measured | no credential | repeated | p50 | p90 | p99 | max | catch-up before | append run (p50 / max) |\n")
	w.WriteString("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, o := range r.Ongoing {
		bw := append([]time.Duration(nil), o.BurstWall...)
		slices.Sort(bw)
		var bp50, bmax time.Duration
		if len(bw) > 0 {
			bp50, bmax = bw[len(bw)/2], bw[len(bw)-1]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d (%d) | %d | %d | %d | %s | %s | **%s** | %s | %s%s | %s / %s |\n",
			num(o.N), o.Profile, o.PollInterval, o.Events, o.Bursts, o.Measured, o.NoCred, o.Repeated,
			dur(o.pct(0.5)), dur(o.pct(0.9)), dur(o.pct(0.99)), dur(o.max()), atLeast(o.CatchUpBoxed), dur(o.CatchUp), dur(bp50), dur(bmax))
	}
	w.WriteString("\n")
	writeSegments(w, r.Ongoing)
	writeIdle(w, r.Ongoing)
}

// writeSegments is where the commit-to-agent time goes.
func writeSegments(w *strings.Builder, runs []*ongoingResult) {
	if !slices.ContainsFunc(runs, func(o *ongoingResult) bool { return len(o.Segments) > 0 }) {
		return
	}
	w.WriteString("Where the time goes: each measured event's latency split at the pipeline's own timestamps (PostgreSQL's clock and vonx-sim's, one machine). The stretches overlap a little (the builder may start before the poller's watermark transaction records the poll), so a stretch can be negative and the means add up only roughly.\n\n")
	w.WriteString("| profile | poll interval | stretch | events | mean | p50 | p90 | p99 |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, o := range runs {
		for _, sg := range o.Segments {
			fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", o.Profile, o.PollInterval, sg.What, len(sg.Lat),
				dur(mean(sg.Lat)), dur(pct(sg.Lat, 0.5)), dur(pct(sg.Lat, 0.9)), dur(pct(sg.Lat, 0.99)))
		}
	}
	w.WriteString("\n")
}

// writeIdle is what polling costs while nothing happens.
func writeIdle(w *strings.Builder, runs []*ongoingResult) {
	if !slices.ContainsFunc(runs, func(o *ongoingResult) bool { return o.Idle != nil }) {
		return
	}
	w.WriteString("Idle cost: after the last burst was delivered, the pipeline runs on with nothing appended (the poller polls every interval; its 10-minute look-back window still holds the run's events). CPU as a percentage of one core over the idle window. PostgreSQL is all of it (postmaster and every process under it): the poller's queries, the other services' idle queries (such as the builders' outbox sweep) and its own background work (checkpointer, WAL writer, autovacuum); the split attributes backends by the `application_name` the bench gives each service's connections.\n\n")
	w.WriteString("| profile | poll interval | idle window | events in the look-back | process | CPU s | % of one core |\n| --- | ---: | ---: | ---: | --- | ---: | ---: |\n")
	for _, o := range runs {
		c := o.Idle
		if c == nil {
			continue
		}
		row := func(what string, cpu time.Duration) {
			fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %.2f | %.2f %% |\n", o.Profile, o.PollInterval, dur(c.Wall), c.WindowEvents, what, cpu.Seconds(), c.pct(cpu))
		}
		row("**event-poller + PostgreSQL**", c.Poller+c.PG)
		row("event-poller", c.Poller)
		row("PostgreSQL (all)", c.PG)
		for _, p := range c.PGParts {
			row("PostgreSQL: "+p.What, p.CPU)
		}
		for _, p := range c.Others {
			row(p.Role, p.CPU)
		}
	}
	w.WriteString("\n")
}

func (r *report) writeResources(w *strings.Builder) {
	w.WriteString("## 4. Peak resident memory and CPU per process\n\n")
	w.WriteString("Peak resident set (VmHWM read before the stop, or the kernel's maxrss at exit, whichever is larger) and CPU seconds (utime + stime from /proc) over the measured window. PostgreSQL is the postmaster and all its backends (exited ones included); NATS is the NATS child; bench is this process (its polling and, in the ongoing mode, nothing else).\n\n")
	w.WriteString("| run | N | profile | replicas | process | peak RSS | CPU s | CPU ms per corporation or credential |\n| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |\n")
	row := func(run string, n int, profile string, replicas int, role string, hwm int64, cpu time.Duration, per int64) {
		perS := "–"
		if per > 0 {
			perS = fmt.Sprintf("%.3f", 1000*cpu.Seconds()/float64(per))
		}
		hw := "–"
		if hwm > 0 {
			hw = mb(hwm)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s | %.1f | %s |\n", run, num(n), profile, replicas, role, hw, cpu.Seconds(), perS)
	}
	for _, s := range r.Staging {
		if s.N < r.Opts.Corps { // N and the large point (goal 5)
			continue
		}
		run := runLabel("staging", s.r())
		for _, p := range s.Usage.Procs {
			row(run, s.N, s.Profile, s.Builders, p.Role, p.HWM, p.CPU, s.Processed)
		}
		row(run, s.N, s.Profile, s.Builders, "PostgreSQL", 0, s.Usage.PG, s.Processed)
		row(run, s.N, s.Profile, s.Builders, natsLabel(s.r()), s.Usage.NATSHWM, s.Usage.NATS, s.Processed)
		row(run, s.N, s.Profile, s.Builders, "bench", 0, s.Usage.Self, s.Processed)
	}
	for _, p := range r.Posting {
		if p.CapLimited {
			continue
		}
		run := runLabel("posting (zero latency)", p.r())
		for _, u := range p.Usage.Procs {
			row(run, p.N, p.Profile, p.Posters, u.Role, u.HWM, u.CPU, p.Creds)
		}
		row(run, p.N, p.Profile, p.Posters, "PostgreSQL", 0, p.Usage.PG, p.Creds)
		row(run, p.N, p.Profile, p.Posters, natsLabel(p.r()), p.Usage.NATSHWM, p.Usage.NATS, p.Creds)
	}
	for _, p := range r.Posting {
		if !p.CapLimited {
			continue
		}
		for _, u := range p.Usage.Procs {
			row(runLabel("posting (capacity-limited)", p.r()), p.N, p.Profile, p.Posters, u.Role, u.HWM, u.CPU, 0)
		}
	}
	for _, o := range r.Ongoing {
		for _, u := range o.Usage.Procs {
			row("ongoing (burst phase)", o.N, o.Profile, 2, u.Role, u.HWM, u.CPU, 0)
		}
		row("ongoing (burst phase)", o.N, o.Profile, 2, "PostgreSQL", 0, o.Usage.PG, 0)
	}
	w.WriteString("\n")
}

func (r *report) writeScaling(w *strings.Builder) {
	w.WriteString("## 5. Scaling: staging cost against the registry's size\n\n")
	w.WriteString("Staging runs with 2 builders; CPU is everything the bench started (services, PostgreSQL, NATS, the bench itself), in ms per corporation.\n")
	w.WriteString("CPU is the cost measure of the linearity goal: wall time on this shared machine also moves with other work (the foreign CPU column).\n\n")
	w.WriteString("| profile | N | wall | corporations/s | µs wall per corporation | ms CPU per corporation | of which builders / PostgreSQL / NATS / poller | event DB bytes per corporation | foreign CPU |\n| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n")
	for _, profile := range r.Opts.Profiles {
		for _, s := range r.Staging {
			if s.Profile != profile || s.Builders != 2 || s.r() != 1 {
				continue
			}
			per := 0.0
			if s.Processed > 0 {
				per = float64(s.Wall.Microseconds()) / float64(s.Processed)
			}
			pc := func(d time.Duration) string {
				return fmt.Sprintf("%.3f", 1000*d.Seconds()/float64(max(s.Processed, 1)))
			}
			fmt.Fprintf(w, "| %s | %s | %s%s | %s%s | %.0f | %.3f | %s / %s / %s / %s | %s | %s |\n", profile, num(s.N), atLeast(s.Boxed), dur(s.Wall), atLeast(s.Boxed), num(int(s.corpsPerSec())),
				per, 1000*cpuPerCorp(s), pc(s.Usage.cpuOf("credential-builder")), pc(s.Usage.PG), pc(s.Usage.NATS), pc(s.Usage.cpuOf("event-poller")),
				num(int(float64(s.EventDBBytes)/float64(max(s.Processed, 1)))), foreign(s.Usage))
		}
	}
	if !slices.Contains(r.Opts.Scale, 1_000_000) && r.Opts.Corps != 1_000_000 {
		w.WriteString("\nN = 1,000,000 (staging and posting, goal 5) runs with `BENCH_LARGE=1 make bench` (not part of this run; it checks the free disk first).\n")
	}
	w.WriteString("\n")
}

func (r *report) writeWhere(w *strings.Builder) {
	w.WriteString("## Where the time goes\n\n")
	for _, s := range r.Staging {
		if s.N != r.Opts.Corps || s.Builders != 2 || s.r() != 1 {
			continue
		}
		fmt.Fprintf(w, "### Staging, %s profile, N = %s, 2 builders\n\n", s.Profile, num(s.N))
		u := s.Usage
		fmt.Fprintf(w, "CPU over the %s run (%.1f core-seconds available on %d cores): ", dur(s.Wall), s.Wall.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU())
		parts := []string{
			fmt.Sprintf("builders %.1f s", u.cpuOf("credential-builder").Seconds()),
			fmt.Sprintf("PostgreSQL %.1f s", u.PG.Seconds()),
			fmt.Sprintf("poller %.1f s", u.cpuOf("event-poller").Seconds()),
			fmt.Sprintf("NATS %.1f s", u.NATS.Seconds()),
			fmt.Sprintf("bench %.1f s", u.Self.Seconds()),
			fmt.Sprintf("other processes on the machine %.1f s", u.foreign().Seconds()),
		}
		fmt.Fprintf(w, "%s; machine busy %.0f%% of the time.\n\n", strings.Join(parts, ", "), 100*u.Machine.Seconds()/(s.Wall.Seconds()*float64(runtime.NumCPU())))
		if s.Phases.Batches > 0 {
			tot := s.Phases.total()
			fmt.Fprintf(w, "Builder batches (debug log `batch phases`): %d batches, %.0f corporations per batch on average; time inside batches %.1f s over %d workers (2 per builder):\n\n",
				s.Phases.Batches, float64(s.Phases.Corps)/float64(s.Phases.Batches), tot.Seconds(), 2*s.Builders)
			w.WriteString("| step | total s | share | ms per batch | µs per corporation |\n| --- | ---: | ---: | ---: | ---: |\n")
			for _, k := range phaseOrder {
				v := s.Phases.Steps[k]
				fmt.Fprintf(w, "| %s | %.1f | %.0f%% | %.1f | %.0f |\n", k, v.Seconds(), 100*v.Seconds()/max(tot.Seconds(), 1e-9),
					float64(v.Milliseconds())/float64(s.Phases.Batches), float64(v.Microseconds())/float64(max(s.Phases.Corps, 1)))
			}
			w.WriteString("\n")
		}
		writeStatements(w, s.TopSQL, r.NoStatements)
		writeGoCPU(w, s.GoCPU)
		writePerf(w, s.Perf)
	}
	for _, p := range r.Posting {
		if p.CapLimited || p.r() != 1 {
			continue
		}
		fmt.Fprintf(w, "### Posting to a zero-latency agent, %s profile, %d poster(s)\n\n", p.Profile, p.Posters)
		u := p.Usage
		fmt.Fprintf(w, "CPU over the %s run: posters %.1f s, vonx-sim %.1f s, PostgreSQL %.1f s, NATS %.1f s, bench %.1f s, other processes %.1f s; machine busy %.0f%% of the time.\n\n",
			dur(p.Wall), u.cpuOf("poster").Seconds(), u.cpuOf("vonx-sim").Seconds(), u.PG.Seconds(), u.NATS.Seconds(), u.Self.Seconds(), u.foreign().Seconds(),
			100*u.Machine.Seconds()/(u.Wall.Seconds()*float64(runtime.NumCPU())))
		if pm := p.Metrics; pm.Requests > 0 {
			fmt.Fprintf(w, "Posters' metrics: %s requests, %.1f credentials per request, %s per request on average (agent round trip), adaptive limits at the end %.0f in all, %.0f bundles held behind an older credential.\n\n",
				num(int(pm.Requests)), pm.credsPerRequest(), dur(pm.meanRequest()), pm.Limit, pm.HeldBack)
		}
		writeStatements(w, p.TopSQL, r.NoStatements)
		writeGoCPU(w, p.GoCPU)
		writePerf(w, p.Perf)
	}
}

// writeStatements writes the heaviest statements; noStatements says
// pg_stat_statements was not available in the bench's PostgreSQL.
func writeStatements(w *strings.Builder, st []statement, noStatements bool) {
	if noStatements {
		w.WriteString("No statement figures: pg_stat_statements is not available in the bench's PostgreSQL (install the server's contrib package).\n\n")
		return
	}
	if len(st) == 0 {
		return
	}
	w.WriteString("Heaviest statements (pg_stat_statements, execution time over the run):\n\n| database | calls | total s | mean ms | rows | blocks read | statement |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, s := range st {
		q := s.Query
		if len(q) > 220 {
			q = q[:220] + "…"
		}
		q = strings.ReplaceAll(q, "|", "\\|")
		fmt.Fprintf(w, "| %s | %s | %.1f | %.2f | %s | %s | `%s` |\n", s.DB, num64(s.Calls), s.Total.Seconds(), float64(s.Mean.Microseconds())/1000,
			num64(s.Rows), num64(s.SharedBlksRead), q)
	}
	w.WriteString("\n")
	shown := 0
	seen := map[string]bool{}
	for _, s := range st {
		if s.Plan == nil || shown == 3 || seen[s.Plan.Text] {
			continue
		}
		seen[s.Plan.Text] = true
		shown++
		q := s.Query
		if len(q) > 90 {
			q = q[:90] + "…"
		}
		lines := strings.Split(s.Plan.Text, "\n")
		for i, l := range lines {
			if len(l) > 200 { // inlined parameter arrays
				lines[i] = l[:200] + "…"
			}
		}
		if len(lines) > 30 {
			lines = append(lines[:30], "…")
		}
		fmt.Fprintf(w, "Plan of `%s` (auto_explain, without ANALYZE: the slowest of %d executions over %s, %s):\n\n```\n%s\n```\n\n",
			q, s.Plan.Count, autoExplainMin, dur(s.Plan.Slowest), strings.Join(lines, "\n"))
	}
}

// writeGoCPU writes the top functions of a stage's services' CPU
// profiles (their side ports' pprof, BCREG_PPROF=true).
func writeGoCPU(w *strings.Builder, p *goProfile) {
	if p == nil {
		return
	}
	if p.Err != "" {
		fmt.Fprintf(w, "No Go CPU profile of the %s services: %s.\n\n", p.Role, p.Err)
		return
	}
	fmt.Fprintf(w, "Top functions of the %s services (Go CPU profiles from their side ports, `BCREG_PPROF=true`, %s chunks over the run, merged; `go tool pprof -top`):\n\n```\n%s\n```\n\n", p.Role, pprofChunk, p.Top)
}

func writePerf(w *strings.Builder, p *perfProfile) {
	if p == nil {
		return
	}
	w.WriteString("CPU profile (`perf record -a -g -F 49` over the run, every process on the machine). Samples by command:\n\n```\n" + p.ByProcess + "\n```\n\n")
	w.WriteString("Hottest functions (self time; command, object, symbol):\n\n```\n" + p.Symbols + "\n```\n\n")
	if p.GoCum != "" {
		fmt.Fprintf(w, "Inclusive time in `%s`'s functions (with callees; share of all samples):\n\n```\n%s\n```\n\n", p.GoComm, p.GoCum)
	}
}

func (r *report) writeMicro(w *strings.Builder) {
	if r.Micro == "" {
		return
	}
	w.WriteString("## Micro-benchmarks (`make bench-micro`)\n\n")
	w.WriteString("`go test -p 1 -run '^$' -bench . -benchtime 2s` on pkg/messages and pkg/devkit/microbench (the source loader and credential generation over a synthetic registry); `BenchmarkBuilderInitialLoad` (-benchtime 2s) and `BenchmarkAdaptiveConcurrency` (-benchtime 1x); same machine, just before the runs above. See microbench.md and poster-adaptive.md for what each measures.\n\n```\n")
	for _, line := range strings.Split(r.Micro, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "Benchmark") || strings.HasPrefix(t, "pkg:") || strings.HasPrefix(t, "ok ") || strings.HasPrefix(t, "FAIL") || strings.HasPrefix(t, "cpu:") {
			w.WriteString(strings.TrimRight(line, " ") + "\n")
		}
	}
	w.WriteString("```\n\n")
	if r.MicroTrace != "" {
		fmt.Fprintf(w, "The poster benchmark's halving run (`%shalved`, goal 1): the first agent's capacity halved 10 s after the start and restored 25 s later. "+
			"Blue: credentials/s at the agent (1 s average; dashed: its capacity); orange: credentials in flight at the agent.\n\n![credentials/s and credentials in flight over time, capacity halved and restored](%s)\n\n",
			agentGoal, r.traceName())
	}
}

func (r *report) writeMethod(w *strings.Builder) {
	w.WriteString("## How each figure is measured\n\n")
	w.WriteString(`- One PostgreSQL cluster per bench run (initialised fresh, removed at the end); a new event database and a new NATS store (NATS runs as a child process) for every measured run. The registry of each size is seeded once with ` + "`bcreg-dev seed`" + ` and only read by the staging and posting runs; the ongoing run appends to a copy.
- **Staging**: ` + "`bcregctl migrate`" + `, then the builders (waited for ` + "`/readyz`" + `), then the clock starts and the poller starts. Done when ` + "`initial_load.finished_at`" + ` is set, the builder consumer has nothing pending or unacked, every work item has ` + "`process_date`" + ` and no due credential is unpublished; the wall time ends at the latest ` + "`process_date`" + ` / ` + "`published_at`" + ` written. Credentials/s counts credentials published in bundles (held-back address credentials and future-dated ones are not published).
- **Posting**: the posting runs start from a file copy of the 2-builder staging run's event database (` + "`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`" + `) and NATS store; the staged database is vacuumed and analysed once after its staging run (` + "`VACUUM (ANALYZE)`" + `, outside every measured window), so autovacuum of it does not run, and count as posting's PostgreSQL CPU, during the first posting run. Zero-latency: from the posters' start to the latest ` + "`process_date`" + ` of an answered credential; steady = 80% of the credentials over the time between the 10th and 90th percentile answers. Capacity-limited: vonx-sim's issued counter over the window, after the warm-up, against capacity / latency.
- **Ongoing**: see section 3; the catch-up (delivering the staged backlog) precedes the measured bursts, and the window ends when the pipeline is idle again (or after 2 minutes plus three poll intervals).
- **R3 vs R1**: the main configuration (2 builders, 2 posters) again with ` + "`BCREG_JS_REPLICAS=3`" + ` and every node's URL in ` + "`BCREG_NATS_URL`" + `, on three NATS children with routes between them on this same machine (so the three nodes' work shares the machine's cores, where production spreads them over three hosts: the CPU figures are the cost, the wall-time figures an upper bound of the slowdown). The posting runs copy the three nodes' stores and restart the same cluster; the clock starts after every stream has a leader.
- **Memory and CPU**: /proc/<pid>/status VmHWM and /proc/<pid>/stat utime+stime of each process, read at the end of the window; after the exit, the kernel's rusage (maxrss) when larger.
- **Where the time goes**: the builders of the main staging runs and the posters of every zero-latency posting run are profiled through their side ports (Go's pprof, ` + "`BCREG_PPROF=true`" + `), their top functions beside pg_stat_statements (reset at the start of each run); with ` + "`perf`" + ` on, system-wide ` + "`perf`" + ` recordings as well.
`)
}

// Formatting.

func num(n int) string { return num64(int64(n)) }

func num64(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

func mb(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func bytesStr(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%d kB", b/1024)
	}
}

// diskStr is a size on disk, "–" when not measured (reports of before
// the posting runs measured theirs).
func diskStr(b int64) string {
	if b <= 0 {
		return "–"
	}
	return bytesStr(b)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// runLabel names a run of the resources table: R1 runs as before, the
// others with their replicas.
func runLabel(run string, replicas int) string {
	if replicas == 1 {
		return run
	}
	return fmt.Sprintf("%s, R%d", run, replicas)
}

// natsLabel is the NATS row of a run: the server, or the cluster's nodes
// together.
func natsLabel(replicas int) string {
	if replicas == 1 {
		return "NATS"
	}
	return fmt.Sprintf("NATS (%d nodes together)", replicas)
}

// replicaPair is a run at R > 1 beside the R1 run of the same
// configuration.
type replicaPair struct {
	what     string
	one, rep float64
	unit     string
	boxed    bool // either run reached its box: the figures are bounds
}

// replicaPairs pairs every run at R > 1 with its R1 run (same N, profile,
// builders or posters and agent) and lists the figures that show what the
// replication costs.
func (r *report) replicaPairs() (pairs []replicaPair, replicas int) {
	ms := func(d time.Duration, n int64) float64 { return 1000 * d.Seconds() / float64(max(n, 1)) }
	for _, s := range r.Staging {
		if s.r() == 1 {
			continue
		}
		replicas = s.r()
		var one *stagingResult
		for _, o := range r.Staging {
			if o.r() == 1 && o.N == s.N && o.Profile == s.Profile && o.Builders == s.Builders {
				one = o
			}
		}
		if one == nil {
			continue
		}
		cfg := fmt.Sprintf("staging, %s, N = %s, %d builders", s.Profile, num(s.N), s.Builders)
		bx := one.Boxed || s.Boxed
		pairs = append(pairs,
			replicaPair{cfg + ": throughput", one.corpsPerSec(), s.corpsPerSec(), "corporations/s", bx},
			replicaPair{cfg + ": wall", one.Wall.Seconds(), s.Wall.Seconds(), "s", bx},
			replicaPair{cfg + ": NATS CPU", ms(one.Usage.NATS, one.Processed), ms(s.Usage.NATS, s.Processed), "ms per corporation", bx},
			replicaPair{cfg + ": CPU of all the bench's processes", 1000 * cpuPerCorp(one), 1000 * cpuPerCorp(s), "ms per corporation", bx},
			replicaPair{cfg + ": NATS peak resident memory", float64(one.Usage.NATSHWM) / (1 << 20), float64(s.Usage.NATSHWM) / (1 << 20), "MiB", bx},
			replicaPair{cfg + ": NATS store on disk", float64(one.StoreBytes) / (1 << 20), float64(s.StoreBytes) / (1 << 20), "MiB", bx},
			replicaPair{cfg + ": CorpEvent redeliveries", float64(sub0(one.Deliveries, uint64(one.Processed))), float64(sub0(s.Deliveries, uint64(s.Processed))), "", bx},
		)
	}
	for _, p := range r.Posting {
		if p.r() == 1 {
			continue
		}
		replicas = p.r()
		var one *postingResult
		for _, o := range r.Posting {
			if o.r() == 1 && o.N == p.N && o.Profile == p.Profile && o.Posters == p.Posters && o.CapLimited == p.CapLimited {
				one = o
			}
		}
		if one == nil {
			continue
		}
		bx := one.Boxed || p.Boxed
		if p.CapLimited {
			cfg := fmt.Sprintf("posting, %s, %d posters, capacity-limited agent", p.Profile, p.Posters)
			pairs = append(pairs, replicaPair{cfg + ": of its capacity", 100 * one.Achieved / one.CapacityPerSec, 100 * p.Achieved / p.CapacityPerSec, "%", false})
			continue
		}
		cfg := fmt.Sprintf("posting, %s, %d posters, zero-latency agent", p.Profile, p.Posters)
		pairs = append(pairs,
			replicaPair{cfg + ": throughput", one.Overall, p.Overall, "credentials/s", bx},
			replicaPair{cfg + ": NATS CPU", ms(one.Usage.NATS, one.Creds), ms(p.Usage.NATS, p.Creds), "ms per credential", bx},
			replicaPair{cfg + ": CPU of all the bench's processes", ms(one.Usage.ours(), one.Creds), ms(p.Usage.ours(), p.Creds), "ms per credential", bx},
			replicaPair{cfg + ": NATS peak resident memory", float64(one.Usage.NATSHWM) / (1 << 20), float64(p.Usage.NATSHWM) / (1 << 20), "MiB", bx},
			replicaPair{cfg + ": bundle redeliveries", float64(sub0(one.Deliveries, one.Bundles)), float64(sub0(p.Deliveries, p.Bundles)), "", bx},
		)
	}
	return pairs, replicas
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// writeReplication is the R3 vs R1 section: what replicated streams cost
// (production runs R3 on a three-node cluster).
func (r *report) writeReplication(w *strings.Builder) {
	pairs, replicas := r.replicaPairs()
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintf(w, "## 6. R%d vs R1: the cost of replication\n\n", replicas)
	fmt.Fprintf(w, "The same configuration with `BCREG_JS_REPLICAS=%d` on a %d-node NATS cluster (every node a child of the bench on this machine, routes on loopback) beside `BCREG_JS_REPLICAS=1` on one NATS server. "+
		"NATS figures of the cluster are its nodes together. The nodes share this machine's cores with everything else, where production gives each its own host: the CPU and memory are the cost of replication, the throughput is a lower bound of what a cluster of three hosts gives.\n\n", replicas, replicas)
	fmt.Fprintf(w, "| figure | R1 | R%d | R%d / R1 |\n| --- | ---: | ---: | ---: |\n", replicas, replicas)
	for _, p := range pairs {
		ratio := "–"
		if p.one > 0 {
			ratio = fmt.Sprintf("×%.2f", p.rep/p.one)
		}
		unit := ""
		if p.unit != "" {
			unit = " " + p.unit
		}
		fmt.Fprintf(w, "| %s | %s%s%s | %s%s%s | %s |\n", p.what, atLeast(p.boxed), figure(p.one, p.unit), unit, atLeast(p.boxed), figure(p.rep, p.unit), unit, ratio)
	}
	w.WriteString("\n")
}

// figure formats a measured value: counts (no unit) and large values as
// whole numbers with separators, small ones with a decimal or three.
func figure(v float64, unit string) string {
	switch {
	case unit == "" || v >= 100:
		return num(int(v + 0.5))
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
