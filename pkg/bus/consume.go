package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Handler processes a batch of messages (one message when BatchSize is 1)
// and returns one result per message, in order: nil acks it; an error marked
// Permanent dead-letters and terminates it; RetryAfter or Wait redeliver it
// after their delay; any other error redelivers it after the back-off. The
// loop settles every message and logs its outcome once (a Failure adds its
// context to that line); a handler neither acks nor logs what it returns.
type Handler func(ctx context.Context, batch []jetstream.Msg) []error

// ConsumeOptions configures one consume loop.
type ConsumeOptions struct {
	Stream   string
	Consumer string
	// Stage names the dead letters this loop writes (builder, poster, mover).
	Stage string
	// Workers is how many handler calls run at once.
	Workers int
	// BatchSize is the most messages one handler call gets.
	BatchSize int
	// BatchWait is how long a batch that began with a message awaited by
	// an idle consumer waits to fill (0: not at all). A batch of messages
	// that were waiting is never held back.
	BatchWait time.Duration
	// MaxDeliver is the consumer's MaxDeliver: a message that fails on that
	// delivery is dead-lettered by the loop rather than left to the mover.
	MaxDeliver int
	// AckWait is the consumer's AckWait; held messages get InProgress at a
	// third of it.
	AckWait time.Duration
	Backoff Backoff
	// Gate, when set, is called before each pull and says how many
	// messages the pull may take (at most BatchSize); while it returns 0
	// the loop pulls nothing (the poster's agent health gate). A pull
	// sized to what can start at once keeps a handler's work from
	// arriving in bursts larger than the room it has.
	Gate func(ctx context.Context) int
	// Renew makes retries (Wait and RetryAfter results) never exhaust
	// MaxDeliver: when a retried message's next delivery would be its last,
	// the loop republishes it under a fresh id and acks the old one, so it
	// starts again at delivery 1. For a handler that keeps its own count of
	// real failures (the poster's attempts in credential_log), so that
	// waiting (agent down or misconfigured, held behind an older row,
	// shutting down) never ends as a dead letter.
	Renew bool
	// Heartbeat, when set, is called each time the loop is free to pull
	// (a worker slot is free, or the gate holds the pull back): while
	// every worker is stuck in the handler it stops being called, and
	// /livez fails after BCREG_LIVENESS_BOUND (lifecycle.Heartbeat.Beat).
	Heartbeat func()
}

// beat signals that the loop is turning (see Heartbeat).
func (o *ConsumeOptions) beat() {
	if o.Heartbeat != nil {
		o.Heartbeat()
	}
}

func (o *ConsumeOptions) defaults() {
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.BatchSize < 1 {
		o.BatchSize = 1
	}
	o.BatchWait = max(o.BatchWait, 0)
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
}

