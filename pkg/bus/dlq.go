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
	filter := DLQPrefix + ".>"
	if f.Stage != "" {
		filter = DLQPrefix + "." + SubjectToken(f.Stage) + ".>"
	}
	var out []DLQEntry
	err := scanDLQ(ctx, js, filter, func(e DLQEntry) bool {
		if f.match(e) {
			out = append(out, e)
		}
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		return out, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// scanDLQ hands each dead letter on filter to fn, oldest first, until fn
// returns false.
func scanDLQ(ctx context.Context, js jetstream.JetStream, filter string, fn func(DLQEntry) bool) error {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return err
	}
	// Nothing to read needs no wait for an empty pull. Looking the stream
	// up fetched its info; when it holds messages, reading the first on
	// filter tells (the payload copies, bcreg.dlqdata.>, never match).
	info := st.CachedInfo()
	if info.State.Msgs == 0 {
		return nil
	}
	_, err = st.GetMsg(ctx, info.State.FirstSeq, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return err
	}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return nil
		}
		if err != nil {
			return err
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
		if !fn(e) || md != nil && md.NumPending == 0 {
			return nil
		}
	}
}

func countSubjects(subjects map[string]uint64) uint64 {
	var n uint64
	for _, c := range subjects {
		n += c
	}
	return n
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

// Edit rewrites a dead letter's original bytes before RequeueDLQ publishes
// them again (the operator's tool marks a requeued bundle retry_rejected).
type Edit func(dl messages.DeadLetter, data []byte) ([]byte, error)

// RequeueDLQ publishes a dead letter's message back to its original stream
// with a fresh message id and, only after the PubAck, deletes it from
// BCREG_DLQ. edit, when not nil, rewrites the bytes first. Bytes kept apart
// (PayloadRef) are read back.
func RequeueDLQ(ctx context.Context, js jetstream.JetStream, e DLQEntry, backoff Backoff, edit Edit) error {
	dl := e.DeadLetter
	if dl.OriginalSubject == "" || dl.OriginalStream == "" {
		return fmt.Errorf("requeue dead letter %d: no original stream or subject", e.Seq)
	}
	data, err := DLQPayload(ctx, js, dl)
	if errors.Is(err, ErrPayloadNotKept) && len(dl.CredentialHashes) > 0 {
		return fmt.Errorf("requeue dead letter %d: %w; post its %d credentials again with `bcregctl requeue failed` or `bcregctl requeue corp %s`",
			e.Seq, err, len(dl.CredentialHashes), dl.CorpNum)
	}
	if err != nil {
		return fmt.Errorf("requeue dead letter %d: %w", e.Seq, err)
	}
	if edit != nil {
		if data, err = edit(dl, data); err != nil {
			return fmt.Errorf("requeue dead letter %d: %w", e.Seq, err)
		}
	}
	corp := dl.CorpNum
	msgID := fmt.Sprintf("requeue:%s:%d:%d", dl.OriginalStream, dl.OriginalSeq, time.Now().UnixNano())
	if _, err := Publish(ctx, js, Outgoing{Subject: dl.OriginalSubject, MsgID: msgID, CorpNum: corp, Data: data}, backoff); err != nil {
		return fmt.Errorf("requeue dead letter %d: %w", e.Seq, err)
	}
	return DeleteDLQ(ctx, js, e.Seq)
}

// DeleteDLQ removes one dead letter, and the copy of its original bytes
// when it had one that no other dead letter uses (the poster's dead letters
// of one bundle share it).
func DeleteDLQ(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	raw, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	if _, err := deleteMsg(ctx, st, seq); err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	dl, err := messages.DecodeDeadLetter(raw.Data)
	if err != nil || dl.PayloadRef == nil || dl.PayloadRef.Stream != StreamDLQ {
		return nil
	}
	if err := dropUnusedCopy(ctx, js, st, raw.Subject, dl.PayloadRef.Seq); err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	return nil
}

// dropUnusedCopy deletes the payload copy at seq unless another dead letter
// of the same corporation (the only ones that can share it) refers to it.
func dropUnusedCopy(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, subject string, seq uint64) error {
	// subject is bcreg.dlq.<stage>.<system>.<corp>.
	system, corp := tokensAfter(subject, 3)
	used := false
	err := scanDLQ(ctx, js, DLQPrefix+".*."+system+"."+corp, func(e DLQEntry) bool {
		ref := e.DeadLetter.PayloadRef
		used = ref != nil && ref.Stream == StreamDLQ && ref.Seq == seq
		return !used
	})
	if err != nil || used {
		return err
	}
	if _, err := deleteMsg(ctx, st, seq); err != nil {
		return fmt.Errorf("payload copy %d: %w", seq, err)
	}
	return nil
}

// deleteMsg deletes the message at seq of st; found is false when it was
// not there. The client reports a missing message as a failed deletion
// whose text carries the server's answer (not as ErrMsgNotFound), so the
// answer is matched.
func deleteMsg(ctx context.Context, st jetstream.Stream, seq uint64) (found bool, err error) {
	err = st.DeleteMsg(ctx, seq)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound),
		errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) && strings.HasSuffix(err.Error(), "description="+errNoMessageFound):
		return false, nil
	default:
		return false, err
	}
}

// errNoMessageFound is the server's description of a missing message.
const errNoMessageFound = "no message found"
