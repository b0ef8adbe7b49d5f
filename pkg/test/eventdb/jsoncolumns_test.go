package eventdb_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestJSONColumnsKeepTheText: migration 7 makes credential_json (text) and
// corp_json (jsonb) json; json keeps the text byte for byte, so each stored
// credential's text, and its hash, is what it was, and credential_json->>
// works as in the original (the manage script's queueOrgForRelnsUpdate).
func TestJSONColumnsKeepTheText(t *testing.T) {
	ctx := testenv.Context(t)
	pool, _ := testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// Back to the columns of version 6, as a database before this one.
	for _, s := range []string{`DELETE FROM goose_db_version WHERE version_id >= 7`,
		`ALTER TABLE credential_log ALTER COLUMN credential_json TYPE text`,
		`ALTER TABLE corp_history_log ALTER COLUMN corp_json TYPE jsonb USING corp_json::jsonb`} {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	texts := map[string]string{
		"canonical":  `{"associated_registration_id": "FM0000001", "registration_id": "BC1234567", "relationship": "Owns"}`,
		"odd spaces": "{ \"b\":1,\n\t\"a\" : [1, 2 ,3], \"é\": \"\\u00e9\"}",
		"duplicate":  `{"a": 1, "a": 2}`,
	}
	hashOf := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, text := range texts {
		if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
			last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash)
			VALUES ('BC_REG', 'BC1234567', 0, '0001-01-01', 1, '2020-01-01', 'REL', 's', '1', $1, $2)`, text, hashOf(text)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
		last_event_id, last_event_date, corp_json) VALUES ('BC_REG', 'BC1234567', 0, '0001-01-01', 1, '2020-01-01', '{"b": 1,  "a": 2}')`); err != nil {
		t.Fatal(err)
	}
	var corpBefore string
	if err := pool.QueryRow(ctx, `SELECT corp_json::text FROM corp_history_log`).Scan(&corpBefore); err != nil {
		t.Fatal(err)
	}
	res, err := eventdb.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	// 7 converts the columns; later migrations follow it.
	if len(res.Applied) == 0 || res.Applied[0] != 7 {
		t.Fatalf("applied %v, want 7 first", res.Applied)
	}
	rows, err := pool.Query(ctx, `SELECT credential_json::text, credential_hash FROM credential_log`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var text, hash string
		if err := rows.Scan(&text, &hash); err != nil {
			t.Fatal(err)
		}
		if hashOf(text) != hash {
			t.Errorf("text %q no longer hashes to its stored hash", text)
		}
		got[hash] = text
	}
	want := map[string]string{}
	for _, text := range texts {
		want[hashOf(text)] = text
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credential_json after migration 7 (-want +got):\n%s", diff)
	}
	var typ, corpAfter, related string
	if err := pool.QueryRow(ctx, `SELECT pg_typeof(credential_json)::text, (SELECT corp_json::text FROM corp_history_log),
		credential_json->>'associated_registration_id' FROM credential_log WHERE credential_hash = $1`, hashOf(texts["canonical"])).
		Scan(&typ, &corpAfter, &related); err != nil {
		t.Fatal(err)
	}
	if typ != "json" || corpAfter != corpBefore || related != "FM0000001" {
		t.Errorf("type %s, corp_json %q (was %q), ->> %q", typ, corpAfter, corpBefore, related)
	}
}
