package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/messages"
)

// maxDeliverAdvisory is the part of io.nats.jetstream.advisory.v1.max_deliver
// the mover needs.
type maxDeliverAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// RunMover consumes BCREG_ADVISORIES with the durable dlq-mover and moves
// every message that exhausted MaxDeliver on one of our streams (a handler
// that crashed on its last delivery) into BCREG_DLQ, then deletes the
// original. Any service replica may run it; the durable consumer hands each
// advisory to one of them.
func RunMover(ctx context.Context, js jetstream.JetStream, log *zap.Logger, backoff Backoff) error {
	log = log.Named("dlq-mover")
	return Consume(ctx, js, log, ConsumeOptions{
		Stream: StreamAdvisories, Consumer: ConsumerMover, Stage: messages.StageMover,
		Workers: 1, BatchSize: 1, Backoff: backoff, AckWait: 30 * time.Second,
	}, func(ctx context.Context, batch []jetstream.Msg) []error {
		errs := make([]error, len(batch))
		for i, m := range batch {
			errs[i] = moveOne(ctx, js, log, m.Data(), backoff)
		}
		return errs
	})
}

func moveOne(ctx context.Context, js jetstream.JetStream, log *zap.Logger, advisory []byte, backoff Backoff) error {
	var adv maxDeliverAdvisory
	if err := json.Unmarshal(advisory, &adv); err != nil {
		// An advisory we cannot read is kept in the DLQ like any bad input.
		return Permanent(fmt.Errorf("decode max-deliveries advisory: %w", err))
	}
	ours := adv.Stream == StreamEvents && adv.Consumer == ConsumerBuilder ||
		adv.Stream == StreamCreds && adv.Consumer == ConsumerPoster
	if !ours {
		return nil
	}
	stream, err := js.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("mover: stream %s: %w", adv.Stream, err)
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // already dead-lettered by its handler, or moved before
	}
	if err != nil {
		return fmt.Errorf("mover: get %s seq %d: %w", adv.Stream, adv.StreamSeq, err)
	}
	reason := fmt.Sprintf("exhausted %d deliveries on %s/%s without a final answer (moved by dlq-mover)", adv.Deliveries, adv.Stream, adv.Consumer)
	dl := DeadLetterFor(messages.StageMover, reason, adv.Deliveries, adv.Stream, adv.StreamSeq, raw.Subject, raw.Header, raw.Data)
	if err := PublishDeadLetter(ctx, js, dl, backoff); err != nil {
		return err
	}
	if err := stream.DeleteMsg(ctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("mover: delete %s seq %d: %w", adv.Stream, adv.StreamSeq, err)
	}
	log.Warn("message moved to dead-letter stream", zap.String("original_stream", adv.Stream),
		zap.Uint64("stream_seq", adv.StreamSeq), zap.Uint64("deliveries", adv.Deliveries),
		zap.String("corp_num", raw.Header.Get(HeaderCorpNum)))
	return nil
}
