package outbox_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const corp = "BC0000001"

var hashes = []string{"h1", "h2"}

// env is an event database and a NATS server with the project's topology;
// nothing consumes BCREG_CREDS, so the tests settle bundles themselves.
type env struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	stream jetstream.Stream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ctx: testenv.Context(t)}
	e.pool, _ = testenv.NewPool(t)
	if _, err := eventdb.Migrate(e.ctx, e.pool); err != nil {
		t.Fatal(err)
	}
	_, e.js = testenv.NewNATS(t).Connect(t)
	if err := bus.DefaultTopology().Apply(e.ctx, e.js); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.stream, err = e.js.Stream(e.ctx, bus.StreamCreds); err != nil {
		t.Fatal(err)
	}
	e.store()
	return e
}

// store writes the corporation's credentials as the builder stores them:
// outstanding, unpublished, no previous bundle.
func (e *env) store() {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date,
		last_event_id, last_event_date, credential_type_cd, credential_id, schema_name, schema_version, credential_json, credential_hash, profile)
		SELECT 'BC_REG', $1::text, 'ACT', 0, '0001-01-01', 1, '2010-01-01', 'REG', x.hash, 'registration.bc_registries', '1.0.36',
		       json_build_object('registration_id', $1::text, 'effective_date', '2010-01-01T08:00:00+00:00'), x.hash, 'history'
		FROM unnest($2::text[]) WITH ORDINALITY AS x(hash, ord) ORDER BY x.ord`, corp, hashes); err != nil {
		e.t.Fatal(err)
	}
}

// publish publishes the corporation's outbox as the builder and the sweep
// do; crash abandons the marking after the PubAcks.
func (e *env) publish(crash bool) {
	e.t.Helper()
	rows, err := outboxdb.Unpublished(e.ctx, e.pool, messages.SystemBCReg, []string{corp})
	if err != nil {
		e.t.Fatal(err)
	}
	p := outbox.Publisher{JS: e.js, Log: zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)), System: messages.SystemBCReg,
		Backoff: bus.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}, Timeout: 10 * time.Second}
	errCrash := errors.New("crash before marking")
	if crash {
		p.AfterPublish = func() error { return errCrash }
	}
	res := p.PublishRows(e.ctx, e.pool, rows, nil, "test")
	want := map[string]error{}
	if crash {
		want[corp] = errCrash
	}
	if diff := cmp.Diff(want, res.Failed, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
		e.t.Fatalf("publish failures (-want +got):\n%s", diff)
	}
}

// ack settles every stored bundle as the poster's ack does (a work queue
// deletes an acknowledged message) and marks the credentials delivered.
func (e *env) ack() {
	e.t.Helper()
	for _, m := range testenv.StreamMessages(e.t, e.js, bus.StreamCreds) {
		if err := e.stream.DeleteMsg(e.ctx, m.Sequence); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE credential_log SET process_success = 'Y', process_date = now() WHERE corp_num = $1`, corp); err != nil {
		e.t.Fatal(err)
	}
}

// requeue is what `bcregctl requeue corp --fresh` leaves: the rows deleted,
// then stored again by the builder with the same hashes.
func (e *env) requeue() {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, `DELETE FROM credential_log WHERE corp_num = $1`, corp); err != nil {
		e.t.Fatal(err)
	}
	e.store()
}

// renew is the poster's consume loop renewing the stored bundle (a waiting
// bundle stored again under a fresh id, naming its first sequence, and the
// old copy acked).
func (e *env) renew() {
	e.t.Helper()
	msgs := testenv.StreamMessages(e.t, e.js, bus.StreamCreds)
	if len(msgs) != 1 {
		e.t.Fatalf("%d bundles to renew, want 1", len(msgs))
	}
	m := msgs[0]
	hdr := nats.Header{bus.HeaderOriginalSeq: []string{strconv.FormatUint(m.Sequence, 10)}}
	id := bus.RenewedMsgID(m.Header.Get(jetstream.MsgIDHeader), bus.StreamCreds, m.Sequence)
	if _, err := bus.Publish(e.ctx, e.js, bus.Outgoing{Subject: m.Subject, MsgID: id, Data: m.Data, Header: hdr}, bus.Backoff{Base: 20 * time.Millisecond, Max: time.Second}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.stream.DeleteMsg(e.ctx, m.Sequence); err != nil {
		e.t.Fatal(err)
	}
}

// outcome is what the stream holds of the corporation and whether the
// outbox points at it.
type outcome struct {
	// Bundles are the credentials of each bundle in BCREG_CREDS.
	Bundles [][]string
	// Live says every row is marked published with the sequence of the
	// bundle in the stream (or the one its renewed copy names): the
	// liveness check finds it, no sweep is needed.
	Live bool
}

func (e *env) outcome() outcome {
	e.t.Helper()
	var o outcome
	var seqs []uint64
	for _, m := range testenv.StreamMessages(e.t, e.js, bus.StreamCreds) {
		b, err := messages.DecodeBundle(m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		var hs []string
		for _, c := range b.Credentials {
			hs = append(hs, c.Hash)
		}
		o.Bundles = append(o.Bundles, hs)
		seqs = append(seqs, m.Sequence)
		if orig := bus.OriginalSeq(m.Header); orig != 0 {
			seqs = append(seqs, orig)
		}
	}
	rows, err := e.pool.Query(e.ctx, `SELECT published_at IS NOT NULL, coalesce(published_seq, 0) FROM credential_log WHERE corp_num = $1`, corp)
	if err != nil {
		e.t.Fatal(err)
	}
	marks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint64, error) {
		var published bool
		var seq int64
		err := r.Scan(&published, &seq)
		if !published {
			seq = 0
		}
		return uint64(seq), err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	o.Live = len(marks) == len(hashes)
	for _, s := range marks {
		o.Live = o.Live && slices.Contains(seqs, s)
	}
	return o
}

// TestPublishStoresEachBundleOnceAndAtOnce: a bundle of credentials stored
// again after their first bundle was acknowledged (an operator's requeue
// deletes and re-creates the rows, so they have no previous bundle and get
// the first one's message id) is in the stream as soon as it is published,
// the rows pointing at it, with no sweep run; a republish of credentials
// never acknowledged (a crash between PubAck and marking, a renewal by the
// poster meanwhile) is still dropped as a duplicate.
func TestPublishStoresEachBundleOnceAndAtOnce(t *testing.T) {
	one := outcome{Bundles: [][]string{hashes}, Live: true}
	tests := []struct {
		name  string
		steps string // p publish, c publish and crash before marking, a ack, r requeue, n renew
		want  outcome
	}{
		{"first publish", "p", one},
		{"crash before marking, republished", "cp", one},
		{"crash before marking, renewed by the poster, republished", "cnp", one},
		{"acknowledged, requeued, published", "parp", one},
		{"requeued twice inside the dedup window", "parparp", one},
		{"requeued, crash before marking, republished", "parcp", one},
		{"requeued, crash before marking, renewed, republished", "parcnp", one},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for _, s := range tt.steps {
				switch s {
				case 'p', 'c':
					e.publish(s == 'c')
				case 'a':
					e.ack()
				case 'r':
					e.requeue()
				case 'n':
					e.renew()
				}
			}
			if diff := cmp.Diff(tt.want, e.outcome()); diff != "" {
				t.Errorf("after %q (-want +got):\n%s", tt.steps, diff)
			}
		})
	}
}
