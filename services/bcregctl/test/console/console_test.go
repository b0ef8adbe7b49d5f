package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/console"
)

var figureRE = regexp.MustCompile(`data-figure="([^"]+)" data-value="(-?\d+)"`)

// figures reads every data-figure of a page.
func figures(t *testing.T, html string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range figureRE.FindAllStringSubmatch(html, -1) {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if old, dup := out[m[1]]; dup && old != v {
			t.Errorf("figure %s shown as %d and %d", m[1], old, v)
		}
		out[m[1]] = v
	}
	return out
}

// wantFigures maps a status report to the overview's figures, written out
// independently of the console's own mapping.
func wantFigures(r pipeline.Report) map[string]int64 {
	eb := r.EventDB.Tables["event_by_corp_filing"]
	cl := r.EventDB.Tables["credential_log"]
	posted := cl.Processed - cl.Failed - cl.DeadLetter
	w := map[string]int64{
		"source.done": r.EventDB.WatermarkEventID, "watermark.event_id": r.EventDB.WatermarkEventID,
		"events.pending": int64(r.Events.Pending), "events.in_flight": int64(r.Events.InFlight), "events.redelivered": int64(r.Events.Redelivered),
		"builder.pending": eb.Outstanding, "builder.in_flight": int64(r.Events.InFlight), "builder.done": eb.Processed - eb.Failed - eb.Skipped,
		"builder.failed": eb.Failed, "builder.dead_lettered": int64(r.DLQ.ByStage["builder"]),
		"credlog.pending": cl.Outstanding, "credlog.unpublished": cl.Unpublished, "credlog.done": cl.Processed,
		"credlog.failed": cl.Failed, "credlog.dead_lettered": cl.DeadLetter,
		"creds.pending": int64(r.Creds.Pending), "creds.in_flight": int64(r.Creds.InFlight), "creds.redelivered": int64(r.Creds.Redelivered),
		"poster.pending": cl.Outstanding - cl.Unpublished, "poster.in_flight": int64(r.Creds.InFlight), "poster.done": posted,
		"poster.failed": cl.Failed, "poster.dead_lettered": int64(r.DLQ.ByStage["poster"]),
		"agent.done": posted, "agent.rejected": cl.Failed,
		"dlq.total": int64(r.DLQ.Total),
	}
	for stage, n := range r.DLQ.ByStage {
		w["dlq."+stage] = int64(n)
	}
	return w
}

func TestOverviewMatchesStatusCollect(t *testing.T) {
	f := newFixture(t, false, nil)
	resp, html := get(t, f.ts.Client(), f.ts.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, html)
	}
	rep, err := pipeline.Collect(f.ctx, f.pool, f.js)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantFigures(rep), figures(t, html)); diff != "" {
		t.Errorf("overview figures vs pipeline.Collect (-want +got):\n%s", diff)
	}
	// The fixture's state, so the comparison above is not of zeros.
	known := map[string]int64{"events.pending": 2, "events.in_flight": 1, "builder.failed": 1, "builder.pending": 1,
		"credlog.unpublished": 1, "poster.done": 2, "poster.failed": 1, "credlog.dead_lettered": 1, "dlq.total": 2,
		"dlq.builder": 1, "dlq.poster": 1, "creds.pending": 1, "watermark.event_id": 1234}
	got := figures(t, html)
	for k, v := range known {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	for _, want := range []string{`id="lag-chart"`, `id="posted-chart"`, `data-stage="agent"`, "Behind now (BC local): <strong data-behind>1m 3", "postgres://u:xxxxx@db/events", `data-posted-last-minute>`} {
		if !strings.Contains(html, want) {
			t.Errorf("overview lacks %s", want)
		}
	}
	if c := strings.Count(html, `class="stage"`); c != 7 {
		t.Errorf("%d stages, want 7", c)
	}
	// One posting rate: the chart counts what pipeline.Collect counts (the
	// agent's answers, Y or N, per minute ending now): the fixture's 2 Y
	// and 1 N.
	var hour int64
	perMinute, err := operator.PostedPerMinute(f.ctx, f.pool, 60)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range perMinute {
		hour += n
	}
	if hour != 3 || !strings.Contains(html, fmt.Sprintf("%d posted in the last hour", hour)) {
		t.Errorf("posted chart summary, want %d posted in the last hour:\n%s", hour, html)
	}
	if want := fmt.Sprintf("<span data-posted-last-minute>%d</span>", rep.Throughput.PostedPerMinute[0]); !strings.Contains(html, want) {
		t.Errorf("overview lacks %s (status's last minute)", want)
	}
}

