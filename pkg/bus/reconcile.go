package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// workConsumers are the work streams the mover and the reconciler look
// after, with the durable consumer that delivers each.
var workConsumers = []struct{ stream, consumer string }{
	{StreamEvents, ConsumerBuilder},
	{StreamCreds, ConsumerPoster},
}

func isWorkConsumer(stream, consumer string) bool {
	for _, w := range workConsumers {
		if w.stream == stream && w.consumer == consumer {
			return true
		}
	}
	return false
}

// findStranded returns the sequences (at most limit) of the messages a work
// stream still stores at or below bound.
func findStranded(ctx context.Context, st jetstream.Stream, firstSeq, bound uint64, limit int) ([]uint64, error) {
	var out []uint64
	for seq := firstSeq; seq > 0 && seq <= bound && len(out) < limit; {
		raw, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, err
		}
		if raw.Sequence > bound {
			break
		}
		out = append(out, raw.Sequence)
		seq = raw.Sequence + 1
	}
	return out, nil
}

// strandedOf finds the messages of a work stream that its consumer will
// never deliver again. A delivered message is in flight (pending an ack,
// or waiting for a redelivery), or gone (a work queue removes what is
// acknowledged or terminated), or it exhausted MaxDeliver: so a delivered
// message that is stored and not in flight is stranded. Which delivered
// messages are in flight the consumer does not say, only how many; below
// its ack floor none are, and when none are in flight, every delivered
// message counts. The ack floor lags (it stays below an exhausted message
// until the messages after it are settled), so a message stranded while
// others are in flight is found once they are settled.
func strandedOf(ctx context.Context, st jetstream.Stream, si *jetstream.StreamInfo, ci *jetstream.ConsumerInfo, limit int) ([]uint64, error) {
	if si.State.Msgs == 0 || ci.Config.MaxDeliver <= 0 {
		return nil, nil
	}
	bound := ci.AckFloor.Stream
	if ci.NumAckPending == 0 {
		bound = ci.Delivered.Stream
	}
	return findStranded(ctx, st, si.State.FirstSeq, bound, limit)
}

// reconcileBatch bounds what one pass moves per stream; the next pass takes
// the rest.
const reconcileBatch = 1000

// Reconciler finds the messages of BCREG_EVENTS and BCREG_CREDS that
// exhausted MaxDeliver but are still stored, because their MAX_DELIVERIES
// advisory never reached the dlq-mover (a leader change, the advisories
// stream full or down), and moves them to BCREG_DLQ exactly as the mover
// does (moveExhausted). A message is moved when two passes in a row find
// it: in a cluster the consumer's ack floor can pass an acknowledged
// message a moment before the stream removes it, and such a message must
// not be taken for stranded.
type Reconciler struct {
	js      jetstream.JetStream
	log     *zap.Logger
	backoff Backoff
	seen    map[string]map[uint64]bool
	// leader is the consumer's leader at the last pass, per stream: the
	// memory of a pass counts only under the same leader.
	leader map[string]string
}

// NewReconciler returns a reconciler with an empty memory. It makes the
// reconciler's series visible at zero: only a service that runs one shows
// them (the poller runs none).
func NewReconciler(js jetstream.JetStream, log *zap.Logger, backoff Backoff) *Reconciler {
	for _, w := range workConsumers {
		reconciled.WithLabelValues(w.stream)
		strandedGauge.WithLabelValues(w.stream)
	}
	return &Reconciler{js: js, log: log.Named("dlq-reconciler"), backoff: backoff, seen: map[string]map[uint64]bool{}, leader: map[string]string{}}
}

// Pass looks at each work stream once and returns how many messages it
// moved. It goes on past a stream that fails and returns the errors.
func (r *Reconciler) Pass(ctx context.Context) (int, error) {
	moved := 0
	var errs []error
	for _, w := range workConsumers {
		n, err := r.pass(ctx, w.stream, w.consumer)
		moved += n
		if err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", w.stream, err))
		}
	}
	return moved, errors.Join(errs...)
}

func (r *Reconciler) pass(ctx context.Context, stream, consumer string) (int, error) {
	st, si, ci, err := readStageInfo(ctx, r.js, stream, consumer)
	if err != nil || ci == nil {
		return 0, err
	}
	// In a cluster, a consumer's state read during an election, while
	// quorum is lost, or from a leader whose peers are still catching up
	// may count in-flight messages as delivered and settled (the
	// quorum-lost fault test moved a message that was still being
	// handled). Only a settled replica group is trusted, and only the
	// same leader twice in a row.
	if !settled(si.Cluster) || !settled(ci.Cluster) {
		delete(r.seen, stream)
		return 0, nil
	}
	if ci.Cluster != nil && ci.Cluster.Leader != r.leader[stream] {
		r.leader[stream] = ci.Cluster.Leader
		delete(r.seen, stream)
	}
	found, err := strandedOf(ctx, st, si, ci, reconcileBatch)
	if err != nil {
		return 0, err
	}
	strandedGauge.WithLabelValues(stream).Set(float64(len(found)))
	prev, next := r.seen[stream], map[uint64]bool{}
	moved := 0
	for _, seq := range found {
		if !prev[seq] {
			next[seq] = true
			continue
		}
		ok, err := moveExhausted(ctx, r.js, r.log, exhausted{stream: stream, consumer: consumer, seq: seq,
			deliveries: uint64(ci.Config.MaxDeliver), by: "found by the dlq reconciler: no max-deliveries advisory was handled"}, r.backoff)
		if err != nil {
			next[seq] = true // try again next pass
			r.seen[stream] = next
			return moved, err
		}
		if ok {
			moved++
			reconciled.WithLabelValues(stream).Inc()
		}
	}
	r.seen[stream] = next
	return moved, nil
}

// settled reports whether a stream's or consumer's replica group has a
// leader and every other replica is online and current (a single server
// has no cluster information and is settled).
func settled(c *jetstream.ClusterInfo) bool {
	if c == nil {
		return true
	}
	if c.Leader == "" {
		return false
	}
	for _, p := range c.Replicas {
		if p == nil || p.Offline || !p.Current {
			return false
		}
	}
	return true
}

// RunReconciler runs a Pass every interval until ctx ends; a failed pass is
// logged and the next one tries again.
func RunReconciler(ctx context.Context, js jetstream.JetStream, log *zap.Logger, backoff Backoff, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultTopology().ReconcileInterval
	}
	r := NewReconciler(js, log, backoff)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reconcile pass failed", zap.Int("moved", n), zap.Error(err))
		} else if n > 0 {
			r.log.Warn("moved messages whose max-deliveries advisory was missed", zap.Int("moved", n))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
