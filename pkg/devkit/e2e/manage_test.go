package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// manageSQL returns the statements of each manage command in
// testdata/manage/manage.sql (the script's text; its README names the
// source), by command.
func manageSQL(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("testdata/manage/manage.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var cmd string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "-- "):
			cmd = strings.TrimPrefix(line, "-- ")
		case strings.TrimSpace(line) != "":
			out[cmd] = append(out[cmd], line)
		}
	}
	return out
}

// quote is a SQL string literal, as the script interpolates its arguments.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// manageRun is one run of the scenario: against a running pipeline, each
// manage command is done either by the script's SQL or by its bcregctl
// twin, and the effect the original had is checked.
type manageRun struct {
	t      *testing.T
	p      *pipeline
	sql    map[string][]string
	twins  bool
	issued int // what the agent has issued so far
	// seen is how many credentials the agent had received when the
	// current command started (mark): received returns what came after.
	// -1: no command marked since the last received.
	seen int
}

func (r *manageRun) exec(stmt string) {
	r.t.Helper()
	if _, err := testenv.Pool(r.t, r.p.eventDB).Exec(testenv.Context(r.t), stmt); err != nil {
		r.t.Fatalf("%s: %v", stmt, err)
	}
}

// script runs a command's statements with the arguments substituted.
func (r *manageRun) script(cmd string, args map[string]string) {
	r.t.Helper()
	stmts := r.sql[cmd]
	if len(stmts) == 0 {
		r.t.Fatalf("no SQL of %s in testdata/manage/manage.sql", cmd)
	}
	for _, s := range stmts {
		for k, v := range args {
			s = strings.ReplaceAll(s, k, v)
		}
		r.exec(s)
	}
}

// mark notes what the agent has received before a command runs. It must
// precede the command: a twin that publishes the bundles itself
// (`requeue processed-creds`, `failed-creds`) may have them delivered
// before it exits, and a count taken after it would miss them.
func (r *manageRun) mark() {
	r.t.Helper()
	r.seen = len(r.p.receivedHashes(0))
}

// do runs the command: the twin's bcregctl arguments, or the script's SQL.
func (r *manageRun) do(cmd string, args map[string]string, twin ...string) {
	r.t.Helper()
	r.mark()
	if r.twins {
		r.p.mustCtl(twin...)
		return
	}
	r.script(cmd, args)
}

// received waits for the pipeline to settle with at least n more
// credentials issued, and returns the hashes received since the mark,
// sorted.
func (r *manageRun) received(n int) []string {
	r.t.Helper()
	if r.seen < 0 {
		r.t.Fatal("received without a mark before the command")
	}
	r.p.settle(2*time.Minute, r.issued+n)
	got := r.p.receivedHashes(r.seen)
	r.seen = -1
	st, err := r.p.sim.Stats(testenv.Context(r.t))
	if err != nil {
		r.t.Fatal(err)
	}
	r.issued = int(st.Issued)
	sort.Strings(got)
	return got
}

