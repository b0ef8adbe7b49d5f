package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderCorpNum carries the real corp_num beside the (possibly escaped)
// subject token, so dead letters and tools name the corporation.
const HeaderCorpNum = "Bcreg-Corp-Num"

// Outgoing is one message to publish with its de-duplication id.
type Outgoing struct {
	Subject string
	MsgID   string
	CorpNum string
	Data    []byte
	// Header, when set, is copied onto the message (the id and corp_num
	// above win).
	Header nats.Header
}

func (o Outgoing) msg() *nats.Msg {
	m := nats.NewMsg(o.Subject)
	m.Data = o.Data
	for k, v := range o.Header {
		m.Header[k] = append([]string(nil), v...)
	}
	m.Header.Set(jetstream.MsgIDHeader, o.MsgID)
	if o.CorpNum != "" {
		m.Header.Set(HeaderCorpNum, o.CorpNum)
	}
	return m
}

// IsStreamFull reports whether a publish was refused because the stream hit
// its limits (DiscardNew): the publisher must back off and retry later.
func IsStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 10077 is JSStreamStoreFailedF: "maximum messages/bytes exceeded".
		if apiErr.ErrorCode == 10077 {
			return true
		}
		d := strings.ToLower(apiErr.Description)
		return strings.Contains(d, "maximum") && strings.Contains(d, "exceeded")
	}
	return false
}

// isAmbiguous reports whether the publish may or may not have been stored
// (no reply from the stream: timeout, reconnect, no responders): retrying
// with the same message id is safe. An answer from the server's API
// (other than "full") is not ambiguous, except two a cluster gives during
// an election or while quorum is lost: "duplicate message id is in
// process" (the first attempt is proposed but not yet committed; the retry
// is de-duplicated once it is) and "temporarily unavailable" (503).
func isAmbiguous(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return true
	}
	return apiErr.ErrorCode == errCodeDuplicateInProcess || apiErr.Code == 503
}

// errCodeDuplicateInProcess is JSStreamDuplicateMessageConflict.
const errCodeDuplicateInProcess = 10158

// Publish stores one message, retrying with the same message id while the
// answer is ambiguous (timeout, reconnect) or the stream is full, until ctx
// ends. The server drops the copies, so a retry never duplicates. A message
// over the server's max payload fails at once with a permanent
// *TooLargeError: the client refuses it before sending, so it is no
// ambiguous answer.
func Publish(ctx context.Context, js jetstream.JetStream, o Outgoing, backoff Backoff) (*jetstream.PubAck, error) {
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ack, err := js.PublishMsg(pctx, o.msg(), jetstream.WithMsgID(o.MsgID))
		cancel()
		if err == nil {
			return ack, nil
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, Permanent(fmt.Errorf("publish: %w",
				&TooLargeError{Subject: o.Subject, MsgID: o.MsgID, CorpNum: o.CorpNum, Size: len(o.Data), Max: js.Conn().MaxPayload()}))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("publish %s (id %s): %w", o.Subject, o.MsgID, ctx.Err())
		}
		if !IsStreamFull(err) && !isAmbiguous(err) {
			return nil, fmt.Errorf("publish %s (id %s): %w", o.Subject, o.MsgID, err)
		}
		select {
		case <-time.After(backoff.Delay(attempt)):
		case <-ctx.Done():
			return nil, fmt.Errorf("publish %s (id %s): %w (last error: %v)", o.Subject, o.MsgID, ctx.Err(), err)
		}
	}
}

// PublishAll publishes the messages asynchronously, waits for every PubAck,
// and retries the ones that failed one by one with Publish (same ids). It
// returns one error per message (nil when stored).
func PublishAll(ctx context.Context, js jetstream.JetStream, msgs []Outgoing, backoff Backoff) []error {
	_, errs := PublishAllAcks(ctx, js, msgs, backoff)
	return errs
}

// PublishAllAcks is PublishAll that also returns each stored message's
// PubAck (nil where the error is not).
func PublishAllAcks(ctx context.Context, js jetstream.JetStream, msgs []Outgoing, backoff Backoff) ([]*jetstream.PubAck, []error) {
	acks := make([]*jetstream.PubAck, len(msgs))
	errs := make([]error, len(msgs))
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, o := range msgs {
		f, err := js.PublishMsgAsync(o.msg(), jetstream.WithMsgID(o.MsgID))
		if err != nil {
			errs[i] = err
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case acks[i] = <-f.Ok():
			errs[i] = nil
		case err := <-f.Err():
			errs[i] = err
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	for i, err := range errs {
		if err == nil || ctx.Err() != nil {
			continue
		}
		acks[i], errs[i] = Publish(ctx, js, msgs[i], backoff)
	}
	return acks, errs
}

// RoundOptions configures PublishRounds.
type RoundOptions struct {
	// Chunk is how many messages one asynchronous round holds (default
	// 500: below the connection's async limit, so a round never stalls on
	// it).
	Chunk int
	// Timeout bounds one round; what is not acknowledged by then is
	// retried (same ids) in the next round.
	Timeout time.Duration
	Backoff Backoff
	// OnStall, when set, is called after a round that timed out with the
	// messages still waiting (a full stream or NATS unreachable).
	OnStall func(waiting, attempt int, lastErr error)
}

// PublishRounds stores every message, in rounds of opts.Chunk, waiting for
// each PubAck. A round that times out (DiscardNew on a full stream, NATS
// away) is retried with the same ids until it succeeds or ctx ends, so
// nothing is skipped; an answer that is not "full" (a misconfigured stream)
// fails at once. A caller that moves a watermark or records progress does
// so only after it returns nil.
func PublishRounds(ctx context.Context, js jetstream.JetStream, msgs []Outgoing, opts RoundOptions) error {
	if opts.Chunk <= 0 {
		opts.Chunk = 500
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	for start := 0; start < len(msgs); start += opts.Chunk {
		pending := msgs[start:min(start+opts.Chunk, len(msgs))]
		for attempt := 1; len(pending) > 0; attempt++ {
			actx, cancel := context.WithTimeout(ctx, opts.Timeout)
			errs := PublishAll(actx, js, pending, opts.Backoff)
			timedOut := actx.Err() != nil
			cancel()
			var failed []Outgoing
			var lastErr error
			for i, err := range errs {
				if err != nil {
					failed = append(failed, pending[i])
					lastErr = err
				}
			}
			pending = failed
			if len(pending) == 0 {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("publish: %w", ctx.Err())
			}
			if !timedOut {
				return fmt.Errorf("publish %d messages: %w", len(pending), lastErr)
			}
			if opts.OnStall != nil {
				opts.OnStall(len(pending), attempt, lastErr)
			}
		}
	}
	return nil
}
