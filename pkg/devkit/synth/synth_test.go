package synth_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/devkit/synth"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// seeded creates a fresh database holding n synthetic corporations.
func seeded(t *testing.T, n int, seed uint64) (*pgxpool.Pool, string) {
	t.Helper()
	pool, url := testenv.NewPool(t)
	if _, err := synth.Seed(testenv.Context(t), pool, synth.Options{Corporations: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return pool, url
}

func corpNums(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `SELECT corp_num FROM bc_registries.corporation WHERE fixture_group = $1 ORDER BY corp_num`, synth.Group)
	nums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return nums
}

// TestShape checks that a small seed has the registry's shapes, within
// tolerances wide enough for 300 corporations.
func TestShape(t *testing.T) {
	pool, _ := seeded(t, 300, 1)
	s, err := synth.Stats(testenv.Context(t), pool)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(s, "", "  ")
	t.Logf("shape:\n%s", js)

	share := func(n int) float64 { return float64(n) / float64(s.Corporations) }
	between := func(name string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s = %.3f, want %.3f to %.3f", name, got, lo, hi)
		}
	}
	atLeast := func(name string, got, want int) {
		t.Helper()
		if got < want {
			t.Errorf("%s = %d, want at least %d", name, got, want)
		}
	}
	if s.Corporations != 300 {
		t.Fatalf("corporations = %d, want 300", s.Corporations)
	}
	between("firm share (SP, GP, MF)", share(s.Firms), 0.40, 0.58)
	between("BC company share", share(s.Types["BC"]), 0.22, 0.38)
	between("extra-provincial (A) share", share(s.Types["A"]), 0.02, 0.11)
	for _, typ := range []string{"SP", "GP", "BC", "A", "C", "LP"} {
		atLeast("corporations of type "+typ, s.Types[typ], 1)
	}
	if s.MinEvents < 5 || s.MaxEvents > 40 {
		t.Errorf("events per corporation %d to %d, want within 5 to 40", s.MinEvents, s.MaxEvents)
	}
	between("mean events per corporation", s.MeanEvents, 8, 20)
	atLeast("conversion events", s.ConversionEvents, 30)
	atLeast("conv_event rows", s.ConvEventRows, s.ConversionEvents)
	atLeast("firms with an owner", s.OwnedFirms, 15)
	atLeast("firms with two owners", s.TwoOwners, 2)
	atLeast("assumed names", s.Assumed, 1)
	atLeast("translated names", s.Translated, 1)
	atLeast("numbered names", s.Numbered, 10)
	atLeast("name changes", s.NameChanges, 20)
	atLeast("historical corporations", s.Historical, 5)
	for _, st := range []string{"LIQ", "D1F", "HDO"} {
		atLeast("state rows "+st, s.StateRows[st], 1)
	}
	for _, typ := range []string{"RG", "RC", "HD", "FO"} {
		atLeast("current offices "+typ, s.Offices[typ], 1)
	}
	atLeast("addresses", s.Addresses, 300)
	for _, f := range []string{"ICORP", "ANNBC", "ANNXP", "NOCAD", "NOALA", "CONTI", "FRREG", "CONVL", "TRANS"} {
		atLeast("filings "+f, s.FilingTypes[f], 1)
	}
	between("business number share", share(s.WithBN), 0.4, 0.7)
}

// TestDeterministic checks that a seed writes the same rows every time (a
// hash of each table's sorted content) and another seed different ones.
func TestDeterministic(t *testing.T) {
	hashes := func(pool *pgxpool.Pool) map[string]string {
		out := map[string]string{}
		for _, table := range []string{"corporation", "corp_state", "corp_name", "jurisdiction", "office", "address",
			"event", "filing", "corp_party", "conv_event"} {
			var h string
			err := pool.QueryRow(context.Background(), `SELECT coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
FROM bc_registries.`+table+` t`).Scan(&h)
			if err != nil {
				t.Fatal(err)
			}
			out[table] = h
		}
		return out
	}
	a, _ := seeded(t, 200, 42)
	b, _ := seeded(t, 200, 42)
	c, _ := seeded(t, 200, 43)
	ha := hashes(a)
	if diff := gocmp.Diff(ha, hashes(b)); diff != "" {
		t.Errorf("same seed, different rows (-first +second):\n%s", diff)
	}
	hc := hashes(c)
	for table, h := range ha {
		if hc[table] == h {
			t.Errorf("table %s: seeds 42 and 43 wrote the same rows", table)
		}
	}
}

