package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/bus"
)

// Goals of the audit (issue 19): a full audit of N = 100,000 in under a
// minute, its memory bounded by the batch, not by N.
const (
	goalAuditWall = 60 * time.Second
	goalAuditRSS  = 200 << 20
)

// auditResult is `bcregctl audit` over a registry the pipeline delivered
// to vonx-sim, whose OrgBook view is written into OrgBook-shaped tables.
type auditResult struct {
	N       int
	Profile string
	// Delivery: the staged backlog posted by 2 posters to a zero-latency
	// vonx-sim with BCREG_SIM_ORGBOOK_DB_URL, then its last flush.
	Creds        int64
	Deliver      time.Duration
	OrgBookBytes int64
	OrgBookRows  map[string]int64
	// The audit process: wall time, peak resident memory, CPU.
	Wall    time.Duration
	PeakRSS int64
	CPU     time.Duration
	Batch   int
	// From its --json report.
	Audited, Pending, Ignored, Topics, Findings int
	Counts                                      map[string]int
	// Usage is the audit's window: its CPU, PostgreSQL's, and the
	// machine's (other load on the shared machine is the rest).
	Usage   usage
	LoadAvg string // at the audit's start
}

func (a *auditResult) line() string {
	return fmt.Sprintf("%s bench: audit N=%d %s: %s, peak resident memory %s, CPU %s (%d compared, %d pending, %d topics read, %d findings; delivery %s)\n",
		time.Now().Format("15:04:05"), a.N, a.Profile, dur(a.Wall), mb(a.PeakRSS), dur(a.CPU), a.Audited, a.Pending, a.Topics, a.Findings, dur(a.Deliver))
}

// auditBatch is the audit's --batch in the bench: its default.
const auditBatch = 2000

// audit delivers the staged backlog to vonx-sim's OrgBook (the real
// posters, a copy of the staged state) and measures `bcregctl audit` of
// the whole registry against it.
func (b *bencher) audit(ctx context.Context, st *stagedState, src string) (_ *auditResult, err error) {
	name := b.runName("audit", st.profile, st.n)
	ob := name + "_orgbook"
	b.logf("audit N=%d profile %s: delivering to vonx-sim's OrgBook (%s)", st.n, st.profile, name)
	res := &auditResult{N: st.n, Profile: st.profile, Batch: auditBatch, Counts: map[string]int{}, OrgBookRows: map[string]int64{}}
	if err := b.c.createDB(ctx, name, st.eventDB); err != nil {
		return nil, err
	}
	if err := b.c.createDB(ctx, ob, ""); err != nil {
		b.c.dropDB(ctx, name)
		return nil, err
	}
	// --keep keeps them (and the registry) for re-running the audit by hand.
	defer b.c.dropDB(ctx, name)
	defer b.c.dropDB(ctx, ob)
	store := filepath.Join(b.c.natsDir, name)
	if err := copyDir(st.store, store); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer b.removeStore(store)
	r, err := b.newRun(ctx, name, name, src, store, st.profile, st.replicas)
	if err != nil {
		return nil, err
	}
	defer r.close(ctx)
	if err := r.startSim(ctx, "BCREG_SIM_CAPACITY=0", "BCREG_SIM_ORGBOOK_DB_URL="+b.c.url(ob), "BCREG_SIM_ORGBOOK_FLUSH=2s"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for i := 1; i <= 2; i++ {
		role := fmt.Sprintf("poster-%d", i)
		if _, err := r.service(ctx, role, "poster", false, "BCREG_POSTER_ID="+role); err != nil {
			return nil, err
		}
	}
	err = r.waitFor(ctx, b.opts.PostingBox, 250*time.Millisecond, func() (bool, error) {
		if !r.drained(ctx, bus.StreamCreds, bus.ConsumerPoster) {
			return false, nil
		}
		due, _, err := r.outstanding(ctx)
		return due == 0, err
	})
	if err != nil {
		if errors.Is(err, errBoxed) {
			return nil, fmt.Errorf("bench: audit: the delivery did not finish within %s", b.opts.PostingBox)
		}
		return nil, err
	}
	if err := r.sim.FlushOrgBook(ctx); err != nil {
		return nil, fmt.Errorf("bench: audit: flush vonx-sim's OrgBook: %w", err)
	}
	res.Deliver = time.Since(t0)
	r.stopServices()
	if err := r.edb.QueryRow(ctx, `SELECT count(*) FROM credential_log WHERE process_success = 'Y'`).Scan(&res.Creds); err != nil {
		return nil, fmt.Errorf("bench: audit: delivered credentials: %w", err)
	}
	res.OrgBookBytes = b.c.dbSize(ctx, ob)
	obPool, err := pgxpool.New(ctx, b.c.url(ob))
	if err != nil {
		return nil, fmt.Errorf("bench: audit: %w", err)
	}
	for _, t := range []string{"topic", "credential", "attribute", "name", "topic_relationship"} {
		var n int64
		if err := obPool.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			obPool.Close()
			return nil, fmt.Errorf("bench: audit: count %s: %w", t, err)
		}
		res.OrgBookRows[t] = n
	}
	_, _ = obPool.Exec(ctx, "VACUUM ANALYZE")
	obPool.Close()
	_, _ = r.edb.Exec(ctx, "ANALYZE")

	b.logf("audit N=%d profile %s: %d credentials delivered in %s; running bcregctl audit", st.n, st.profile, res.Creds, dur(res.Deliver))
	m := r.startMeter()
	load := loadAvg()
	cmd := exec.CommandContext(ctx, filepath.Join(b.opts.BinDir, "bcregctl"), "audit", "--json", fmt.Sprintf("--batch=%d", auditBatch))
	cmd.Env = childEnv(append(r.settings(), "BCREG_ORGBOOK_DB_URL="+b.c.url(ob), "BCREG_LOG_LEVEL=warn")...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	res.Wall = time.Since(start)
	u := m.stop()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		res.PeakRSS = ru.Maxrss * 1024
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	u.Procs = append(u.Procs, procUsage{Role: "bcregctl audit", CPU: res.CPU, HWM: res.PeakRSS})
	res.Usage, res.LoadAvg = u, load
	// Exit status 3 is an audit with findings: a figure, not a failure.
	var exit *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exit) && exit.ExitCode() == 3) {
		return nil, fmt.Errorf("bench: bcregctl audit: %w\n%s", runErr, stderr.String())
	}
	var rep struct {
		Audited, Pending, Ignored, Topics int
		Counts                            []struct {
			Check string
			Count int
		}
		Findings []json.RawMessage
	}
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		return nil, fmt.Errorf("bench: bcregctl audit --json: %w", err)
	}
	res.Audited, res.Pending, res.Ignored, res.Topics, res.Findings = rep.Audited, rep.Pending, rep.Ignored, rep.Topics, len(rep.Findings)
	for _, c := range rep.Counts {
		if c.Count > 0 {
			res.Counts[c.Check] = c.Count
		}
	}
	return res, nil
}

