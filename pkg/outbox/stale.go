package outbox

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// maxStaleRounds bounds how often one Publish gives a bundle a fresh id.
// Each round's original was stored after the previous one (its id names
// that one's sequence), so the chain ends by itself within the dedup
// window; the bound only guards against a stream that answers otherwise,
// leaving the rest to the sweep.
const maxStaleRounds = 8

// republishStale handles the PubAcks that say "duplicate" of an original
// BCREG_CREDS no longer holds (nor a renewed copy of it, liveCopy): the
// credentials were stored again as new rows after their first bundle was
// answered — an operator's requeue deletes a corporation's credential_log
// rows and the builder stores the same hashes again, under the same id —
// so nobody would deliver them until the sweep found them abandoned. Such
// a bundle is published again at once under the id the sweep's hand-back
// would give it (nonce "after:<original's sequence>"), and its ack
// replaced. A republish of never-acknowledged credentials (a crash before
// marking) finds its original, or the copy made here, still in the stream
// and keeps the duplicate answer: stored once. When the stream cannot be
// read, the answers stay as they are and the sweep decides later
// (docs/design/poller-builder.md, "Stale duplicates").
func republishStale(ctx context.Context, js jetstream.JetStream, bundles []Bundle, acks []*jetstream.PubAck, errs []error, backoff bus.Backoff) {
	var pending []int
	for i := range bundles {
		if errs[i] == nil && acks[i] != nil && acks[i].Duplicate && acks[i].Sequence > 0 {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return // nearly always: duplicates are rare
	}
	stream, err := credsStream(ctx, js)
	if err != nil {
		return
	}
	first := stream.CachedInfo().State.FirstSeq
	for round := 0; round < maxStaleRounds && len(pending) > 0; round++ {
		var stale []int
		var outs []bus.Outgoing
		for _, i := range pending {
			b := &bundles[i]
			live, err := liveCopy(ctx, stream, first, b.Msg.Subject, acks[i].Sequence)
			if err != nil || live != 0 {
				continue
			}
			b.Msg.MsgID = messages.BundleMsgID(b.Hashes, nonce(b.operator, int64(acks[i].Sequence)))
			stale, outs = append(stale, i), append(outs, b.Msg)
		}
		racks, rerrs := bus.PublishAllAcks(ctx, js, outs, backoff)
		pending = pending[:0]
		for k, i := range stale {
			acks[i], errs[i] = racks[k], rerrs[k]
			if rerrs[k] == nil && racks[k].Duplicate && racks[k].Sequence > 0 {
				pending = append(pending, i)
			}
		}
	}
}
