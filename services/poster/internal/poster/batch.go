package poster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
)

// dbTimeout bounds each database statement of a handler call. Statements
// run on a context detached from the service's, so the answer of a request
// that was sent is recorded even while the service stops.
const dbTimeout = 30 * time.Second

// batch is one handler call: its bundles and its claim token. The token is
// per call, so two calls of one replica never mistake each other's claims
// for their own.
type batch struct {
	p       *Poster
	token   string
	bundles []*inBundle
	mu      sync.Mutex // guards cred state written by concurrent lanes
	// claimedAt is the local (monotonic) time just before the claims were
	// asked for: every lease of this call runs until at least claimedAt +
	// lease on the database's clock, which is what send relies on to skip
	// renewing a fresh claim.
	claimedAt time.Time
}

func (w *batch) dbctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
}

// run settles as much of the batch as it can and sets each bundle's result.
func (w *batch) run(ctx context.Context) {
	p := w.p
	creds, err := w.load(ctx)
	if err != nil {
		w.failAll(fmt.Errorf("poster: %w", err))
		return
	}
	if len(creds) > 0 {
		units := w.claim(ctx, creds)
		size, byGroup := p.agents.requestShape()
		lanes := pack(units, size)
		if byGroup {
			lanes = splitGroups(lanes)
		}
		var wg sync.WaitGroup
		for _, l := range lanes {
			wg.Go(func() { w.sendLane(ctx, l) })
		}
		wg.Wait()
		w.releaseUnsettled(ctx, creds)
	}
	for _, ib := range w.bundles {
		w.settle(ib)
	}
}

// failAll makes every bundle without a result wait for the database.
func (w *batch) failAll(err error) {
	for _, ib := range w.bundles {
		if ib.result == nil && !ib.done {
			ib.result = w.waitForDB(ib, err)
		}
	}
}

// waitForDB is a bundle's result while the database fails: a wait with
// the back-off delay of its delivery, for a database failure is no reason
// to give a bundle up.
func (w *batch) waitForDB(ib *inBundle, err error) error {
	return bus.Wait(err, w.p.cfg.Backoff.Delay(int(ib.md.NumDelivered)))
}

// load reads the rows of every bundle's credentials and decides which are
// to be posted: outstanding and due ones (plus, for an operator's
// retry_rejected bundle, those rejected before it was published). It
// returns them deduplicated by hash, in record_id order.
func (w *batch) load(ctx context.Context) ([]*cred, error) {
	p := w.p
	var hashes []string
	for _, ib := range w.bundles {
		for _, c := range ib.b.Credentials {
			hashes = append(hashes, c.Hash)
		}
	}
	dctx, cancel := w.dbctx(ctx)
	rows, err := delivery.LoadRows(dctx, p.db, hashes)
	cancel()
	if err != nil {
		return nil, err
	}
	byHash := map[string]*cred{}
	var out []*cred
	var deferred []string
	for _, ib := range w.bundles {
		for _, c := range ib.b.Credentials {
			if _, ok := rows[c.Hash]; !ok {
				// The builder commits rows before it publishes: a bundle
				// naming a credential the log does not have cannot be
				// delivered truthfully.
				ib.result = bus.Permanent(bus.Fail(ib.b.CorpNum, fmt.Errorf("credential %s (%s %s/%s) of %s has no credential_log row", c.Hash, c.Type, c.Schema, c.Version, ib.b.CorpNum)))
				ib.done = true
				break
			}
		}
		if ib.done {
			continue
		}
		for _, c := range ib.b.Credentials {
			row := rows[c.Hash]
			retry := ib.b.RetryRejected && (row.Status == delivery.Rejected || row.Status == delivery.Dead) &&
				row.ProcessDate != nil && row.ProcessDate.Before(ib.publishedAt())
			if row.Status != "" && !retry {
				continue // final (Y, N, D) or held back (A)
			}
			if !row.Due {
				// Waits for its not_before, set when the row was stored
				// (credential.HoldDates): back to the outbox.
				deferred = append(deferred, c.Hash)
				p.m.events.WithLabelValues("waiting").Inc()
				continue
			}
			cr := byHash[c.Hash]
			if cr == nil {
				cr = &cred{hash: c.Hash, recordID: row.RecordID, attempts: row.Attempts, retry: retry, c: c, bundle: ib}
				byHash[c.Hash] = cr
				out = append(out, cr)
			}
			ib.pending = append(ib.pending, cr)
		}
	}
	if len(deferred) > 0 {
		dctx, cancel := w.dbctx(ctx)
		err := delivery.Defer(dctx, p.db, deferred)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b *cred) int { return cmp.Compare(a.recordID, b.recordID) })
	return out, nil
}

