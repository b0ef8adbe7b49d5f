package builder_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/credential-builder/internal/builder"
)

// checkBundles compares the stored bundles with the generator's output:
// one bundle per corporation with posted credentials, in issue order, with
// the bundle id of its hashes and attributes equal to the hashed text.
func checkBundles(t *testing.T, got []storedBundle, want map[string][]string, x map[string]expected) {
	t.Helper()
	if diff := cmp.Diff(want, hashesByCorp(got)); diff != "" {
		t.Errorf("credential hashes by corporation in BCREG_CREDS (-want +got):\n%s", diff)
	}
	perCorp := map[string]int{}
	for _, b := range got {
		perCorp[b.Bundle.CorpNum]++
		var hashes []string
		for _, c := range b.Bundle.Credentials {
			hashes = append(hashes, c.Hash)
		}
		if b.MsgID != messages.BundleMsgID(hashes, "") {
			t.Errorf("bundle of %s: msg id %s is not the hash of its credentials", b.Bundle.CorpNum, b.MsgID)
		}
		if b.Bundle.Profile != x[b.Bundle.CorpNum].Profile || b.Bundle.System != system {
			t.Errorf("bundle of %s: profile %q system %q", b.Bundle.CorpNum, b.Bundle.Profile, b.Bundle.System)
		}
		texts := map[string]string{}
		for _, c := range x[b.Bundle.CorpNum].Creds {
			texts[c.Hash] = c.JSON
		}
		for _, c := range b.Bundle.Credentials {
			attrs, _ := json.Marshal(c.Attributes)
			if !jsonEqual(attrs, []byte(texts[c.Hash])) {
				t.Errorf("bundle of %s: attributes of %s differ from the hashed text", b.Bundle.CorpNum, c.Hash)
			}
		}
	}
	for corp, n := range perCorp {
		if n != 1 {
			t.Errorf("%s: %d bundles, want 1", corp, n)
		}
	}
}

