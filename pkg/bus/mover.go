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
	if !isWorkConsumer(adv.Stream, adv.Consumer) {
		return nil
	}
	_, err := moveExhausted(ctx, js, log, exhausted{stream: adv.Stream, consumer: adv.Consumer, seq: adv.StreamSeq,
		deliveries: adv.Deliveries, by: "moved by dlq-mover"}, backoff)
	return err
}

// exhausted is a message that used up its consumer's MaxDeliver.
type exhausted struct {
	stream, consumer string
	seq, deliveries  uint64
	// by says who found it (the mover on an advisory, or the reconciler).
	by string
}

// moveExhausted dead-letters an exhausted message under its original
// stream and sequence (so the mover and the reconciler store one copy) and
// then deletes the original. moved is false when the message was gone
// already: dead-lettered by its handler, or moved before.
func moveExhausted(ctx context.Context, js jetstream.JetStream, log *zap.Logger, x exhausted, backoff Backoff) (moved bool, err error) {
	stream, err := js.Stream(ctx, x.stream)
	if err != nil {
		return false, fmt.Errorf("mover: stream %s: %w", x.stream, err)
	}
	raw, err := stream.GetMsg(ctx, x.seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mover: get %s seq %d: %w", x.stream, x.seq, err)
	}
	reason := fmt.Sprintf("exhausted %d deliveries on %s/%s without a final answer (%s)", x.deliveries, x.stream, x.consumer, x.by)
	dl := DeadLetterFor(messages.StageMover, reason, x.deliveries, x.stream, x.seq, raw.Subject, raw.Header, raw.Data)
	if err := PublishDeadLetter(ctx, js, dl, backoff); err != nil {
		return false, err
	}
	if err := stream.DeleteMsg(ctx, x.seq); errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil // another replica moved it at the same time; the DLQ holds one copy
	} else if err != nil {
		return false, fmt.Errorf("mover: delete %s seq %d: %w", x.stream, x.seq, err)
	}
	log.Warn("message moved to dead-letter stream", zap.String("original_stream", x.stream),
		zap.Uint64("stream_seq", x.seq), zap.Uint64("deliveries", x.deliveries), zap.String("found_by", x.by),
		zap.String("corp_num", raw.Header.Get(HeaderCorpNum)), zap.String("msg_id", raw.Header.Get(jetstream.MsgIDHeader)))
	return true, nil
}
