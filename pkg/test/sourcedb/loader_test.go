package sourcedb_test

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
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// queryCounter counts the statements a pool sends (n) and the round trips
// they take (trips): a pipelined batch of statements is one.
type queryCounter struct{ n, trips atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.trips.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.trips.Add(1)
	return ctx
}

func (c *queryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}

func (c *queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

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
// batch, in both modes, that a batch takes five round trips to the
// registry (begin, three pipelines of queries, rollback), and that a batch of 500 corporations assembles
// exactly what 500 single-corporation loads do.
func TestLoadBatch(t *testing.T) {
	// Event ids then repeat across corporations, as addresses and filings
	// are shared: the loader's look-ups must cope.
	url := sourcetest.WholeFixture(t, sourcetest.Template(t))
	sourcetest.Clone(t, url, 10, true)
	pool, qc := countingPool(t, url)
	nums := corpNums(t, pool, "corp_num LIKE '%-%'")[:500]
	ctx := testenv.Context(t)

	trips := int64(0)
	count := func(loader *sourcedb.Loader, batch []string) (int64, *source.Batch) {
		before, tripsBefore := qc.n.Load(), qc.trips.Load()
		b, err := loader.Load(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		trips = qc.trips.Load() - tripsBefore
		return qc.n.Load() - before, b
	}
	modes := []struct {
		name   string
		opts   []sourcedb.Option
		tables int64
	}{
		{"full history", nil, 10},
		{"current only", []sourcedb.Option{sourcedb.CurrentOnly()}, 9},
	}
	var batch *source.Batch
	for _, m := range modes {
		loader := sourcedb.NewLoader(pool, nil, m.opts...)
		first, _ := count(loader, nums[:1]) // includes the nine code tables
		one, _ := count(loader, nums[:1])
		many, b := count(loader, nums)
		t.Logf("%s: queries: first load %d, one corporation %d, %d corporations %d in %d round trips", m.name, first, one, len(nums), many, trips)
		if trips != 5 {
			t.Errorf("%s: %d round trips for %d corporations, want 5: begin, three pipelines, rollback", m.name, trips, len(nums))
		}
		if one != many || many != m.tables+2 || first != one+9 {
			t.Errorf("%s: queries per batch: one corporation %d, %d corporations %d (want %d: begin, %d tables, rollback); first load %d (want +9 code tables)",
				m.name, one, len(nums), many, m.tables+2, m.tables, first)
		}
		if len(b.Snapshots) != 500 || len(b.Errors) != 0 {
			t.Fatalf("%s: assembled %d snapshots, errors %v", m.name, len(b.Snapshots), b.Errors)
		}
		for _, s := range b.Snapshots {
			if s.FullHistory != (m.opts == nil) {
				t.Fatalf("%s: %s has FullHistory %v", m.name, s.CorpNum(), s.FullHistory)
			}
		}
		if m.opts == nil {
			batch = b
		}
	}

	loader := sourcedb.NewLoader(pool, nil)
	profiles := []credential.Profile{credential.NewSnapshot(credential.Options{}), credential.NewHistory(credential.Options{})}
	params := credential.FullRange(regevent.At(1<<40, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
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
		for _, p := range profiles {
			wantRes, err1 := p.Generate(want, params)
			gotRes, err2 := p.Generate(got, params)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %s: generate: %v / %v", num, p.Name(), err1, err2)
			}
			if diff := gocmp.Diff(wantRes, gotRes); diff != "" {
				t.Fatalf("%s: %s: credentials differ (-single +batch):\n%s", num, p.Name(), diff)
			}
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
	batch, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), nums)
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
	nums := []string{"C6020509", "FM9129945", "C6020509"}
	current, err := sourcedb.NewLoader(pool, nil, sourcedb.CurrentOnly()).Load(testenv.Context(t), nums)
	if err != nil {
		t.Fatal(err)
	}
	full, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), nums)
	if err != nil {
		t.Fatal(err)
	}

	type partyView struct {
		Firm, Owner, FirmType, OwnerType string
		StartEvent, EndEvent             int64
		Filing                           string
	}
	view := func(s *source.Snapshot) []partyView {
		var out []partyView
		for _, p := range s.Parties {
			v := partyView{p.Firm.CorpNum, p.Owner.CorpNum, p.Firm.Type.CorpTypCd, p.Owner.Type.CorpTypCd,
				p.StartEvent.EventID, 0, p.StartEvent.Filing.EffectiveDt.Format(time.DateTime)}
			if p.EndEvent != nil {
				v.EndEvent = p.EndEvent.EventID
			}
			out = append(out, v)
		}
		return out
	}
	// Two of the three FBO rows have ended: a CurrentOnly loader reads the
	// current one, from both sides, with the FILE event's filing; the
	// default loader reads all three, with their end events.
	wantCurrent := []partyView{{"FM9129945", "C6020509", "SP", "CUL", 111258285, 0, "2012-02-17 16:00:00"}}
	wantFull := []partyView{
		{"FM9129945", "C6020509", "SP", "CUL", 111258283, 111258285, "2012-02-17 15:29:21"},
		{"FM9129945", "C6020509", "SP", "CUL", 111258285, 0, "2012-02-17 16:00:00"},
		{"FM9129945", "C6020509", "SP", "CUL", 111258287, 111258289, "2012-02-17 16:15:00"},
	}
	for _, tc := range []struct {
		name  string
		batch *source.Batch
		want  []partyView
	}{{"current only", current, wantCurrent}, {"full history", full, wantFull}} {
		owner, firm := must(tc.batch.Get("C6020509")), must(tc.batch.Get("FM9129945"))
		if diff := gocmp.Diff(tc.want, view(owner)); diff != "" {
			t.Errorf("%s: owner parties (-want +got):\n%s", tc.name, diff)
		}
		if diff := gocmp.Diff(tc.want, view(firm)); diff != "" {
			t.Errorf("%s: firm parties (-want +got):\n%s", tc.name, diff)
		}
		if got := len(owner.OwnedFirmParties()); got != 1 {
			t.Errorf("%s: owner: %d current owned-firm rows, want 1", tc.name, got)
		}
		if got := len(firm.OwnerParties()); got != 1 {
			t.Errorf("%s: firm: %d current owner rows, want 1", tc.name, got)
		}
	}

	owner := must(current.Get("C6020509"))
	firm := must(current.Get("FM9129945"))
	if got := owner.Type.Class(); got != "BC" || *owner.Type.FullDesc != "Continuation In as a BC ULC" {
		t.Errorf("owner type %+v", owner.Type)
	}
	if st := owner.CurrentState(); st == nil || st.OpStateCode() != "ACT" || *st.StartEventID != 9236428 {
		t.Errorf("owner current state %+v", st)
	}
	if n := owner.LegalName(); n == nil || *n.CorpNme != "GROET VQHWRYEHORQVKSNBRUE" || n.StartEvent == nil {
		t.Errorf("owner legal name %+v", n)
	}
	if n := len(owner.Names); n != 1 {
		t.Errorf("current only: %d names, want 1", n)
	}
	if n := len(must(full.Get("C6020509")).Names); n != 4 {
		t.Errorf("full history: %d names, want 4", n)
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
	batch, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), []string{"9645624", "0000000", "ZZ0000001", ""})
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
	_, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), []string{"9645624"})
	if err == nil || !strings.Contains(err.Error(), "load xpro_type") {
		t.Fatalf("Load without xpro_type: %v, want an error naming the table", err)
	}
}

