package agentsim

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// goldenSim is a simulator with a fixed clock and id prefix, so that its
// output is the same on every run.
func goldenSim(t *testing.T, cfg Config) (*Sim, *fakeClockServer) {
	t.Helper()
	clock := testenv.NewClock(time.Date(2018, 10, 9, 16, 30, 0, 123000000, time.UTC))
	s, srv := startSim(t, cfg, clock)
	s.idPrefix = [8]byte{0x3f, 0x2a, 0x9c, 0x1e, 0x77, 0xb0, 0x4d, 0x12}
	return s, &fakeClockServer{srv.URL, srv.Client(), clock}
}

type fakeClockServer struct {
	url   string
	hc    *http.Client
	clock *testenv.Clock
}

func (f *fakeClockServer) do(t *testing.T, method, path, body string) reply {
	t.Helper()
	r, err := callErr(context.Background(), f.hc, f.url, method, path, "application/json", body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func TestReceivedWireContract(t *testing.T) {
	t.Parallel()
	_, srv := goldenSim(t, Config{})
	srv.do(t, http.MethodPost, "/bcreg/issue-credential", batch(
		item(reg36, "1.0.36", `{"registration_id": "BC0000001", "entity_name": "Café <Brûlé> & Sons", "n": 12.50, "ok": true, "none": null}`),
		item(rel36, "1.0.36", relAttrs),
		`{"schema":"`+reg36+`","attributes":{"registration_id":"BC0000002"}}`,
	))
	srv.clock.Advance(1500 * time.Millisecond)
	srv.do(t, http.MethodPost, "/bcreg/issue-credential?schema=relationship.bc_registries&version=1.0.36", `{"registration_id":"FM0000002","extra":"kept as received"}`)

	got := srv.do(t, http.MethodGet, "/_sim/received", "")
	if got.Status != http.StatusOK || got.ContentType != "application/json" {
		t.Errorf("status %d, content type %q", got.Status, got.ContentType)
	}
	golden(t, "received.golden.json", []byte(got.Body))
	golden(t, "received_since_3.golden.json", []byte(srv.do(t, http.MethodGet, "/_sim/received?since=3", "").Body))
}

func TestFaultsWireContract(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Latency = Uniform(50*time.Millisecond, 150*time.Millisecond)
	cfg.Rejections = Rejections{{Schema: rel36, Attribute: "relationship", Value: "TBD", Message: "no TBD"}}
	_, srv := goldenSim(t, cfg)
	golden(t, "faults.golden.json", []byte(srv.do(t, http.MethodGet, "/_sim/faults", "").Body))
}

func TestReceivedSince(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{}, nil)
	post(t, srv, "", oneGroup(3))
	tests := []struct {
		name      string
		query     string
		wantCode  int
		wantSeqs  []int
		wantTotal int
	}{
		{"all", "", 200, []int{0, 1, 2}, 3},
		{"since_1", "?since=1", 200, []int{1, 2}, 3},
		{"since_total", "?since=3", 200, []int{}, 3},
		{"since_past_total", "?since=10", 200, []int{}, 3},
		{"negative", "?since=-1", 400, nil, 0},
		{"not_a_number", "?since=x", 400, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := call(t, srv, http.MethodGet, "/_sim/received"+tc.query, "", "")
			if got.Status != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", got.Status, tc.wantCode, got.Body)
			}
			if tc.wantCode != 200 {
				return
			}
			var page ReceivedPage
			if err := json.Unmarshal([]byte(got.Body), &page); err != nil {
				t.Fatal(err)
			}
			seqs := []int{}
			for _, r := range page.Received {
				seqs = append(seqs, r.Seq)
			}
			if diff := cmp.Diff(tc.wantSeqs, seqs); diff != "" {
				t.Errorf("seqs (-want +got):\n%s", diff)
			}
			if page.Total != tc.wantTotal {
				t.Errorf("total %d, want %d", page.Total, tc.wantTotal)
			}
		})
	}
	if diff := cmp.Diff(s.Received(1), s.Received(0)[1:]); diff != "" {
		t.Errorf("Received(1) (-want +got):\n%s", diff)
	}
}

func TestStatsCountDuplicates(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{}, nil)
	post(t, srv, "?schema=registration.bc_registries&version=1.0.36", `{"registration_id":"BC1","entity_name":"A"}`)
	// The same values in another order and spacing, without the version.
	post(t, srv, "?schema=registration.bc_registries", `{ "entity_name": "A", "registration_id": "BC1" }`)
	post(t, srv, "?schema=registration.bc_registries", `{"registration_id":"BC1","entity_name":"B"}`)
	post(t, srv, "?schema=nope", `{"registration_id":"BC1"}`)
	post(t, srv, "", `[{"schema":1}]`)
	got := s.Stats()
	want := Stats{Requests: 5, Issued: 3, Rejected: 1, Failed: 1, Duplicates: 1, MaxInFlight: 1,
		MaxCredentialsInFlight: 1, MaxIssuing: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	var fromAPI Stats
	if err := json.Unmarshal([]byte(call(t, srv, http.MethodGet, "/_sim/stats", "", "").Body), &fromAPI); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, fromAPI); diff != "" {
		t.Errorf("GET /_sim/stats (-Stats() +API):\n%s", diff)
	}
}

