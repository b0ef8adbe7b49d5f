package adopt_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// inspected inspects the original at url and makes a migrated event
// database to adopt it into.
func inspected(t *testing.T, url string) (from *pgxpool.Pool, o adopt.Original, to *pgxpool.Pool) {
	t.Helper()
	ctx := testenv.Context(t)
	from = testenv.Pool(t, url)
	o, err := adopt.Inspect(ctx, from, "BC_REG")
	if err != nil {
		t.Fatal(err)
	}
	to, _ = testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, to); err != nil {
		t.Fatal(err)
	}
	return from, o, to
}

// adoptedCred is a credential_log row as adopt leaves it.
type adoptedCred struct {
	CorpNum, Type, Hash, Text string
	Status, Msg, Reason       string
	PrevID, LastID            int64
	PrevDate, LastDate        string
	Published                 bool
}

// TestAdoptOriginalLayouts: both layouts of the Python pipeline's database
// are imported with their hashes, texts, statuses and event positions; the
// watermark is the original's (by date where it has dates); queued
// corporations are reported; a second adoption is refused, and a forced
// one imports nothing twice.
func TestAdoptOriginalLayouts(t *testing.T) {
	day := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	processed := day("2019-03-02 10:00:00")
	tests := []struct {
		name          string
		layout        string
		wantWatermark regevent.Position
		wantDated     bool
		wantRefs      func(c *adoptedCred)
	}{
		{"8bc273a", originaltest.Layout8bc273a, regevent.Position{EventID: 1100}, false, func(c *adoptedCred) {
			// 8bc273a stored ids only: dates are unknown (year 1).
			c.PrevDate, c.LastDate = "0001-01-01 00:00:00", "0001-01-01 00:00:00"
		}},
		{"pre-LEAR", originaltest.LayoutPreLEAR, regevent.At(1000, day("2019-03-02 09:30:00")), true, func(c *adoptedCred) {
			c.Reason = "Filing:NOCAD"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t)
			orig := originaltest.Create(t, testenv.NewDatabase(t), tc.layout)
			orig.Watermark(900, day("2019-03-01 10:00:00"))
			orig.Watermark(1000, day("2019-03-02 09:30:00"))
			// A higher id with an older date: pre-LEAR goes by date.
			orig.Watermark(1100, day("2019-03-01 11:00:00"))
			prev := originaltest.Event{ID: 0, Date: day("0001-01-01 00:00:00")}
			last := originaltest.Event{ID: 1000, Date: day("2019-03-02 09:30:00")}
			add := func(corp, typ, hash, status, msg string, date *time.Time) {
				orig.AddCredential(originaltest.Credential{CorpNum: corp, CorpState: "ACT", Prev: prev, Last: last, Type: typ,
					ID: corp + "-" + typ, Schema: "registration.registries.ca", Version: "1.0.42",
					JSON: `{"entity_name": "` + corp + `", "n": 1}`, Hash: hash, Reason: "Filing:NOCAD",
					ProcessDate: date, ProcessSuccess: status, ProcessMsg: msg})
			}
			add("A1", "REG", "h1", "Y", "cred-id-1", &processed)
			add("A1", "ADDR", "h2", "A", "", &processed)
			add("B2", "REG", "h3", "N", "Credential was not stored: bad", &processed)
			add("B2", "REL", "h4", "", "", nil)
			add("C3", "REG", "h5", "", "", &processed) // processed without a status
			orig.AddWorkItem(originaltest.WorkItem{CorpNum: "A1", Prev: prev, Last: last, ProcessDate: &processed, ProcessSuccess: "Y", ProcessMsg: "BC"})
			orig.AddWorkItem(originaltest.WorkItem{CorpNum: "B2", Prev: prev, Last: last, ProcessDate: &processed, ProcessSuccess: "N", ProcessMsg: "no corp_type"})
			orig.AddWorkItem(originaltest.WorkItem{CorpNum: "C3", Prev: prev, Last: last}) // still queued

			from := testenv.Pool(t, orig.URL)
			o, err := adopt.Inspect(ctx, from, "BC_REG")
			if err != nil {
				t.Fatal(err)
			}
			if o.Layout != tc.layout || o.Watermark != tc.wantWatermark || o.WatermarkDated != tc.wantDated {
				t.Errorf("inspect: layout %q watermark %+v dated %v, want %q %+v %v", o.Layout, o.Watermark, o.WatermarkDated,
					tc.layout, tc.wantWatermark, tc.wantDated)
			}
			if diff := cmp.Diff([]string{"C3"}, o.Queued); diff != "" {
				t.Errorf("queued (-want +got):\n%s", diff)
			}

			pool, _ := testenv.NewPool(t)
			if _, err := eventdb.Migrate(ctx, pool); err != nil {
				t.Fatal(err)
			}
			wm := regevent.At(o.Watermark.EventID, day("2019-03-02 09:30:00"))
			window := []regevent.Event{{Position: regevent.At(999, day("2019-03-02 09:25:00")), CorpNum: "A1"}}
			plan := adopt.Plan{System: "BC_REG", Watermark: wm, Window: window, From: "postgres://orig"}
			res, err := adopt.Run(ctx, pool, from, o, plan)
			if err != nil {
				t.Fatal(err)
			}
			wantRes := adopt.Result{Layout: tc.layout, Watermark: wm, Credentials: 5, Imported: 5,
				ByStatus:  map[string]int64{"Y": 1, "A": 1, "N": 2, "outstanding": 1},
				WorkItems: 2, WorkItemsImported: 2, Queued: []string{"C3"}, Failed: []string{"B2"}, Requeue: []string{"B2", "C3"},
				ActionID: res.ActionID}
			if diff := cmp.Diff(wantRes, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}

			rows, _ := pool.Query(ctx, `SELECT corp_num, credential_type_cd, credential_hash, credential_json,
    coalesce(process_success, ''), coalesce(process_msg, ''), coalesce(credential_reason, ''),
    prev_event_id, last_event_id, to_char(prev_event_date, 'YYYY-MM-DD HH24:MI:SS'), to_char(last_event_date, 'YYYY-MM-DD HH24:MI:SS'),
    published_at IS NOT NULL
FROM credential_log ORDER BY record_id`)
			got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[adoptedCred])
			if err != nil {
				t.Fatal(err)
			}
			want := []adoptedCred{
				{CorpNum: "A1", Type: "REG", Hash: "h1", Status: "Y", Msg: "cred-id-1", Published: true},
				{CorpNum: "A1", Type: "ADDR", Hash: "h2", Status: "A", Published: true},
				{CorpNum: "B2", Type: "REG", Hash: "h3", Status: "N", Msg: "Credential was not stored: bad", Published: true},
				{CorpNum: "B2", Type: "REL", Hash: "h4"},
				{CorpNum: "C3", Type: "REG", Hash: "h5", Status: "N",
					Msg: `adopted: processed by the original with status ""; not posted again unless requeued`, Published: true},
			}
			for i := range want {
				want[i].Text = `{"entity_name": "` + want[i].CorpNum + `", "n": 1}`
				want[i].PrevID, want[i].LastID = 0, 1000
				want[i].PrevDate, want[i].LastDate = "0001-01-01 00:00:00", "2019-03-02 09:30:00"
				tc.wantRefs(&want[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("credential_log (-want +got):\n%s", diff)
			}
			if w, ok, err := discovery.CurrentWatermark(ctx, pool, "BC_REG"); err != nil || !ok || w != wm {
				t.Errorf("watermark = %+v %v %v, want %+v", w, ok, err, wm)
			}
			var items, seen, actions int
			_ = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM event_by_corp_filing WHERE msg_id LIKE 'adopt:%'),
    (SELECT count(*) FROM event_seen), (SELECT count(*) FROM operator_action WHERE action = 'adopt')`).Scan(&items, &seen, &actions)
			if items != 2 || seen != 1 || actions != 1 {
				t.Errorf("work items %d, seen events %d, operator actions %d; want 2, 1, 1", items, seen, actions)
			}

			if _, err := adopt.Run(ctx, pool, from, o, plan); !errors.Is(err, adopt.ErrNotEmpty) {
				t.Errorf("second adoption: %v, want ErrNotEmpty", err)
			}
			plan.Force = true
			again, err := adopt.Run(ctx, pool, from, o, plan)
			if err != nil || again.Imported != 0 || again.WorkItemsImported != 0 {
				t.Errorf("forced re-adoption imported %d credentials, %d work items (%v), want none", again.Imported, again.WorkItemsImported, err)
			}
		})
	}
}

func TestInspectRefusesOtherDatabases(t *testing.T) {
	ctx := testenv.Context(t)
	tests := []struct {
		name, ddl, want string
	}{
		{"empty", ``, "no table LAST_EVENT"},
		{"never loaded", originaltestDDL + `INSERT INTO LAST_EVENT (SYSTEM_TYPE_CD, EVENT_ID, ENTRY_DATE) VALUES ('BC_REG', 0, now());`,
			"never finished its initial load"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := testenv.NewDatabase(t)
			pool := testenv.Pool(t, url)
			if tc.ddl != "" {
				if _, err := pool.Exec(ctx, tc.ddl); err != nil {
					t.Fatal(err)
				}
			}
			_, err := adopt.Inspect(ctx, pool, "BC_REG")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

const originaltestDDL = `CREATE TABLE LAST_EVENT (RECORD_ID SERIAL PRIMARY KEY, SYSTEM_TYPE_CD VARCHAR(255) NOT NULL, EVENT_ID INTEGER NOT NULL, ENTRY_DATE TIMESTAMP NOT NULL);
CREATE TABLE CREDENTIAL_LOG (RECORD_ID SERIAL PRIMARY KEY, SYSTEM_TYPE_CD VARCHAR(255), CORP_NUM VARCHAR(255), CORP_STATE VARCHAR(255),
  PREV_EVENT_ID INTEGER, LAST_EVENT_ID INTEGER, CREDENTIAL_TYPE_CD VARCHAR(255), CREDENTIAL_ID VARCHAR(255), SCHEMA_NAME VARCHAR(255),
  SCHEMA_VERSION VARCHAR(255), CREDENTIAL_JSON JSON, CREDENTIAL_HASH VARCHAR(64), ENTRY_DATE TIMESTAMP, END_DATE TIMESTAMP,
  PROCESS_DATE TIMESTAMP, PROCESS_SUCCESS CHAR(1), PROCESS_MSG VARCHAR(255));
`