// storedHashes returns credential_log's hashes by corporation in record id
// order, held ones included.
func (e *env) storedHashes() map[string][]string {
	rows, err := e.edb.Query(testenv.Context(e.t), `SELECT corp_num, credential_hash FROM credential_log ORDER BY record_id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var c, h string
		if err := rows.Scan(&c, &h); err != nil {
			e.t.Fatal(err)
		}
		out[c] = append(out[c], h)
	}
	return out
}

func allHashes(x map[string]expected) map[string][]string {
	out := map[string][]string{}
	for c, v := range x {
		for _, cr := range v.Creds {
			out[c] = append(out[c], cr.Hash)
		}
	}
	return out
}

// TestInitialLoadBundlesMatchGenerator (acceptance 1): after an initial
// load BCREG_CREDS holds exactly the generator's bundles of the in-scope
// corporations and credential_log the matching rows; every work item has an
// outcome; a second run of the whole registry stores and publishes nothing.
func TestInitialLoadBundlesMatchGenerator(t *testing.T) {
	for _, profile := range []string{credential.ProfileSnapshot, credential.ProfileHistory} {
		t.Run(profile, func(t *testing.T) { testInitialLoad(t, profile) })
	}
}

func testInitialLoad(t *testing.T, profile string) {
	e := newEnv(t)
	e.profile = profile
	addr := freeAddr(t)
	e.start(e.config(func(c *builder.Config) { c.HTTP.Addr = addr }), builder.Hooks{})
	corps := e.fixtureCorps()
	x := e.generate(corps)
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, corps)
	e.waitDrained(time.Minute)

	checkBundles(t, e.bundles(), wantBundles(x), x)
	if diff := cmp.Diff(allHashes(x), e.storedHashes()); diff != "" {
		t.Errorf("credential_log by corporation (-want +got):\n%s", diff)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success = 'A' AND process_date IS NOT NULL AND published_at IS NULL`); n == 0 {
		t.Error("no held-back (A) credentials; the fixture has address credentials")
	}
	if n := count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NULL`); n != 0 {
		t.Errorf("%d posted credentials left unpublished", n)
	}
	type item struct{ Outcome, Message string }
	wantItems, gotItems := map[string]item{}, map[string]item{}
	for c, v := range x {
		wantItems[c] = item{v.Outcome, eventdb.ProcessMsg(v.Message)}
	}
	rows, _ := e.edb.Query(testenv.Context(t), `SELECT corp_num, process_success, coalesce(process_msg, '') FROM event_by_corp_filing WHERE process_date IS NOT NULL`)
	for rows.Next() {
		var c string
		var it item
		if err := rows.Scan(&c, &it.Outcome, &it.Message); err != nil {
			t.Fatal(err)
		}
		gotItems[c] = it
	}
	if diff := cmp.Diff(wantItems, gotItems); diff != "" {
		t.Errorf("work items (-want +got):\n%s", diff)
	}
	if got := gotItems["LP0475721"]; profile == credential.ProfileSnapshot && got != (item{"S", "LP: Skipped, not in scope"}) {
		t.Errorf("out-of-scope work item = %+v", got)
	}
	metrics := scrape(t, addr)
	if !strings.Contains(metrics, `bcreg_builder_messages_total{outcome="done"}`) || !strings.Contains(metrics, "bcreg_builder_credentials_stored_total") {
		t.Errorf("metrics missing:\n%s", metrics)
	}

	// The whole registry again (an operator requeue, or the same events
	// after the dedup window): nothing new is stored or published.
	_, lastSeq := e.streamState(bus.StreamCreds)
	creds := count(t, e.edb, `SELECT count(*) FROM credential_log`)
	hist := count(t, e.edb, `SELECT count(*) FROM corp_history_log`)
	e.publishEvents("requeue:BC_REG", messages.ReasonRequeue, corps)
	e.waitDrained(time.Minute)
	if _, seq := e.streamState(bus.StreamCreds); seq != lastSeq {
		t.Errorf("second run published %d bundles, want none", seq-lastSeq)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM credential_log`); n != creds {
		t.Errorf("second run stored %d credentials, want none", n-creds)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM corp_history_log`); n != hist {
		t.Errorf("second run logged %d snapshots, want none (unchanged)", n-hist)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM event_by_corp_filing`); n != int64(2*len(corps)) {
		t.Errorf("work items = %d, want %d (one per message)", n, 2*len(corps))
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestOngoingChangesProduceExactlyNewCredentials (acceptance 2, the
// builder's part): after the initial load, the registry changes of
// sourcetest.Ongoing and the CorpEvents the poller publishes for them
// (its test proves that set) produce exactly the new credentials the
// generator gives: the renamed company's, the new owner's relationship and
// the amalgamated company's status.
func TestOngoingChangesProduceExactlyNewCredentials(t *testing.T) {
	e := newEnv(t)
	e.start(e.config(), builder.Hooks{})
	corps := e.fixtureCorps()
	before := e.generate(corps)
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, corps)
	e.waitDrained(time.Minute)
	_, base := e.streamState(bus.StreamCreds)
	stored := e.storedHashes()

	o := sourcetest.ApplyOngoing(t, e.srcURL, regclock.Now().Truncate(time.Second))
	after := e.generate(corps)
	wantNew := map[string][]string{}
	wantPosted := map[string][]string{}
	known := map[string]bool{}
	for _, v := range before {
		for _, c := range v.Creds {
			known[c.Hash] = true
		}
	}
	for c, v := range after {
		for _, cr := range v.Creds {
			if !known[cr.Hash] {
				wantNew[c] = append(wantNew[c], cr.Hash)
				if !cr.Held {
					wantPosted[c] = append(wantPosted[c], cr.Hash)
				}
			}
		}
	}
	for _, c := range o.Changed {
		if len(wantPosted[c]) == 0 {
			t.Fatalf("scenario: %s should get new credentials", c)
		}
	}
	e.publishEvents("BC_REG:ongoing", messages.ReasonEvent, o.Affected)
	e.waitDrained(time.Minute)

	var fresh []storedBundle
	for _, b := range e.bundles() {
		if b.Seq > base {
			fresh = append(fresh, b)
		}
	}
	checkBundles(t, fresh, wantPosted, after)
	gotNew := map[string][]string{}
	for c, hs := range e.storedHashes() {
		if len(hs) > len(stored[c]) {
			gotNew[c] = hs[len(stored[c]):]
		}
	}
	if diff := cmp.Diff(wantNew, gotNew); diff != "" {
		t.Errorf("new credential_log rows (-want +got):\n%s", diff)
	}
}

// TestCoalescesEventsOfOneCorporation: several CorpEvents of one
// corporation in a batch are one unit with the widest range: one lock,
// one bundle, one work item per message.
func TestCoalescesEventsOfOneCorporation(t *testing.T) {
	e := newEnv(t)
	at := func(id int64, d string) regevent.Position {
		ts, _ := time.Parse("2006-01-02", d)
		return regevent.At(id, ts)
	}
	var msgs []bus.Outgoing
	for i, r := range [][2]regevent.Position{
		{at(10, "2018-01-01"), at(20, "2018-02-01")},
		{at(5, "2017-06-01"), at(15, "2018-01-15")},
		{at(12, "2018-01-10"), at(30, "2018-03-01")},
	} {
		msgs = append(msgs, corpEventMsg(t, messages.CorpEvent{V: 1, System: system, CorpNum: "0191294", Prev: r[0], Last: r[1],
			Reason: messages.ReasonEvent}, "coalesce:"+string(rune('a'+i))))
	}
	e.publish(msgs...)
	var mu sync.Mutex
	var batches [][]string
	e.start(e.config(func(c *builder.Config) { c.BatchWait = time.Second }), builder.Hooks{Locked: func(corps []string) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, corps)
	}})
	e.waitDrained(time.Minute)
	if diff := cmp.Diff([][]string{{"0191294"}}, batches); diff != "" {
		t.Errorf("locked batches (-want +got):\n%s", diff)
	}
	if n := len(e.bundles()); n != 1 {
		t.Errorf("bundles = %d, want 1", n)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM event_by_corp_filing WHERE corp_num = '0191294' AND process_success = 'Y'`); n != 3 {
		t.Errorf("work items = %d, want 3", n)
	}
	var prevID, lastID int64
	if err := e.edb.QueryRow(testenv.Context(t), `SELECT prev_event_id, last_event_id FROM corp_history_log`).Scan(&prevID, &lastID); err != nil {
		t.Fatal(err)
	}
	if prevID != 5 || lastID != 30 {
		t.Errorf("history range = (%d, %d], want the widest (5, 30]", prevID, lastID)
	}
}

// crashRun runs the builder with a hook that kills it (cancels it and
// abandons the batch) the first time the hook point is reached, then a
// fresh builder; every credential must reach BCREG_CREDS exactly once and
// be stored once.
func crashRun(t *testing.T, point string) {
	e := newEnv(t)
	corps := e.fixtureCorps()
	x := e.generate(corps)
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, corps)

	var crashed atomic.Bool
	firstCtx, killFirst := context.WithCancel(context.Background())
	kill := func() error {
		if crashed.CompareAndSwap(false, true) {
			killFirst()
			return errCrash
		}
		return nil
	}
	var h builder.Hooks
	switch point {
	case "beforeCommit":
		h.BeforeCommit = kill
	case "afterCommit":
		h.AfterCommit = kill
	case "afterPublish":
		h.AfterPublish = kill
	}
	cfg := e.config(func(c *builder.Config) { c.BatchSize = 20 })
	first := e.startCtx(firstCtx, killFirst, cfg, h)
	waitFor(t, "the crash", time.Minute, crashed.Load)
	_ = first.stop()
	switch point {
	case "beforeCommit":
		if n := count(t, e.edb, `SELECT count(*) FROM event_by_corp_filing`); n == int64(len(corps)) {
			t.Error("every corporation stored though the first batch was rolled back")
		}
	case "afterCommit":
		if n := count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NULL`); n == 0 {
			t.Error("no committed, unpublished credentials after the crash")
		}
	}

	e.start(cfg, builder.Hooks{})
	e.waitDrained(time.Minute)
	checkBundles(t, e.bundles(), wantBundles(x), x)
	if diff := cmp.Diff(allHashes(x), e.storedHashes()); diff != "" {
		t.Errorf("credential_log (-want +got):\n%s", diff)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NULL`); n != 0 {
		t.Errorf("%d credentials left unpublished", n)
	}
	if n := len(e.dlq()); n != 0 {
		t.Errorf("dead letters = %d, want 0", n)
	}
}

// TestCrashMidBatch (acceptance 4): killed inside the write transaction:
// nothing of the batch is stored; the redelivery does it all.
func TestCrashMidBatch(t *testing.T) { crashRun(t, "beforeCommit") }

// TestCrashBetweenCommitAndPublish (acceptance 4): killed after the commit:
// the redelivered messages publish what the outbox holds.
func TestCrashBetweenCommitAndPublish(t *testing.T) { crashRun(t, "afterCommit") }

// TestCrashBetweenPublishAndMark: killed after the PubAcks, before
// published_at: the republished bundles have the same ids and are dropped.
func TestCrashBetweenPublishAndMark(t *testing.T) { crashRun(t, "afterPublish") }

// TestSweepRepublishesStrandedCredentials: credentials committed by a
// builder that died, whose messages are gone, are published by the sweep;
// a credential waiting for its not_before is published once it passes.
func TestSweepRepublishesStrandedCredentials(t *testing.T) {
	e := newEnv(t)
	corps := e.fixtureCorps()
	x := e.generate(corps)
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, corps)
	var crashed atomic.Bool
	firstCtx, killFirst := context.WithCancel(context.Background())
	first := e.startCtx(firstCtx, killFirst, e.config(), builder.Hooks{AfterCommit: func() error {
		crashed.Store(true)
		killFirst()
		return errCrash
	}})
	waitFor(t, "the crash", time.Minute, crashed.Load)
	_ = first.stop()
	// The CorpEvents are lost (say, an operator purged the stream).
	s, err := e.js.Stream(testenv.Context(t), bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(testenv.Context(t)); err != nil {
		t.Fatal(err)
	}
	// And one credential waits for a date one second ahead.
	due := time.Now().Add(3 * time.Second)
	ctx := testenv.Context(t)
	if err := pgx.BeginFunc(ctx, e.edb, func(tx pgx.Tx) error {
		_, err := outboxdb.WriteBatch(ctx, tx, outboxdb.BatchWrite{System: system, Credentials: []outboxdb.NewCredential{{
			CorpNum: "0191294", CorpState: "ACT", Type: "REG", CredentialID: "0191294", Schema: "registration.bc_registries",
			Version: "1.0.36", JSON: `{"expiry_date": "later"}`, Hash: "waiting-hash", Profile: "snapshot", NotBefore: &due}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := wantBundles(x)
	want["0191294"] = append(want["0191294"], "waiting-hash")

	e.start(e.config(func(c *builder.Config) { c.SweepInterval, c.SweepAge = 100*time.Millisecond, 0 }), builder.Hooks{})
	waitFor(t, "the sweep to publish everything", time.Minute, func() bool {
		return count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NULL`) == 0
	})
	got := hashesByCorp(e.bundles())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published by the sweep (-want +got):\n%s", diff)
	}
	for _, b := range e.bundles() {
		for _, c := range b.Bundle.Credentials {
			if c.Hash == "waiting-hash" && len(b.Bundle.Credentials) != 1 {
				t.Errorf("the waiting credential was bundled with %d others", len(b.Bundle.Credentials)-1)
			}
		}
	}
	if ok := query[bool](t, e.edb, `SELECT published_at >= not_before FROM credential_log WHERE credential_hash = 'waiting-hash'`); !cmp.Equal(ok, []bool{true}) {
		t.Error("the waiting credential was published before its not_before")
	}
}