// TestNoRecord: BCREG_SIM_NO_RECORD keeps no record of what was issued
// (make bench's posting runs of millions of credentials), while the
// counters and the duplicate count stay.
func TestNoRecord(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{NoRecord: true}, nil)
	post(t, srv, "?schema=registration.bc_registries", regAttrs)
	post(t, srv, "?schema=registration.bc_registries", regAttrs)
	if got := s.Received(0); len(got) != 0 {
		t.Errorf("received %d credentials, want no record", len(got))
	}
	if got := call(t, srv, http.MethodGet, "/_sim/received", "", ""); got.Body != "{\"received\":[],\"total\":0}\n" {
		t.Errorf("GET /_sim/received: %s", got.Body)
	}
	if st := s.Stats(); st.Issued != 2 || st.Duplicates != 1 {
		t.Errorf("stats %+v, want 2 issued, 1 duplicate", st)
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{}, nil)
	post(t, srv, "", oneGroup(2))
	before := s.Received(0)
	if got := call(t, srv, http.MethodPost, "/_sim/reset", "", ""); got.Status != http.StatusNoContent {
		t.Fatalf("reset: %+v", got)
	}
	if diff := cmp.Diff(Stats{}, s.Stats()); diff != "" {
		t.Errorf("stats after reset (-want +got):\n%s", diff)
	}
	if got := call(t, srv, http.MethodGet, "/_sim/received", "", ""); got.Body != "{\"received\":[],\"total\":0}\n" {
		t.Errorf("received after reset: %s", got.Body)
	}
	// The same credential again is not a duplicate after a reset, and its
	// id is new.
	post(t, srv, "?schema=registration.bc_registries", regAttrs)
	after := s.Received(0)
	if len(after) != 1 || after[0].Seq != 0 || after[0].Result == before[0].Result || after[0].Result == before[1].Result {
		t.Errorf("after reset: %+v (before: %+v)", after, before)
	}
	if d := s.Stats().Duplicates; d != 0 {
		t.Errorf("duplicates %d after reset, want 0", d)
	}
	if got := call(t, srv, http.MethodGet, "/_sim/reset", "", ""); got.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET reset: %d, want 405", got.Status)
	}
}

func TestFaultsControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		wantCode int
		want     func(f *Faults) // change from the defaults
		wantErr  string
	}{
		{"partial_update", `{"error_rate": 0.25, "latency": "uniform(1ms,2ms)"}`, 200,
			func(f *Faults) { f.ErrorRate, f.Latency = 0.25, Uniform(time.Millisecond, 2*time.Millisecond) }, ""},
		{"rejections_replace", `{"rejections": [{"schema": "relationship.bc_registries"}]}`, 200,
			func(f *Faults) { f.Rejections = Rejections{{Schema: rel36}} }, ""},
		{"unknown_field", `{"eror_rate": 1}`, 400, nil, `unknown field \"eror_rate\"`},
		{"invalid_value", `{"error_rate": 2, "capacity": -1}`, 400, nil, "SIM_ERROR_RATE: 2 is not a probability"},
		{"not_json", `error_rate=1`, 400, nil, "faults:"},
		{"bad_distribution", `{"cred_latency": "uniform(2ms,1ms)"}`, 400, nil, "min ≤ max"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Rejections = Rejections{{Schema: reg36}, {Schema: reg42}}
			s, srv := startSim(t, cfg, nil)
			got := call(t, srv, http.MethodPost, "/_sim/faults", "application/json", tc.body)
			if got.Status != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", got.Status, tc.wantCode, got.Body)
			}
			want := cfg.Faults
			if tc.want != nil {
				tc.want(&want)
			}
			if tc.wantErr != "" && !strings.Contains(got.Body, tc.wantErr) {
				t.Errorf("error %s, want it to contain %q", got.Body, tc.wantErr)
			}
			if diff := cmp.Diff(want, s.Faults()); diff != "" {
				t.Errorf("faults in effect (-want +got):\n%s", diff)
			}
			if tc.wantCode == 200 {
				var echoed Faults
				if err := json.Unmarshal([]byte(got.Body), &echoed); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, echoed); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCapacityChangeAtRunTime(t *testing.T) {
	t.Parallel()
	steps := newSteps()
	s := newTestSim(t, Config{Faults: Faults{Capacity: 1, CredLatency: Fixed(time.Hour)}}, nil, steps.pause)
	srv := serve(t, s.Handler(), s)
	call(t, srv, http.MethodPost, "/_sim/faults", "application/json", `{"capacity": 4}`)
	done := make(chan struct{})
	go func() { post(t, srv, "", oneGroup(4)); close(done) }()
	var creating []heldPause
	for range 4 {
		creating = append(creating, steps.next(t)) // all four at once, or this waits in vain
	}
	for _, p := range creating {
		p.end()
	}
	await(t, "reply", done)
	if got := s.Stats().MaxIssuing; got != 4 {
		t.Errorf("max issuing %d after raising capacity to 4", got)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	_, srv := startSim(t, Config{}, nil)
	post(t, srv, "", oneGroup(2))
	post(t, srv, "?schema=nope", "{}")
	post(t, srv, "", "nope")
	got := call(t, srv, http.MethodGet, "/metrics", "", "")
	for _, want := range []string{
		`bcreg_sim_requests_total{code="200",mode="vonx"} 2`,
		`bcreg_sim_requests_total{code="400",mode="vonx"} 1`,
		`bcreg_sim_credentials_issued_total{mode="vonx"} 2`,
		`bcreg_sim_credentials_rejected_total{mode="vonx"} 1`,
		`bcreg_sim_requests_in_flight{mode="vonx"} 0`,
		`bcreg_sim_credentials_in_flight{mode="vonx"} 0`,
	} {
		if !strings.Contains(got.Body, want) {
			t.Errorf("metrics lack %q:\n%s", want, got.Body)
		}
	}
}

func TestControlNotFound(t *testing.T) {
	t.Parallel()
	_, srv := startSim(t, Config{}, nil)
	want := reply{404, "application/json", "{\"error\":\"not found\"}\n"}
	if diff := cmp.Diff(want, call(t, srv, http.MethodGet, "/_sim/nope", "", "")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
