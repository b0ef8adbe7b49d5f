package poster_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// The tests of this file run the real poster against vonx-sim with the
// outbox's own sweep (outbox.Sweeper, what every credential-builder runs):
// credentials are stored unpublished, as the builder stores them, and
// published by the sweep, which records each bundle's stream sequence.

// store inserts n unpublished, outstanding credentials of corp (as the
// builder's transaction does), named "<corp>#<seq>" in issue order.
func (e *env) store(corp string, n int) []seeded {
	e.t.Helper()
	ctx := testenv.Context(e.t)
	var have int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM credential_log WHERE corp_num = $1`, corp).Scan(&have); err != nil {
		e.t.Fatal(err)
	}
	var out []seeded
	for i := range n {
		// Zero-padded, so name order is issue order (checkOrder).
		name := fmt.Sprintf("%s#%05d", corp, have+i+1)
		text, _ := json.Marshal(map[string]any{"registration_id": corp, "entity_name": name, "entity_status": "ACT",
			"effective_date": "2010-01-01T08:00:00+00:00"})
		sum := sha256.Sum256(text)
		out = append(out, seeded{corp: corp, name: name, hash: hex.EncodeToString(sum[:])})
	}
	names, hashes := make([]string, n), make([]string, n)
	for i, s := range out {
		names[i], hashes[i] = s.name, s.hash
	}
	rows, err := e.pool.Query(ctx, `
		INSERT INTO credential_log (system_type_cd, corp_num, corp_state, prev_event_id, prev_event_date,
		    last_event_id, last_event_date, credential_type_cd, credential_id, schema_name, schema_version,
		    credential_json, credential_hash, profile)
		SELECT 'BC_REG', $1::text, 'ACT', 0, '0001-01-01', 1, '2010-01-01', 'REG', x.name, 'registration.bc_registries', '1.0.36',
		       json_build_object('registration_id', $1::text, 'entity_name', x.name, 'entity_status', 'ACT',
		                         'effective_date', '2010-01-01T08:00:00+00:00'), x.hash, 'history'
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS x(name, hash, ord) ORDER BY x.ord
		RETURNING record_id`, corp, names, hashes)
	if err != nil {
		e.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range out {
		out[i].recordID = ids[i]
	}
	return out
}

// sweep runs one pass of the outbox sweep, every stored credential old
// enough.
func (e *env) sweep() outbox.SweepResult {
	e.t.Helper()
	sw := outbox.Sweeper{Publisher: outbox.Publisher{JS: e.js, Log: zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)),
		System: messages.SystemBCReg, Profile: "history", MaxBytes: outbox.MaxBytesFor(e.js),
		Backoff: bus.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}, Timeout: 10 * time.Second},
		DB: e.pool, Batch: 50, LockWait: 10 * time.Second}
	res, err := sw.Pass(testenv.Context(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// publishRaw publishes a bundle message the way a publisher other than
// this build would (another version, or one naming credentials this log
// lacks), and records the credentials it carries as published in it, as
// that publisher does after the PubAck.
func (e *env) publishRaw(corp string, data []byte, carried []seeded) {
	e.t.Helper()
	ctx := testenv.Context(e.t)
	sum := sha256.Sum256(data)
	ack, err := bus.Publish(ctx, e.js, bus.Outgoing{Subject: bus.CredSubject(messages.SystemBCReg, corp),
		MsgID: hex.EncodeToString(sum[:]), CorpNum: corp, Data: data}, bus.Backoff{Base: 50 * time.Millisecond, Max: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	var marks []outboxdb.PublishMark
	for _, c := range carried {
		marks = append(marks, outboxdb.PublishMark{Hash: c.hash, Seq: ack.Sequence})
	}
	if err := outboxdb.MarkPublished(ctx, e.pool, marks); err != nil {
		e.t.Fatal(err)
	}
}

// bundleOf is a CredentialBundle of seeded credentials as the outbox makes
// them.
func bundleOf(corp string, creds []seeded, extra ...messages.Credential) messages.CredentialBundle {
	b := messages.CredentialBundle{V: messages.Version, System: messages.SystemBCReg, CorpNum: corp, CorpState: "ACT", Profile: "history"}
	for _, c := range creds {
		b.Credentials = append(b.Credentials, messages.Credential{Hash: c.hash, Type: "REG", CredentialID: c.name,
			Schema: "registration.bc_registries", Version: "1.0.36",
			Attributes: map[string]any{"registration_id": corp, "entity_name": c.name, "entity_status": "ACT"}})
	}
	b.Credentials = append(b.Credentials, extra...)
	return b
}

// waitStreamEmpty waits until the poster settled every bundle (acked or
// dead-lettered).
func (e *env) waitStreamEmpty() {
	e.t.Helper()
	testenv.WaitFor(e.t, "BCREG_CREDS drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
}

// checkAbandonedRecovery is the end of every abandoned-row test: the
// corporation's first credential (A) lost its bundle, and its later one
// (B) is in the outbox. Detection must name A's corporation; one sweep
// pass must release A and publish it with B, and the poster must issue
// both, A first, with nothing dead.
func (e *env) checkAbandonedRecovery(a, b []seeded) {
	t := e.t
	t.Helper()
	ctx := testenv.Context(t)
	ab, err := outbox.FindAbandoned(ctx, e.pool, e.js, messages.SystemBCReg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{a[0].corp}, ab.Corps); diff != "" || ab.Credentials != int64(len(a)) {
		t.Errorf("abandoned: %d credentials of %v, want %d of %s", ab.Credentials, ab.Corps, len(a), a[0].corp)
	}
	res := e.sweep()
	if res.Released != len(a) || res.Dead != 0 {
		t.Errorf("sweep released %d, dead %d; want %d released", res.Released, res.Dead, len(a))
	}
	all := append(slices.Clone(a), b...)
	rows := e.waitFinal(all)
	for _, c := range all {
		if rows[c.hash].Status != delivery.Issued {
			t.Errorf("%s: status %q (%s), want Y", c.name, rows[c.hash].Status, rows[c.hash].Msg)
		}
	}
	order, count := issuedNames(e.received())
	var mine []string
	for _, n := range order {
		if count[n] != 1 {
			t.Errorf("%s issued %d times", n, count[n])
		}
		mine = append(mine, n)
	}
	checkOrder(t, mine)
	if ab, err := outbox.FindAbandoned(ctx, e.pool, e.js, messages.SystemBCReg, 0); err != nil || len(ab.Seqs) != 0 {
		t.Errorf("after the sweep: abandoned %+v, %v; want none", ab, err)
	}
}

// TestUndecodableBundleReleasesItsCredentials (issue 15, item 3): a bundle
// this poster cannot decode (a newer version during a rolling upgrade) is
// dead-lettered, leaving its credential outstanding; the corporation's next
// credential must not wait behind it until it is given up.
func TestUndecodableBundleReleasesItsCredentials(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	a := e.store("BC0000001", 1)
	b := bundleOf("BC0000001", a)
	b.V = messages.Version + 1
	data, _ := json.Marshal(b)
	e.publishRaw("BC0000001", data, a)
	e.start(e.config("p1"))
	e.waitStreamEmpty()
	if n := len(e.deadLetters()); n != 1 {
		t.Fatalf("dead letters = %d, want the undecodable bundle", n)
	}
	later := e.store("BC0000001", 1)
	e.checkAbandonedRecovery(a, later)
}

// TestBundleWithUnknownCredentialReleasesTheOthers (item 3): a bundle
// naming a credential the log lacks is dead-lettered; its other
// credentials must be delivered, and not block their corporation.
func TestBundleWithUnknownCredentialReleasesTheOthers(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	a := e.store("BC0000001", 2)
	unknown := messages.Credential{Hash: "no-such-row", Type: "REG", Schema: "registration.bc_registries", Version: "1.0.36"}
	data, err := messages.Encode(bundleOf("BC0000001", a, unknown))
	if err != nil {
		t.Fatal(err)
	}
	e.publishRaw("BC0000001", data, a)
	e.start(e.config("p1"))
	e.waitStreamEmpty()
	if n := len(e.deadLetters()); n != 1 {
		t.Fatalf("dead letters = %d, want the bundle with the unknown credential", n)
	}
	later := e.store("BC0000001", 1)
	e.checkAbandonedRecovery(a, later)
}

// TestMovedBundleReleasesItsCredentials (item 3): a bundle that exhausted
// MaxDeliver without any answer (its poster died on every delivery) is
// moved to the DLQ by the dlq-mover and deleted; its credentials must go
// back to the outbox.
func TestMovedBundleReleasesItsCredentials(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	ctx := testenv.Context(t)
	e.topo.PosterMaxDeliver = 2
	if err := e.topo.Apply(ctx, e.js); err != nil {
		t.Fatal(err)
	}
	mctx, stopMover := context.WithCancel(ctx)
	moverDone := make(chan error, 1)
	go func() {
		moverDone <- bus.RunMover(mctx, e.js, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), bus.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond})
	}()
	t.Cleanup(func() { stopMover(); <-moverDone })

	a := e.store("BC0000001", 1)
	e.sweep() // published as the builder publishes it
	// A poster that dies on each delivery: it takes the bundle and never
	// answers; Nak stands for the AckWait running out.
	cons, err := e.js.Consumer(ctx, bus.StreamCreds, bus.ConsumerPoster)
	if err != nil {
		t.Fatal(err)
	}
	for range e.topo.PosterMaxDeliver {
		mb, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Minute)) // returns at the redelivery
		if err != nil {
			t.Fatal(err)
		}
		for m := range mb.Messages() {
			_ = m.Nak()
		}
	}
	// The server notices the exhausted delivery count (and sends the
	// advisory) while a pull waits: pull until the mover has moved it,
	// however late that is on a busy machine.
	testenv.WaitFor(t, "the mover to dead-letter the bundle", func() bool {
		if mb, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond)); err == nil {
			for m := range mb.Messages() {
				t.Fatalf("bundle delivered beyond MaxDeliver: seq %v", m.Headers())
			}
		}
		return len(e.deadLetters()) == 1 && e.streamMsgs(bus.StreamCreds) == 0
	})
	e.start(e.config("p1"))
	later := e.store("BC0000001", 1)
	e.checkAbandonedRecovery(a, later)
}

// TestDeferredCredentialIsRepublishedInsideTheDedupWindow (item 3): a
// credential the poster hands back because it is not due yet is
// republished by the sweep once due, typically well inside the dedup
// window; the republish must not be dropped as a duplicate of its first
// bundle (the same credentials) while the row counts as published.
func TestDeferredCredentialIsRepublishedInsideTheDedupWindow(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	ctx := testenv.Context(t)
	a := e.store("BC0000001", 1)
	e.sweep()
	// Its bundle is on the stream when the row gets a not_before in the
	// future (as migration 5 gives a published row adopted from the
	// original whose expiry lies ahead): the poster posts it only then.
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET not_before = now() + interval '1 day' WHERE credential_hash = $1`, a[0].hash); err != nil {
		t.Fatal(err)
	}
	e.start(e.config("p1"))
	testenv.WaitFor(t, "the poster to defer the credential", func() bool {
		r := e.rows()[a[0].hash]
		return r.NotBefore && !r.Published && e.streamMsgs(bus.StreamCreds) == 0
	})
	// Time passes (no waiting on the clock): the credential is due.
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET not_before = now() - interval '1 second' WHERE credential_hash = $1`, a[0].hash); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	rows := e.waitFinal(a)
	if rows[a[0].hash].Status != delivery.Issued {
		t.Errorf("status %q (%s), want Y", rows[a[0].hash].Status, rows[a[0].hash].Msg)
	}
}

// TestLargeCorporationIsSplitIntoBundlesBelowMaxPayload (item 4): a
// corporation with several thousand credentials on a server whose max
// payload is low: every bundle stays below it less bus.Headroom (room for
// headers and the dead-letter copy), and the poster issues every
// credential once, in order.
func TestLargeCorporationIsSplitIntoBundlesBelowMaxPayload(t *testing.T) {
	const maxPayload = 64 << 10
	e := newEnvWith(t, agentsim.Config{}, testenv.WithMaxPayload(maxPayload))
	creds := e.store("BC0000001", 3000)
	creds = append(creds, e.store("BC0000002", 3)...)
	res := e.sweep()
	if res.Failed != 0 || res.Bundles < 2 {
		t.Fatalf("sweep: %+v, want several bundles and no failure", res)
	}
	for _, m := range testenv.StreamMessages(t, e.js, bus.StreamCreds) {
		if n := len(m.Data); n > maxPayload-bus.Headroom {
			t.Errorf("bundle seq %d is %d bytes, above %d", m.Sequence, n, maxPayload-bus.Headroom)
		}
	}
	// A lease that outlives the requests: with the suite's short one every
	// request renews the claims of the rest of its lane, which for one lane
	// of 3,000 credentials is 150 renewals of up to 3,000 rows.
	cfg := e.config("p1")
	cfg.Lease = time.Minute
	e.start(cfg)
	rows := e.waitFinal(creds)
	e.assertDeliveredOnce(creds, rows)
	t.Logf("%d credentials in %d bundles", len(creds), res.Bundles)
}

// TestSweepPassesACorporationItCannotPublish (item 4): a credential too
// large for any bundle on its own is given up (D with the reason) instead
// of staying in the outbox, and the pass goes on past its page: every
// other corporation, on later pages too, is published and issued.
func TestSweepPassesACorporationItCannotPublish(t *testing.T) {
	const maxPayload = 64 << 10
	e := newEnvWith(t, agentsim.Config{}, testenv.WithMaxPayload(maxPayload))
	ctx := testenv.Context(t)
	big := e.store("BC0000000", 1)
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET credential_json = jsonb_set(credential_json::jsonb, '{padding}', to_jsonb(repeat('x', $2)))::json
		WHERE credential_hash = $1`, big[0].hash, maxPayload); err != nil {
		t.Fatal(err)
	}
	var others []seeded
	for i := 1; i <= 120; i++ { // three pages of the sweep's 50
		others = append(others, e.store(fmt.Sprintf("BC%07d", i), 1)...)
	}
	res := e.sweep()
	if res.TooLarge != 1 || res.Bundles != len(others) {
		t.Errorf("sweep: %+v, want 1 too large and %d bundles", res, len(others))
	}
	if r := e.rows()[big[0].hash]; r.Status != delivery.Dead || !strings.Contains(r.Msg, "max payload") {
		t.Errorf("too large credential: %+v, want D naming the max payload", r)
	}
	e.start(e.config("p1"))
	rows := e.waitFinal(others)
	e.assertDeliveredOnce(others, rows)
}