// TestCredsStreamFullForAWhile (acceptance 4): while BCREG_CREDS is full
// the bundles wait in the outbox (their messages redelivered, acked on
// their last delivery for the sweep); once a poster drains the stream
// every credential arrives exactly once.
func TestCredsStreamFullForAWhile(t *testing.T) {
	e := newEnv(t, func(tp *bus.Topology) { tp.CredsMaxBytes = 16 << 10; tp.BuilderMaxDeliver = 4 })
	corps := e.fixtureCorps()
	x := e.generate(corps)
	e.start(e.config(func(c *builder.Config) {
		c.BatchSize, c.PublishTimeout = 10, 300*time.Millisecond
		c.SweepInterval, c.SweepAge = 200*time.Millisecond, 0
	}), builder.Hooks{})
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, corps)
	waitFor(t, "bundles to wait in the outbox", time.Minute, func() bool {
		return count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NULL`) > 0 &&
			e.logs.FilterMessage("bundles not accepted by BCREG_CREDS; they stay in the outbox").Len() > 0
	})
	// Full for a while: a message acked on its last delivery, and a sweep
	// that could not publish either.
	waitFor(t, "a last delivery acked for the sweep and a sweep refused by the full stream", time.Minute, func() bool {
		return e.logs.FilterMessage("bundle still unpublished on the message's last delivery; acked, the sweep publishes it from the outbox").Len() > 0 &&
			e.logs.FilterMessage("bundles not accepted by BCREG_CREDS; they stay in the outbox").FilterField(zap.String("by", "sweep")).Len() > 0
	})

	// A poster drains the stream.
	ctx := testenv.Context(t)
	cons, err := e.js.Consumer(ctx, bus.StreamCreds, bus.ConsumerPoster)
	if err != nil {
		t.Fatal(err)
	}
	received := map[string]int{}
	got := map[string][]string{}
	waitFor(t, "every credential to arrive", 60*time.Second, func() bool {
		mb, err := cons.Fetch(50, jetstream.FetchMaxWait(200*time.Millisecond))
		if err == nil {
			for m := range mb.Messages() {
				b, err := messages.DecodeBundle(m.Data())
				if err != nil {
					t.Fatal(err)
				}
				var hashes []string
				for _, c := range b.Credentials {
					received[c.Hash]++
					got[b.CorpNum] = append(got[b.CorpNum], c.Hash)
					hashes = append(hashes, c.Hash)
				}
				// As a poster does: the answers are recorded before the
				// ack (an acked bundle with outstanding rows is abandoned,
				// and the sweep would republish them).
				if _, err := e.edb.Exec(ctx, `UPDATE credential_log SET process_success = 'Y' WHERE credential_hash = ANY($1)`, hashes); err != nil {
					t.Fatal(err)
				}
				_ = m.Ack()
			}
		}
		return count(t, e.edb, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NULL`) == 0 &&
			len(got) == len(wantBundles(x))
	})
	for h, n := range received {
		if n != 1 {
			t.Errorf("credential %s received %d times", h, n)
		}
	}
	if diff := cmp.Diff(wantBundles(x), got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allHashes(x), e.storedHashes()); diff != "" {
		t.Errorf("credential_log (-want +got):\n%s", diff)
	}
	if n := len(e.dlq()); n != 0 {
		t.Errorf("dead letters = %d, want 0 (a full stream is not a failure of the CorpEvent)", n)
	}
}