// auditGoals are the audit's goals: time, memory, and a clean result
// after a complete delivery.
func (r *report) auditGoals() []goal {
	if !slices.Contains(r.Opts.Profiles, "history") || (len(r.Opts.Only) > 0 && !slices.Contains(r.Opts.Only, "audit")) {
		return nil
	}
	n := num(r.Opts.Corps)
	t := goal{What: fmt.Sprintf("`bcregctl audit` of N = %s (history profile, delivered to vonx-sim's OrgBook tables)", n), Target: "< 60 s"}
	m := goal{What: "`bcregctl audit`: memory bounded (streamed by --batch, not all in memory)", Target: "peak resident < 200 MiB"}
	c := goal{What: "`bcregctl audit` after a complete delivery", Target: "0 findings, every corporation compared"}
	for _, a := range r.Audit {
		if a.N != r.Opts.Corps {
			continue
		}
		t.Measured = fmt.Sprintf("%s (CPU: audit %s, PostgreSQL %s; other load on the machine %s, load average %s)", dur(a.Wall), dur(a.CPU), dur(a.Usage.PG), foreign(a.Usage), a.LoadAvg)
		t.Met = yes(a.Wall < goalAuditWall)
		m.Measured = fmt.Sprintf("%s with --batch %d", mb(a.PeakRSS), a.Batch)
		m.Met = yes(a.PeakRSS > 0 && a.PeakRSS < goalAuditRSS)
		c.Measured = fmt.Sprintf("%d finding(s); %d compared, %d pending, %d OrgBook topics read", a.Findings, a.Audited, a.Pending, a.Topics)
		c.Met = yes(a.Findings == 0 && a.Audited+a.Pending > 0)
	}
	return []goal{t, m, c}
}

func (r *report) writeAudit(w *strings.Builder) {
	if len(r.Audit) == 0 {
		return
	}
	w.WriteString("## 7. `bcregctl audit`: registry vs event database vs OrgBook\n\n")
	w.WriteString("The staged history backlog (a copy of the 2-builder staging run) delivered by 2 posters to a zero-latency vonx-sim " +
		"that writes its OrgBook view into OrgBook-shaped tables (`BCREG_SIM_ORGBOOK_DB_URL`, a database of the bench's PostgreSQL), " +
		"then `bcregctl audit --json` of the whole registry as one process: registry, event database and OrgBook on the same server. " +
		"The machine is shared: *other load* is the busy CPU time none of the bench's processes used, as a share of the audit's wall time × cores.\n\n")
	w.WriteString("| N | credentials delivered | delivery + flush | OrgBook rows (topic / credential / attribute / name / relationship) | OrgBook database | audit wall | audit CPU | PostgreSQL CPU | peak resident | batch | compared / pending / topics read | findings | other load |\n")
	w.WriteString("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |\n")
	for _, a := range r.Audit {
		rows := a.OrgBookRows
		findings := num(a.Findings)
		if len(a.Counts) > 0 {
			var parts []string
			for k, v := range a.Counts {
				parts = append(parts, fmt.Sprintf("%s %d", k, v))
			}
			slices.Sort(parts)
			findings += " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s / %s / %s / %s / %s | %s | **%s** | %s | %s | %s | %d | %s / %s / %s | %s | %s |\n",
			num(a.N), num64(a.Creds), dur(a.Deliver), num64(rows["topic"]), num64(rows["credential"]), num64(rows["attribute"]),
			num64(rows["name"]), num64(rows["topic_relationship"]), bytesStr(a.OrgBookBytes), dur(a.Wall), dur(a.CPU), dur(a.Usage.PG),
			mb(a.PeakRSS), a.Batch, num(a.Audited), num(a.Pending), num(a.Topics), findings, foreign(a.Usage))
	}
	w.WriteString("\n")
}
