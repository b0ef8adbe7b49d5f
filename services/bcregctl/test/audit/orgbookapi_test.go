package audit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// clock is the test's time: the rate-limited simulator reads it and the
// API client's sleeps advance it, so no test waits.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	slept  time.Duration
	sleeps int
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	c.sleeps++
	return nil
}

const v42 = "1.0.42"

func cred(schema string, attrs map[string]string) string {
	var parts []string
	for k, v := range attrs {
		parts = append(parts, fmt.Sprintf("%q:%q", k, v))
	}
	return fmt.Sprintf(`{"schema":%q,"version":%q,"attributes":{%s}}`, schema, v42, strings.Join(parts, ","))
}

func reg(id, eff, name, assumed, status string) string {
	return cred(agentsim.OrgBookRegistration, map[string]string{"registration_id": id, "registration_date": "2001-02-03T04:05:06+00:00",
		"entity_name": name, "entity_name_assumed": assumed, "entity_status": status, "entity_type": id[:2], "home_jurisdiction": "BC",
		"effective_date": eff, "expiry_date": ""})
}

func bn(id, eff, number string) string {
	return cred(agentsim.OrgBookBusinessNumber, map[string]string{"registration_id": id, "business_number": number, "effective_date": eff, "expiry_date": ""})
}

func rel(id, other, eff, expiry string) string {
	return cred(agentsim.OrgBookRelationship, map[string]string{"registration_id": id, "associated_registration_id": other,
		"associated_registration_name": "", "relationship": "IsOwned", "relationship_description": "Is Owned By",
		"relationship_status": "ACT", "effective_date": eff, "expiry_date": expiry})
}

// orgBook is vonx-sim's OrgBook view, written into a database and served
// by its read API, rate-limited on the test's clock.
func orgBook(t *testing.T, rate float64) (*httptest.Server, *pgxpool.Pool, *clock) {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	url := testenv.NewDatabase(t)
	sim, err := agentsim.NewWithClock(agentsim.Config{OrgBookDBURL: url, OrgBookRate: rate}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	const d1, d2, d3 = "2001-01-01T08:00:00+00:00", "2005-06-01T07:00:00+00:00", "2010-01-01T08:00:00+00:00"
	for _, c := range []string{
		reg("BC0000001", d1, "ONE LTD.", "", "ACT"), bn("BC0000001", d1, "111111111"),
		// Superseded: the later credential's values count; a late older
		// one is stored revoked.
		reg("BC0000002", d3, "TWO LTD.", "TWO TRADING", "HIS"), reg("BC0000002", d1, "OLD TWO LTD.", "", "ACT"),
		bn("BC0000002", d1, "222222222"), bn("BC0000002", d3, "222222222BC0001"),
		// A firm owned by both; the relationship to BC0000002 ended.
		reg("FM0000003", d2, "THREE", "", "ACT"), rel("FM0000003", "BC0000001", d2, ""),
		rel("FM0000003", "BC0000002", d2, ""), rel("FM0000003", "BC0000002", d3, d3),
		// Only a relationship's target: a topic without registration.
		rel("FM0000004", "BC0000005", d2, ""),
	} {
		resp, err := http.Post(srv.URL+"/bcreg/issue-credential", "application/json", strings.NewReader("["+c+"]"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"success": true`) && !strings.Contains(string(body), `"success":true`) {
			t.Fatalf("issue %s: %d %s", c, resp.StatusCode, body)
		}
	}
	cl := &agentsim.Client{BaseURL: srv.URL}
	for _, d := range []agentsim.Drift{
		{Kind: agentsim.DriftSetName, SourceID: "BC0000001", Type: "entity_name", Value: "WRONG LTD."},
		{Kind: agentsim.DriftDropRelationship, SourceID: "FM0000003", Related: "BC0000001"},
	} {
		if err := cl.Drift(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.FlushOrgBook(ctx); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return srv, pool, clk
}

var ids = []string{"BC0000001", "BC0000002", "FM0000003", "FM0000004", "BC0000005", "BC0000404"}

// TestAPIReadsWhatTheDatabaseHolds: `bcregctl audit --corp` through
// OrgBook's read API (BCREG_ORGBOOK_API_URL) finds what the full audit
// reads from OrgBook's database, for every value compared: latest
// registration by effective date (names, attributes), latest business
// number, relationships, a topic without registration, no topic; and the
// credential type ids are discovered, not assumed.
func TestAPIReadsWhatTheDatabaseHolds(t *testing.T) {
	ctx := context.Background()
	srv, pool, clk := orgBook(t, 0)
	db, err := audit.OpenDB(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	want, err := db.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	api, err := audit.OpenAPI(ctx, srv.URL, audit.APIOptions{Rate: 25, Now: clk.now, Sleep: clk.sleep})
	if err != nil {
		t.Fatal(err)
	}
	got, err := api.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("API vs database (-database +API):\n%s", d)
	}
	// The database reading itself, so both cannot agree on nothing.
	one := want["BC0000001"]
	if one == nil || one.Name != "WRONG LTD." || one.BusinessNumber != "111111111" || len(one.Related) != 0 ||
		want["BC0000002"].Name != "TWO TRADING" || want["BC0000002"].EntityStatus != "HIS" || want["BC0000002"].BusinessNumber != "222222222BC0001" ||
		fmt.Sprint(want["FM0000003"].Related) != "[]" || want["FM0000004"] == nil || want["FM0000004"].HasRegistration ||
		want["BC0000005"] == nil || want["BC0000404"] != nil {
		t.Errorf("database reading: %+v", want)
	}
	if _, _, err := api.Registered(ctx, 0, 10); err == nil {
		t.Error("Registered through the API: want an error (only --corp)")
	}
}

// TestAPIRateLimit: the client spaces its requests to its rate, so a
// server allowing as many a second never answers 429; against a stricter
// server it backs off on 429 and still reads everything.
func TestAPIRateLimit(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		server        float64
		client        float64
		wantThrottled bool
	}{
		{"within the server's limit", 25, 25, false},
		{"over the server's limit", 5, 25, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, pool, clk := orgBook(t, tt.server)
			db, err := audit.OpenDB(ctx, pool)
			if err != nil {
				t.Fatal(err)
			}
			want, err := db.Lookup(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			start := clk.now()
			api, err := audit.OpenAPI(ctx, srv.URL, audit.APIOptions{Rate: tt.client, Now: clk.now, Sleep: clk.sleep})
			if err != nil {
				t.Fatal(err)
			}
			got, err := api.Lookup(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("read (-database +API):\n%s", d)
			}
			if throttled := api.Throttled() > 0; throttled != tt.wantThrottled {
				t.Errorf("429 answers: %d, want some: %v", api.Throttled(), tt.wantThrottled)
			}
			// 1 credential-type + per topic found 3 + one per relationship,
			// + one 404: at least that many intervals of the client's rate.
			if least := time.Duration(float64(time.Second) * 15 / tt.client); clk.now().Sub(start) < least {
				t.Errorf("read in %v of the clock, want at least %v at %v requests/s", clk.now().Sub(start), least, tt.client)
			}
		})
	}
}