// Consume runs the loop until ctx ends, then stops pulling, lets running
// handlers finish and settles their messages, and returns. Prefetch is
// bounded by what the workers hold at once (Workers × BatchSize), so no
// message waits in a buffer while its AckWait runs out.
func Consume(ctx context.Context, js jetstream.JetStream, log *zap.Logger, opts ConsumeOptions, handle Handler) error {
	opts.defaults()
	initStage(opts.Stage)
	log = log.With(zap.String("stream", opts.Stream), zap.String("consumer", opts.Consumer))
	cons, err := js.Consumer(ctx, opts.Stream, opts.Consumer)
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", opts.Stream, opts.Consumer, err)
	}
	s := &settler{js: js, log: log, opts: opts}
	sem := make(chan struct{}, opts.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()

	for ctx.Err() == nil {
		size := opts.BatchSize
		if opts.Gate != nil {
			if size = min(size, opts.Gate(ctx)); size < 1 {
				opts.beat()
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
		}
		// Take a worker slot before pulling, so nothing is pulled that no
		// worker can start on.
		select {
		case sem <- struct{}{}:
			opts.beat()
		case <-ctx.Done():
			continue
		}
		batch, err := fetchBatch(ctx, cons, size, opts.BatchWait)
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("pull failed", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if len(batch) == 0 {
			<-sem
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.run(ctx, batch, handle)
		}()
	}
	return nil
}

// firstWait is the expiry of a pull that waits for the first message of a
// batch: it returns as soon as one arrives, so the expiry only paces an
// idle loop (one pull request per worker every firstWait).
const firstWait = 5 * time.Second

// fetchBatch pulls up to size messages (BatchSize, or fewer by the Gate).
// A batch is what is waiting when it is pulled: a backlog gives full
// batches at once, and a backlog
// smaller than a batch is handled at once too. A consumer that found
// nothing waits for the first message (a pull of one, which the server
// answers as soon as one arrives), then up to BatchWait for the batch to
// fill (0: takes what is waiting by then). So a message that arrives at an
// idle consumer waits BatchWait at most, not until a pull expires.
//
// The pulls' expiries are the server's (FetchMaxWait), not a client-side
// deadline: a fetch cut short by a context deadline stops reading while
// the server may still be sending, and every message it sent then is
// "delivered" but never handled, so it comes back only after AckWait (a
// 5-minute stall of that bundle for the poster). The server ends the pull
// itself; only a stop (ctx) cuts it short, and what arrives after that is
// handed back with Nak.
func fetchBatch(ctx context.Context, cons jetstream.Consumer, size int, wait time.Duration) ([]jetstream.Msg, error) {
	out, err := readBatch(ctx, func() (jetstream.MessageBatch, error) { return cons.FetchNoWait(size) })
	if err != nil || len(out) > 0 || ctx.Err() != nil {
		return out, err
	}
	out, err = readBatch(ctx, func() (jetstream.MessageBatch, error) {
		return cons.Fetch(1, jetstream.FetchMaxWait(firstWait))
	})
	if err != nil || len(out) == 0 || size == 1 || ctx.Err() != nil {
		return out, err
	}
	// The first message is held: a failure to take more only ends the
	// batch here (the next pull tries again).
	more, _ := readBatch(ctx, func() (jetstream.MessageBatch, error) {
		if wait == 0 {
			return cons.FetchNoWait(size - 1)
		}
		return cons.Fetch(size-1, jetstream.FetchMaxWait(wait))
	})
	return append(out, more...), nil
}

// readBatch makes one pull and reads all it delivers (until the server
// ends it). A pull that expires with nothing is no error.
func readBatch(ctx context.Context, pull func() (jetstream.MessageBatch, error)) ([]jetstream.Msg, error) {
	mb, err := pull()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return nil, nil
		}
		return nil, err
	}
	var out []jetstream.Msg
	msgs := mb.Messages()
	for done := false; !done; {
		select {
		case m, ok := <-msgs:
			if !ok {
				done = true
				break
			}
			out = append(out, m)
		case <-ctx.Done():
			go func() {
				for m := range msgs {
					_ = m.Nak()
				}
			}()
			return out, nil
		}
	}
	if err := mb.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && len(out) == 0 {
		return nil, err
	}
	return out, nil
}

type settler struct {
	js   jetstream.JetStream
	log  *zap.Logger
	opts ConsumeOptions
}

// run calls the handler with InProgress kept up on every held message, then
// settles each message by its result.
func (s *settler) run(ctx context.Context, batch []jetstream.Msg, handle Handler) {
	stop := make(chan struct{})
	var keep sync.WaitGroup
	keep.Add(1)
	go func() {
		defer keep.Done()
		t := time.NewTicker(s.opts.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				for _, m := range batch {
					_ = m.InProgress()
				}
			case <-stop:
				return
			}
		}
	}()
	start := time.Now()
	results := safeHandle(ctx, batch, handle)
	stageDuration.WithLabelValues(s.opts.Stage).Observe(time.Since(start).Seconds())
	close(stop)
	keep.Wait()
	for i, m := range batch {
		s.settle(ctx, m, results[i])
	}
}