func TestLoadEmptyBatch(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "corp_9645624"))
	loader := sourcedb.NewLoader(pool, nil)
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

// TestLoadHistory checks the full-history reading of two samples and the
// dating rules of docs/design/generation.md §3a on them.
func TestLoadHistory(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.WholeFixture(t, tmpl))
	// The fixture has no conv_event rows: give the CONVNC event that ends
	// A3781337's first name its real date.
	exec(t, pool, `INSERT INTO bc_registries.conv_event (event_id, effective_dt, remarks, fixture_group)
VALUES (364997, '1999-09-09 00:00:00', 'converted name change', 'corp_A3781337')`)
	batch, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), []string{"A3781337", "3305431"})
	if err != nil {
		t.Fatal(err)
	}

	type span struct {
		What, Start, End string
		StartEvent       int64
	}
	date := func(d *time.Time) string {
		if d == nil {
			return "NULL"
		}
		return d.Format(time.DateTime)
	}
	spans := func(what string, sp *source.Span) span {
		return span{what, date(sp.StartDate), date(sp.EndDate), sp.Start.ID}
	}

	a := must(batch.Get("A3781337"))
	if !a.FullHistory || len(a.Names) != 4 || len(a.Offices) != 2 || len(a.Jurisdictions) != 3 {
		t.Fatalf("A3781337: full history %v, %d names, %d offices, %d jurisdictions", a.FullHistory, len(a.Names), len(a.Offices), len(a.Jurisdictions))
	}
	var got []span
	h := a.History()
	for _, st := range h.States {
		got = append(got, spans("state "+*st.Rec.StateTypCd, &st.Span))
	}
	for _, n := range h.Names {
		got = append(got, spans("name "+*n.Rec.CorpNme, &n.Span))
	}
	for _, j := range h.Jurisdictions {
		got = append(got, spans("jurisdiction "+*j.Rec.CanJurTypCd, &j.Span))
	}
	for _, o := range h.Offices {
		got = append(got, spans("office "+o.Rec.OfficeTypCd, &o.Span))
	}
	want := []span{
		// Active from the start: the first period starts at registration.
		{"state ACT", "1994-05-17 00:00:00", "9998-12-31 00:00:00", 364974},
		// The converted original name is dated back to registration; the
		// conv_event dates the first name change.
		{"name HKPJULVNRGZXAONQQRJEWJIGL", "1994-05-17 00:00:00", "1999-09-09 00:00:00", 364974},
		{"name QFJRFVLCKKXQAVIMIYMTPCXEB", "1999-09-09 00:00:00", "2004-03-26 20:36:00", 364997},
		{"name OYJPBTQXEYTZOCZPGWMRZZSVZ", "2004-03-26 20:36:00", "2004-03-26 20:36:00", 364998},
		{"name FOWELXGDIKPAGFNIJUDBWAUHM", "2004-03-26 20:36:00", "9998-12-31 00:00:00", 364999},
		{"jurisdiction OT", "2004-03-26 20:36:00", "2004-07-12 08:41:12", 364974},
		{"jurisdiction OT", "2004-07-12 08:41:12", "2005-07-26 08:35:14", 5796928},
		{"jurisdiction OT", "2005-07-26 08:35:14", "9998-12-31 00:00:00", 6450564},
		{"office HD", "2004-03-26 20:36:00", "2005-07-26 08:35:14", 364974},
		{"office HD", "2005-07-26 08:35:14", "9998-12-31 00:00:00", 6450564},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("A3781337 dated records (-want +got):\n%s", diff)
	}
	if len(h.Problems) != 0 {
		t.Errorf("A3781337 problems: %v", h.Problems)
	}
	conv := h.Names[1].Start.Event
	if conv.ConvEvent == nil || *conv.ConvEvent.Remarks != "converted name change" || conv.Type == nil || conv.Type.Code != "CONVNC" {
		t.Errorf("CONVNC event %+v: want its conv_event and event_type rows", conv)
	}
	annxp := h.Jurisdictions[1].Start.Event
	if f := annxp.HistoryFiling(); f == nil || f.Type == nil || f.Type.Code != "ANNXP" {
		t.Errorf("ANNXP event %+v: want its filing with the filing_type row", annxp)
	}

	// 3305431: dissolved (HDO), restored (ACT), in liquidation (LIQ, an
	// active state), all converted on 2004-03-26.
	b := must(batch.Get("3305431")).History()
	got = nil
	for _, st := range b.States {
		got = append(got, spans("state "+*st.Rec.StateTypCd, &st.Span))
	}
	want = []span{
		// Historical first, but its start is a conversion event that ends
		// nothing: dated back to registration.
		{"state HDO", "1953-05-13 00:00:00", "2004-03-26 20:36:00", 253999},
		// LIQ continues the ACT period.
		{"state ACT", "2004-03-26 20:36:00", "2004-03-26 20:36:00", 254000},
		{"state LIQ", "2004-03-26 20:36:00", "9998-12-31 00:00:00", 254001},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("3305431 states (-want +got):\n%s", diff)
	}
	if st := b.ActiveState(); st == nil || *st.Rec.StateTypCd != "LIQ" {
		t.Errorf("3305431 active state %+v, want LIQ", st)
	}
	if !b.States[1].UndatedStart() || b.States[0].UndatedStart() {
		t.Errorf("3305431: the ACT period start is undated, the HDO one is not")
	}
}
