package eventdb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/originaltest"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// notBefores returns each row's not_before (RFC 3339 UTC, "" for none) by
// hash.
func notBefores(t *testing.T, q eventdb.Querier) map[string]string {
	t.Helper()
	rows, err := q.Query(testenv.Context(t), `SELECT credential_hash,
    coalesce(to_char(not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '') FROM credential_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var h, nb string
		if err := rows.Scan(&h, &nb); err != nil {
			t.Fatal(err)
		}
		out[h] = nb
	}
	return out
}

// holdTexts are credential texts and the not_before the original's rule
// gives an outstanding row of each (a future expiry holds it).
func holdTexts() (texts, want map[string]string) {
	future := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
	f := future.Format("2006-01-02T15:04:05")
	texts = map[string]string{
		"expires-later":  `{"effective_date": "2001-01-01T00:00:00+00:00", "expiry_date": "` + f + `+00:00"}`,
		"naive-later":    `{"expiry_date": "` + f + `"}`,
		"expired":        `{"expiry_date": "2001-01-01T00:00:00+00:00"}`,
		"no-expiry":      `{"expiry_date": ""}`,
		"effective-only": `{"effective_date": "` + f + `+00:00"}`, // the original held only expiries
		"unreadable":     `{"expiry_date": "soon"}`,
	}
	want = map[string]string{"expires-later": f + "Z", "naive-later": f + "Z", "expired": "", "no-expiry": "",
		"effective-only": "", "unreadable": ""}
	return texts, want
}

// TestAdoptedRowsWaitForTheirExpiry: an outstanding credential the
// original held back (future expiry) is adopted with its not_before, so
// the sweep and the poster, which read only not_before, hold it too.
func TestAdoptedRowsWaitForTheirExpiry(t *testing.T) {
	ctx := testenv.Context(t)
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.LayoutPreLEAR)
	orig.Watermark(1000, time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC))
	ev := originaltest.Event{ID: 1000, Date: time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC)}
	texts, want := holdTexts()
	processed := time.Date(2019, 3, 2, 10, 0, 0, 0, time.UTC)
	for hash, text := range texts {
		orig.AddCredential(originaltest.Credential{CorpNum: "A1", CorpState: "ACT", Prev: ev, Last: ev, Type: "REG",
			ID: hash, Schema: "registration.registries.ca", Version: "1.0.42", JSON: text, Hash: hash})
	}
	// Posted already: a final row is never held.
	orig.AddCredential(originaltest.Credential{CorpNum: "A1", CorpState: "ACT", Prev: ev, Last: ev, Type: "REG",
		ID: "posted", Schema: "registration.registries.ca", Version: "1.0.42", JSON: texts["expires-later"] + " ",
		Hash: "posted", ProcessDate: &processed, ProcessSuccess: "Y", ProcessMsg: "ok"})
	want["posted"] = ""

	from := testenv.Pool(t, orig.URL)
	o, err := eventdb.InspectOriginal(ctx, from, "BC_REG")
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := eventdb.Adopt(ctx, pool, from, o, eventdb.AdoptPlan{System: "BC_REG", Watermark: regevent.At(1000, ev.Date)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, notBefores(t, pool)); diff != "" {
		t.Errorf("not_before by hash (-want +got):\n%s", diff)
	}
}

// TestMigrationBackfillsNotBefore: migration 5 gives the outstanding rows
// stored without a not_before the one the original's rule gives them (the
// poster read the expiry itself until then); final rows and rows that have
// one keep theirs.
func TestMigrationBackfillsNotBefore(t *testing.T) {
	ctx := testenv.Context(t)
	pool, _ := testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	texts, want := holdTexts()
	insert := func(hash, text, status string, notBefore *time.Time) {
		t.Helper()
		if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
			last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash,
			process_success, not_before)
			VALUES ('BC_REG', 'C1', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', $2, $1, nullif($3, ''), $4)`,
			hash, text, status, notBefore); err != nil {
			t.Fatal(err)
		}
	}
	for hash, text := range texts {
		insert(hash, text, "", nil)
	}
	insert("posted", texts["expires-later"]+" ", "Y", nil)
	want["posted"] = ""
	set := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	insert("has-one", texts["expires-later"]+"  ", "", &set)
	want["has-one"] = "2030-01-02T03:04:05Z"
	// The rows above were stored as before version 5: run it (again), and
	// the versions after it (goose applies none out of order).
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id >= 5`); err != nil {
		t.Fatal(err)
	}
	res, err := eventdb.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) == 0 || res.Applied[0] != 5 {
		t.Errorf("applied %v, want version 5 first", res.Applied)
	}
	if diff := cmp.Diff(want, notBefores(t, pool)); diff != "" {
		t.Errorf("not_before by hash (-want +got):\n%s", diff)
	}
}