// safeHandle turns a handler panic or a wrong-length result into transient
// failures of the whole batch, so no message is lost to a bug.
func safeHandle(ctx context.Context, batch []jetstream.Msg, handle Handler) (results []error) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("handler panic: %v", r)
			results = make([]error, len(batch))
			for i := range results {
				results[i] = err
			}
		}
	}()
	results = handle(ctx, batch)
	if len(results) != len(batch) {
		err := fmt.Errorf("handler returned %d results for %d messages", len(results), len(batch))
		results = make([]error, len(batch))
		for i := range results {
			results[i] = err
		}
	}
	return results
}

func (s *settler) settle(ctx context.Context, m jetstream.Msg, result error) {
	md, mdErr := m.Metadata()
	log := s.outcomeLog(m, result)
	if mdErr != nil {
		// Not a JetStream message: nothing to settle against.
		log.Error("message without metadata", zap.Error(mdErr))
		return
	}
	log = log.With(zap.Uint64("stream_seq", md.Sequence.Stream), zap.Uint64("deliveries", md.NumDelivered))
	if result == nil {
		stageMessages.WithLabelValues(s.opts.Stage, ResultProcessed).Inc()
		if err := m.Ack(); err != nil {
			log.Warn("ack failed; the message will be redelivered and handled idempotently", zap.Error(err))
		}
		return
	}
	last := s.opts.MaxDeliver > 0 && md.NumDelivered >= uint64(s.opts.MaxDeliver)
	var rerr retryError
	isRetry := errors.As(result, &rerr)
	switch {
	case IsPermanent(result):
		s.deadLetter(ctx, log, m, md, result.Error())
	case isRetry && s.opts.Renew && s.opts.MaxDeliver > 0 && md.NumDelivered+1 >= uint64(s.opts.MaxDeliver):
		if err := s.renew(ctx, m, md); err != nil {
			stageMessages.WithLabelValues(s.opts.Stage, ResultFailed).Inc()
			log.Warn("renewing a waiting message failed; redelivering it instead", zap.Error(err))
			_ = m.NakWithDelay(rerr.delay)
			return
		}
		stageMessages.WithLabelValues(s.opts.Stage, ResultRenewed).Inc()
		log.Info("waiting message renewed under a fresh id before its last delivery", zap.String("reason", result.Error()))
	case last:
		s.deadLetter(ctx, log, m, md, fmt.Sprintf("gave up after %d deliveries: %v", md.NumDelivered, result))
	case isRetry && !rerr.counts:
		stageMessages.WithLabelValues(s.opts.Stage, ResultWaiting).Inc()
		log.Debug("redelivery requested", zap.Duration("delay", rerr.delay), zap.String("reason", result.Error()))
		_ = m.NakWithDelay(rerr.delay)
	default:
		delay := s.opts.Backoff.Delay(int(md.NumDelivered))
		if isRetry && rerr.delay > 0 {
			delay = rerr.delay
		}
		stageMessages.WithLabelValues(s.opts.Stage, ResultFailed).Inc()
		log.Warn("transient failure, redelivering after back-off", zap.Duration("delay", delay), zap.Error(result))
		_ = m.NakWithDelay(delay)
	}
}

// outcomeLog is the logger of a message's one outcome line: its subject,
// id and corporation, and the context a Failure carries (its corporation
// wins over the header's: the handler read it from the message itself).
func (s *settler) outcomeLog(m jetstream.Msg, result error) *zap.Logger {
	fields := []zap.Field{zap.String("subject", m.Subject()), zap.String("msg_id", m.Headers().Get(jetstream.MsgIDHeader))}
	corp := m.Headers().Get(HeaderCorpNum)
	var f *Failure
	if errors.As(result, &f) && f.CorpNum != "" {
		corp = f.CorpNum
	}
	if corp != "" {
		fields = append(fields, zap.String("corp_num", corp))
	}
	if f != nil {
		fields = append(fields, f.Fields...)
	}
	return s.log.With(fields...)
}

