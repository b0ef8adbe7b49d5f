package poster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

// HeaderCredentialHash names, in a poster DeadLetter's original headers,
// the credential that was rejected or given up (the payload is the whole
// bundle, so a requeue reproduces it).
const HeaderCredentialHash = bus.HeaderCredentialHash

// sendLane sends a lane's requests one after another and stops at the
// first request that leaves a credential without a final answer: the
// later credentials of that corporation must not overtake it.
func (w *batch) sendLane(ctx context.Context, l lane) {
	// leasedAt: every claim of the lane runs until at least leasedAt +
	// lease (the claim, or the last renewal).
	leasedAt := w.claimedAt
	for i, rq := range l {
		if ctx.Err() != nil {
			w.waitCreds(rq.creds, &pendingReason{kind: pendShutdown, err: errors.New("poster stopping")})
			continue
		}
		if w.send(ctx, rq, l[i+1:], &leasedAt) {
			continue
		}
		for _, r := range l[i+1:] {
			w.waitCreds(r.creds, &pendingReason{kind: pendHeld, err: errors.New("waits for the earlier credentials of its corporation")})
		}
		return
	}
}

func (w *batch) waitCreds(creds []*cred, r *pendingReason) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cr := range creds {
		cr.setWait(r)
	}
}

// send posts one request and records its answers; it reports whether every
// credential of the request is now final. later are the lane's requests
// after this one; *leasedAt is when the lane's claims were last taken or
// renewed.
func (w *batch) send(ctx context.Context, rq *request, later []*request, leasedAt *time.Time) bool {
	p := w.p
	if w.unrecordable(rq) {
		return false
	}
	sl, err := p.agents.acquire(ctx, len(rq.creds))
	if err != nil {
		kind := pendAgentDown
		if ctx.Err() != nil {
			kind = pendShutdown
		}
		w.waitCreds(rq.creds, &pendingReason{kind: kind, err: err})
		return false
	}
	// A claim must outlast the request (rule 6: no other poster may take
	// the credentials over while they are at the agent). A fresh claim
	// does: nobody else can change a row while its lease runs, so it is
	// sent as it is. One that could run out before the answer (a long
	// wait for a slot, a long lane) is renewed first, with the rest of
	// the lane; a lost claim aborts the lane.
	if p.mustRenew(*leasedAt) {
		renewedAt := time.Now()
		if !w.renew(ctx, sl, rq, later) {
			return false
		}
		*leasedAt = renewedAt
	}

	if w.unrecordable(rq) {
		sl.cancel()
		return false
	}
	items, cost, err := w.items(rq.creds)
	var body []byte
	if err == nil {
		body, err = agent.EncodeBody(items)
	}
	if err != nil {
		sl.cancel()
		w.waitCreds(rq.creds, &pendingReason{kind: pendTransient, err: err})
		return false
	}
	rctx, rcancel := context.WithTimeout(p.abort, p.cfg.RequestTimeout)
	start := time.Now()
	sl.sent = start
	rows, err := sl.s.client.IssueBody(rctx, body, len(items))
	rcancel()
	elapsed := time.Since(start)
	p.m.duration.Observe(elapsed.Seconds())
	// The request's logger is built only when something is logged.
	log := sync.OnceValue(func() *zap.Logger { return w.requestLog(rq, sl, elapsed) })
	if p.abort.Err() != nil {
		// Crashed (tests): record nothing, as a killed process would.
		sl.cancel()
		w.waitCreds(rq.creds, &pendingReason{kind: pendShutdown, err: errors.New("poster killed")})
		return false
	}
	if err != nil {
		w.requestFailed(ctx, sl, rq, err)
		return false
	}
	return w.answered(ctx, sl, rq, rows, cost, log, *leasedAt)
}

