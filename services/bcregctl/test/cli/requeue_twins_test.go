package cli_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// twinTables are the rows a manage twin may touch, one compact line each,
// in record order: what a dry run must leave as it is and the real run
// changes as the twin says.
func (w *opsWorld) twinTables() map[string][]string {
	w.t.Helper()
	queries := map[string]string{
		"event_by_corp_filing": `SELECT corp_num || ' ' || coalesce(process_success, '-') || ' ' || coalesce(reason, '-') || ' ' ||
    CASE WHEN process_msg LIKE 'requeued as %' THEN 'requeued as' ELSE coalesce(process_msg, '-') END
FROM event_by_corp_filing ORDER BY record_id`,
		"credential_log": `SELECT corp_num || ' ' || credential_type_cd || ' ' || credential_hash || ' ' || coalesce(process_success, '-') ||
    CASE WHEN published_at IS NULL THEN ' unpublished' ELSE ' published' END
FROM credential_log ORDER BY record_id`,
		"corp_history_log": `SELECT corp_num || ' ' || coalesce(process_success, '-') FROM corp_history_log ORDER BY record_id`,
	}
	got := map[string][]string{}
	for table, q := range queries {
		rows, _ := w.edb.Query(w.ctx, q)
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			w.t.Fatalf("%s: %v", table, err)
		}
		got[table] = list
	}
	return got
}

// addWorkItem inserts an event_by_corp_filing row as the builder leaves
// it (status "" outstanding, no process date).
func (w *opsWorld) addWorkItem(corp, status, msg string) {
	w.t.Helper()
	w.exec(`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
    msg_id, reason, process_date, process_success, process_msg)
VALUES ('BC_REG', $1, 0, '0001-01-01', 5, '2019-01-01', $4, 'event',
    CASE WHEN $2::text <> '' THEN LOCALTIMESTAMP END, NULLIF($2::text, ''), NULLIF($3::text, ''))`, corp, status, msg, corp+":"+status)
}

// addSnapshot inserts a corp_history_log row with a status.
func (w *opsWorld) addSnapshot(corp, status string) {
	w.t.Helper()
	w.exec(`INSERT INTO corp_history_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, corp_json,
    process_date, process_success)
VALUES ('BC_REG', $1, 0, '0001-01-01', 5, '2019-01-01', '{}', now(), $2)`, corp, status)
}

// addRelationship inserts corp's issued relationship credential to related.
func (w *opsWorld) addRelationship(corp, related, hash string) {
	w.t.Helper()
	w.exec(`INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date, last_event_id, last_event_date,
    credential_type_cd, credential_id, schema_name, schema_version, credential_json, credential_hash, profile,
    process_date, process_success, published_at)
VALUES ('BC_REG', $1, 'ACT', 0, '0001-01-01', 5, '2019-01-01', 'REL', $1, 'relationship.registries.ca', '1.0.0',
    json_build_object('associated_registration_id', $2::text), $3, 'history', LOCALTIMESTAMP, 'Y', now())`, corp, related, hash)
}

// streamCorps names the corporations of the messages on a stream, in order.
func (w *opsWorld) streamCorps(name string) []string {
	w.t.Helper()
	var corps []string
	for _, m := range w.stream(name) {
		corps = append(corps, m.Subject[strings.LastIndex(m.Subject, ".")+1:])
	}
	return corps
}

// jsonNulls lists the paths of the nulls in a JSON document: a list the
// twins answer is [] when empty, never null.
func jsonNulls(path string, v any) []string {
	switch v := v.(type) {
	case nil:
		return []string{path}
	case map[string]any:
		var out []string
		for k, x := range v {
			out = append(out, jsonNulls(path+"."+k, x)...)
		}
		slices.Sort(out)
		return out
	case []any:
		var out []string
		for i, x := range v {
			out = append(out, jsonNulls(fmt.Sprintf("%s[%d]", path, i), x)...)
		}
		return out
	}
	return nil
}

