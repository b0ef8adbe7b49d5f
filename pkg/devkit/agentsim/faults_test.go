package agentsim

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func oneGroup(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item(reg36, "1.0.36", regAttrs)
	}
	return batch(items...)
}

func TestCapacityLimitsConcurrentIssue(t *testing.T) {
	t.Parallel()
	const k, n = 2, 6
	steps := newSteps()
	s := newTestSim(t, Config{Faults: Faults{Capacity: k, CredLatency: Fixed(time.Hour)}}, nil, steps.pause)
	srv := serve(t, s.Handler(), s)

	replies := make(chan reply, 1)
	go func() { replies <- post(t, srv, "", oneGroup(n)) }()
	// k creations hold the slots; each one that ends lets the next begin.
	var creating []heldPause
	for range k {
		creating = append(creating, steps.next(t))
	}
	if got := s.Stats().Issuing; got != k {
		t.Errorf("%d credentials creating with %d slots", got, k)
	}
	for i := range n {
		creating[0].end()
		creating = creating[1:]
		if i+k < n {
			creating = append(creating, steps.next(t))
		}
	}
	got := await(t, "reply", replies)
	if got.Status != http.StatusOK || len(rows(t, got.Body)) != n {
		t.Fatalf("reply %+v, want 200 with %d rows", got, n)
	}
	st := s.Stats()
	if st.MaxIssuing != k || st.Issued != n {
		t.Errorf("max issuing %d, issued %d; want %d, %d", st.MaxIssuing, st.Issued, k, n)
	}
}

func TestCapacityAcrossRequests(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{Faults: Faults{Capacity: 3, CredLatency: Fixed(20 * time.Millisecond)}}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := post(t, srv, "?schema=registration.bc_registries", regAttrs); got.Status != http.StatusOK {
				t.Errorf("status %d", got.Status)
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); st.MaxIssuing > 3 || st.Issued != 8 || st.Issuing != 0 {
		t.Errorf("stats %+v: want max issuing ≤ 3, issued 8, issuing 0", st)
	}
}

func TestQueueLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		overload string
		want     reply
	}{
		{"reject_with_503", OverloadReject, reply{503, textType, "503: Service Unavailable"}},
		{"hang_then_503", OverloadHang, reply{503, textType, "503: Service Unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Two credentials fit (one creating, one queued); the third is
			// refused before anything is issued.
			// The creation of the first credential lasts until the test
			// ends it, so the third request surely finds two in flight.
			const hang = 50 * time.Millisecond
			steps := newSteps()
			s := newTestSim(t, Config{Faults: Faults{
				Capacity: 1, QueueLimit: 1, CredLatency: Fixed(time.Hour),
				Overload: tc.overload, HangFor: Duration(hang),
			}}, nil, steps.pause)
			srv := serve(t, s.Handler(), s)
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() { post(t, srv, "?schema=registration.bc_registries", regAttrs) })
			}
			first := steps.next(t)
			testenv.WaitFor(t, "two credentials in flight", func() bool { return s.Stats().CredentialsInFlight == 2 })
			replies := make(chan reply, 1)
			go func() { replies <- post(t, srv, "?schema=registration.bc_registries", regAttrs) }()
			if tc.overload == OverloadHang {
				p := steps.next(t)
				if p.d != hang {
					t.Fatalf("paused %v, want the hang of %v", p.d, hang)
				}
				p.end()
			}
			got := await(t, "overloaded reply", replies)
			first.end()
			steps.next(t).end() // the second credential
			wg.Wait()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("overloaded reply (-want +got):\n%s", diff)
			}
			st := s.Stats()
			if st.Injected.Overloaded != 1 || st.Issued != 2 || st.Failed != 1 || st.MaxCredentialsInFlight != 2 {
				t.Errorf("stats %+v: want 1 overloaded, 2 issued, 1 failed, max 2 in flight", st)
			}
		})
	}
}