// unrecordable reports, and marks rq waiting, when answers cannot be
// recorded now (a statement of this replica is retrying after the
// database failed): a request sent now would be issued by the agent and
// posted again after the lease, so the lane stops here.
func (w *batch) unrecordable(rq *request) bool {
	if w.p.dbFailing.Load() == 0 {
		return false
	}
	w.waitCreds(rq.creds, &pendingReason{kind: pendDB, err: errors.New("not sent: the event database is failing, answers could not be recorded")})
	return true
}

// mustRenew reports whether a claim taken (or renewed) at leasedAt could
// run out before a request sent now has its answer recorded. leasedAt is
// taken on the local monotonic clock before the claim statement was sent,
// so the lease on the database's clock ends no earlier than leasedAt +
// lease.
func (p *Poster) mustRenew(leasedAt time.Time) bool {
	return leasedAt.IsZero() || time.Since(leasedAt)+p.cfg.RequestTimeout+LeaseMargin > p.lease
}

// renew extends the claims of a request and of the rest of its lane; it
// reports whether the call still holds every one of them.
func (w *batch) renew(ctx context.Context, sl *slot, rq *request, later []*request) bool {
	p := w.p
	n := len(rq.creds)
	for _, r := range later {
		n += len(r.creds)
	}
	hashes := make([]string, 0, n)
	for _, cr := range rq.creds {
		hashes = append(hashes, cr.hash)
	}
	for _, r := range later {
		for _, cr := range r.creds {
			hashes = append(hashes, cr.hash)
		}
	}
	p.m.leaseRenewal.Inc()
	dctx, cancel := w.dbctx(ctx)
	held, err := delivery.Renew(dctx, p.db, w.token, hashes, p.lease)
	cancel()
	switch {
	case err != nil:
		sl.cancel()
		w.waitCreds(rq.creds, &pendingReason{kind: pendDB, err: err})
		return false
	case held < len(hashes):
		sl.cancel()
		w.waitCreds(rq.creds, &pendingReason{kind: pendHeld, err: errors.New("claim lost: the lease ran out and another poster took the credentials over")})
		return false
	}
	return true
}

// items builds the request body's items. A credential's non-empty reason
// goes out as the attribute reason_description (docs/design/agent.md §1; not part of
// its hash). cost is the request's agent work for the limiter: store calls
// for VON-X (one per schema and version), credentials for the controller.
func (w *batch) items(creds []*cred) ([]agent.Item, float64, error) {
	items := make([]agent.Item, len(creds))
	groups := map[[2]string]bool{}
	for i, cr := range creds {
		it, err := itemFor(cr.c)
		if err != nil {
			return nil, 0, err
		}
		items[i] = it
		groups[[2]string{cr.c.Schema, cr.c.Version}] = true
	}
	if w.p.cfg.Protocol == agent.ProtocolController {
		return items, float64(len(items)), nil
	}
	return items, float64(len(groups)), nil
}

// itemFor is a credential's item. Its attributes go out as the bundle
// carries them when that text is what encoding them would give
// (agent.Verbatim: the outbox's text unless a value needs an escape);
// otherwise, or with a reason to add, they are decoded and encoded again,
// so the agent receives the same bytes either way.
func itemFor(c messages.RawCredential) (agent.Item, error) {
	it := agent.Item{Schema: c.Schema, Version: c.Version}
	if c.Reason == "" {
		if agent.Verbatim(c.Attributes) {
			it.Attributes = c.Attributes
			return it, nil
		}
	} else if raw, ok := agent.WithAttribute(c.Attributes, "reason_description", c.Reason); ok {
		it.Attributes = raw
		return it, nil
	}
	attrs := map[string]any{}
	if len(c.Attributes) > 0 {
		dec := json.NewDecoder(bytes.NewReader(c.Attributes))
		dec.UseNumber()
		// null leaves the map empty.
		if err := dec.Decode(&attrs); err != nil {
			return it, fmt.Errorf("attributes of credential %s: %w", c.Hash, err)
		}
		if attrs == nil {
			attrs = map[string]any{}
		}
	}
	if c.Reason != "" {
		attrs["reason_description"] = c.Reason
	}
	it.Attributes = attrs
	return it, nil
}

