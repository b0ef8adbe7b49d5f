package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/pkg/source/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// queryCounter counts the statements a pool sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func countingPool(t *testing.T, url string) (*pgxpool.Pool, *queryCounter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	qc := &queryCounter{}
	cfg.ConnConfig.Tracer = qc
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, qc
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// clone copies every fixture corporation `copies` times under new numbers
// (corp_num || '-' || k) with all their rows, as a production-sized batch
// would look. Event ids then repeat across corporations, as addresses and
// filings are shared: the loader's look-ups must cope.
func clone(t *testing.T, pool *pgxpool.Pool, copies int) {
	t.Helper()
	for _, tc := range []struct{ table, set string }{
		{"corporation", "corp_num = corp_num || '-' || k"},
		{"corp_state", "corp_num = corp_num || '-' || k"},
		{"corp_name", "corp_num = corp_num || '-' || k"},
		{"jurisdiction", "corp_num = corp_num || '-' || k"},
		{"office", "corp_num = corp_num || '-' || k"},
		{"event", "corp_num = corp_num || '-' || k"},
		{"corp_party", "corp_num = corp_num || '-' || k, bus_company_num = bus_company_num || '-' || k"},
	} {
		exec(t, pool, fmt.Sprintf(`CREATE TEMP TABLE c AS SELECT t.*, k FROM bc_registries.%[1]s t, generate_series(1, %[2]d) k;
UPDATE c SET %[3]s;
ALTER TABLE c DROP COLUMN k;
INSERT INTO bc_registries.%[1]s SELECT * FROM c;
DROP TABLE c`, tc.table, copies, tc.set))
	}
	// Production tables are indexed on these keys.
	exec(t, pool, `CREATE INDEX ON bc_registries.corporation (corp_num);
CREATE INDEX ON bc_registries.corp_state (corp_num);
CREATE INDEX ON bc_registries.corp_name (corp_num);
CREATE INDEX ON bc_registries.jurisdiction (corp_num);
CREATE INDEX ON bc_registries.office (corp_num);
CREATE INDEX ON bc_registries.corp_party (corp_num);
CREATE INDEX ON bc_registries.corp_party (bus_company_num);
CREATE INDEX ON bc_registries.event (event_id);
CREATE INDEX ON bc_registries.filing (event_id);
CREATE INDEX ON bc_registries.address (addr_id);
ANALYZE`)
}

func corpNums(t *testing.T, pool *pgxpool.Pool, where string) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), "SELECT corp_num FROM bc_registries.corporation WHERE "+where+" ORDER BY corp_num")
	nums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return nums
}

// TestLoadBatch checks that the loader's query count does not grow with the
// batch, and that a batch of 500 corporations assembles exactly what 500
// single-corporation loads do.
func TestLoadBatch(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool, qc := countingPool(t, sourcetest.WholeFixture(t, tmpl))
	clone(t, pool, 10)
	nums := corpNums(t, pool, "corp_num LIKE '%-%'")[:500]
	ctx := testenv.Context(t)
	loader := source.NewLoader(pool, nil)

	count := func(batch []string) (int64, *source.Batch) {
		before := qc.n.Load()
		b, err := loader.Load(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		return qc.n.Load() - before, b
	}
	first, _ := count(nums[:1]) // includes the nine code tables
	one, _ := count(nums[:1])
	many, batch := count(nums)
	t.Logf("queries: first load %d, one corporation %d, %d corporations %d", first, one, len(nums), many)
	if one != many || many > 11 || first != one+9 {
		t.Errorf("queries per batch: one corporation %d, %d corporations %d (want equal, at most 11: begin, 9 tables, rollback); first load %d (want +9 code tables)",
			one, len(nums), many, first)
	}
	if len(batch.Snapshots) != 500 || len(batch.Errors) != 0 {
		t.Fatalf("assembled %d snapshots, errors %v", len(batch.Snapshots), batch.Errors)
	}

	profile := credential.NewSnapshot(credential.Options{})
	start := time.Now()
	for _, num := range nums {
		single, err := loader.Load(ctx, []string{num})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := single.Get(num)
		got, _ := batch.Get(num)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: batch snapshot differs from a single load (-single +batch):\n%s", num, diff)
		}
		wantRes, err1 := profile.Generate(want, credential.Params{})
		gotRes, err2 := profile.Generate(got, credential.Params{})
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: generate: %v / %v", num, err1, err2)
		}
		if diff := gocmp.Diff(wantRes, gotRes); diff != "" {
			t.Fatalf("%s: credentials differ (-single +batch):\n%s", num, diff)
		}
	}
	t.Logf("500 single loads in %v", time.Since(start))
}