// claim takes the leases and applies the order rule; it returns per
// corporation the credentials that may be posted now.
func (w *batch) claim(ctx context.Context, creds []*cred) []*unit {
	p := w.p
	// Normal claims in one statement; an operator's retry_rejected
	// bundles each with their own publish time.
	groups := map[time.Time][]string{}
	for _, cr := range creds {
		var at time.Time
		if cr.bundle.b.RetryRejected {
			at = cr.bundle.publishedAt()
		}
		groups[at] = append(groups[at], cr.hash)
	}
	claimed := map[string]delivery.ClaimedRow{}
	w.claimedAt = time.Now()
	for at, hashes := range groups {
		dctx, cancel := w.dbctx(ctx)
		rows, err := delivery.Claim(dctx, p.db, delivery.ClaimRequest{Hashes: hashes, Claimer: w.token, Lease: p.lease, RetryRejectedBefore: at})
		cancel()
		if err != nil {
			w.waitAll(creds, &pendingReason{kind: pendDB, err: err})
			return nil
		}
		for _, r := range rows {
			claimed[r.Hash] = r
			if r.TookOver != "" {
				p.m.leaseTakeover.Inc()
				cr := credByHash(creds, r.Hash)
				cr.bundle.logger().Info("took over credential whose lease expired", zap.String("hash", r.Hash), zap.String("previous_holder", r.TookOver))
			}
		}
	}
	var corps []string
	byCorp := map[string][]*cred{}
	for _, cr := range creds {
		r, ok := claimed[cr.hash]
		if !ok && cr.retry {
			// The claim's own check (on the database clock) found it
			// rejected after this bundle was published: it stays N.
			cr.final = true
			continue
		}
		if !ok {
			cr.setWait(&pendingReason{kind: pendHeld, err: fmt.Errorf("credential %s is claimed by another poster", cr.hash)})
			continue
		}
		cr.attempts = r.Attempts
		corp := r.CorpNum
		if _, seen := byCorp[corp]; !seen {
			corps = append(corps, corp)
		}
		byCorp[corp] = append(byCorp[corp], cr)
	}
	if len(corps) == 0 {
		return nil
	}
	dctx, cancel := w.dbctx(ctx)
	oldest, err := delivery.OldestForeignOutstanding(dctx, p.db, corps, w.token)
	cancel()
	if err != nil {
		w.waitAll(creds, &pendingReason{kind: pendDB, err: err})
		return nil
	}
	var units []*unit
	for _, corp := range corps {
		u := &unit{corp: corp}
		limit, blocked := oldest[corp]
		for _, cr := range byCorp[corp] {
			if blocked && cr.recordID > limit {
				cr.setWait(&pendingReason{kind: pendHeld, err: fmt.Errorf("corporation %s has an older outstanding credential (record %d) held elsewhere", corp, limit)})
				continue
			}
			u.creds = append(u.creds, cr)
		}
		if len(u.creds) < len(byCorp[corp]) {
			p.m.heldBack.Inc()
			byCorp[corp][0].bundle.logger().Debug("held back behind an older outstanding credential", zap.Int64("record_id", limit))
		}
		units = append(units, u)
	}
	return units
}

func credByHash(creds []*cred, hash string) *cred {
	for _, c := range creds {
		if c.hash == hash {
			return c
		}
	}
	return nil
}

func (w *batch) waitAll(creds []*cred, r *pendingReason) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cr := range creds {
		cr.setWait(r)
	}
}

// releaseUnsettled gives back the claims on credentials that are not
// final, so any replica may take them on redelivery.
func (w *batch) releaseUnsettled(ctx context.Context, creds []*cred) {
	var hashes []string
	for _, cr := range creds {
		if !cr.final {
			hashes = append(hashes, cr.hash)
		}
	}
	if len(hashes) == 0 {
		return
	}
	err := w.retryDB(ctx, w.claimedAt.Add(w.p.lease), "releasing claims", func(dctx context.Context) error {
		return delivery.Release(dctx, w.p.db, w.token, hashes)
	})
	if err != nil {
		// The leases run out by themselves.
		w.p.log.Warn("releasing claims failed; they expire with their lease", zap.Error(err))
	}
}

// settle turns the state of a bundle's credentials into its result.
func (w *batch) settle(ib *inBundle) {
	p := w.p
	if ib.done {
		return
	}
	var worst *pendingReason
	maxAttempts := 0
	for _, cr := range ib.pending {
		if cr.final {
			continue
		}
		r := cr.wait
		if r == nil {
			r = &pendingReason{kind: pendShutdown, err: errors.New("not sent before the poster stopped")}
		}
		if worst == nil || r.kind > worst.kind {
			worst = r
		}
		maxAttempts = max(maxAttempts, cr.attempts)
	}
	if worst == nil {
		ib.result = nil // every credential is Y, N, D, held back or waiting
		return
	}
	// The consume loop logs the result once, with this context.
	var fields []zap.Field
	if worst.agent != "" {
		fields = append(fields, zap.String("agent", worst.agent))
	}
	if worst.kind == pendTransient {
		fields = append(fields, zap.Int("attempts", maxAttempts))
	}
	err := bus.Fail(ib.b.CorpNum, worst.err, fields...)
	// Only counted agent attempts (credential_log.attempts, up to
	// BCREG_POSTER_MAX_ATTEMPTS) make a credential D. Every result here is
	// a retry, and the consume loop renews a retried bundle before its
	// last JetStream delivery (ConsumeOptions.Renew), so waiting never
	// ends as D or a dead letter.
	switch worst.kind {
	case pendTransient:
		d := max(p.cfg.Backoff.Delay(max(1, maxAttempts)), worst.delay)
		ib.result = bus.RetryAfter(err, d)
	case pendDB:
		ib.result = w.waitForDB(ib, err)
	case pendMisconf:
		ib.result = bus.Wait(err, p.cfg.MisconfigRetry)
	case pendAgentDown:
		ib.result = bus.Wait(err, p.cfg.HealthInterval)
	case pendHeld:
		// Doubling from HoldDelay with the deliveries, at most HoldMax.
		hold := bus.Backoff{Base: p.cfg.HoldDelay, Max: p.cfg.HoldMax}
		ib.result = bus.Wait(err, hold.Delay(int(ib.md.NumDelivered)))
	default:
		ib.result = bus.Wait(err, time.Second)
	}
}