// TestTwoBuildersDoNotInterleaveACorporation (acceptance 5): two replicas
// on the shared consumer, given many CorpEvents of the same corporations
// at once, never hold one corporation at the same time.
func TestTwoBuildersDoNotInterleaveACorporation(t *testing.T) {
	e := newEnv(t)
	corps := []string{"0191294", "7078358", "A5589691"}
	var msgs []bus.Outgoing
	for i := range 30 {
		c := corps[i%len(corps)]
		msgs = append(msgs, corpEventMsg(t, messages.CorpEvent{V: 1, System: system, CorpNum: c, Last: e.newest(),
			Prev: regevent.Start, Reason: messages.ReasonRequeue}, "requeue:"+c+":"+string(rune('a'+i))))
	}
	var mu sync.Mutex
	holders := map[string]int{}
	var overlaps, batches [2]atomic.Int64
	mk := func(r int) builder.Hooks {
		return builder.Hooks{
			Locked: func(cs []string) {
				batches[r].Add(1)
				mu.Lock()
				for _, c := range cs {
					if holders[c]++; holders[c] > 1 {
						overlaps[r].Add(1)
					}
				}
				mu.Unlock()
				time.Sleep(30 * time.Millisecond) // widen the window
			},
			Unlocked: func(cs []string) {
				mu.Lock()
				for _, c := range cs {
					holders[c]--
				}
				mu.Unlock()
			},
		}
	}
	cfg := e.config(func(c *builder.Config) { c.BatchSize, c.Workers, c.BatchWait = 2, 3, 10*time.Millisecond })
	e.start(cfg, mk(0))
	e.start(cfg, mk(1))
	// Both consume before the messages arrive, so both get some.
	waitFor(t, "both replicas consuming", time.Minute, func() bool { return e.logs.FilterMessage("consuming CorpEvents").Len() == 2 })
	e.publish(msgs...)
	e.waitDrained(time.Minute)
	if n := overlaps[0].Load() + overlaps[1].Load(); n != 0 {
		t.Errorf("%d times a corporation was held by two batches at once", n)
	}
	if batches[0].Load() == 0 || batches[1].Load() == 0 {
		t.Errorf("batches per replica = %d, %d; want both working", batches[0].Load(), batches[1].Load())
	}
	x := e.generate(corps)
	checkBundles(t, e.bundles(), wantBundles(x), x)
}

