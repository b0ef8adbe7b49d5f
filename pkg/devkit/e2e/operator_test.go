package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// generateAll runs a profile over every in-scope corporation of the
// registry with the full range, as an initial load would.
func generateAll(t *testing.T, sourceURL, profileName string) map[string]credential.Result {
	t.Helper()
	ctx := testenv.Context(t)
	pool := testenv.Pool(t, sourceURL)
	rows, _ := pool.Query(ctx, "SELECT DISTINCT corp_num FROM bc_registries.corporation WHERE corp_num IS NOT NULL AND corp_num <> '' ORDER BY 1")
	corps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	profile, err := credential.New(profileName, credential.Options{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := sourcedb.NewLoader(pool, nil).Load(ctx, corps)
	if err != nil {
		t.Fatal(err)
	}
	now := regclock.Now()
	params := credential.FullRange(regevent.Through(now), now)
	out := map[string]credential.Result{}
	for _, c := range corps {
		snap, err := batch.Get(c)
		if err != nil || !profile.InScope(snap) {
			continue
		}
		if res, err := profile.Generate(snap, params); err == nil {
			out[c] = *res
		}
	}
	return out
}

// postable reports whether a generated credential is posted now.
func postable(c credential.Credential) bool { return !c.Held && !c.NotBefore.After(time.Now()) }

// ctl runs bcregctl with the pipeline's settings.
func (p *pipeline) ctl(args ...string) (code int, stdout, stderr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDirFor(p.t), "bcregctl"), args...)
	for k, v := range merge(p.env, map[string]string{"BCREG_LOG_LEVEL": "warn"}) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH=/usr/bin:/bin", "HOME="+p.t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		p.t.Fatalf("bcregctl %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// mustCtl runs bcregctl and fails the test on a non-zero exit.
func (p *pipeline) mustCtl(args ...string) string {
	p.t.Helper()
	code, stdout, stderr := p.ctl(args...)
	if code != 0 {
		p.t.Fatalf("bcregctl %v: exit %d\n%s%s", args, code, stdout, stderr)
	}
	return stdout
}

// statusFigures is the part of `status --json` these tests read.
type statusFigures struct {
	EventDB struct {
		Tables map[string]struct {
			Outstanding int64 `json:"outstanding"`
			Failed      int64 `json:"failed"`
			DeadLetter  int64 `json:"dead_lettered"`
		} `json:"tables"`
	} `json:"event_db"`
	DLQ struct {
		Total   uint64            `json:"total"`
		ByStage map[string]uint64 `json:"by_stage"`
	} `json:"dlq"`
}

func (p *pipeline) status() statusFigures {
	p.t.Helper()
	var s statusFigures
	if err := json.Unmarshal([]byte(p.mustCtl("status", "--json")), &s); err != nil {
		p.t.Fatal(err)
	}
	return s
}

// receivedHashes returns the hashes of what the agent received after seq
// `since`, in order.
func (p *pipeline) receivedHashes(since int) []string {
	p.t.Helper()
	got, err := p.sim.Received(testenv.Context(p.t), since)
	if err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for _, r := range got {
		h, _ := receivedHash(p.t, r.Attributes)
		out = append(out, h)
	}
	return out
}

// TestOperatorCommandsEndToEnd drives the operator's recovery commands
// against the real binaries: two registration credentials rejected by the
// agent become N and dead letters; with the rejection rule cleared, one is
// requeued from the DLQ and the other with `requeue failed`, both are
// delivered, and `status` shows no failure and an empty DLQ. Then `requeue
// corp` of an unchanged corporation issues nothing, and of a corporation
// changed without an event exactly its change.
func TestOperatorCommandsEndToEnd(t *testing.T) {
	p := newPipeline(t, "snapshot")
	ctx := testenv.Context(t)
	before := generateAll(t, p.sourceDB, "snapshot")
	var corps []string
	for c := range before {
		corps = append(corps, c)
	}
	sort.Strings(corps)
	// Two corporations with a registration credential get theirs rejected.
	var rejected []string
	regHash, regID := map[string]string{}, map[string]string{}
	want := 0
	for _, c := range corps {
		for _, cr := range before[c].Credentials {
			if !postable(cr) {
				continue
			}
			want++
			if cr.Type == "REG" && len(rejected) < 2 && c != "0191294" && !slices.Contains(rejected, c) {
				var attrs struct {
					ID string `json:"registration_id"`
				}
				_ = json.Unmarshal([]byte(cr.JSON), &attrs)
				rejected = append(rejected, c)
				regHash[c], regID[c] = cr.Hash, attrs.ID
			}
		}
	}
	var rules string
	for _, c := range rejected {
		rules += "schema=registration.bc_registries,attribute=registration_id,value=" + regID[c] + ";"
	}
	p.startSim(map[string]string{"BCREG_SIM_REJECT": rules})
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder", "credential-builder")
	p.startService("poster", "poster")
	p.waitIdle(3*time.Minute, want-2)

	st := p.status()
	if cl := st.EventDB.Tables["credential_log"]; cl.Failed != 2 || st.DLQ.ByStage["poster"] != 2 {
		t.Fatalf("after the rejections: credential_log %+v, DLQ %+v; want 2 failed, 2 poster dead letters", cl, st.DLQ)
	}
	// The cause is removed: the simulated OrgBook accepts them now.
	faults, _ := p.sim.Faults(ctx)
	faults.Rejections = agentsim.Rejections{}
	if _, err := p.sim.SetFaults(ctx, faults); err != nil {
		t.Fatal(err)
	}
	seen := len(p.receivedHashes(0))

	var entries []struct {
		Seq        uint64 `json:"dlq_seq"`
		DeadLetter struct {
			CorpNum string `json:"corp_num"`
		} `json:"dead_letter"`
	}
	if err := json.Unmarshal([]byte(p.mustCtl("dlq", "list", "--stage", "poster", "--corp", rejected[0], "--json")), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("dlq list: %v %+v", err, entries)
	}
	p.mustCtl("dlq", "requeue", strconv.FormatUint(entries[0].Seq, 10))
	waitUntil(t, "the requeued dead letter delivered", time.Minute, func() bool { return len(p.receivedHashes(0)) >= seen+1 })
	p.mustCtl("requeue", "failed")
	p.waitIdle(time.Minute, want)
	if got, wantNew := p.receivedHashes(seen), []string{regHash[rejected[0]], regHash[rejected[1]]}; !slices.Equal(got, wantNew) {
		t.Errorf("after the requeues the agent received %v, want %v", got, wantNew)
	}
	st = p.status()
	if cl := st.EventDB.Tables["credential_log"]; cl.Failed != 0 || cl.DeadLetter != 0 || cl.Outstanding != 0 || st.DLQ.Total != 0 {
		t.Errorf("status after the requeues: credential_log %+v, DLQ %+v; want no failure and an empty DLQ", cl, st.DLQ)
	}

	// requeue corp: an unchanged corporation issues nothing; one whose
	// name was changed without an event issues exactly the change.
	changed, unchanged := "0191294", rejected[0]
	exec := func(sql string) {
		if _, err := testenv.Pool(t, p.sourceDB).Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE bc_registries.corp_name SET corp_nme = 'QUIETLY RENAMED LTD.' WHERE corp_num = '0191294' AND corp_name_typ_cd = 'CO' AND end_event_id IS NULL`)
	known := map[string]bool{}
	for _, c := range before {
		for _, cr := range c.Credentials {
			known[cr.Hash] = true
		}
	}
	var change []string
	for _, cr := range generateAll(t, p.sourceDB, "snapshot")[changed].Credentials {
		if !known[cr.Hash] && postable(cr) {
			change = append(change, cr.Hash)
		}
	}
	if len(change) == 0 {
		t.Fatal("the rename changes no credential: pick another change")
	}
	seen = len(p.receivedHashes(0))
	p.mustCtl("requeue", "corp", unchanged, changed)
	p.settle(time.Minute, want+len(change))
	if got := p.receivedHashes(seen); !slices.Equal(got, change) {
		t.Errorf("requeue corp %s %s: the agent received %v, want exactly the change %v", unchanged, changed, got, change)
	}
	t.Logf("rejected %v, requeued from the DLQ and with requeue failed; requeue corp issued %d credential(s) for the change", rejected, len(change))
}

// TestAdoptThenPoll switches over from the Python pipeline: its database
// (both layouts, each with the profile of its generator) holds every
// credential it issued; after `bcregctl adopt` the pipeline starts polling
// from its watermark, issues nothing already issued, and issues the
// credentials of new registry events.
func TestAdoptThenPoll(t *testing.T) {
	for _, tc := range []struct{ layout, profile string }{
		{"8bc273a", "snapshot"},
		{"pre-LEAR", "history"},
	} {
		t.Run(tc.layout, func(t *testing.T) { adoptThenPoll(t, tc.layout, tc.profile) })
	}
}

func adoptThenPoll(t *testing.T, layout, profile string) {
	p := newPipeline(t, profile)
	issued := generateAll(t, p.sourceDB, profile)
	orig := buildOriginal(t, p.sourceDB, layout, issued, func(string) origState { return statePosted })

	out := p.mustCtl("adopt", "--from", orig)
	t.Logf("adopt: %s", out)
	p.startSim(nil)
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder", "credential-builder")
	p.startService("poster", "poster")
	p.settle(time.Minute, 0) // polls of the unchanged registry
	if n := len(p.receivedHashes(0)); n != 0 {
		t.Fatalf("the agent received %d credentials before any change: adopted credentials issued again", n)
	}

	on := sourcetest.ApplyOngoing(t, p.sourceDB, regclock.Now())
	known := map[string]bool{}
	for _, r := range issued {
		for _, cr := range r.Credentials {
			known[cr.Hash] = true
		}
	}
	var wantNew []string
	for _, r := range generateAll(t, p.sourceDB, profile) {
		for _, cr := range r.Credentials {
			if !known[cr.Hash] && postable(cr) {
				wantNew = append(wantNew, cr.Hash)
			}
		}
	}
	if len(wantNew) == 0 {
		t.Fatal("the new events change no credential")
	}
	p.settle(2*time.Minute, len(wantNew))
	got := p.receivedHashes(0)
	sort.Strings(got)
	sort.Strings(wantNew)
	if !slices.Equal(got, wantNew) {
		t.Errorf("after the new events of %v the agent received %d credentials, want exactly the %d new ones:\n got %v\nwant %v",
			on.Changed, len(got), len(wantNew), got, wantNew)
	}
	// Every corporation rebuilt in full issues nothing more: everything
	// the original issued was adopted, hash for hash.
	var all []string
	for c := range issued {
		all = append(all, c)
	}
	sort.Strings(all)
	p.mustCtl(append([]string{"requeue", "corp"}, all...)...)
	p.settle(2*time.Minute, len(wantNew))
	if n := len(p.receivedHashes(0)); n != len(got) {
		t.Errorf("requeue of every corporation issued %d more credentials, want none", n-len(got))
	}
	t.Logf("%s layout, %s profile: adopted %d corporations' credentials; the new events issued %d credentials, nothing twice", layout, profile, len(issued), len(got))
}

// origState is how the original left a corporation when it stopped, as
// its code leaves each state (docs/design/registry.md, "Statuses"; the
// original commits a corporation's work item, snapshot and credentials
// together, and marks a credential only after the agent answered).
type origState int

const (
	// statePosted: credentials posted (Y) or held back (A), work item Y.
	statePosted origState = iota
	// stateSentNotRecorded: credentials posted to the agent, but the run
	// stopped before it recorded the answer: outstanding, as the original
	// leaves them, and re-posted by its next run.
	stateSentNotRecorded
	// stateStaged: credentials generated and stored, never posted.
	stateStaged
	// stateQueued: the work item queued, never processed: no credentials.
	stateQueued
	// stateFailed: the work item failed (N): no credentials, never retried.
	stateFailed
)

// buildOriginal makes the Python pipeline's database in the given layout
// holding the registry's newest event as its watermark and, for each
// corporation of issued, the rows its state leaves (held-back credentials
// are stored A with a process date whatever the state, as the original
// stored them); it returns its URL.
func buildOriginal(t *testing.T, sourceURL, layout string, issued map[string]credential.Result, stateOf func(corp string) origState) string {
	t.Helper()
	ctx := testenv.Context(t)
	var newest originaltest.Event
	if err := testenv.Pool(t, sourceURL).QueryRow(ctx, `SELECT event_id::bigint, event_timestmp FROM bc_registries.event
WHERE event_timestmp <= $1 ORDER BY event_timestmp DESC, event_id DESC LIMIT 1`, regclock.Now()).
		Scan(&newest.ID, &newest.Date); err != nil {
		t.Fatal(err)
	}
	orig := originaltest.Create(t, testenv.NewDatabase(t), layout)
	orig.Watermark(newest.ID, newest.Date)
	start := originaltest.Event{Date: regevent.Start.Date.Time}
	done := time.Now().Add(-time.Hour)
	for _, c := range sortedCorps(issued) {
		state := stateOf(c)
		item := originaltest.WorkItem{CorpNum: c, Prev: start, Last: newest, ProcessDate: &done, ProcessSuccess: "Y"}
		switch state {
		case stateQueued:
			item.ProcessDate, item.ProcessSuccess = nil, ""
		case stateFailed:
			item.ProcessSuccess, item.ProcessMsg = "N", "'NoneType' object has no attribute 'event_timestmp'"
		}
		orig.AddWorkItem(item)
		if state == stateQueued || state == stateFailed {
			continue
		}
		r := issued[c]
		for i, cr := range r.Credentials {
			row := originaltest.Credential{CorpNum: c, CorpState: r.CorpState, Prev: start, Last: newest,
				Type: cr.Type, ID: cr.ID, Schema: cr.Schema, Version: cr.Version, JSON: cr.JSON, Hash: cr.Hash, Reason: cr.Reason}
			switch {
			case cr.Held:
				row.ProcessDate, row.ProcessSuccess = &done, "A"
			case state == statePosted:
				row.ProcessDate, row.ProcessSuccess, row.ProcessMsg = &done, "Y", fmt.Sprintf("orig-%s-%d", c, i)
			}
			orig.AddCredential(row)
		}
	}
	return orig.URL
}

func sortedCorps(issued map[string]credential.Result) []string {
	corps := make([]string, 0, len(issued))
	for c := range issued {
		corps = append(corps, c)
	}
	sort.Strings(corps)
	return corps
}

// TestAdoptOriginalStoppedMidRun adopts an original stopped in the middle
// of a run, in each layout with the generator that wrote it (8bc273a: the
// 2018 snapshot generator; pre-LEAR: history): of its corporations, a
// fifth each had their credentials posted; posted but not recorded (the
// agent issued them, the run stopped before marking them); generated and
// stored but not posted; their work item queued; their work item failed.
// After the adoption the real pipeline posts each credential of the last
// four exactly once (the sent-but-unrecorded ones thus reach the agent a
// second time, as the original's next run would re-post them), and
// nothing of the posted ones: nothing twice beyond what the original
// would re-post, nothing left unposted.
func TestAdoptOriginalStoppedMidRun(t *testing.T) {
	for _, tc := range []struct{ layout, profile string }{
		{"8bc273a", "snapshot"},
		{"pre-LEAR", "history"},
	} {
		t.Run(tc.layout, func(t *testing.T) { adoptMidRun(t, tc.layout, tc.profile) })
	}
}

func adoptMidRun(t *testing.T, layout, profile string) {
	p := newPipeline(t, profile)
	// The staged credentials are published by the builders' outbox sweep
	// (as in production, after BCREG_BUILDER_SWEEP_AGE): scaled down.
	p.env["BCREG_BUILDER_SWEEP_INTERVAL"], p.env["BCREG_BUILDER_SWEEP_AGE"] = "1s", "5s"
	issued := generateAll(t, p.sourceDB, profile)
	corps := sortedCorps(issued)
	state := map[string]origState{}
	for i, c := range corps {
		state[c] = origState(i % 5)
	}
	orig := buildOriginal(t, p.sourceDB, layout, issued, func(c string) origState { return state[c] })

	// What the original sent before it stopped reaches the agent now.
	p.startSim(nil)
	var sent []map[string]any
	var want []string
	count := map[origState]int{}
	for _, c := range corps {
		for _, cr := range issued[c].Credentials {
			if !postable(cr) || state[c] == statePosted {
				continue
			}
			count[state[c]]++
			want = append(want, cr.Hash)
			if state[c] == stateSentNotRecorded {
				sent = append(sent, map[string]any{"schema": cr.Schema, "version": cr.Version, "attributes": json.RawMessage(cr.JSON)})
				want = append(want, cr.Hash) // once from the original, once re-posted
			}
		}
	}
	for s := stateSentNotRecorded; s <= stateFailed; s++ {
		if count[s] == 0 {
			t.Fatalf("no postable credential of a corporation in state %d: the fixture does not exercise it", s)
		}
	}
	body, _ := json.Marshal(sent)
	resp, err := http.Post("http://"+p.simAddr+"/bcreg/issue-credential", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(p.receivedHashes(0)); resp.StatusCode != http.StatusOK || n != len(sent) {
		t.Fatalf("the original's unrecorded post: HTTP %d, the agent received %d of %d", resp.StatusCode, n, len(sent))
	}

	out := p.mustCtl("adopt", "--from", orig)
	t.Logf("adopt: %s", out)
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder", "credential-builder")
	p.startService("poster", "poster")
	p.settle(3*time.Minute, len(want))
	got := p.receivedHashes(0)
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the agent received (-want +got):\n%s", diff)
	}
	t.Logf("%s layout, %s profile, %d corporations: %d credentials sent but not recorded (posted again), %d staged, %d of queued and %d of failed corporations posted; %d received in all",
		layout, profile, len(corps), count[stateSentNotRecorded], count[stateStaged], count[stateQueued], count[stateFailed], len(got))
}
