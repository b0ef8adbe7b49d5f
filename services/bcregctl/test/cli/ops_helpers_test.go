package cli_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// opsWorld is an operator command's world: the development fixture as the
// registry, a migrated event database, an embedded NATS server with the
// topology, and the BCREG_ variables pointing at them.
type opsWorld struct {
	t      *testing.T
	ctx    context.Context
	srcURL string
	edbURL string
	edb    *pgxpool.Pool
	nats   *testenv.NATS
	nc     *nats.Conn
	js     jetstream.JetStream
}

func newOpsWorld(t *testing.T, natsOpts ...testenv.NATSOption) *opsWorld {
	t.Helper()
	w := &opsWorld{t: t, ctx: testenv.Context(t), nats: testenv.NewNATS(t, natsOpts...)}
	w.nc, w.js = w.nats.Connect(t)
	if err := bus.DefaultTopology().Apply(w.ctx, w.js); err != nil {
		t.Fatal(err)
	}
	w.srcURL = sourcetest.WholeFixture(t, sourcetest.Template(t))
	w.edbURL = testenv.NewDatabase(t)
	w.edb = testenv.Pool(t, w.edbURL)
	if _, err := eventdb.Migrate(w.ctx, w.edb); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BCREG_EVENT_DB_URL", w.edbURL)
	t.Setenv("BCREG_SOURCE_DB_URL", w.srcURL)
	t.Setenv("BCREG_NATS_URL", w.nats.URL())
	t.Setenv("BCREG_RETRY_BASE", "20ms")
	t.Setenv("BCREG_RETRY_MAX", "200ms")
	return w
}

// exec runs SQL on the event database.
func (w *opsWorld) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.edb.Exec(w.ctx, sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// newestEvent is the registry's newest event.
func (w *opsWorld) newestEvent() regevent.Position {
	w.t.Helper()
	var wm regevent.Position
	if err := testenv.Pool(w.t, w.srcURL).QueryRow(w.ctx, `SELECT event_id::bigint, event_timestmp FROM bc_registries.event
WHERE event_timestmp <= LOCALTIMESTAMP ORDER BY event_timestmp DESC, event_id DESC LIMIT 1`).Scan(&wm.EventID, &wm.Date.Time); err != nil {
		w.t.Fatal(err)
	}
	return wm
}

// setWatermark records a watermark.
func (w *opsWorld) setWatermark(wm regevent.Position) {
	w.t.Helper()
	if err := discovery.SetWatermark(w.ctx, w.edb, messages.SystemBCReg, wm, nil); err != nil {
		w.t.Fatal(err)
	}
}

// cred is a credential_log row to insert.
type cred struct {
	corp, typ, hash string
	status          string        // "" outstanding
	ago             time.Duration // process_date this long ago (0: now)
	msg             string
	published       bool
	notBefore       *time.Time
	attempts        int
}

// addCreds inserts credential_log rows in order.
func (w *opsWorld) addCreds(cs ...cred) {
	w.t.Helper()
	for _, c := range cs {
		var pd any
		if c.status != "" {
			pd = c.ago.Seconds()
		}
		text := fmt.Sprintf(`{"entity_name": "%s", "effective_date": "2019-01-01T08:00:00+00:00", "n": "%s"}`, c.corp, c.hash)
		w.exec(`INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date, last_event_id, last_event_date,
    credential_type_cd, credential_id, schema_name, schema_version, credential_json, credential_hash, profile,
    process_date, process_success, process_msg, published_at, not_before, attempts)
VALUES ('BC_REG', $1, 'ACT', 0, '0001-01-01', 5, '2019-01-01', $2, $1, 'registration.registries.ca', '1.0.42', $3, $4, 'history',
    LOCALTIMESTAMP - make_interval(secs => $5::float8), NULLIF($6, ''), NULLIF($7, ''), CASE WHEN $8 THEN now() END, $9, $10)`,
			c.corp, c.typ, text, c.hash, pd, c.status, c.msg, c.published, c.notBefore, c.attempts)
	}
}

// stream reads every message stored in a stream, in order.
func (w *opsWorld) stream(name string) []*jetstream.RawStreamMsg {
	w.t.Helper()
	return testenv.StreamMessages(w.t, w.js, name)
}

// deadLetter stores a dead letter of a stage about corp (a poster one
// about one credential when hash is set).
func (w *opsWorld) deadLetter(stage, corp, hash string, payload []byte, seq uint64) {
	w.t.Helper()
	stream, subject := bus.StreamEvents, bus.EventSubject("BC_REG", corp)
	hdr := map[string][]string{bus.HeaderCorpNum: {corp}}
	if stage == messages.StagePoster {
		stream, subject = bus.StreamCreds, bus.CredSubject("BC_REG", corp)
		hdr[bus.HeaderCredentialHash] = []string{hash}
	}
	dl := bus.DeadLetterFor(stage, "simulated failure of "+corp, 3, stream, seq, subject, hdr, payload)
	if err := bus.PublishDeadLetterPart(w.ctx, w.js, dl, hash, bus.Backoff{Base: 10 * time.Millisecond}); err != nil {
		w.t.Fatal(err)
	}
}

// actions returns the operator_action rows as "action target affected".
func (w *opsWorld) actions() []string {
	w.t.Helper()
	rows, _ := w.edb.Query(w.ctx, `SELECT action || ' ' || target || ' ' || affected FROM operator_action ORDER BY record_id`)
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	return list
}

// readOnlyURL creates a role that may only read the event database and
// returns the database's URL for it.
func (w *opsWorld) readOnlyURL() string {
	w.t.Helper()
	role := "ro_" + strings.ReplaceAll(testenv.DatabaseName(w.edbURL), "-", "_")
	db := pgx.Identifier{testenv.DatabaseName(w.edbURL)}.Sanitize()
	r := pgx.Identifier{role}.Sanitize()
	w.exec(`CREATE ROLE ` + r + ` LOGIN PASSWORD 'ro-test'`)
	w.exec(`GRANT CONNECT ON DATABASE ` + db + ` TO ` + r)
	w.exec(`GRANT USAGE ON SCHEMA public TO ` + r)
	w.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ` + r)
	w.t.Cleanup(func() {
		admin := testenv.Pool(w.t, testenv.AdminURL(w.t))
		_, _ = w.edb.Exec(context.Background(), `DROP OWNED BY `+r)
		w.edb.Close()
		_, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS `+r)
	})
	u, err := url.Parse(w.edbURL)
	if err != nil {
		w.t.Fatal(err)
	}
	u.User = url.UserPassword(role, "ro-test")
	return u.String()
}