// TestBrokenCorporationEndsAsN (acceptance 6): corporations that cannot be
// described (no corporation row; a type missing from corp_type) end as N
// with a message naming the corporation and the missing row, plus a
// DeadLetter each; an undecodable message is dead-lettered; the rest of
// the batch is processed.
func TestBrokenCorporationEndsAsN(t *testing.T) {
	e := newEnv(t)
	if _, err := e.src.Exec(testenv.Context(t), `INSERT INTO bc_registries.corporation (corp_num, corp_typ_cd, fixture_group) VALUES ('BROKEN1', 'ZZ', 'test')`); err != nil {
		t.Fatal(err)
	}
	good := []string{"0191294", "2075204", "7078358"}
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, append([]string{"BROKEN1", "NOSUCH1"}, good...))
	e.publish(bus.Outgoing{Subject: bus.EventSubject(system, "GARBAGE"), MsgID: "garbage", CorpNum: "GARBAGE", Data: []byte("{not json")})
	var batches atomic.Int64
	e.start(e.config(func(c *builder.Config) { c.BatchWait = time.Second }), builder.Hooks{Locked: func([]string) { batches.Add(1) }})
	e.waitDrained(time.Minute)
	if n := batches.Load(); n != 1 {
		t.Errorf("batches = %d, want the six messages in one", n)
	}

	type item struct{ Corp, Outcome, Message string }
	var got []item
	rows, _ := e.edb.Query(testenv.Context(t), `SELECT corp_num, process_success, process_msg FROM event_by_corp_filing ORDER BY corp_num`)
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.Corp, &it.Outcome, &it.Message); err != nil {
			t.Fatal(err)
		}
		got = append(got, it)
	}
	want := []item{
		{"0191294", "Y", "BC"}, {"2075204", "Y", "BC"}, {"7078358", "Y", "BC"},
		{"BROKEN1", "N", "corporation BROKEN1: no row in bc_registries.corp_type for corp_typ_cd = 'ZZ'"},
		{"NOSUCH1", "N", "corporation NOSUCH1: no row in bc_registries.corporation for corp_num = 'NOSUCH1'"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("work items (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, dl := range e.dlq() {
		if dl.Stage != messages.StageBuilder {
			t.Errorf("dead letter stage %q", dl.Stage)
		}
		reasons[dl.CorpNum] = dl.Reason
	}
	if diff := cmp.Diff(map[string]string{
		"BROKEN1": want[3].Message, "NOSUCH1": want[4].Message,
		"GARBAGE": "CorpEvent: undecodable message: invalid character 'n' looking for beginning of object key string",
	}, reasons); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	// Each dead letter is logged once, at error, by the consume loop, with
	// the corporation and the message id.
	type line struct{ Message, CorpNum, MsgID, Reason string }
	var lines []line
	for _, l := range e.logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		m := l.ContextMap()
		str := func(k string) string { v, _ := m[k].(string); return v }
		lines = append(lines, line{l.Message, str("corp_num"), str("msg_id"), str("reason")})
	}
	byCorp := cmpopts.SortSlices(func(a, b line) bool { return a.CorpNum < b.CorpNum })
	if diff := cmp.Diff([]line{
		{"message dead-lettered", "BROKEN1", "init:BC_REG:BROKEN1", want[3].Message},
		{"message dead-lettered", "GARBAGE", "garbage", reasons["GARBAGE"]},
		{"message dead-lettered", "NOSUCH1", "init:BC_REG:NOSUCH1", want[4].Message},
	}, lines, byCorp); diff != "" {
		t.Errorf("error log lines (-want +got):\n%s", diff)
	}
	x := e.generate(good)
	checkBundles(t, e.bundles(), wantBundles(x), x)
}

