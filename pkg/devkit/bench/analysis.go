package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// statement is a pg_stat_statements row.
type statement struct {
	DB             string
	Calls          int64
	Total, Mean    time.Duration
	Rows           int64
	Query          string
	SharedBlksRead int64
	Plan           *plan
}

// plan is the slowest plan auto_explain logged for a statement.
type plan struct {
	Count   int // plans logged (executions slower than autoExplainMin)
	Slowest time.Duration
	Text    string
}

var (
	paramRE    = regexp.MustCompile(`\$\d+|'[^']*'|\b\d+\b`)
	spaceRE    = regexp.MustCompile(`\s+`)
	durationRE = regexp.MustCompile(`LOG:  duration: ([0-9.]+) ms  plan:$`)
)

// stmtKey identifies a statement across pg_stat_statements (constants
// replaced by $n) and the log (the text as sent).
func stmtKey(q string) string {
	k := paramRE.ReplaceAllString(spaceRE.ReplaceAllString(strings.TrimSpace(q), " "), "?")
	if len(k) > 80 {
		k = k[:80]
	}
	return k
}

// readPlans reads the auto_explain entries of the server log after offset:
// a "duration: … ms  plan:" line, then tab-indented lines: "Query Text:",
// the query's lines, then the plan (its first line has "(cost=").
func readPlans(path string, offset int64) (map[string]*plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, err
	}
	plans := map[string]*plan{}
	var (
		in     bool
		d      time.Duration
		query  []string
		body   []string
		inPlan bool
	)
	flush := func() {
		if !in {
			return
		}
		in = false
		k := stmtKey(strings.TrimPrefix(strings.Join(query, " "), "Query Text: "))
		p := plans[k]
		if p == nil {
			p = &plan{}
			plans[k] = p
		}
		p.Count++
		if d > p.Slowest {
			p.Slowest, p.Text = d, strings.Join(body, "\n")
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\t") && in {
			t := line[1:]
			if !inPlan && strings.Contains(t, "(cost=") {
				inPlan = true
			}
			if inPlan {
				body = append(body, t)
			} else {
				query = append(query, t)
			}
			continue
		}
		flush()
		if m := durationRE.FindStringSubmatch(line); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			in, inPlan, d, query, body = true, false, time.Duration(ms*float64(time.Millisecond)), nil, nil
		}
	}
	flush()
	return plans, sc.Err()
}

// resetStatements starts a run's statement figures; it returns where the
// run's plans start in the server log.
func (b *bencher) resetStatements(ctx context.Context) int64 {
	if b.c.statements {
		_, _ = b.c.admin.Exec(ctx, "SELECT pg_stat_statements_reset()")
	}
	return b.c.logOffset()
}

// topStatements are the statements of the databases that took the most
// execution time since the last reset, with the slowest plan auto_explain
// logged for each after planOffset.
func (b *bencher) topStatements(ctx context.Context, dbs []string, limit int, planOffset int64) []statement {
	out := b.statementsOf(ctx, dbs, limit)
	if !b.c.explain || len(out) == 0 {
		return out
	}
	plans, err := readPlans(b.c.logPath(), planOffset)
	if err != nil {
		b.logf("auto_explain plans: %v", err)
		return out
	}
	for i := range out {
		out[i].Plan = plans[stmtKey(out[i].Query)]
	}
	return out
}

func (b *bencher) statementsOf(ctx context.Context, dbs []string, limit int) []statement {
	if !b.c.statements {
		return nil
	}
	rows, err := b.c.admin.Query(ctx, `SELECT d.datname, s.calls, s.total_exec_time, s.mean_exec_time, s.rows, s.shared_blks_read,
       left(regexp_replace(s.query, '\s+', ' ', 'g'), 400)
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = ANY($1)
ORDER BY s.total_exec_time DESC LIMIT $2`, dbs, limit)
	if err != nil {
		b.logf("pg_stat_statements: %v", err)
		return nil
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (statement, error) {
		var s statement
		var total, mean float64
		err := r.Scan(&s.DB, &s.Calls, &total, &mean, &s.Rows, &s.SharedBlksRead, &s.Query)
		s.Total = time.Duration(total * float64(time.Millisecond))
		s.Mean = time.Duration(mean * float64(time.Millisecond))
		return s, err
	})
	if err != nil {
		b.logf("pg_stat_statements: %v", err)
	}
	return out
}