func (w *batch) requestLog(rq *request, sl *slot, elapsed time.Duration) *zap.Logger {
	var corps, ids []string
	seen := map[*inBundle]bool{}
	for _, cr := range rq.creds {
		if !seen[cr.bundle] {
			seen[cr.bundle] = true
			corps = append(corps, cr.bundle.b.CorpNum)
			ids = append(ids, cr.bundle.msg.Headers().Get(jetstream.MsgIDHeader))
		}
	}
	return w.p.log.With(zap.String("agent", sl.s.name()), zap.Int("credentials", len(rq.creds)),
		zap.Strings("corp_nums", corps), zap.Strings("msg_ids", ids), zap.Duration("elapsed", elapsed))
}

// requestFailed handles a request without a usable answer. It logs
// nothing: the error is its bundles' result, which the consume loop logs.
func (w *batch) requestFailed(ctx context.Context, sl *slot, rq *request, err error) {
	p := w.p
	var re *agent.RequestError
	if !errors.As(err, &re) {
		re = &agent.RequestError{Kind: agent.KindTransport, Err: err}
	}
	if re.Misconfigured() {
		sl.cancel()
		p.m.requests.WithLabelValues("misconfigured").Inc()
		p.agents.misconfigured(sl.s, re.Error())
		w.waitCreds(rq.creds, &pendingReason{kind: pendMisconf, err: err, agent: sl.s.name()})
		return
	}
	sl.release(false, 0)
	p.m.requests.WithLabelValues("transient").Inc()
	p.m.agentErrors.WithLabelValues(re.Kind).Inc()
	// An agent that is down is not the credentials' fault: ask its health
	// now, and count nothing if it fails.
	if !p.agents.check(ctx, sl.s) {
		w.waitCreds(rq.creds, &pendingReason{kind: pendAgentDown, err: err, agent: sl.s.name()})
		return
	}
	w.countFailure(ctx, rq.creds, err, re.RetryAfter, sl.s.name())
}

// answered records the rows of a 200 reply, matched by position.
func (w *batch) answered(ctx context.Context, sl *slot, rq *request, rows []agent.Row, cost float64, log func() *zap.Logger, leasedAt time.Time) bool {
	p := w.p
	answeredAt := time.Now()
	classes := make([]agent.Class, len(rows))
	counts := map[agent.Class]int{}
	for i, r := range rows {
		classes[i] = agent.Classify(r)
		counts[classes[i]]++
	}
	if counts[agent.ConfigError] == len(rows) {
		// The same configuration error on every row: the agent is wrong,
		// not the credentials. Mark nothing.
		sl.cancel()
		p.m.requests.WithLabelValues("misconfigured").Inc()
		p.agents.misconfigured(sl.s, rows[0].Result)
		w.waitCreds(rq.creds, &pendingReason{kind: pendMisconf, err: fmt.Errorf("agent misconfigured: %s", rows[0].Result), agent: sl.s.name()})
		return false
	}
	sl.release(counts[agent.Transient] == 0, cost)
	p.m.requests.WithLabelValues("ok").Inc()
	if counts[agent.Issued] > 0 {
		p.agents.configured(sl.s)
	}
	if p.log.Core().Enabled(zap.DebugLevel) {
		log().Debug("request answered", zap.Int("issued", counts[agent.Issued]),
			zap.Int("rejected", counts[agent.Rejected]+counts[agent.ConfigError]), zap.Int("transient", counts[agent.Transient]))
	}

	var outs []delivery.Outcome
	var transient []*cred
	var transientMsg string
	for i, cr := range rq.creds {
		switch classes[i] {
		case agent.Issued:
			outs = append(outs, delivery.Outcome{Hash: cr.hash, Status: delivery.Issued, Msg: rows[i].Result})
		case agent.Transient:
			transient = append(transient, cr)
			if transientMsg == "" {
				transientMsg = rows[i].Result
			}
		default:
			reason := fmt.Sprintf("rejected by the agent: %s", rows[i].Result)
			if err := w.deadLetter(ctx, cr, reason); err != nil {
				cr.bundle.logger().Error("dead-letter publish failed; the rejected credential stays outstanding", zap.String("hash", cr.hash), zap.Error(err))
				w.waitCreds([]*cred{cr}, &pendingReason{kind: pendDB, err: err})
				continue
			}
			cr.bundle.logger().Warn("credential rejected by the agent: N and dead-lettered", zap.String("hash", cr.hash),
				zap.Int64("record_id", cr.recordID), zap.String("schema", cr.c.Schema), zap.String("agent_message", rows[i].Result))
			outs = append(outs, delivery.Outcome{Hash: cr.hash, Status: delivery.Rejected, Msg: rows[i].Result})
		}
	}
	w.markDelivered(ctx, rq, outs, answeredAt, leasedAt.Add(p.lease))
	if len(transient) > 0 {
		p.m.agentErrors.WithLabelValues("row").Inc()
		err := fmt.Errorf("agent could not issue %d of %d credentials now: %s", len(transient), len(rows), transientMsg)
		// No log here: the error is the bundles' result (the consume loop
		// logs it).
		if !p.agents.check(ctx, sl.s) {
			w.waitCreds(transient, &pendingReason{kind: pendAgentDown, err: err, agent: sl.s.name()})
		} else {
			w.countFailure(ctx, transient, err, 0, sl.s.name())
		}
	}
	for _, cr := range rq.creds {
		if !cr.final {
			return false
		}
	}
	return true
}