// TestLoadSharedIDs loads corporations of different samples that share event
// and address ids (the whole fixture in one database): each record's event
// is its own corporation's.
func TestLoadSharedIDs(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.WholeFixture(t, tmpl))
	// Event 104943462 is FM5850476's (group corp_7078358) and FM7768377's;
	// 111258285 is FM9129945's and FM0643134's.
	nums := []string{"7078358", "FM5850476", "FM7768377", "C6020509", "FM9129945", "FM0643134", "6763577", "8585951"}
	batch, err := source.NewLoader(pool, nil).Load(testenv.Context(t), nums)
	if err != nil {
		t.Fatal(err)
	}
	for _, num := range nums {
		s, err := batch.Get(num)
		if err != nil {
			t.Fatalf("%s: %v", num, err)
		}
		check := func(what string, e *source.Event, want string) {
			if e == nil || e.CorpNum == nil || *e.CorpNum != want {
				t.Errorf("%s: %s event %+v, want one of corporation %s", num, what, e, want)
			}
		}
		for _, st := range s.States {
			check("state", st.StartEvent, num)
		}
		for _, p := range s.Parties {
			check("party", p.StartEvent, p.CorpNum)
		}
	}
	res, err := credential.NewSnapshot(credential.Options{}).Generate(must(batch.Get("C6020509")), credential.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Credentials); n != 3 {
		t.Errorf("C6020509: %d credentials, want 3", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestLoadSnapshot checks what the loader assembles for one sample.
func TestLoadSnapshot(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "corp_C6020509"))
	batch, err := source.NewLoader(pool, nil).Load(testenv.Context(t), []string{"C6020509", "FM9129945", "C6020509"})
	if err != nil {
		t.Fatal(err)
	}
	owner := must(batch.Get("C6020509"))
	firm := must(batch.Get("FM9129945"))

	type partyView struct {
		Firm, Owner, FirmType, OwnerType string
		StartEvent                       int64
		Filing                           string
	}
	view := func(s *source.Snapshot) []partyView {
		var out []partyView
		for _, p := range s.Parties {
			out = append(out, partyView{p.Firm.CorpNum, p.Owner.CorpNum, p.Firm.Type.CorpTypCd, p.Owner.Type.CorpTypCd,
				p.StartEvent.EventID, p.StartEvent.Filing.EffectiveDt.Format(time.DateTime)})
		}
		return out
	}
	// Two of the three FBO rows have ended: only the current one is read,
	// from both sides, with the FILE event's filing.
	want := []partyView{{"FM9129945", "C6020509", "SP", "CUL", 111258285, "2012-02-17 16:00:00"}}
	if diff := gocmp.Diff(want, view(owner)); diff != "" {
		t.Errorf("owner parties (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(want, view(firm)); diff != "" {
		t.Errorf("firm parties (-want +got):\n%s", diff)
	}
	if got := len(owner.OwnedFirmParties()); got != 1 {
		t.Errorf("owner: %d owned-firm rows, want 1", got)
	}
	if got := len(firm.OwnerParties()); got != 1 {
		t.Errorf("firm: %d owner rows, want 1", got)
	}

	if got := owner.Type.Class(); got != "BC" || *owner.Type.FullDesc != "Continuation In as a BC ULC" {
		t.Errorf("owner type %+v", owner.Type)
	}
	if st := owner.CurrentState(); st == nil || st.OpStateCode() != "ACT" || *st.StartEventID != 9236428 {
		t.Errorf("owner current state %+v", st)
	}
	if n := owner.LegalName(); n == nil || *n.CorpNme != "GROET VQHWRYEHORQVKSNBRUE" || n.StartEvent == nil {
		t.Errorf("owner legal name %+v", n)
	}
	var offices []string
	for _, o := range owner.Offices {
		offices = append(offices, fmt.Sprintf("%s %s %s", o.OfficeTypCd, *o.Type.FullDesc, o.DeliveryAddr.LocalAddr()))
	}
	if diff := gocmp.Diff([]string{"RG Registered Office L  VPHHAWTA VDU LSFTNQETD, testcity, BC, X1DHD9, CA"}, offices); diff != "" {
		t.Errorf("owner offices (-want +got):\n%s", diff)
	}
	// Firm events are CONV* events: no filing attached even though the
	// sample has filing rows for them.
	if e := firm.CurrentState().StartEvent; e == nil || e.Filing != nil {
		t.Errorf("firm state start event %+v: want a CONV event without filing", e)
	}
	// A snapshot is an audit document (corp_history_log).
	if doc, err := json.Marshal(owner); err != nil || !strings.Contains(string(doc), `"corp_nme":"GROET VQHWRYEHORQVKSNBRUE"`) {
		t.Errorf("snapshot JSON: %v\n%s", err, doc)
	}
}

func TestLoadMissingRows(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "corp_9645624"))
	exec(t, pool, `INSERT INTO bc_registries.corporation (corp_num, corp_typ_cd) VALUES ('ZZ0000001', 'ZZ')`)
	batch, err := source.NewLoader(pool, nil).Load(testenv.Context(t), []string{"9645624", "0000000", "ZZ0000001", ""})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := batch.Get("9645624"); err != nil {
		t.Errorf("9645624: %v", err)
	}
	tests := []struct{ num, want string }{
		{"0000000", "corporation 0000000: no row in bc_registries.corporation for corp_num = '0000000'"},
		{"ZZ0000001", "corporation ZZ0000001: no row in bc_registries.corp_type for corp_typ_cd = 'ZZ'"},
		{"", "corporation : no row in bc_registries.corporation for corp_num = ''"},
		{"1111111", "corporation 1111111: not requested in this batch"},
	}
	for _, tt := range tests {
		_, err := batch.Get(tt.num)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Get(%q) = %v, want %q", tt.num, err, tt.want)
		}
		if tt.num != "1111111" && !errors.Is(err, source.ErrMissingRow) {
			t.Errorf("Get(%q): %v is not ErrMissingRow", tt.num, err)
		}
	}
}

func TestLoadMissingCodeTable(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "corp_9645624"))
	exec(t, pool, `DROP TABLE bc_registries.xpro_type`)
	_, err := source.NewLoader(pool, nil).Load(testenv.Context(t), []string{"9645624"})
	if err == nil || !strings.Contains(err.Error(), "load xpro_type") {
		t.Fatalf("Load without xpro_type: %v, want an error naming the table", err)
	}
}

func TestLoadEmptyBatch(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "corp_9645624"))
	loader := source.NewLoader(pool, nil)
	batch, err := loader.Load(testenv.Context(t), nil)
	if err != nil || len(batch.Snapshots)+len(batch.Errors) != 0 {
		t.Fatalf("empty batch: %v %+v", err, batch)
	}
	codes, err := loader.CodeTables(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	got := []int{len(codes.CorpTypes), len(codes.OpStates), len(codes.OfficeTypes)}
	if slices.Contains(got, 0) {
		t.Errorf("code tables not read: %v", got)
	}
}
