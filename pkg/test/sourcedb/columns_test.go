package sourcedb_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestLoadEveryColumn checks the loader's positional scans against rows
// read by column name: the whole fixture loaded as one batch must equal
// the snapshots source.Assemble builds from the same tables read with
// pgx.RowToStructByName, their columns listed in reverse order, so a scan
// that puts a column into the wrong field (or misses one) shows.
func TestLoadEveryColumn(t *testing.T) {
	pool := testenv.Pool(t, sourcetest.WholeFixture(t, sourcetest.Template(t)))
	ctx := testenv.Context(t)
	nums := corpNums(t, pool, "true")
	loader := sourcedb.NewLoader(pool, nil)
	got, err := loader.Load(ctx, nums)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := loader.CodeTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const fbo = "party_typ_cd = 'FBO'"
	r := &source.Rows{
		Parties: byName[source.Party](t, pool, "corp_party", fbo,
			map[string]string{"corp_num": "coalesce(corp_num, '')"}),
		Corporations:  byName[source.Corporation](t, pool, "corporation", "true", nil),
		States:        byName[source.CorpState](t, pool, "corp_state", "true", nil),
		Names:         byName[source.CorpName](t, pool, "corp_name", "corp_name_typ_cd IN ('CO', 'NB', 'AS', 'TR', 'NO')", nil),
		Jurisdictions: byName[source.Jurisdiction](t, pool, "jurisdiction", "true", nil),
		Offices:       byName[source.Office](t, pool, "office", "office_typ_cd IN ('RG', 'HD', 'FO')", nil),
		Addresses:     byName[source.Address](t, pool, "address", "true", nil),
		Events:        byName[source.Event](t, pool, "event", "true", nil),
		Filings: byName[source.Filing](t, pool, "filing",
			"event_id IN (SELECT event_id FROM bc_registries.event WHERE event_typ_cd = 'FILE')", nil),
		ConvEvents: byName[source.ConvEvent](t, pool, "conv_event",
			"event_id IN (SELECT event_id FROM bc_registries.event WHERE event_typ_cd LIKE 'CONV%')", textColumns),
	}
	if len(r.Parties) == 0 || len(r.Filings) == 0 || len(r.Addresses) == 0 {
		t.Fatalf("the fixture should have FBO parties (%d), filings (%d) and addresses (%d)", len(r.Parties), len(r.Filings), len(r.Addresses))
	}
	want := source.Assemble(nums, codes, r, true)
	if len(want.Snapshots) < 40 {
		t.Fatalf("assembled %d snapshots of %d corporations, errors %v", len(want.Snapshots), len(nums), want.Errors)
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("loaded batch differs from the rows read by column name (-by name +loaded):\n%s", diff)
	}
}

// textColumns reads conv_event's columns as the loader does: as text,
// whatever their type, but the two it uses.
var textColumns = func() map[string]string {
	m := map[string]string{}
	for _, c := range dbColumns(reflect.TypeFor[source.ConvEvent]()) {
		if c != "event_id" && c != "effective_dt" {
			m[c] = c + "::text"
		}
	}
	return m
}()

// dbColumns lists the db tags of t's fields.
func dbColumns(t reflect.Type) []string {
	var cols []string
	for f := range t.Fields() {
		if tag := f.Tag.Get("db"); tag != "" && tag != "-" {
			cols = append(cols, tag)
		}
	}
	return cols
}

// byName reads table's rows matching where into T by column name, the
// columns in the reverse of T's field order; exprs replace a column by an
// expression.
func byName[T any](t *testing.T, pool *pgxpool.Pool, table, where string, exprs map[string]string) []T {
	t.Helper()
	cols := dbColumns(reflect.TypeFor[T]())
	slices.Reverse(cols)
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = c
		if e, ok := exprs[c]; ok {
			sel[i] = e + " AS " + c
		}
	}
	sql := fmt.Sprintf("SELECT %s FROM bc_registries.%s WHERE %s", strings.Join(sel, ", "), table, where)
	rows, _ := pool.Query(testenv.Context(t), sql)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return list
}