// markDelivered records Y and N answers. The agent has issued them: a
// failed write is retried with back-off until the claims' lease ends
// (after that another poster may post them again), and meanwhile no lane
// of this replica sends (unrecordable).
func (w *batch) markDelivered(ctx context.Context, rq *request, outs []delivery.Outcome, answeredAt, leaseEnd time.Time) {
	if len(outs) == 0 {
		return
	}
	p := w.p
	for i := range outs {
		outs[i].Claimer = w.token
	}
	first := true
	err := w.retryDB(ctx, leaseEnd, "recording agent answers", func(dctx context.Context) error {
		if first {
			// With the answers of the requests that arrive meanwhile; a
			// retry runs alone.
			first = false
			return p.rec.mark(dctx, outs)
		}
		_, err := delivery.MarkDelivered(dctx, p.db, outs)
		return err
	})
	if err == nil {
		p.m.recordDelay.Observe(time.Since(answeredAt).Seconds())
	}
	byHash := map[string]*cred{}
	for _, cr := range rq.creds {
		byHash[cr.hash] = cr
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range outs {
		cr := byHash[o.Hash]
		if err != nil {
			// The agent answered but the log does not say so: the
			// credential will be posted again (a duplicate at the agent).
			cr.setWait(&pendingReason{kind: pendDB, err: err})
			continue
		}
		// Not marked by us means someone else recorded it first: final
		// either way.
		cr.final = true
		p.m.credentials.WithLabelValues(o.Status).Inc()
	}
	if err != nil {
		p.m.unrecorded.Add(float64(len(outs)))
		p.log.Error("recording agent answers failed until the claims' lease ended; those credentials will be posted again",
			zap.Int("credentials", len(outs)), zap.Error(err))
	}
}

// recordBackoff spaces the retries of a statement whose failure would
// cost a duplicate at the agent: short, since a database restart takes
// seconds.
var recordBackoff = bus.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second}