func TestOverloadSlowsIssueDown(t *testing.T) {
	t.Parallel()
	const per = 20 * time.Millisecond
	ms := time.Millisecond
	tests := []struct {
		name    string
		penalty float64
		want    []time.Duration
	}{
		// Five credentials on one slot. With penalty 1, the ones granted
		// while 3, 2, 1, 0 wait take 80, 60, 40, 20 ms after the first.
		{"no_penalty", 0, []time.Duration{per, per, per, per, per}},
		{"penalty_1", 1, []time.Duration{per, 80 * ms, 60 * ms, 40 * ms, per}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			steps := newSteps()
			s := newTestSim(t, Config{Faults: Faults{Capacity: 1, CredLatency: Fixed(per), OverloadPenalty: tc.penalty}}, nil, steps.pause)
			srv := serve(t, s.Handler(), s)
			done := make(chan struct{})
			go func() { post(t, srv, "", oneGroup(5)); close(done) }()
			p := steps.next(t)
			got := []time.Duration{p.d}
			testenv.WaitFor(t, "four credentials waiting for the slot", func() bool { return s.slots.waiting() == 4 })
			for range 4 {
				p.end()
				p = steps.next(t)
				got = append(got, p.d)
			}
			p.end()
			await(t, "reply", done)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("creation times (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLatencyPerStoreCall(t *testing.T) {
	t.Parallel()
	const lat = 60 * time.Millisecond
	tests := []struct {
		name, query, body string
		mode              string
		min               time.Duration
	}{
		{"single", "?schema=registration.bc_registries", regAttrs, ModeVonX, lat},
		{"batch_of_one_group", "", oneGroup(3), ModeVonX, lat},
		{"batch_of_two_groups", "", batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs)), ModeVonX, 2 * lat},
		{"controller_per_credential", "", batch(item(reg42, "1.0.42", reg42Attrs), item(reg42, "1.0.42", reg42Attrs)), ModeController, 2 * lat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, srv := startSim(t, Config{Mode: tc.mode, Faults: Faults{Latency: Fixed(lat)}}, nil)
			path := "/bcreg/issue-credential"
			if tc.mode == ModeController {
				path = "/issue-credential"
			}
			start := time.Now()
			got := call(t, srv, http.MethodPost, path+tc.query, "application/json", tc.body)
			if elapsed := time.Since(start); elapsed < tc.min {
				t.Errorf("took %v, want ≥ %v", elapsed, tc.min)
			}
			if got.Status != http.StatusOK {
				t.Errorf("status %d", got.Status)
			}
		})
	}
}

func TestErrorRateIsDeterministicWithSeed(t *testing.T) {
	t.Parallel()
	codes := func(seed uint64) []int {
		s, srv := startSim(t, Config{Seed: seed, Faults: Faults{ErrorRate: 0.5}}, nil)
		var out []int
		errs := int64(0)
		for range 30 {
			st := post(t, srv, "?schema=registration.bc_registries", regAttrs).Status
			if st == http.StatusInternalServerError {
				errs++
			}
			out = append(out, st)
		}
		if st := s.Stats(); st.Injected.Errors != errs || st.Issued != 30-errs || st.Failed != errs {
			t.Errorf("stats %+v do not match %d errors in %v", st, errs, out)
		}
		return out
	}
	first, second := codes(42), codes(42)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("same seed, different replies (-first +second):\n%s", diff)
	}
	n500 := 0
	for _, c := range first {
		if c == http.StatusInternalServerError {
			n500++
		}
	}
	if n500 == 0 || n500 == len(first) {
		t.Errorf("error rate 0.5 gave %d errors in %d requests", n500, len(first))
	}
	if diff := cmp.Diff(first, codes(43)); diff == "" {
		t.Errorf("seeds 42 and 43 gave the same replies %v", first)
	}
}

func TestHangEndsWhenClientGivesUp(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{Faults: Faults{HangRate: 1}}, nil)
	ctx, leave := context.WithCancel(context.Background())
	defer leave()
	done := make(chan error, 1)
	go func() {
		_, err := callErr(ctx, srv.Client(), srv.URL, http.MethodPost, "/bcreg/issue-credential?schema=registration.bc_registries", "application/json", regAttrs)
		done <- err
	}()
	// The client leaves once the request hangs, however long it took to get
	// there.
	testenv.WaitFor(t, "the request to hang", func() bool { return s.Stats().Injected.Hangs == 1 })
	leave()
	if err := await(t, "the client's error", done); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the client's cancellation", err)
	}
	// The hang has no end of its own (HangFor 0): only the client leaving
	// ends it.
	testenv.WaitFor(t, "the hang to end", func() bool { return s.Stats().InFlight == 0 })
	st := s.Stats()
	if st.Injected.Hangs != 1 || st.Failed != 1 || st.Issued != 0 {
		t.Errorf("stats %+v: want 1 hang, 1 failed, 0 issued", st)
	}
}