// generateAll loads every synthetic corporation in batches of 200 and runs
// both profiles over it; any error or data warning fails the test. It
// returns the history profile's credentials per corporation.
func generateAll(t *testing.T, pool *pgxpool.Pool, now time.Time) map[string][]credential.Credential {
	t.Helper()
	ctx := testenv.Context(t)
	loader := sourcedb.NewLoader(pool, nil)
	profiles := map[string]credential.Profile{}
	for _, name := range []string{credential.ProfileSnapshot, credential.ProfileHistory} {
		p, err := credential.New(name, credential.Options{})
		if err != nil {
			t.Fatal(err)
		}
		profiles[name] = p
	}
	params := credential.FullRange(regevent.Through(now), now)
	creds := map[string][]credential.Credential{}
	counts := map[string]int{}
	for batch := range slices.Chunk(corpNums(t, pool), 200) {
		b, err := loader.Load(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, num := range batch {
			snap, err := b.Get(num)
			if err != nil {
				t.Errorf("load %s: %v", num, err)
				continue
			}
			for name, p := range profiles {
				res, err := p.Generate(snap, params)
				if err != nil {
					t.Errorf("%s profile, %s: %v", name, num, err)
					continue
				}
				if len(res.Warnings) > 0 {
					t.Errorf("%s profile, %s: data warnings %q", name, num, res.Warnings)
				}
				for _, c := range res.Credentials {
					counts[name+" "+c.Type]++
					if name == credential.ProfileHistory {
						creds[num] = append(creds[num], c)
					}
				}
			}
		}
	}
	t.Logf("credentials: %v", counts)
	for _, k := range []string{"snapshot REG", "snapshot ADDR", "snapshot REL", "history REG", "history ADDR", "history REL", "history BNC"} {
		if counts[k] == 0 {
			t.Errorf("no %s credentials", k)
		}
	}
	return creds
}

// TestPipeline checks that every seeded corporation loads and that both
// profiles generate its credentials without an error or a data warning.
func TestPipeline(t *testing.T) {
	pool, _ := seeded(t, 300, 1)
	generateAll(t, pool, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

// TestSeedRefusesSeededDatabase checks that a second seed fails cleanly
// (the corporation numbers would collide) and writes nothing.
func TestSeedRefusesSeededDatabase(t *testing.T) {
	pool, _ := seeded(t, 20, 1)
	_, err := synth.Seed(testenv.Context(t), pool, synth.Options{Corporations: 20, Seed: 2})
	if !errors.Is(err, synth.ErrAlreadySeeded) {
		t.Fatalf("second seed: %v, want ErrAlreadySeeded", err)
	}
	if n := len(corpNums(t, pool)); n != 20 {
		t.Errorf("%d synthetic corporations after the refused seed, want 20", n)
	}
}

// TestAppend checks that appended events are numbered after the seed's, are
// dated now, come with the rows their change needs, and that the history
// profile turns the name changes into new registration credentials.
func TestAppend(t *testing.T) {
	pool, _ := seeded(t, 300, 1)
	ctx := testenv.Context(t)
	before := generateAll(t, pool, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	var maxBefore int64
	if err := pool.QueryRow(ctx, `SELECT max(event_id)::bigint FROM bc_registries.event`).Scan(&maxBefore); err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	res, err := synth.Append(ctx, pool, synth.AppendOptions{Events: 60, Seed: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("appended: %+v", res)
	want := &synth.AppendResult{Events: 60, FirstEventID: maxBefore + 1, LastEventID: maxBefore + 60,
		First: now.Add(-5 * time.Second), Last: now, Kinds: res.Kinds}
	if diff := gocmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	var events, corps int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT corp_num) FROM bc_registries.event WHERE event_id > $1`, maxBefore).Scan(&events, &corps); err != nil {
		t.Fatal(err)
	}
	if events != 60 || corps != 60 {
		t.Errorf("%d new events of %d corporations, want 60 of 60", events, corps)
	}
	if res.Kinds[synth.KindName] == 0 {
		t.Fatalf("no name change among %v: pick another seed", res.Kinds)
	}

	// Every name change starts a legal name, and the history profile
	// issues a new REG credential for it, with the filing as its reason.
	rows, _ := pool.Query(ctx, `SELECT n.corp_num, 'Filing:' || f.filing_typ_cd FROM bc_registries.corp_name n
JOIN bc_registries.filing f ON f.event_id = n.start_event_id
WHERE n.start_event_id > $1 AND n.corp_name_typ_cd = 'CO' AND n.end_event_id IS NULL`, maxBefore)
	renamed, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Corp, Reason string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(renamed) != res.Kinds[synth.KindName] {
		t.Errorf("%d new legal names, want %d", len(renamed), res.Kinds[synth.KindName])
	}
	after := generateAll(t, pool, now.Add(time.Hour))
	for _, r := range renamed {
		old := map[string]bool{}
		for _, c := range before[r.Corp] {
			old[c.Hash] = true
		}
		found := false
		for _, c := range after[r.Corp] {
			if !old[c.Hash] && c.Type == credential.TypeRegistration && c.Reason == r.Reason {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no new REG credential with reason %s after its name change", r.Corp, r.Reason)
		}
	}
}

// TestSeedBesideFixture checks that synthetic data can join the development
// fixture (as `make run` loads it): no number collides, the fixture's code
// tables are kept, and the fixture's corporations are untouched.
func TestSeedBesideFixture(t *testing.T) {
	url := sourcetest.WholeFixture(t, sourcetest.Template(t))
	pool := testenv.Pool(t, url)
	ctx := testenv.Context(t)
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	types, fixtureCorps := count(`SELECT count(*) FROM bc_registries.corp_type`), count(`SELECT count(*) FROM bc_registries.corporation`)
	if _, err := synth.Seed(ctx, pool, synth.Options{Corporations: 100, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if got := count(`SELECT count(*) FROM bc_registries.corp_type`); got != types {
		t.Errorf("corp_type rows %d, want the fixture's %d", got, types)
	}
	if got := count(`SELECT count(*) FROM bc_registries.corporation WHERE fixture_group IS DISTINCT FROM 'synthetic'`); got != fixtureCorps {
		t.Errorf("fixture corporations %d, want %d", got, fixtureCorps)
	}
	for _, sql := range []string{
		`SELECT count(*) FROM (SELECT corp_num FROM bc_registries.corporation GROUP BY corp_num HAVING count(DISTINCT fixture_group = 'synthetic') > 1) d`,
		`SELECT count(*) FROM (SELECT event_id FROM bc_registries.event GROUP BY event_id HAVING count(DISTINCT fixture_group = 'synthetic') > 1) d`,
		`SELECT count(*) FROM (SELECT addr_id FROM bc_registries.address GROUP BY addr_id HAVING count(DISTINCT fixture_group = 'synthetic') > 1) d`,
	} {
		if n := count(sql); n != 0 {
			t.Errorf("%d ids shared by fixture and synthetic rows: %s", n, sql)
		}
	}
}
