package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/messages"
)

// DLQEntry is one dead letter as stored in BCREG_DLQ.
type DLQEntry struct {
	Seq        uint64              `json:"dlq_seq"`
	Subject    string              `json:"subject"`
	StoredAt   time.Time           `json:"stored_at"`
	DeadLetter messages.DeadLetter `json:"dead_letter"`
	// DecodeError is set when the entry itself cannot be read.
	DecodeError string `json:"decode_error,omitempty"`
}

// DLQFilter selects dead letters; empty fields match everything.
type DLQFilter struct {
	Stage   string
	CorpNum string
	Reason  string // substring, case-insensitive
}

func (f DLQFilter) match(e DLQEntry) bool {
	if f.Stage != "" && e.DeadLetter.Stage != f.Stage {
		return false
	}
	if f.CorpNum != "" && e.DeadLetter.CorpNum != f.CorpNum {
		return false
	}
	if f.Reason != "" && !strings.Contains(strings.ToLower(e.DeadLetter.Reason), strings.ToLower(f.Reason)) {
		return false
	}
	return true
}

// ListDLQ reads the dead letters that match, oldest first, at most limit
// (0 = all). It reads with an ordered consumer, which leaves no state behind.
func ListDLQ(ctx context.Context, js jetstream.JetStream, f DLQFilter, limit int) ([]DLQEntry, error) {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	filter := DLQPrefix + ".>"
	if f.Stage != "" {
		filter = DLQPrefix + "." + SubjectToken(f.Stage) + ".>"
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	var out []DLQEntry
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("list dead letters: %w", err)
		}
		md, _ := msg.Metadata()
		e := DLQEntry{Subject: msg.Subject()}
		if md != nil {
			e.Seq, e.StoredAt = md.Sequence.Stream, md.Timestamp
		}
		if dl, err := messages.DecodeDeadLetter(msg.Data()); err != nil {
			e.DecodeError = err.Error()
		} else {
			e.DeadLetter = dl
		}
		if f.match(e) {
			out = append(out, e)
			if limit > 0 && len(out) >= limit {
				return out, nil
			}
		}
		if md != nil && md.NumPending == 0 {
			return out, nil
		}
	}
}

func isTimeout(err error) bool {
	return err != nil && strings.Contains(err.Error(), "timeout")
}

// GetDLQ reads one dead letter by its BCREG_DLQ sequence.
func GetDLQ(ctx context.Context, js jetstream.JetStream, seq uint64) (DLQEntry, error) {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return DLQEntry{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	raw, err := st.GetMsg(ctx, seq)
	if err != nil {
		return DLQEntry{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	e := DLQEntry{Seq: raw.Sequence, Subject: raw.Subject, StoredAt: raw.Time}
	dl, err := messages.DecodeDeadLetter(raw.Data)
	if err != nil {
		return e, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	e.DeadLetter = dl
	return e, nil
}

// RequeueDLQ publishes a dead letter's message back to its original stream
// with a fresh message id and, only after the PubAck, deletes it from
// BCREG_DLQ. A bundle (poster stage) is re-encoded with retry_rejected so
// the poster re-sends its credentials that were rejected (N) or given up
// (D) before the requeue.
func RequeueDLQ(ctx context.Context, js jetstream.JetStream, e DLQEntry, backoff Backoff) error {
	dl := e.DeadLetter
	if dl.OriginalSubject == "" || dl.OriginalStream == "" {
		return fmt.Errorf("requeue dead letter %d: no original stream or subject", e.Seq)
	}
	data := dl.PayloadBase64
	if dl.OriginalStream == StreamCreds {
		if b, err := messages.DecodeBundle(data); err == nil {
			b.RetryRejected = true
			if data, err = messages.Encode(b); err != nil {
				return fmt.Errorf("requeue dead letter %d: %w", e.Seq, err)
			}
		}
	}
	corp := dl.CorpNum
	msgID := fmt.Sprintf("requeue:%s:%d:%d", dl.OriginalStream, dl.OriginalSeq, time.Now().UnixNano())
	if _, err := Publish(ctx, js, Outgoing{Subject: dl.OriginalSubject, MsgID: msgID, CorpNum: corp, Data: data}, backoff); err != nil {
		return fmt.Errorf("requeue dead letter %d: %w", e.Seq, err)
	}
	return DeleteDLQ(ctx, js, e.Seq)
}

// DeleteDLQ removes one dead letter.
func DeleteDLQ(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	return nil
}