func TestHangEndsWhenSimCloses(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{Faults: Faults{HangRate: 1}}, nil)
	done := make(chan error, 1)
	go func() {
		_, err := callErr(context.Background(), srv.Client(), srv.URL, http.MethodPost, "/bcreg/issue-credential", "application/json", oneGroup(2))
		done <- err
	}()
	testenv.WaitFor(t, "the request to hang", func() bool { return s.Stats().Injected.Hangs == 1 })
	s.Close()
	if err := await(t, "the request to end after Close", done); err == nil {
		t.Errorf("request answered after Close, want a closed connection")
	}
	// Later requests to the agent fail the same way, its health check
	// included (a poster asks it when a request fails, and counts the
	// failure against the credentials if it answers); the control API
	// still works.
	if _, err := callErr(context.Background(), srv.Client(), srv.URL, http.MethodPost, "/bcreg/issue-credential", "application/json", "[]"); err == nil {
		t.Errorf("issue request after Close answered")
	}
	for _, path := range []string{"/health", "/status"} {
		if got, err := callErr(context.Background(), srv.Client(), srv.URL, http.MethodGet, path, "", ""); err == nil {
			t.Errorf("GET %s after Close answered %d", path, got.Status)
		}
	}
	if got := call(t, srv, http.MethodGet, "/_sim/stats", "", ""); got.Status != http.StatusOK {
		t.Errorf("stats after Close: %d", got.Status)
	}
}

func TestHangForThenAnswer(t *testing.T) {
	t.Parallel()
	const d = 50 * time.Millisecond
	s, srv := startSim(t, Config{Faults: Faults{HangRate: 1, HangFor: Duration(d)}}, nil)
	start := time.Now()
	got := post(t, srv, "?schema=registration.bc_registries", regAttrs)
	if elapsed := time.Since(start); elapsed < d {
		t.Errorf("answered after %v, want ≥ %v", elapsed, d)
	}
	if diff := cmp.Diff(ok200(`{"success": true, "result": "<id>"}`), got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if st := s.Stats(); st.Issued != 1 || st.Failed != 0 {
		t.Errorf("stats %+v: want 1 issued, 0 failed", st)
	}
}

func TestDroppedConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		afterIssue bool
		issued     int64
	}{
		{"before_issue", false, 0},
		{"after_issue", true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, srv := startSim(t, Config{Faults: Faults{DropRate: 1, AfterIssue: tc.afterIssue}}, nil)
			_, err := callErr(context.Background(), srv.Client(), srv.URL, http.MethodPost, "/bcreg/issue-credential", "application/json", oneGroup(2))
			if err == nil {
				t.Fatal("got a reply, want a dropped connection")
			}
			testenv.WaitFor(t, "the request to end", func() bool { return s.Stats().InFlight == 0 })
			st := s.Stats()
			if st.Injected.Drops != 1 || st.Failed != 1 || st.Issued != tc.issued {
				t.Errorf("stats %+v: want 1 drop, 1 failed, %d issued", st, tc.issued)
			}
		})
	}
}

func TestErrorAfterIssue(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{Faults: Faults{ErrorRate: 1, AfterIssue: true}}, nil)
	if diff := cmp.Diff(aiohttp500Reply, post(t, srv, "", oneGroup(3))); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if got := len(s.Received(0)); got != 3 {
		t.Errorf("recorded %d credentials, want 3 (the reply was lost, not the credentials)", got)
	}
}

