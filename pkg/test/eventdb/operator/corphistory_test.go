package operator_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestCorpHistory checks the console's corporation page queries: only the
// corporation asked for, newest first, at most limit rows, NULL text read
// as "" and NULL dates as nil.
func TestCorpHistory(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
		   reason, process_date, process_success, process_msg, entry_date) VALUES
		  ('BC_REG', 'A1', 0, '0001-01-01', 10, '2020-01-01 10:00', NULL, NULL, NULL, NULL, '2020-01-02 09:00'),
		  ('BC_REG', 'B2', 0, '0001-01-01', 11, '2020-01-01 10:00', NULL, NULL, NULL, NULL, '2020-01-02 09:00'),
		  ('BC_REG', 'A1', 10, '2020-01-01 10:00', 12, '2020-01-01 11:00', 'requeue', '2020-01-02 10:01', 'N', 'no such corp', '2020-01-02 10:00')`,
		`INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
		   credential_type_cd, credential_id, credential_reason, schema_name, schema_version, credential_json, credential_hash,
		   process_date, process_success, process_msg, published_at, attempts, entry_date) VALUES
		  ('BC_REG', 'A1', 0, '0001-01-01', 10, '2020-01-01', 'REG', NULL, NULL, 's', '1', '{}', 'h1', NULL, NULL, NULL, NULL, 0, '2020-01-02 09:00'),
		  ('BC_REG', 'B2', 0, '0001-01-01', 11, '2020-01-01', 'REG', NULL, NULL, 's', '1', '{}', 'h2', NULL, NULL, NULL, NULL, 0, '2020-01-02 09:00'),
		  ('BC_REG', 'A1', 10, '2020-01-01', 12, '2020-01-01', 'ADDR', 'c-3', 'moved', 's', '1', '{}', 'h3',
		   '2020-01-02 10:05', 'Y', 'result-9', '2020-01-02 10:01Z', 2, '2020-01-02 10:00')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ptr := func(v time.Time) *time.Time { return &v }
	var published time.Time // timestamptz, as the database reads it
	if err := pool.QueryRow(ctx, `SELECT published_at FROM credential_log WHERE credential_hash = 'h3'`).Scan(&published); err != nil {
		t.Fatal(err)
	}
	newWork := operator.CorpWorkItem{RecordID: 3, PrevEventID: 10, PrevEventDate: at("2020-01-01 10:00"), LastEventID: 12,
		LastEventDate: at("2020-01-01 11:00"), Reason: "requeue", Success: "N", Msg: "no such corp",
		EntryDate: at("2020-01-02 10:00"), ProcessDate: ptr(at("2020-01-02 10:01"))}
	oldWork := operator.CorpWorkItem{RecordID: 1, PrevEventDate: at("0001-01-01 00:00"), LastEventID: 10,
		LastEventDate: at("2020-01-01 10:00"), EntryDate: at("2020-01-02 09:00")}
	newCred := operator.CorpCredential{RecordID: 3, Type: "ADDR", ID: "c-3", Reason: "moved", Status: "Y", Msg: "result-9",
		Hash: "h3", EntryDate: at("2020-01-02 10:00"), PublishedAt: &published, ProcessDate: ptr(at("2020-01-02 10:05")), Attempts: 2}
	oldCred := operator.CorpCredential{RecordID: 1, Type: "REG", Hash: "h1", EntryDate: at("2020-01-02 09:00")}
	for _, tc := range []struct {
		name      string
		corp      string
		limit     int
		wantWork  []operator.CorpWorkItem
		wantCreds []operator.CorpCredential
	}{
		{name: "all rows newest first", corp: "A1", limit: 10,
			wantWork: []operator.CorpWorkItem{newWork, oldWork}, wantCreds: []operator.CorpCredential{newCred, oldCred}},
		{name: "limited", corp: "A1", limit: 1,
			wantWork: []operator.CorpWorkItem{newWork}, wantCreds: []operator.CorpCredential{newCred}},
		{name: "unknown corporation", corp: "Z9", limit: 10,
			wantWork: []operator.CorpWorkItem{}, wantCreds: []operator.CorpCredential{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work, err := operator.CorpWorkItems(ctx, pool, tc.corp, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantWork, work); d != "" {
				t.Errorf("work items (-want +got):\n%s", d)
			}
			creds, err := operator.CorpCredentials(ctx, pool, tc.corp, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantCreds, creds); d != "" {
				t.Errorf("credentials (-want +got):\n%s", d)
			}
		})
	}
}