// retryDB runs a statement until it succeeds, until is reached (the end of
// the claims' lease), or the poster is killed (tests); it returns the last
// error. While it retries, p.dbFailing keeps every lane of the replica from
// sending and the consume loop from pulling.
func (w *batch) retryDB(ctx context.Context, until time.Time, what string, fn func(context.Context) error) error {
	p := w.p
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(dbTimeout, max(time.Until(until), time.Second)))
		err := fn(dctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				p.log.Info(what+": the database answers again", zap.Int("attempts", attempt))
			}
			return nil
		}
		if attempt == 1 {
			p.dbFailing.Add(1)
			defer p.dbFailing.Add(-1)
			p.log.Warn(what+" failed; retrying until the claims' lease ends, sending nothing meanwhile", zap.Error(err),
				zap.Duration("lease_left", time.Until(until)))
		}
		d := recordBackoff.Delay(attempt)
		if time.Until(until) < d {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-time.After(d):
		case <-p.abort.Done():
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// countFailure counts one failed attempt of agent on creds; those that
// reach the attempt limit are dead-lettered and become D.
func (w *batch) countFailure(ctx context.Context, creds []*cred, cause error, retryAfter time.Duration, agent string) {
	p := w.p
	var hashes []string
	for _, cr := range creds {
		if cr.attempts+1 >= p.cfg.MaxAttempts {
			reason := fmt.Sprintf("gave up after %d failed attempts: %v", cr.attempts+1, cause)
			if err := w.deadLetter(ctx, cr, reason); err != nil {
				w.waitCreds([]*cred{cr}, &pendingReason{kind: pendDB, err: err})
				continue
			}
		}
		hashes = append(hashes, cr.hash)
	}
	if len(hashes) == 0 {
		return
	}
	dctx, cancel := w.dbctx(ctx)
	res, err := delivery.RecordFailure(dctx, p.db, w.token, hashes, cause.Error(), p.cfg.MaxAttempts)
	cancel()
	if err != nil {
		w.waitCreds(creds, &pendingReason{kind: pendDB, err: err})
		return
	}
	byHash := map[string]delivery.Attempt{}
	for _, a := range res {
		byHash[a.Hash] = a
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cr := range creds {
		a, ok := byHash[cr.hash]
		switch {
		case !ok:
			cr.setWait(&pendingReason{kind: pendHeld, err: errors.New("claim lost before the failure was counted")})
		case a.Dead:
			cr.attempts, cr.final = a.Attempts, true
			p.m.credentials.WithLabelValues(delivery.Dead).Inc()
			cr.bundle.logger().Error("credential dead-lettered after exhausting its attempts: D", zap.String("hash", cr.hash),
				zap.Int("attempts", a.Attempts), zap.Error(cause))
		default:
			cr.attempts = a.Attempts
			p.m.events.WithLabelValues("retry").Inc()
			cr.setWait(&pendingReason{kind: pendTransient, err: cause, delay: retryAfter, agent: agent})
		}
	}
}

// deadLetter publishes a DeadLetter for one credential: the whole bundle
// as payload, the credential's hash in the headers, and an id per bundle
// message and credential (so two credentials of one bundle get two
// entries, and a retried publish one).
func (w *batch) deadLetter(ctx context.Context, cr *cred, reason string) error {
	p, ib := w.p, cr.bundle
	hdr := nats.Header{}
	for k, v := range ib.msg.Headers() {
		hdr[k] = append([]string(nil), v...)
	}
	hdr.Set(HeaderCredentialHash, cr.hash)
	if hdr.Get(bus.HeaderCorpNum) == "" {
		hdr.Set(bus.HeaderCorpNum, ib.b.CorpNum)
	}
	reason = fmt.Sprintf("credential %s (record %d, %s %s/%s): %s", cr.hash, cr.recordID, cr.c.Type, cr.c.Schema, cr.c.Version, reason)
	dl := bus.DeadLetterFor(messages.StagePoster, reason, ib.md.NumDelivered, ib.md.Stream, ib.md.Sequence.Stream, ib.msg.Subject(), hdr, ib.msg.Data())
	dctx, cancel := w.dbctx(ctx)
	defer cancel()
	err := bus.PublishDeadLetterPart(dctx, p.js, dl, cr.hash, p.cfg.Backoff)
	if err != nil {
		return fmt.Errorf("dead-letter credential %s: %w", cr.hash, err)
	}
	return nil
}