// TestRequeueTwinsDryRunAndJSON: each twin of a manage requeue command
// with --dry-run --json answers one JSON document without nulls, changes
// no table, publishes nothing and records no operator action; with --json
// alone it has its effect on the tables and streams, answers one JSON
// document without nulls, and records its operator action.
func TestRequeueTwinsDryRunAndJSON(t *testing.T) {
	// Every world holds the same rows; each twin picks its own.
	seed := func(w *opsWorld) {
		w.setWatermark(w.newestEvent())
		w.addWorkItem("E1", "N", "corporation E1: failed")
		w.addWorkItem("E2", "S", "FI: Skipped (out of scope)")
		w.addWorkItem("E3", "Y", "ok")
		w.addSnapshot("H1", "N")
		w.addSnapshot("0191294", "Y")
		w.addCreds(
			cred{corp: "H1", typ: "REG", hash: "h1-y", status: "Y", published: true},
			cred{corp: "0191294", typ: "REG", hash: "c-y", status: "Y", published: true},
			cred{corp: "C2", typ: "REG", hash: "c2-n", status: "N", msg: "Credential was not stored", published: true},
		)
		w.addRelationship("R1", "FM0001", "r1-fm1")
		w.addRelationship("R1", "FM0002", "r1-fm2")
	}
	base := map[string][]string{
		"event_by_corp_filing": {"E1 N event corporation E1: failed", "E2 S event FI: Skipped (out of scope)", "E3 Y event ok"},
		"corp_history_log":     {"H1 N", "0191294 Y"},
		"credential_log": {"H1 REG h1-y Y published", "0191294 REG c-y Y published", "C2 REG c2-n N published",
			"R1 REL r1-fm1 Y published", "R1 REL r1-fm2 Y published"},
	}
	// with returns base with table replaced.
	with := func(table string, rows ...string) map[string][]string {
		m := map[string][]string{}
		for k, v := range base {
			m[k] = v
		}
		m[table] = rows
		return m
	}
	tests := []struct {
		name    string
		args    []string
		tables  map[string][]string // after the real run
		events  []string            // corporations of BCREG_EVENTS' messages
		creds   []string            // corporations of BCREG_CREDS' bundles
		actions []string            // operator_action after the run: "action target affected"; a requeue
		// CorpEvent also records requeue-corp
	}{
		{
			name: "failed-events", args: []string{"failed-events"},
			tables: with("event_by_corp_filing", "E1 Y event requeued as", "E2 S event FI: Skipped (out of scope)", "E3 Y event ok"),
			events: []string{"E1"}, actions: []string{"requeue-failed-events event_by_corp_filing N 1"},
		},
		{
			name: "skipped-types", args: []string{"skipped-types", "FI"},
			tables: with("event_by_corp_filing", "E1 N event corporation E1: failed", "E2 Y event requeued as", "E3 Y event ok"),
			events: []string{"E2"}, actions: []string{"requeue-skipped-types event_by_corp_filing skipped FI 1"},
		},
		{
			name: "failed-corps", args: []string{"failed-corps"},
			tables: func() map[string][]string {
				m := with("corp_history_log", "0191294 Y")
				m["credential_log"] = base["credential_log"][1:]
				return m
			}(),
			events: []string{"H1"}, actions: []string{"requeue-failed-corps BC_REG H1 1", "requeue-corp BC_REG H1 1"},
		},
		{
			name: "failed-creds", args: []string{"failed-creds", "--status", "N"},
			tables: with("credential_log", "H1 REG h1-y Y published", "0191294 REG c-y Y published", "C2 REG c2-n - published",
				"R1 REL r1-fm1 Y published", "R1 REL r1-fm2 Y published"),
			creds: []string{"C2"}, actions: []string{"requeue-failed credential_log N since ever 1"},
		},
		{
			name: "processed-creds", args: []string{"processed-creds"},
			tables: with("credential_log", "H1 REG h1-y - published", "0191294 REG c-y - published", "C2 REG c2-n N published",
				"R1 REL r1-fm1 - published", "R1 REL r1-fm2 - published"),
			creds: []string{"0191294", "H1", "R1"}, actions: []string{"requeue-processed-creds credential_log Y since ever 4"},
		},
		{
			name: "corp --fresh", args: []string{"corp", "--fresh", "0191294"},
			tables: func() map[string][]string {
				m := with("corp_history_log", "H1 N")
				m["credential_log"] = slices.Delete(slices.Clone(base["credential_log"]), 1, 2)
				return m
			}(),
			events: []string{"0191294"}, actions: []string{"requeue-corp-fresh BC_REG 0191294 1", "requeue-corp BC_REG 0191294 1"},
		},
		{
			name: "relationships", args: []string{"relationships", "R1", "FM0002"},
			tables: func() map[string][]string {
				m := with("credential_log", base["credential_log"][:4]...)
				return m
			}(),
			events: []string{"R1"}, actions: []string{"requeue-relationships BC_REG R1 1", "requeue-corp BC_REG R1 1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newOpsWorld(t)
			seed(w)
			if diff := cmp.Diff(base, w.twinTables()); diff != "" {
				t.Fatalf("seeded tables (-want +got):\n%s", diff)
			}
			runJSON := func(args ...string) map[string]any {
				t.Helper()
				code, stdout, stderr := run(t, append(append([]string{"requeue"}, tc.args...), args...)...)
				if code != 0 {
					t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
				}
				var doc map[string]any
				dec := json.NewDecoder(strings.NewReader(stdout))
				if err := dec.Decode(&doc); err != nil {
					t.Fatalf("%v: stdout is not JSON: %v\n%s", args, err, stdout)
				}
				if dec.More() {
					t.Errorf("%v: more than one JSON document:\n%s", args, stdout)
				}
				if nulls := jsonNulls("", doc); len(nulls) != 0 {
					t.Errorf("%v: nulls at %v:\n%s", args, nulls, stdout)
				}
				return doc
			}

			dry := runJSON("--dry-run", "--json")
			if dry["dry_run"] != true {
				t.Errorf("dry run answers dry_run %v", dry["dry_run"])
			}
			if diff := cmp.Diff(base, w.twinTables()); diff != "" {
				t.Errorf("dry run changed the tables (-before +after):\n%s", diff)
			}
			if n := len(w.stream(bus.StreamEvents)) + len(w.stream(bus.StreamCreds)); n != 0 {
				t.Errorf("dry run published %d message(s)", n)
			}
			if got := w.actions(); len(got) != 0 {
				t.Errorf("dry run recorded %v", got)
			}

			if doc := runJSON("--json"); doc["dry_run"] != false {
				t.Errorf("real run answers dry_run %v", doc["dry_run"])
			}
			if diff := cmp.Diff(tc.tables, w.twinTables()); diff != "" {
				t.Errorf("tables after the run (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.events, w.streamCorps(bus.StreamEvents)); diff != "" {
				t.Errorf("BCREG_EVENTS corporations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.creds, w.streamCorps(bus.StreamCreds)); diff != "" {
				t.Errorf("BCREG_CREDS corporations (-want +got):\n%s", diff)
			}
			for _, m := range w.stream(bus.StreamEvents) {
				if ev, err := messages.DecodeCorpEvent(m.Data); err != nil || ev.Reason != "requeue" {
					t.Errorf("CorpEvent %s: reason %q, %v", m.Subject, ev.Reason, err)
				}
			}
			if diff := cmp.Diff(tc.actions, w.actions()); diff != "" {
				t.Errorf("operator_action (-want +got):\n%s", diff)
			}
		})
	}
}
