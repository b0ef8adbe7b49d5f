package agentsim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// startSim starts a simulator on an httptest server. A nil clock is the real
// one.
func startSim(t *testing.T, cfg Config, clock *testenv.Clock) (*Sim, *httptest.Server) {
	t.Helper()
	s := newTestSim(t, cfg, clock, sleep)
	return s, serve(t, s.Handler(), s)
}

// serve starts an httptest server for h, closed when the test ends after
// the simulator (whose Close ends the hangs and pauses srv.Close would
// wait for).
func serve(t *testing.T, h http.Handler, s *Sim) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return srv
}

// newTestSim returns a simulator with the given clock (nil: the real one)
// and pause, closed when the test ends.
func newTestSim(t *testing.T, cfg Config, clock *testenv.Clock, pause func(context.Context, time.Duration) error) *Sim {
	t.Helper()
	now := time.Now
	if clock != nil {
		now = clock.Now
	}
	s, err := newSim(cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), now, pause)
	if err != nil {
		t.Fatalf("newSim: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// steps is a pause the test drives: every pause of positive length
// announces itself on started and lasts until the test ends it (or the
// simulator is closed), so a test decides the order of events instead of
// racing timers.
type steps struct {
	started chan heldPause
}

// heldPause is one pause in progress.
type heldPause struct {
	d    time.Duration
	done chan struct{}
}

// end lets the pause return.
func (s heldPause) end() { close(s.done) }

func newSteps() *steps { return &steps{started: make(chan heldPause)} }

func (st *steps) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	p := heldPause{d: d, done: make(chan struct{})}
	select {
	case st.started <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next waits for the next pause to start.
func (st *steps) next(t *testing.T) heldPause {
	t.Helper()
	return await(t, "pause", st.started)
}

// await receives from ch; the limit only stops a broken test from hanging
// until the test binary's timeout.
func await[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
		var zero T
		return zero
	}
}

// reply is the part of an HTTP reply the tests compare.
type reply struct {
	Status      int
	ContentType string
	Body        string
}

// call sends one request and returns the reply, with result ids replaced by
// <id>.
func call(t *testing.T, srv *httptest.Server, method, path, contentType, body string) reply {
	t.Helper()
	r := callRaw(t, srv, method, path, contentType, body)
	r.Body = maskIDs(r.Body)
	return r
}

// callRaw is call without masking the ids.
func callRaw(t *testing.T, srv *httptest.Server, method, path, contentType, body string) reply {
	t.Helper()
	r, err := callErr(context.Background(), srv.Client(), srv.URL, method, path, contentType, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func callErr(ctx context.Context, hc *http.Client, base, method, path, contentType, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(b)}, nil
}

var idPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

func maskIDs(s string) string { return idPattern.ReplaceAllString(s, "<id>") }

// post sends a JSON body to the VON-X issue route of the bcreg issuer.
func post(t *testing.T, srv *httptest.Server, query, body string) reply {
	t.Helper()
	return call(t, srv, http.MethodPost, "/bcreg/issue-credential"+query, "application/json", body)
}

// rows decodes a batch reply.
func rows(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("batch reply %q: %v", body, err)
	}
	return out
}

// Attribute objects used by the tests.
const (
	regAttrs = `{"registration_id":"BC1529559","registration_date":"2004-07-21T20:03:11+00:00",` +
		`"entity_name":"Ready Mix Ltd.","entity_name_effective":"2004-07-21T20:03:11+00:00",` +
		`"entity_status":"ACT","entity_status_effective":"2004-07-21T20:03:11+00:00","entity_type":"BC",` +
		`"registration_type":"","home_jurisdiction":"BC","registered_jurisdiction":"",` +
		`"effective_date":"2004-07-21T20:03:11+00:00"}`
	regAttrs2 = `{"registration_id":"BC0000002","entity_name":"Second Co.","entity_status":"ACT",` +
		`"effective_date":"2010-01-01T08:00:00+00:00"}`
	relAttrs = `{"registration_id":"FM0000001","associated_registration_id":"BC1529559",` +
		`"relationship":"Owns","relationship_description":"Does Business As","relationship_status":"ACT",` +
		`"relationship_status_effective":"2004-07-21T20:03:11+00:00","effective_date":"2004-07-21T20:03:11+00:00"}`
	// registries.ca registration with all 19 attributes.
	reg42Attrs = `{"registration_id":"BC1529559","registration_date":"2004-07-21T20:03:11+00:00",` +
		`"registration_expiry_date":"","registration_renewal_effective":"","entity_name":"Ready Mix Ltd.",` +
		`"entity_name_effective":"2004-07-21T20:03:11+00:00","entity_name_assumed":"",` +
		`"entity_name_assumed_effective":"","entity_name_trans":"","entity_name_trans_effective":"",` +
		`"entity_status":"ACT","entity_status_effective":"2004-07-21T20:03:11+00:00","entity_type":"BC",` +
		`"registered_jurisdiction":"","extra_jurisdictional_registration":"","home_jurisdiction":"BC",` +
		`"effective_date":"2004-07-21T20:03:11+00:00","reason_description":"Filing","expiry_date":""}`
)

func item(schema, version, attrs string) string {
	return `{"schema":"` + schema + `","version":"` + version + `","attributes":` + attrs + `}`
}

func batch(items ...string) string { return "[" + strings.Join(items, ",") + "]" }

const (
	reg36 = "registration.bc_registries"
	rel36 = "relationship.bc_registries"
	reg42 = "registration.registries.ca"
)
