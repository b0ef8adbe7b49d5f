package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
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

// moveExhausted dead-letters an exhausted message and then deletes the
// original. moved is false when the message was gone already (dead-lettered
// by its handler, moved before) or went away meanwhile.
//
// The delete decides (docs/design/cluster.md, "The dlq-mover's order"): the
// copy is written first, so nothing is lost if the mover dies before the
// delete, but it is this attempt's own copy (its id names the attempt), and
// when the delete finds the original gone — acknowledged by the handler of
// its last delivery after all, dead-lettered by that handler, or moved by
// another mover — the attempt takes its copy back: the message was
// delivered, or has its dead letter already.
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
	ack, err := publishDeadLetter(ctx, js, dl, DeadLetterMsgID(x.stream, x.seq)+":moved:"+nuid.Next(), backoff)
	if err != nil {
		return false, err
	}
	log = log.With(zap.String("original_stream", x.stream), zap.Uint64("stream_seq", x.seq), zap.Uint64("deliveries", x.deliveries),
		zap.String("found_by", x.by), zap.String("corp_num", raw.Header.Get(HeaderCorpNum)), zap.String("msg_id", raw.Header.Get(jetstream.MsgIDHeader)))
	found, err := deleteMsg(ctx, stream, x.seq)
	if err != nil {
		// The copy stays: the delete may have happened.
		return false, fmt.Errorf("mover: delete %s seq %d: %w", x.stream, x.seq, err)
	}
	if !found {
		if err := retractDeadLetter(ctx, js, ack.Sequence, backoff); err != nil {
			return false, fmt.Errorf("mover: %s seq %d went away meanwhile: %w", x.stream, x.seq, err)
		}
		log.Info("exhausted message went away before the move: no dead letter")
		return false, nil
	}
	deadLetters.WithLabelValues(messages.StageMover).Inc()
	log.Warn("message moved to dead-letter stream")
	return true, nil
}

// retractDeadLetter deletes the dead letter at seq of BCREG_DLQ (and its
// payload copy unless another dead letter uses it), retrying with backoff
// until ctx ends.
func retractDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64, backoff Backoff) error {
	for n := 1; ; n++ {
		err := DeleteDLQ(ctx, js, seq)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("retract dead letter %d: %w", seq, err)
		case <-time.After(backoff.Delay(n)):
		}
	}
}