func TestAPIStatusIsStatusJSON(t *testing.T) {
	f := newFixture(t, false, nil)
	_, body := get(t, f.ts.Client(), f.ts.URL+"/api/status")
	var got pipeline.Report
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	want, err := pipeline.Collect(f.ctx, f.pool, f.js)
	if err != nil {
		t.Fatal(err)
	}
	// The watermark, naive BC local in the database, with its offset (it
	// was the wall clock labelled UTC).
	if wm := want.EventDB.WatermarkEventDate; wm == nil ||
		!strings.Contains(body, `"watermark_event_date": "`+regclock.WithOffset(regclock.Registry, *wm).Format(time.RFC3339Nano)+`"`) {
		t.Errorf("/api/status: watermark %v without its BC offset:\n%s", wm, body)
	}
	got.At, want.At = time.Time{}, time.Time{}
	// JSON round trip: compare as JSON.
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if diff := cmp.Diff(string(wb), string(gb)); diff != "" {
		t.Errorf("/api/status vs pipeline.Collect (-want +got):\n%s", diff)
	}
}

// TestOverviewServerTime measures the overview's server time (reported,
// not asserted: machines differ).
func TestOverviewServerTime(t *testing.T) {
	f := newFixture(t, false, nil)
	var ms []float64
	for range 20 {
		resp, _ := get(t, f.ts.Client(), f.ts.URL+"/")
		st := resp.Header.Get("Server-Timing")
		v, err := strconv.ParseFloat(strings.TrimPrefix(st, "app;dur="), 64)
		if err != nil {
			t.Fatalf("Server-Timing %q: %v", st, err)
		}
		ms = append(ms, v)
	}
	sort.Float64s(ms)
	t.Logf("overview server time over 20 requests: median %.1f ms, max %.1f ms", ms[len(ms)/2], ms[len(ms)-1])
}

