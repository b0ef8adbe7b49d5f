package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/console"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const testToken = "s3cret-console-token"

var backoff = bus.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}

// fixture is a known pipeline state behind a running console.
type fixture struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	srv     *console.Server
	ts      *httptest.Server
	corp    string
	seqs    map[string]uint64 // dead letter sequence by stage
	evtSubj string
}

// newFixture migrates a fresh database, applies the topology on an embedded
// NATS, and sets up: a watermark; work items done, failed, skipped and
// outstanding; credentials in every status; three CorpEvents (one in
// flight); one bundle; a builder and a poster dead letter.
func newFixture(t *testing.T, withSource bool, edit func(*console.Options)) *fixture {
	t.Helper()
	f := &fixture{ctx: testenv.Context(t), corp: "A0000001", seqs: map[string]uint64{}}
	ctx := f.ctx
	f.pool, _ = testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	n := testenv.NewNATS(t)
	_, f.js = n.Connect(t)
	if err := bus.DefaultTopology().Apply(ctx, f.js); err != nil {
		t.Fatal(err)
	}
	opt := console.Options{DB: f.pool, JS: f.js, Token: testToken, Backoff: backoff,
		Settings: []console.Setting{{Name: "event DB", Value: "postgres://u:xxxxx@db/events"}}}
	if withSource {
		src := testenv.Pool(t, sourcetest.WholeFixture(t, sourcetest.Template(t)))
		if err := src.QueryRow(ctx, `SELECT c.corp_num FROM bc_registries.corporation c
JOIN bc_registries.event e ON e.corp_num = c.corp_num GROUP BY c.corp_num ORDER BY count(*) DESC, c.corp_num LIMIT 1`).Scan(&f.corp); err != nil {
			t.Fatal(err)
		}
		p, err := credential.New("history", credential.Options{})
		if err != nil {
			t.Fatal(err)
		}
		opt.Source, opt.Profile = src, p
	}
	if edit != nil {
		edit(&opt)
	}
	// The watermark is a registry time: BC local, 90 seconds ago.
	f.exec(t, `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ('BC_REG', 1234, $1)`,
		regclock.Now().Add(-90*time.Second))
	f.exec(t, `INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, reason, process_date, process_success, process_msg) VALUES
 ('BC_REG', $1, 0, '0001-01-01', 1200, '2026-01-01 10:00', 'event', LOCALTIMESTAMP, 'Y', NULL),
 ('BC_REG', $1, 1200, '2026-01-01 10:00', 1210, '2026-01-02 10:00', 'event', LOCALTIMESTAMP, 'N', 'missing corp_state'),
 ('BC_REG', $1, 1210, '2026-01-02 10:00', 1234, '2026-01-03 10:00', 'event', NULL, NULL, NULL),
 ('BC_REG', 'A0000002', 0, '0001-01-01', 1100, '2025-12-01 10:00', 'event', LOCALTIMESTAMP, 'S', 'out of scope')`, f.corp)
	f.exec(t, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date,
  credential_type_cd, credential_id, schema_name, schema_version, credential_json, credential_hash, credential_reason,
  process_date, process_success, process_msg, published_at, not_before) VALUES
 ('BC_REG', $1, 0, '0001-01-01', 1200, '2026-01-01', 'REG', 'r1', 'registration.registries.ca', '1.0.42', '{}', 'h1', 'Filing:ICORP', LOCALTIMESTAMP - interval '3 minutes', 'Y', 'result-111', now(), NULL),
 ('BC_REG', $1, 0, '0001-01-01', 1200, '2026-01-01', 'ADDR', 'a1', 'address.registries.ca', '1.0.42', '{}', 'h2', NULL, LOCALTIMESTAMP, 'Y', 'result-222', now(), NULL),
 ('BC_REG', $1, 0, '0001-01-01', 1200, '2026-01-01', 'REL', 'l1', 'relationship.registries.ca', '1.0.42', '{}', 'h3', NULL, LOCALTIMESTAMP, 'N', 'schema mismatch', now(), NULL),
 ('BC_REG', $1, 0, '0001-01-01', 1200, '2026-01-01', 'BN', 'b1', 'bn.registries.ca', '1.0.42', '{}', 'h4', NULL, LOCALTIMESTAMP, 'D', 'gave up after 10 attempts', now(), NULL),
 ('BC_REG', $1, 0, '0001-01-01', 1200, '2026-01-01', 'ADDR', 'a2', 'address.registries.ca', '1.0.42', '{}', 'h5', NULL, NULL, 'A', NULL, NULL, NULL),
 ('BC_REG', $1, 1200, '2026-01-01', 1210, '2026-01-02', 'REG', 'r2', 'registration.registries.ca', '1.0.42', '{}', 'h6', 'Filing:NOCAD', NULL, NULL, NULL, now(), NULL),
 ('BC_REG', $1, 1210, '2026-01-02', 1234, '2026-01-03', 'REG', 'r3', 'registration.registries.ca', '1.0.42', '{}', 'h7', 'Filing:NOALA', NULL, NULL, NULL, NULL, NULL),
 ('BC_REG', $1, 1210, '2026-01-02', 1234, '2026-01-03', 'REG', 'r4', 'registration.registries.ca', '1.0.42', '{}', 'h8', 'Filing:FUTURE', NULL, NULL, NULL, NULL, now() + interval '1 day')`, f.corp)
	for i, corp := range []string{f.corp, "A0000002", "A0000003"} {
		out, err := bus.CorpEventMsg(messages.CorpEvent{System: messages.SystemBCReg, CorpNum: corp, Prev: regevent.Start,
			Last: regevent.At(int64(1230+i), time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)), Reason: "event"}, "fixture:"+corp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Publish(ctx, f.js, out, backoff); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Publish(ctx, f.js, bus.Outgoing{Subject: bus.CredSubject("BC_REG", f.corp), MsgID: "fixture:bundle", CorpNum: f.corp, Data: []byte(`{"v":1}`)}, backoff); err != nil {
		t.Fatal(err)
	}
	// One CorpEvent in flight: fetched by the builder's consumer, not acked.
	cons, err := f.js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.evtSubj = bus.EventSubject("BC_REG", f.corp)
	ev, _ := messages.Encode(messages.CorpEvent{V: messages.Version, System: "BC_REG", CorpNum: f.corp, Prev: regevent.Start, Reason: "event"})
	hdr := nats.Header{}
	hdr.Set(bus.HeaderCorpNum, f.corp)
	for _, dl := range []messages.DeadLetter{
		bus.DeadLetterFor("builder", "load corporation: no row in bc_registries.corp_state", 10, bus.StreamEvents, 77, f.evtSubj, hdr, ev),
		bus.DeadLetterFor("poster", "agent rejected: schema mismatch", 100, bus.StreamCreds, 88, bus.CredSubject("BC_REG", f.corp), hdr, []byte(`{"v":1}`)),
	} {
		if err := bus.PublishDeadLetter(ctx, f.js, dl, backoff); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := bus.ListDLQ(ctx, f.js, bus.DLQFilter{}, 0)
	if err != nil || len(entries) != 2 {
		t.Fatalf("dead letters: %v, %v", entries, err)
	}
	for _, e := range entries {
		f.seqs[e.DeadLetter.Stage] = e.Seq
	}
	srv, err := console.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	// Two samples a moment apart: the charts and throughputs have data.
	srv.Sample(ctx)
	srv.Sample(ctx)
	f.ts = httptest.NewServer(srv)
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(f.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// get fetches a page with a cookie jar client.
func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp, string(b)
}