// TestRefusedRowIsIsolated: a corporation whose rows the event database
// refuses (a corp_num longer than the column) does not hold back the rest
// of its batch; it is dead-lettered.
func TestRefusedRowIsIsolated(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("X", 300)
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, []string{long, "0191294"})
	e.start(e.config(func(c *builder.Config) { c.BatchWait = time.Second }), builder.Hooks{})
	e.waitDrained(time.Minute)
	x := e.generate([]string{"0191294"})
	checkBundles(t, e.bundles(), wantBundles(x), x)
	dls := e.dlq()
	if len(dls) != 1 || dls[0].CorpNum != long {
		t.Fatalf("dead letters = %+v, want the long corp_num's", dls)
	}
	if n := count(t, e.edb, `SELECT count(*) FROM event_by_corp_filing`); n != 1 {
		t.Errorf("work items = %d, want 1", n)
	}
}

// TestSourceUnreachableWritesNothing: while the registry cannot be read the
// messages are redelivered after a back-off and nothing is written; when it
// is back they are processed.
func TestSourceUnreachableWritesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := testenv.Context(t)
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, []string{"0191294"})
	x := e.generate([]string{"0191294"})
	if _, err := e.src.Exec(ctx, `ALTER SCHEMA bc_registries RENAME TO bc_registries_away`); err != nil {
		t.Fatal(err)
	}
	e.start(e.config(), builder.Hooks{})
	waitFor(t, "a redelivery", time.Minute, func() bool {
		return e.logs.FilterMessage("transient failure, redelivering after back-off").Len() >= 2
	})
	if n := count(t, e.edb, `SELECT (SELECT count(*) FROM event_by_corp_filing) + (SELECT count(*) FROM credential_log) + (SELECT count(*) FROM corp_history_log)`); n != 0 {
		t.Fatalf("%d rows written while the registry was unreachable", n)
	}
	if _, err := e.src.Exec(ctx, `ALTER SCHEMA bc_registries_away RENAME TO bc_registries`); err != nil {
		t.Fatal(err)
	}
	e.waitDrained(time.Minute)
	checkBundles(t, e.bundles(), wantBundles(x), x)
}