func TestNotSynchronisedPeriod(t *testing.T) {
	t.Parallel()
	t.Run("default_is_synced_at_once", func(t *testing.T) {
		t.Parallel()
		_, srv := startSim(t, DefaultConfig(), nil)
		if diff := cmp.Diff(reply{200, textType, "ok"}, call(t, srv, http.MethodGet, "/health", "", "")); diff != "" {
			t.Errorf("health (-want +got):\n%s", diff)
		}
	})
	t.Run("unsynced_for_a_while", func(t *testing.T) {
		t.Parallel()
		clock := testenv.NewClock(time.Unix(0, 0))
		_, srv := startSim(t, Config{Faults: Faults{UnsyncedFor: Duration(100 * time.Millisecond)}}, clock)
		if got := call(t, srv, http.MethodGet, "/health", "", ""); got.Status != 451 || got.Body != "" {
			t.Errorf("health at start: %+v, want 451 empty", got)
		}
		clock.Advance(99 * time.Millisecond)
		if got := call(t, srv, http.MethodGet, "/health", "", ""); got.Status != 451 {
			t.Errorf("health before the end of the period: %d, want 451", got.Status)
		}
		clock.Advance(time.Millisecond)
		if got := call(t, srv, http.MethodGet, "/health", "", ""); got.Status != 200 {
			t.Errorf("health after the period: %d, want 200", got.Status)
		}
	})
	t.Run("set_at_run_time", func(t *testing.T) {
		t.Parallel()
		clock := testenv.NewClock(time.Unix(0, 0))
		s, srv := startSim(t, Config{}, clock)
		f := s.Faults()
		f.UnsyncedFor = Duration(time.Minute)
		if err := s.SetFaults(f); err != nil {
			t.Fatal(err)
		}
		clock.Advance(20 * time.Second)
		if got := s.Faults().UnsyncedFor; got != Duration(40*time.Second) {
			t.Errorf("remaining unsynced %v, want 40s", time.Duration(got))
		}
		if got := call(t, srv, http.MethodGet, "/health", "", ""); got.Status != 451 {
			t.Errorf("health %d, want 451", got.Status)
		}
		clock.Advance(40 * time.Second)
		if !s.Synced() || s.Faults().UnsyncedFor != 0 {
			t.Errorf("not synced after the period")
		}
	})
}

func TestRejectionsFromEnvironmentSyntax(t *testing.T) {
	t.Parallel()
	var rules Rejections
	if err := rules.Decode("relationship.bc_registries/1.0.36;attribute=entity_name,value=*,schema=registration.registries.ca,message=no names"); err != nil {
		t.Fatal(err)
	}
	_, srv := startSim(t, Config{Faults: Faults{Rejections: rules}}, nil)
	got := post(t, srv, "", batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs), item(reg42, "1.0.42", reg42Attrs), item(reg42, "1.0.42", `{"registration_id":"X"}`)))
	want := ok200(`[{"success": true, "result": "<id>"}, ` +
		`{"success": false, "result": "Bad response from post_json: (502) simulated rejection"}, ` +
		`{"success": false, "result": "Credential was not stored: no names"}, ` +
		`{"success": true, "result": "<id>"}]`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
}

func TestClientDisconnectStopsAfterGroupInProgress(t *testing.T) {
	t.Parallel()
	// Three groups; the client leaves while the second one's store call is
	// in progress. The indy service finishes that group; the third is never
	// sent. The store calls are steps the test releases, and the
	// simulator sees the disconnect only once the server has noticed it,
	// so the outcome does not depend on timing.
	st := newSteps()
	s := newTestSim(t, Config{Faults: Faults{Latency: Fixed(time.Hour)}}, nil, st.pause)
	clientGone, handled := make(chan struct{}), make(chan struct{})
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handled)
		ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
		defer cancel()
		go func() {
			<-r.Context().Done()
			cancel() // before clientGone: the simulator sees the client gone
			close(clientGone)
		}()
		s.ServeHTTP(w, r.WithContext(ctx))
	}), s)

	ctx, leave := context.WithCancel(context.Background())
	defer leave()
	callDone := make(chan error, 1)
	body := batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs), item(reg42, "1.0.42", reg42Attrs))
	go func() {
		_, err := callErr(ctx, srv.Client(), srv.URL, http.MethodPost, "/bcreg/issue-credential", "application/json", body)
		callDone <- err
	}()
	st.next(t).end() // the first group's store call
	second := st.next(t)
	leave()
	if err := await(t, "client error", callDone); err == nil {
		t.Fatal("got a reply, want the client's cancellation")
	}
	await(t, "server noticing the disconnect", clientGone)
	second.end()
	select {
	case <-st.started:
		t.Fatal("the third group was sent to the indy service after the client left")
	case <-handled:
	}
	var got []string
	for _, r := range s.Received(0) {
		got = append(got, r.Schema)
	}
	if diff := cmp.Diff([]string{reg36, rel36}, got); diff != "" {
		t.Errorf("issued (-want +got):\n%s", diff)
	}
}