// builderPhases sums the builders' "batch phases" debug lines.
type builderPhases struct {
	Batches int
	Corps   int
	Steps   map[string]time.Duration
}

// phaseOrder is the order of a batch's steps (handle.go).
var phaseOrder = []string{"lock", "load", "generate", "store", "publish"}

func (p *builderPhases) add(q builderPhases) {
	if p.Steps == nil {
		p.Steps = map[string]time.Duration{}
	}
	p.Batches += q.Batches
	p.Corps += q.Corps
	for k, v := range q.Steps {
		p.Steps[k] += v
	}
}

func (p *builderPhases) total() time.Duration {
	var t time.Duration
	for _, v := range p.Steps {
		t += v
	}
	return t
}

// readPhases reads a builder's JSON log.
func readPhases(path string) (builderPhases, error) {
	ph := builderPhases{Steps: map[string]time.Duration{}}
	f, err := os.Open(path)
	if err != nil {
		return ph, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"batch phases"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		ph.Batches++
		if c, ok := m["corporations"].(float64); ok {
			ph.Corps += int(c)
		}
		for _, k := range phaseOrder {
			if v, ok := m[k].(float64); ok {
				ph.Steps[k] += time.Duration(v * float64(time.Second))
			}
		}
	}
	return ph, sc.Err()
}

// perfRecorder is a system-wide `perf record` of a window.
type perfRecorder struct {
	b    *bencher
	cmd  *exec.Cmd
	data string
	done chan error
}

// perfProfile is what the report shows of a recording.
type perfProfile struct {
	ByProcess string // CPU samples by command
	Symbols   string // hottest functions, self time
	GoCum     string // cumulative time in the busiest Go service's functions
	GoComm    string
	Samples   string
}

// startPerf starts `perf record` on every CPU at 49 Hz with call graphs;
// nil when perf is unavailable.
func (b *bencher) startPerf(name string) *perfRecorder {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil
	}
	dir, _ := filepath.Abs(filepath.Join(b.c.logDir, "perf"))
	_ = os.MkdirAll(dir, 0o755)
	p := &perfRecorder{b: b, data: filepath.Join(dir, name+".data"), done: make(chan error, 1)}
	p.cmd = exec.Command("perf", "record", "-F", "49", "-a", "-g", "-q", "-o", p.data)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err == nil {
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		b.logf("perf: %v (no CPU profile)", err)
		return nil
	}
	go func() { p.done <- p.cmd.Wait(); _ = logf.Close() }()
	return p
}

// stop ends the recording and summarises it.
func (p *perfRecorder) stop() *perfProfile {
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	report := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "perf", append([]string{"report", "-i", p.data, "--stdio", "-g", "none"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			return fmt.Sprintf("perf report: %v", err)
		}
		return perfLines(string(out), 25)
	}
	prof := &perfProfile{}
	prof.ByProcess = report("--no-children", "--sort", "comm", "--percent-limit", "0.5")
	prof.Symbols = report("--no-children", "--sort", "comm,dso,sym", "--percent-limit", "0.7")
	// The busiest Go service: the first command line that is one of ours.
	for _, line := range strings.Split(prof.ByProcess, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		comm := f[len(f)-1]
		if strings.HasPrefix(comm, "credential-b") || comm == "poster" || comm == "event-poller" {
			prof.GoComm = comm
			break
		}
	}
	if prof.GoComm != "" {
		prof.GoCum = report("--children", "--comm", prof.GoComm, "--sort", "sym", "--percent-limit", "4")
	}
	if out, err := exec.Command("perf", "report", "-i", p.data, "--stdio", "--header-only").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "sample duration") || strings.Contains(line, "cmdline") {
				prof.Samples += strings.TrimPrefix(line, "# ") + "\n"
			}
		}
	}
	if !p.b.opts.Keep {
		_ = os.Remove(p.data)
	}
	return prof
}

// perfLines keeps the result lines of a perf report (no comments), at most
// n of them.
func perfLines(out string, n int) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		keep = append(keep, strings.TrimRight(line, " "))
		if len(keep) == n {
			break
		}
	}
	return strings.Join(keep, "\n")
}
