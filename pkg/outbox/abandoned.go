package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
)

// MaxRearms is how often the sweep hands a credential back to the outbox
// because its bundle vanished; the next time it becomes D (a bundle that
// crashes every poster must not circle for ever).
const MaxRearms = 3

// Abandoned are the bundles that left BCREG_CREDS while credentials they
// carry are still outstanding: no poster will deliver those from them, and
// every later credential of the corporation waits behind them (rule 6).
type Abandoned struct {
	// Seqs are the bundles' stream sequences.
	Seqs []uint64 `json:"-"`
	// Credentials and Corps count what they held back.
	Credentials int64    `json:"credentials"`
	Corps       []string `json:"corp_nums,omitempty"`
	// Oldest is when the longest-waiting of them was published.
	Oldest *time.Time `json:"oldest_published_at,omitempty"`
	// Renewed maps bundles that are gone because the poster's consume
	// loop stored them again under a fresh id (a waiting bundle renewed
	// before its last delivery) to the sequence of the live copy: not
	// abandoned. Their rows keep the first bundle's sequence, which every
	// later copy names (bus.HeaderOriginalSeq).
	Renewed map[uint64]uint64 `json:"-"`
}

// page is how many bundles one liveness query reads.
const page = 500

// FindAbandoned finds bundles the poster's consumer has delivered
// (sequence up to its delivered stream sequence: later ones are still to
// come) that BCREG_CREDS no longer holds — acked, dead-lettered, moved by
// the dlq-mover, or dropped as a duplicate of a consumed one — while
// credentials they carry, published more than olderThan ago, are still
// outstanding, due and not under a poster's running lease. The bundles
// checked against the stream are the delivered, unacknowledged ones
// (bounded by the consumer's MaxAckPending) and the abandoned ones.
func FindAbandoned(ctx context.Context, q eventdb.Querier, js jetstream.JetStream, system string, olderThan time.Duration) (Abandoned, error) {
	var a Abandoned
	cons, err := js.Consumer(ctx, bus.StreamCreds, bus.ConsumerPoster)
	if err != nil {
		return a, fmt.Errorf("find abandoned bundles: %w", err)
	}
	ci := cons.CachedInfo() // what looking the consumer up just fetched
	// Both answers must come from leaders with quorum: a bundle a lagging
	// replica lacks would be taken for abandoned (and handed back).
	if err := bus.CheckQuorum(bus.ConsumerPoster, ci.Cluster); err != nil {
		return a, fmt.Errorf("find abandoned bundles: %w", err)
	}
	// The stream is read after the consumer: whatever it delivered up to
	// then and the stream no longer holds is gone for good.
	stream, err := credsStream(ctx, js)
	if err != nil {
		return a, fmt.Errorf("find abandoned bundles: %w", err)
	}
	first := stream.CachedInfo().State.FirstSeq
	corps := map[string]bool{}
	for after := uint64(0); ; {
		list, err := outboxdb.PublishedOutstanding(ctx, q, system, after, ci.Delivered.Stream, olderThan, page)
		if err != nil {
			return a, err
		}
		for _, b := range list {
			after = b.Seq
			live, err := liveCopy(ctx, stream, first, bus.CredSubject(system, b.CorpNum), b.Seq)
			if err != nil {
				return a, fmt.Errorf("find abandoned bundles: %w", err)
			}
			if live != 0 {
				if live != b.Seq {
					if a.Renewed == nil {
						a.Renewed = map[uint64]uint64{}
					}
					a.Renewed[b.Seq] = live
				}
				continue // still there (or its renewed copy): delivered again later
			}
			a.Seqs = append(a.Seqs, b.Seq)
			a.Credentials += b.Credentials
			if a.Oldest == nil || b.PublishedAt.Before(*a.Oldest) {
				at := b.PublishedAt
				a.Oldest = &at
			}
			if !corps[b.CorpNum] {
				corps[b.CorpNum] = true
				a.Corps = append(a.Corps, b.CorpNum)
			}
		}
		if len(list) < page {
			return a, nil
		}
	}
}

// credsStream looks BCREG_CREDS up, failing unless the answer comes from a
// leader with quorum: a bundle a lagging replica lacks would be taken for
// gone.
func credsStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	stream, err := js.Stream(ctx, bus.StreamCreds)
	if err != nil {
		return nil, err
	}
	if err := bus.CheckQuorum(bus.StreamCreds, stream.CachedInfo().Cluster); err != nil {
		return nil, err
	}
	return stream, nil
}

// liveCopy returns the sequence of the message that carries the bundle
// stored at seq: seq itself while the stream holds it, else the copy the
// consume loop renewed it as (on the same subject, later in the stream,
// naming seq in bus.HeaderOriginalSeq however often it was renewed since),
// or 0 when there is none.
func liveCopy(ctx context.Context, stream jetstream.Stream, first uint64, subject string, seq uint64) (uint64, error) {
	if seq >= first {
		_, err := stream.GetMsg(ctx, seq)
		if err == nil {
			return seq, nil
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, fmt.Errorf("get %s seq %d: %w", bus.StreamCreds, seq, err)
		}
	}
	for next := seq + 1; ; {
		m, err := stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("get %s %s from seq %d: %w", bus.StreamCreds, subject, next, err)
		}
		if bus.OriginalSeq(m.Header) == seq {
			return m.Sequence, nil
		}
		next = m.Sequence + 1
	}
}

// Release hands the credentials of abandoned bundles back to the outbox,
// or gives them up (D) after MaxRearms (outboxdb.Rearm).
func Release(ctx context.Context, q eventdb.Querier, a Abandoned) ([]outboxdb.Rearmed, error) {
	return outboxdb.Rearm(ctx, q, a.Seqs, MaxRearms,
		fmt.Sprintf("its bundle left %s without an answer %d times (dead-lettered, moved or dropped); given up", bus.StreamCreds, MaxRearms+1))
}