// TestHistoryFutureDatedChangeIsRequeued: with the history profile a
// change that takes effect in the future issues nothing for it yet and is
// stored in future_requeue (the poller re-queues it when it comes due);
// what is stored matches the generator.
func TestHistoryFutureDatedChangeIsRequeued(t *testing.T) {
	e := newEnv(t)
	e.profile = credential.ProfileHistory
	now := regclock.Now().Truncate(time.Second)
	ev, due := int64(990_000_500), now.Add(48*time.Hour)
	ctx := testenv.Context(t)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES ($1, '0191294', 'FILE', $2)`, []any{ev, now.Add(-time.Minute)}},
		{`INSERT INTO bc_registries.filing (event_id, filing_typ_cd, effective_dt) VALUES ($1, 'NOALA', $2)`, []any{ev, due}},
		{`UPDATE bc_registries.corp_name SET end_event_id = $1 WHERE corp_num = '0191294' AND end_event_id IS NULL`, []any{ev}},
		{`INSERT INTO bc_registries.corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES ('0191294', 'CO', $1, 1, 'LATER NAME LTD.')`, []any{ev}},
	} {
		if _, err := e.src.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	x := e.generate([]string{"0191294"})
	if len(x["0191294"].Requeue) == 0 {
		t.Fatal("scenario: the generator found no future-dated change")
	}
	e.start(e.config(), builder.Hooks{})
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, []string{"0191294"})
	e.waitDrained(time.Minute)

	var want, got []discovery.FutureRequeue
	for _, r := range x["0191294"].Requeue {
		want = append(want, discovery.FutureRequeue{CorpNum: "0191294", DueAt: r.DueAt, EventID: r.EventID,
			FirstEventID: r.FirstEventID, FirstEventDate: r.FirstEventDate})
	}
	got, err := discovery.DueFutureRequeues(ctx, e.edb, system, due.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(discovery.FutureRequeue{}, "RecordID")); diff != "" {
		t.Errorf("future_requeue (-want +got):\n%s", diff)
	}
	if got[0].EventID != ev || !got[0].DueAt.Equal(due) {
		t.Errorf("re-queue %+v, want event %d due %s", got[0], ev, due)
	}
	checkBundles(t, e.bundles(), wantBundles(x), x)
	if diff := cmp.Diff(allHashes(x), e.storedHashes()); diff != "" {
		t.Errorf("credential_log (-want +got):\n%s", diff)
	}
}

// TestFirstPassEventInSecondPass: in the repeated autumn hour a
// corporation whose event is stamped in the first pass (01:56 PDT) and is
// handled in the second (01:05 PST) gets its credentials at once, as at
// 02:00, and no future_requeue row. Reading "now" as the wall clock (01:05)
// took the event for a future one: its re-queue, due 01:56, was published
// by the poller at once (due by the latest wall time shown) and the builder
// recorded it again unchanged, so the credential was never issued.
//
// The scenario's date is behind the real clock, where the 01:56 event is
// past whatever "now" the builder reads. So a control corporation, 0549806,
// has a change filed in the first pass that takes effect at 02:30, after
// the repeated hour: on the builder's controlled clock (01:59:59.999999 by
// the latest wall time shown) it is in the future and re-queued; on the
// real clock it is past and would be issued. A builder that ignored its
// Now hook fails on the control, one that read "now" as the wall clock
// (01:05) fails on 0191294.
func TestFirstPassEventInSecondPass(t *testing.T) {
	e := newEnv(t)
	e.profile = credential.ProfileHistory
	ctx := testenv.Context(t)
	fall := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC) // 02:00 PDT -> 01:00 PST
	o := sourcetest.ApplyOngoing(t, e.srcURL, time.Date(2026, 11, 1, 1, 59, 0, 0, time.UTC))
	ev := o.EventIDs[0] // 0191294's name change, stamped and effective 01:56 (first pass)
	const control = "0549806"
	ctlEv, ctlDue := int64(990_000_600), time.Date(2026, 11, 1, 2, 30, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES ($1, $2, 'FILE', $3)`, []any{ctlEv, control, time.Date(2026, 11, 1, 1, 57, 0, 0, time.UTC)}},
		{`INSERT INTO bc_registries.filing (event_id, filing_typ_cd, effective_dt) VALUES ($1, 'NOALA', $2)`, []any{ctlEv, ctlDue}},
		{`UPDATE bc_registries.corp_name SET end_event_id = $1 WHERE corp_num = $2 AND corp_name_typ_cd = 'CO' AND end_event_id IS NULL`, []any{ctlEv, control}},
		{`INSERT INTO bc_registries.corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, corp_nme) VALUES ($2, 'CO', $1, 1, 'HALF PAST TWO LTD.')`, []any{ctlEv, control}},
	} {
		if _, err := e.src.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	corps := []string{"0191294", control}
	if x := e.generateAt(corps, time.Date(2026, 11, 1, 1, 5, 0, 0, time.UTC)); len(x["0191294"].Requeue) == 0 {
		t.Fatal("scenario: at the wall time 01:05 the generator does not take the 01:56 event for a future one")
	}
	x := e.generateAt(corps, time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	if len(x["0191294"].Requeue) != 0 || len(x["0191294"].Creds) == 0 {
		t.Fatalf("scenario: at 02:00 the generator gives %d credentials, re-queues %+v", len(x["0191294"].Creds), x["0191294"].Requeue)
	}
	if len(x[control].Requeue) == 0 {
		t.Fatalf("scenario: at 02:00 the generator does not re-queue %s's change effective 02:30", control)
	}
	if now := e.generate([]string{control}); len(now[control].Requeue) != 0 {
		t.Fatalf("scenario: %s's change is in the future of the real clock too (re-queues %+v), so the control cannot tell the Now hook from the real clock", control, now[control].Requeue)
	}
	secondPass := fall.Add(5 * time.Minute)
	e.start(e.config(), builder.Hooks{Now: func() time.Time { return secondPass }})
	e.publishEvents("poll:BC_REG", messages.ReasonEvent, corps)
	e.waitDrained(time.Minute)

	if n := count(t, e.edb, `SELECT count(*) FROM future_requeue WHERE corp_num = '0191294' AND event_id = $1`, ev); n != 0 {
		t.Errorf("%d future_requeue rows for event %d, want none", n, ev)
	}
	// The control's change waits for 02:30: the builder's "now" came from
	// the hook, not the real clock.
	var want []discovery.FutureRequeue
	for _, r := range x[control].Requeue {
		want = append(want, discovery.FutureRequeue{CorpNum: control, DueAt: r.DueAt, EventID: r.EventID,
			FirstEventID: r.FirstEventID, FirstEventDate: r.FirstEventDate})
	}
	got, err := discovery.DueFutureRequeues(ctx, e.edb, system, ctlDue.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(discovery.FutureRequeue{}, "RecordID")); diff != "" {
		t.Errorf("future_requeue (-want +got):\n%s", diff)
	}
	if len(got) != 1 || got[0].EventID != ctlEv || !got[0].DueAt.Equal(ctlDue) {
		t.Errorf("re-queues %+v, want one of %s's event %d due %s", got, control, ctlEv, ctlDue)
	}
	if diff := cmp.Diff(allHashes(x), e.storedHashes()); diff != "" {
		t.Errorf("credential_log (-want +got):\n%s", diff)
	}
	checkBundles(t, e.bundles(), wantBundles(x), x)
}

// TestLockWaitIsBounded: a batch whose corporation another holder keeps
// locked (a vanished builder, say) gives up after BCREG_BUILDER_LOCK_WAIT,
// holding nothing, and is retried; once the lock is free it is processed.
func TestLockWaitIsBounded(t *testing.T) {
	e := newEnv(t)
	ctx := testenv.Context(t)
	held, err := eventdb.LockCorps(ctx, e.edb, []string{"0191294"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e.start(e.config(func(c *builder.Config) { c.LockWait = 200 * time.Millisecond }), builder.Hooks{})
	e.publishEvents("init:BC_REG", messages.ReasonInitialLoad, []string{"0191294", "2075204"})
	waitFor(t, "a batch to give up waiting", time.Minute, func() bool {
		for _, l := range e.logs.FilterMessage("transient failure, redelivering after back-off").All() {
			if err, _ := l.ContextMap()["error"].(string); strings.Contains(err, "waited 200ms for another holder") {
				return true
			}
		}
		return false
	})
	// Giving up released the batch's other lock.
	other, err := eventdb.LockCorps(ctx, e.edb, []string{"2075204"}, time.Minute)
	if err != nil {
		t.Fatalf("2075204 still locked after the batch gave up: %v", err)
	}
	other.Release(ctx)
	held.Release(ctx)
	e.waitDrained(time.Minute)
	x := e.generate([]string{"0191294", "2075204"})
	checkBundles(t, e.bundles(), wantBundles(x), x)
}