// TestRenewedBundleIsNotAbandoned (item 3 with item 2's renewals): a
// bundle that waits behind an older credential held elsewhere is stored
// again under a fresh id before its last delivery, and the old copy acked;
// the copy is renewed in turn (acked too). Its credentials are not
// abandoned, however many renewals lie between two checks: the sweep must
// not hand them back (no second bundle, no step towards D).
func TestRenewedBundleIsNotAbandoned(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	ctx := testenv.Context(t)
	e.topo.PosterMaxDeliver = 3
	if err := e.topo.Apply(ctx, e.js); err != nil {
		t.Fatal(err)
	}
	older := e.store("BC0000001", 1)
	// Another poster holds the older credential (its own bundle is in
	// flight elsewhere): the next one waits behind it.
	if _, err := delivery.Claim(ctx, e.pool, delivery.ClaimRequest{Hashes: []string{older[0].hash}, Claimer: "elsewhere", Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET published_at = now() WHERE credential_hash = $1`, older[0].hash); err != nil {
		t.Fatal(err)
	}
	a := e.store("BC0000001", 1)
	e.sweep()
	publishedSeq := func() uint64 {
		var seq uint64
		if err := e.pool.QueryRow(ctx, `SELECT published_seq FROM credential_log WHERE credential_hash = $1`, a[0].hash).Scan(&seq); err != nil {
			t.Fatal(err)
		}
		return seq
	}
	first := publishedSeq()
	var origID string
	for _, m := range testenv.StreamMessages(t, e.js, bus.StreamCreds) {
		if m.Sequence == first {
			origID = m.Header.Get(jetstream.MsgIDHeader)
		}
	}
	if origID == "" {
		t.Fatalf("bundle %d not in %s", first, bus.StreamCreds)
	}
	// copyAfter is the stream sequence of a copy of the bundle stored after
	// seq that renews a copy (not the first bundle), or 0.
	copyAfter := func(seq uint64) uint64 {
		for _, m := range testenv.StreamMessages(t, e.js, bus.StreamCreds) {
			if m.Header.Get(bus.HeaderOriginalMsgID) == origID && m.Sequence > seq &&
				m.Header.Get(jetstream.MsgIDHeader) != bus.RenewedMsgID(origID, bus.StreamCreds, first) {
				return m.Sequence
			}
		}
		return 0
	}
	// check runs the check and a sweep pass while no poster runs (so none
	// holds the row's claim for a moment of a delivery): the bundle is
	// carried by the copy at live, and its row keeps pointing at the first.
	check := func(live uint64) {
		t.Helper()
		testenv.WaitFor(t, "the check to follow the renewals", func() bool {
			ab, err := outbox.FindAbandoned(ctx, e.pool, e.js, messages.SystemBCReg, 0)
			if err != nil {
				t.Fatal(err)
			}
			if ab.Credentials != 0 {
				t.Fatalf("abandoned %+v, want none: the bundle %d was renewed", ab, first)
			}
			if len(ab.Renewed) == 0 {
				return false // the stopped poster's claim has not run out yet
			}
			if diff := cmp.Diff(map[uint64]uint64{first: live}, ab.Renewed); diff != "" {
				t.Fatalf("renewed bundles (-want +got):\n%s", diff)
			}
			return true
		})
		if res := e.sweep(); res.Released != 0 || res.Dead != 0 {
			t.Fatalf("sweep released %d, dead %d; want nothing", res.Released, res.Dead)
		}
		if seq := publishedSeq(); seq != first {
			t.Fatalf("published_seq %d, want the first bundle's %d", seq, first)
		}
	}
	// Two renewals (at least) before the first check, one more before the
	// second: the copy that renews a copy names the copy, which is gone.
	live := uint64(0)
	for round := range 2 {
		p := e.start(e.config(fmt.Sprintf("p%d", round+1)))
		testenv.WaitFor(t, "a renewed copy to be renewed", func() bool { return copyAfter(live) != 0 })
		p.stop()
		live = copyAfter(live)
		check(live)
	}
	// The other poster finishes: the waiting credential goes, once.
	if _, err := delivery.MarkDelivered(ctx, e.pool, []delivery.Outcome{{Hash: older[0].hash, Status: delivery.Issued, Msg: "x", Claimer: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	e.start(e.config("p3"))
	rows := e.waitFinal(a)
	if rows[a[0].hash].Status != delivery.Issued {
		t.Errorf("status %q (%s), want Y", rows[a[0].hash].Status, rows[a[0].hash].Msg)
	}
	if _, count := issuedNames(e.received()); count[a[0].name] != 1 {
		t.Errorf("%s issued %d times, want once", a[0].name, count[a[0].name])
	}
}
