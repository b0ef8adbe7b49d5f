package originaltest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Fingerprint describes the schema and the rows of the database at url,
// one line per item, so that any change of either changes it and cmp.Diff
// of two shows what changed: its schemas; every relation outside the
// system schemas with its kind and options; every column (type,
// nullability, default); every index and constraint definition; every
// sequence's position; and every table's row count and the md5 of its rows
// in sorted order. It reads the catalog and the tables only.
func Fingerprint(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("originaltest: fingerprint: %v", err)
	}
	defer conn.Close(ctx)
	var lines []string
	query := func(sql string) {
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatalf("originaltest: fingerprint: %s: %v", sql, err)
		}
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("originaltest: fingerprint: %s: %v", sql, err)
		}
		lines = append(lines, list...)
	}
	const user = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`
	query(`SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE ` + user + ` ORDER BY 1`)
	query(`SELECT format('relation %I.%I kind %s options %s', n.nspname, c.relname, c.relkind, coalesce(c.reloptions::text, '-'))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + user + ` ORDER BY 1`)
	query(`SELECT format('column %I.%I.%I %s not null %s default %s', n.nspname, c.relname, a.attname,
       format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND ` + user + ` ORDER BY 1`)
	query(`SELECT 'index ' || indexdef FROM pg_indexes n WHERE ` + strings.ReplaceAll(user, "n.nspname", "n.schemaname") + ` ORDER BY 1`)
	query(`SELECT format('constraint %I.%I %s', n.nspname, con.conname, pg_get_constraintdef(con.oid))
FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE ` + user + ` ORDER BY 1`)
	query(`SELECT format('function %I.%s', n.nspname, p.oid::regprocedure) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE ` + user + ` ORDER BY 1`)

	type rel struct{ Schema, Name, Kind string }
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'S') AND `+user+` ORDER BY 1, 2`)
	if err != nil {
		t.Fatalf("originaltest: fingerprint: %v", err)
	}
	rels, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rel])
	if err != nil {
		t.Fatalf("originaltest: fingerprint: %v", err)
	}
	for _, r := range rels {
		ident := pgx.Identifier{r.Schema, r.Name}.Sanitize()
		var line string
		sql := `SELECT format('rows %s: %s, md5 %s', $1::text, count(*), coalesce(md5(string_agg(x::text, E'\n' ORDER BY x::text)), '-')) FROM ` + ident + ` x`
		if r.Kind == "S" {
			sql = `SELECT format('sequence %s: last %s called %s', $1::text, last_value, is_called) FROM ` + ident
		}
		if err := conn.QueryRow(ctx, sql, ident).Scan(&line); err != nil {
			t.Fatalf("originaltest: fingerprint %s: %v", ident, err)
		}
		lines = append(lines, line)
	}
	return fmt.Sprintf("%s\n", strings.Join(lines, "\n"))
}