func (r *manageRun) count(q string, args ...any) int {
	r.t.Helper()
	var n int
	if err := testenv.Pool(r.t, r.p.eventDB).QueryRow(testenv.Context(r.t), q, args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestManageScriptSQL runs each manage command's SQL, as the script has it,
// against a running pipeline (real binaries, vonx-sim) and checks the
// effect the original had: the corporations are processed again, the
// failed credentials posted again, the relationship credential issued
// again; the active poller records each as an operator action with the
// rows' ids; the status queries answer what `bcregctl status` does.
func TestManageScriptSQL(t *testing.T) { manageScenario(t, false) }

// TestManageTwins does the same with each command's bcregctl twin.
func TestManageTwins(t *testing.T) { manageScenario(t, true) }

func manageScenario(t *testing.T, twins bool) {
	p := newPipeline(t, "snapshot")
	ctx := testenv.Context(t)
	r := &manageRun{t: t, p: p, sql: manageSQL(t), twins: twins, seen: -1}
	results := generateAll(t, p.sourceDB, "snapshot")
	corps := sortedCorps(results)
	postableOf := func(c string) []string {
		var out []string
		for _, cr := range results[c].Credentials {
			if postable(cr) {
				out = append(out, cr.Hash)
			}
		}
		sort.Strings(out)
		return out
	}
	want := 0
	for _, c := range corps {
		want += len(postableOf(c))
	}
	// One corporation's registration is rejected by the agent (N); one
	// with a relationship credential, one to forget and one to queue
	// unchanged.
	var rejected, relCorp, related, relHash, forgotten, unchanged string
	var rejectedHash, rejectedID string
	for _, c := range corps {
		for _, cr := range results[c].Credentials {
			var attrs struct {
				Reg string `json:"registration_id"`
				Rel string `json:"associated_registration_id"`
			}
			_ = json.Unmarshal([]byte(cr.JSON), &attrs)
			switch {
			case cr.Type == "REL" && relCorp == "" && postable(cr):
				relCorp, related, relHash = c, attrs.Rel, cr.Hash
			case cr.Type == "REG" && rejected == "" && c != relCorp && relCorp != "" && postable(cr):
				rejected, rejectedHash, rejectedID = c, cr.Hash, attrs.Reg
			}
		}
	}
	for _, c := range corps {
		if c != rejected && c != relCorp && len(postableOf(c)) > 1 {
			if forgotten == "" {
				forgotten = c
			} else if unchanged == "" {
				unchanged = c
			}
		}
	}
	if relCorp == "" || rejected == "" || unchanged == "" || relCorp == rejected {
		t.Fatalf("fixture: rel %q rejected %q forgotten %q unchanged %q", relCorp, rejected, forgotten, unchanged)
	}
	p.startSim(map[string]string{"BCREG_SIM_REJECT": "schema=registration.bc_registries,attribute=registration_id,value=" + rejectedID})
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder", "credential-builder")
	p.startService("poster", "poster")
	p.waitIdle(3*time.Minute, want-1)
	r.issued = want - 1

	// The status figures answer the script's status commands.
	checkManageFigures(t, p, r.sql)

	// requeueFailedCreds: the rejected credential is posted again.
	faults, _ := p.sim.Faults(ctx)
	faults.Rejections = agentsim.Rejections{}
	if _, err := p.sim.SetFaults(ctx, faults); err != nil {
		t.Fatal(err)
	}
	r.do("requeueFailedCreds", nil, "requeue", "failed-creds")
	if got := r.received(1); !slices.Equal(got, []string{rejectedHash}) {
		t.Errorf("requeueFailedCreds: the agent received %v, want the rejected %s again", got, rejectedHash)
	}

	// requeueOrganization: everything of the corporation is issued again.
	r.do("requeueOrganization", map[string]string{":'corp_num'": quote(forgotten)}, "requeue", "corp", "--fresh", forgotten)
	if got, want := r.received(len(postableOf(forgotten))), postableOf(forgotten); !slices.Equal(got, want) {
		t.Errorf("requeueOrganization %s: the agent received %v, want all of its credentials %v", forgotten, got, want)
	}

	// queueOrgForRelnsUpdate: exactly the relationship is issued again.
	r.do("queueOrgForRelnsUpdate", map[string]string{":'corp_num'": quote(relCorp), ":'related_corp_num'": quote(related)},
		"requeue", "relationships", relCorp, related)
	if got := r.received(1); !slices.Equal(got, []string{relHash}) {
		t.Errorf("queueOrgForRelnsUpdate %s %s: the agent received %v, want the relationship %s", relCorp, related, got, relHash)
	}

	// queueOrganization of an unchanged corporation: processed again,
	// nothing issued (OrgBook has it all).
	before := r.count(`SELECT count(*) FROM event_by_corp_filing WHERE corp_num = $1 AND reason = 'requeue' AND process_success = 'Y'`, unchanged)
	r.do("queueOrganization", map[string]string{":'corp_num'": quote(unchanged)}, "requeue", "corp", unchanged)
	if got := r.received(0); len(got) != 0 {
		t.Errorf("queueOrganization %s: the agent received %v, want nothing", unchanged, got)
	}
	if n := r.count(`SELECT count(*) FROM event_by_corp_filing WHERE corp_num = $1 AND reason = 'requeue' AND process_success = 'Y'`, unchanged); n != before+1 {
		t.Errorf("queueOrganization %s: %d requeue(s) processed, want %d", unchanged, n, before+1)
	}

	// requeueFailedEvents: a work item the builder failed is processed again.
	r.exec(`UPDATE event_by_corp_filing SET process_success = 'N', process_msg = 'corporation ` + unchanged + `: failed'
		WHERE record_id = (SELECT max(record_id) FROM event_by_corp_filing WHERE corp_num = '` + unchanged + `')`)
	r.do("requeueFailedEvents", nil, "requeue", "failed-events")
	r.received(0)
	if n := r.count(`SELECT count(*) FROM event_by_corp_filing WHERE process_success = 'N' OR process_date IS NULL`); n != 0 {
		t.Errorf("requeueFailedEvents: %d work item(s) still failed or outstanding", n)
	}
	if n := r.count(`SELECT count(*) FROM event_by_corp_filing WHERE corp_num = $1 AND reason = 'requeue' AND process_success = 'Y'`, unchanged); n != before+2 {
		t.Errorf("requeueFailedEvents: %s processed %d time(s) by requeue, want %d", unchanged, n, before+2)
	}

	// requeueSkippedCorpTypes: the skipped corporations are processed
	// (and, still out of scope, skipped) again; the rows carry the
	// original's '<type>: Skipped…' form the script looks for.
	var skippedType string
	_ = testenv.Pool(t, p.eventDB).QueryRow(ctx, `SELECT split_part(process_msg, ':', 1) FROM event_by_corp_filing
		WHERE process_success = 'S' AND process_msg LIKE '%: Skipped, not in scope' LIMIT 1`).Scan(&skippedType)
	if skippedType == "" {
		t.Fatal("no skipped corporation in the fixture")
	}
	skippedRows := r.count(`SELECT count(*) FROM event_by_corp_filing WHERE process_success = 'S' AND process_msg LIKE $1 || ': Skipped%'`, skippedType)
	r.do("requeueSkippedCorpTypes", map[string]string{":type": skippedType}, "requeue", "skipped-types", skippedType)
	r.received(0)
	if n := r.count(`SELECT count(*) FROM event_by_corp_filing WHERE reason = 'requeue' AND process_success = 'S' AND process_msg LIKE $1 || ': Skipped%'`, skippedType); n < 1 {
		t.Errorf("requeueSkippedCorpTypes %s: no corporation skipped again by a requeue (%d skipped rows before)", skippedType, skippedRows)
	}

	// requeueFailedCorps: a corporation with a failed snapshot (as the
	// original left them) has everything issued again.
	r.exec(`UPDATE corp_history_log SET process_success = 'N' WHERE corp_num = '` + unchanged + `'`)
	r.mark()
	if r.twins {
		r.p.mustCtl("requeue", "failed-corps")
	} else {
		r.script("requeueFailedCorps", map[string]string{":corp_nums": quote(unchanged)})
	}
	if got, want := r.received(len(postableOf(unchanged))), postableOf(unchanged); !slices.Equal(got, want) {
		t.Errorf("requeueFailedCorps %s: the agent received %v, want all of its credentials %v", unchanged, got, want)
	}

	// Every change by hand was recorded with its rows' ids.
	if !twins {
		for _, a := range []string{"hand-queued", "hand-reset"} {
			if n := r.count(`SELECT count(*) FROM operator_action WHERE action = $1 AND jsonb_array_length(detail->'record_ids') > 0`, a); n == 0 {
				t.Errorf("no %s operator_action with record ids", a)
			}
		}
	}

	// requeueProcessedCreds: everything posted is posted again. The
	// twin's dry run and JSON are tested in services/bcregctl/test/cli.
	var posted []string
	if err := testenv.Pool(t, p.eventDB).QueryRow(ctx, `SELECT coalesce(array_agg(credential_hash ORDER BY credential_hash COLLATE "C"), '{}')
		FROM credential_log WHERE process_success = 'Y'`).Scan(&posted); err != nil {
		t.Fatal(err)
	}
	r.do("requeueProcessedCreds", nil, "requeue", "processed-creds")
	if diff := cmp.Diff(posted, r.received(len(posted))); diff != "" {
		t.Errorf("requeueProcessedCreds: the agent received other than the %d posted credentials (-want +got):\n%s", len(posted), diff)
	}
	checkManageFigures(t, p, r.sql)
}

// checkManageFigures runs the script's status SQL and compares it with
// `bcregctl status --json --since`.
func checkManageFigures(t *testing.T, p *pipeline, sql map[string][]string) {
	t.Helper()
	ctx := testenv.Context(t)
	pool := testenv.Pool(t, p.eventDB)
	since := time.Now().Add(-time.Hour).Truncate(time.Second)
	var tz string
	if err := pool.QueryRow(ctx, `SHOW TimeZone`).Scan(&tz); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	start := since.In(loc).Format("2006-01-02 15:04:05")
	one := func(stmt string) int64 {
		var n int64
		if err := pool.QueryRow(ctx, strings.ReplaceAll(stmt, ":start_time", start)).Scan(&n); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return n
	}
	type figures struct {
		RecordCounts map[string]int64 `json:"record_counts"`
		Credentials  map[string]int64 `json:"credentials"`
		PostedSince  int64            `json:"posted_since"`
		StagedSince  int64            `json:"staged_since"`
		Failed       []struct {
			Count int64  `json:"count"`
			Msg   string `json:"process_msg"`
		} `json:"failed_reasons"`
		FailedTotal int64 `json:"failed_total"`
	}
	var script figures
	script.PostedSince = one(sql["getCredentialPostRate"][0])
	summary := make([]int64, 6)
	ptrs := make([]any, 6)
	for i := range summary {
		ptrs[i] = &summary[i]
	}
	if err := pool.QueryRow(ctx, sql["getCredentialPostRate"][1]).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	script.Credentials = map[string]int64{"total_credentials": summary[0], "unprocessed": summary[1], "processed": summary[2],
		"posted": summary[3], "held": summary[4], "errors": summary[5]}
	script.StagedSince = one(sql["getCredentialStageRate"][0])
	script.FailedTotal = one(sql["getFailedCredErrors"][0])
	rows, err := pool.Query(ctx, sql["getFailedCredErrors"][1])
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f struct {
			Count int64  `json:"count"`
			Msg   string `json:"process_msg"`
		}
		var msg *string
		if err := rows.Scan(&f.Count, &msg); err != nil {
			t.Fatal(err)
		}
		if msg != nil {
			f.Msg = *msg
		}
		script.Failed = append(script.Failed, f)
	}
	rows, _ = pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	script.RecordCounts = map[string]int64{}
	for _, tb := range tables {
		script.RecordCounts[tb] = one(strings.ReplaceAll(sql["getRecordCounts"][0], ":table", pgx.Identifier{tb}.Sanitize()))
	}
	var got struct {
		Manage figures `json:"manage"`
	}
	if err := json.Unmarshal([]byte(p.mustCtl("status", "--json", "--no-source", "--since", since.UTC().Format(time.RFC3339))), &got); err != nil {
		t.Fatal(err)
	}
	sortReasons := cmp.Transformer("sort", func(in []struct {
		Count int64  `json:"count"`
		Msg   string `json:"process_msg"`
	}) []string {
		out := make([]string, len(in))
		for i, f := range in {
			out[i] = fmt.Sprintf("%d %s", f.Count, f.Msg)
		}
		sort.Strings(out)
		return out
	})
	// The poller's own tables may gain a row between the two reads.
	for _, tb := range []string{"operator_action", "alert_state"} {
		delete(script.RecordCounts, tb)
		delete(got.Manage.RecordCounts, tb)
	}
	if diff := cmp.Diff(script, got.Manage, sortReasons); diff != "" {
		t.Errorf("the script's status SQL (-) and bcregctl status (+) differ:\n%s", diff)
	}
}