// Headers of a renewed message.
const (
	// HeaderOriginalMsgID is the id the message was first published with.
	HeaderOriginalMsgID = "Bcreg-Original-Msg-Id"
	// HeaderFirstPublished is when the message was first stored
	// (RFC 3339, UTC): what PublishedAt returns.
	HeaderFirstPublished = "Bcreg-First-Published"
	// HeaderOriginalSeq is the stream sequence the message was first
	// stored at: every copy of a chain of renewals names the same one
	// (each renewal acks the copy it replaces), so a record of where the
	// message went finds its live copy (OriginalSeq).
	HeaderOriginalSeq = "Bcreg-Original-Seq"
)

// RenewedMsgID is the message id of the copy that renews the message
// stored at seq of stream (first published with id orig): the dedup
// window has not seen it.
func RenewedMsgID(orig, stream string, seq uint64) string {
	return fmt.Sprintf("%s:renewed:%s:%d", orig, stream, seq)
}

// OriginalSeq is the stream sequence a renewed message was first stored
// at (HeaderOriginalSeq), or 0 for a message never renewed.
func OriginalSeq(h nats.Header) uint64 {
	n, _ := strconv.ParseUint(h.Get(HeaderOriginalSeq), 10, 64)
	return n
}

// renew stores a copy of m under a fresh id (the original id and the old
// stream sequence: the dedup window cannot swallow it), keeping its first
// publish time and first stream sequence, then acks m. If the ack fails both copies exist; handlers
// of a Renew loop are idempotent.
func (s *settler) renew(ctx context.Context, m jetstream.Msg, md *jetstream.MsgMetadata) error {
	hdr := nats.Header{}
	for k, v := range m.Headers() {
		hdr[k] = append([]string(nil), v...)
	}
	orig := hdr.Get(HeaderOriginalMsgID)
	if orig == "" {
		orig = hdr.Get(jetstream.MsgIDHeader)
		hdr.Set(HeaderOriginalMsgID, orig)
	}
	if hdr.Get(HeaderFirstPublished) == "" {
		hdr.Set(HeaderFirstPublished, md.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if hdr.Get(HeaderOriginalSeq) == "" {
		hdr.Set(HeaderOriginalSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	}
	// A stop must not cut the copy short: the old message is acked only
	// after the copy is stored.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	id := RenewedMsgID(orig, md.Stream, md.Sequence.Stream)
	if _, err := Publish(pctx, s.js, Outgoing{Subject: m.Subject(), MsgID: id, Data: m.Data(), Header: hdr}, s.opts.Backoff); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := m.Ack(); err != nil {
		return fmt.Errorf("renew: ack the old copy: %w", err)
	}
	return nil
}

// PublishedAt is when a message was first stored: the time a renewed copy
// carries, else the message's own timestamp.
func PublishedAt(m jetstream.Msg, md *jetstream.MsgMetadata) time.Time {
	if v := m.Headers().Get(HeaderFirstPublished); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return md.Timestamp
}

// deadLetter publishes the message to BCREG_DLQ and only then terminates
// it; if the DLQ publish fails the message is redelivered instead.
func (s *settler) deadLetter(ctx context.Context, log *zap.Logger, m jetstream.Msg, md *jetstream.MsgMetadata, reason string) {
	dl := DeadLetterFor(s.opts.Stage, reason, md.NumDelivered, md.Stream, md.Sequence.Stream, m.Subject(), m.Headers(), m.Data())
	if err := PublishDeadLetter(ctx, s.js, dl, s.opts.Backoff); err != nil {
		stageMessages.WithLabelValues(s.opts.Stage, ResultFailed).Inc()
		log.Error("dead-letter publish failed, redelivering instead", zap.Error(err))
		_ = m.NakWithDelay(s.opts.Backoff.Delay(1))
		return
	}
	stageMessages.WithLabelValues(s.opts.Stage, ResultDeadLettered).Inc()
	log.Error("message dead-lettered", zap.String("reason", reason))
	if err := m.TermWithReason(truncate(reason, 200)); err != nil {
		log.Warn("term failed after dead-lettering; the DLQ copy is de-duplicated", zap.Error(err))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