func TestDeadLetterPages(t *testing.T) {
	f := newFixture(t, false, nil)
	tests := []struct {
		name, path string
		code       int
		want       []string
		notWant    []string
	}{
		{"all", "/dlq", 200, []string{`data-count="2"`, "no row in bc_registries.corp_state", "schema mismatch"}, nil},
		{"by stage", "/dlq?stage=poster", 200, []string{`data-count="1"`, "schema mismatch"}, []string{"corp_state"}},
		{"by reason", "/dlq?reason=CORP_STATE", 200, []string{`data-count="1"`}, []string{"schema mismatch"}},
		{"by corp", "/dlq?corp=NOSUCH", 200, []string{`data-count="0"`}, nil},
		{"detail", "/dlq/" + strconv.FormatUint(f.seqs["builder"], 10), 200, []string{"Dead letter", "&#34;corp_num&#34;: &#34;A0000001&#34;", "Bcreg-Corp-Num", `id="one-requeue"`}, nil},
		{"missing", "/dlq/99999", 404, []string{"not in BCREG_DLQ"}, nil},
		{"bad seq", "/dlq/x", 400, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, html := get(t, f.ts.Client(), f.ts.URL+tc.path)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.code, html)
			}
			for _, w := range tc.want {
				if !strings.Contains(html, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(html, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
}

// session is a browser-like client: it has loaded a page, so it holds the
// CSRF cookie, and it sends the CSRF field on posts.
type session struct {
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func newSession(t *testing.T, f *fixture) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, html := get(t, c, f.ts.URL+"/dlq")
	m := csrfRE.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no csrf field on /dlq:\n%s", html)
	}
	return &session{c: c, csrf: m[1]}
}

func (s *session) post(t *testing.T, u string, form url.Values, hdr http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestActionsNeedTokenCSRFAndSameOrigin(t *testing.T) {
	f := newFixture(t, false, nil)
	ro := newFixture(t, false, func(o *console.Options) { o.Token = "" })
	s := newSession(t, f)
	seq := strconv.FormatUint(f.seqs["poster"], 10)
	good := func() url.Values {
		return url.Values{"seq": {seq}, "token": {testToken}, "csrf": {s.csrf}, "confirm": {"yes"}}
	}
	with := func(k, v string) url.Values { f := good(); f.Set(k, v); return f }
	without := func(k string) url.Values { f := good(); f.Del(k); return f }
	tests := []struct {
		name string
		url  string
		form url.Values
		hdr  http.Header
		want int
	}{
		{"no token", f.ts.URL + "/dlq/purge", without("token"), nil, 403},
		{"wrong token", f.ts.URL + "/dlq/purge", with("token", "guess"), nil, 403},
		{"no csrf", f.ts.URL + "/dlq/purge", without("csrf"), nil, 403},
		{"wrong csrf", f.ts.URL + "/dlq/purge", with("csrf", strings.Repeat("0", 64)), nil, 403},
		{"cross-site", f.ts.URL + "/dlq/purge", good(), http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"foreign origin", f.ts.URL + "/dlq/purge", good(), http.Header{"Origin": {"https://evil.example"}}, 403},
		{"read-only console", ro.ts.URL + "/dlq/purge", good(), nil, 403},
		{"not confirmed", f.ts.URL + "/dlq/purge", without("confirm"), nil, 400},
		{"token in header", f.ts.URL + "/dlq/purge", without("token"), http.Header{"X-Console-Token": {testToken}}, 303},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.post(t, tc.url, tc.form, tc.hdr); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	// Only the last case acted: the poster dead letter is gone, the builder's
	// is not, and the purge is recorded.
	left, err := bus.ListDLQ(f.ctx, f.js, bus.DLQFilter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].DeadLetter.Stage != "builder" {
		t.Errorf("left %+v, want the builder dead letter only", left)
	}
	var n int
	if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM operator_action WHERE action = 'dlq-purge' AND affected = 1 AND detail->>'via' LIKE 'console%'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("operator_action dlq-purge rows: %d, %v; want 1", n, err)
	}
	if resp, _ := get(t, f.ts.Client(), f.ts.URL+"/corp/requeue"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of an action: %d, want 405", resp.StatusCode)
	}
}

func TestRequeueDeadLetterAndCorporation(t *testing.T) {
	f := newFixture(t, false, nil)
	s := newSession(t, f)
	before := streamMsgs(t, f, bus.StreamEvents)
	code := s.post(t, f.ts.URL+"/dlq/requeue", url.Values{"stage": {"builder"}, "token": {testToken}, "csrf": {s.csrf}, "confirm": {"yes"}}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("requeue: %d", code)
	}
	if got := streamMsgs(t, f, bus.StreamEvents); got != before+1 {
		t.Errorf("BCREG_EVENTS has %d messages, want %d", got, before+1)
	}
	if left, _ := bus.ListDLQ(f.ctx, f.js, bus.DLQFilter{Stage: "builder"}, 0); len(left) != 0 {
		t.Errorf("builder dead letters left: %d", len(left))
	}
	// Without the registry a requeue ends at the watermark, as `bcregctl
	// requeue corp` does, not at the corporation's newest work item (1234).
	f.exec(t, `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ('BC_REG', 1240, $1)`,
		regclock.Now().Add(-30*time.Second))
	code = s.post(t, f.ts.URL+"/corp/requeue", url.Values{"corp": {f.corp}, "token": {testToken}, "csrf": {s.csrf}, "confirm": {"yes"}}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("corp requeue: %d", code)
	}
	st, _ := f.js.Stream(f.ctx, bus.StreamEvents)
	msg, err := st.GetLastMsgForSubject(f.ctx, f.evtSubj)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Reason string `json:"reason"`
		Prev   struct {
			EventID int64  `json:"event_id"`
			Date    string `json:"event_date"`
		} `json:"prev"`
		Last struct {
			EventID int64 `json:"event_id"`
		} `json:"last"`
	}
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Reason != "requeue" || ev.Prev.EventID != 0 || !strings.HasPrefix(ev.Prev.Date, "0001-01-01T00:00:00") || ev.Last.EventID != 1240 {
		t.Errorf("requeue event %+v", ev)
	}
	if id := msg.Header.Get("Nats-Msg-Id"); !strings.HasPrefix(id, "requeue:BC_REG:"+f.corp+":") {
		t.Errorf("msg id %q", id)
	}
	var actions []string
	rows, _ := f.pool.Query(f.ctx, `SELECT action FROM operator_action ORDER BY record_id`)
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	if diff := cmp.Diff([]string{"dlq-requeue", "requeue-corp"}, actions); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
}

func TestCorporationPage(t *testing.T) {
	f := newFixture(t, false, nil)
	_, html := get(t, f.ts.Client(), f.ts.URL+"/corp?num="+f.corp)
	for _, w := range []string{"result-111", "rejected (N)", "given up (D)", "held (A)", "outstanding, unpublished", "missing corp_state", "Set BCREG_SOURCE_DB_URL", `id="corp-requeue"`} {
		if !strings.Contains(html, w) {
			t.Errorf("corporation page lacks %q", w)
		}
	}
	if c := strings.Count(html, "<tr data-record="); c != 3 {
		t.Errorf("%d work items, want 3", c)
	}
}

func streamMsgs(t *testing.T, f *fixture, name string) uint64 {
	t.Helper()
	st, err := f.js.Stream(f.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestLargeDeadLetterPageAndRequeue: a dead letter whose bundle was too
// large to carry inline (its bytes kept apart) shows the bundle on its page
// and is requeued from the console like any other.
func TestLargeDeadLetterPageAndRequeue(t *testing.T) {
	f := newFixture(t, false, nil)
	bundle := messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: "L0000009", Credentials: []messages.Credential{
		{Hash: "big-hash", Schema: "registration.registries.ca", Attributes: map[string]any{"pad": strings.Repeat("p", bus.MaxData(f.js)-1000)}}}}
	data, err := messages.Encode(bundle)
	if err != nil || len(data) > bus.MaxData(f.js) {
		t.Fatalf("bundle of %d bytes (%v)", len(data), err)
	}
	dl := bus.DeadLetterFor("poster", "agent rejected: too big to show inline", 1, bus.StreamCreds, 99, bus.CredSubject("BC_REG", "L0000009"),
		nats.Header{bus.HeaderCorpNum: {"L0000009"}}, data)
	if err := bus.PublishDeadLetter(f.ctx, f.js, dl, backoff); err != nil {
		t.Fatal(err)
	}
	entries, err := bus.ListDLQ(f.ctx, f.js, bus.DLQFilter{CorpNum: "L0000009"}, 0)
	if err != nil || len(entries) != 1 || entries[0].DeadLetter.PayloadRef == nil {
		t.Fatalf("large dead letter: %+v, %v", entries, err)
	}
	resp, html := get(t, f.ts.Client(), f.ts.URL+"/dlq/"+strconv.FormatUint(entries[0].Seq, 10))
	if resp.StatusCode != 200 || !strings.Contains(html, "kept apart in BCREG_DLQ") || !strings.Contains(html, "big-hash") {
		t.Fatalf("page: status %d, no kept-apart note or bundle\n%.2000s", resp.StatusCode, html)
	}
	s := newSession(t, f)
	before := streamMsgs(t, f, bus.StreamCreds)
	code := s.post(t, f.ts.URL+"/dlq/requeue", url.Values{"seq": {strconv.FormatUint(entries[0].Seq, 10)}, "token": {testToken}, "csrf": {s.csrf}, "confirm": {"yes"}}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("requeue: %d", code)
	}
	if got := streamMsgs(t, f, bus.StreamCreds); got != before+1 {
		t.Errorf("BCREG_CREDS has %d messages, want %d", got, before+1)
	}
	st, _ := f.js.Stream(f.ctx, bus.StreamCreds)
	msg, err := st.GetLastMsgForSubject(f.ctx, bus.CredSubject("BC_REG", "L0000009"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := messages.DecodeBundle(msg.Data); err != nil || !b.RetryRejected || b.Credentials[0].Hash != "big-hash" {
		t.Errorf("requeued bundle: %v (retry_rejected %v)", err, b.RetryRejected)
	}
}

// The samples, taken every refresh, leave out what no chart shows: the
// abandoned credentials cost a message read per unacknowledged bundle.
func TestSampleSkipsAbandoned(t *testing.T) {
	f := newFixture(t, false, nil)
	samples := f.srv.Samples()
	abandoned := false
	for _, r := range samples {
		abandoned = abandoned || r.Abandoned != nil
	}
	if len(samples) == 0 || abandoned {
		t.Errorf("%d sample(s), abandoned credentials read: %v; want samples without them", len(samples), abandoned)
	}
}
