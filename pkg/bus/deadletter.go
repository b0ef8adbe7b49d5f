package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/messages"
)

// DeadLetterFor builds the DeadLetter of a message read from stream at seq.
func DeadLetterFor(stage, reason string, deliveries uint64, stream string, seq uint64, subject string, hdr nats.Header, data []byte) messages.DeadLetter {
	return messages.DeadLetter{
		V: messages.Version, Stage: stage, Reason: reason, Deliveries: deliveries,
		OriginalStream: stream, OriginalSubject: subject, OriginalSeq: seq,
		OriginalHeaders: map[string][]string(hdr), FailedAt: time.Now().UTC(),
		CorpNum: hdr.Get(HeaderCorpNum), PayloadBase64: data,
	}
}

// DeadLetterMsgID is the de-duplication id of a dead letter: the stream and
// sequence of the original, so the handler's path and the mover's path
// store one copy.
func DeadLetterMsgID(stream string, seq uint64) string {
	return fmt.Sprintf("dlq:%s:%d", stream, seq)
}

// payloadCopyID is the de-duplication id of the copy of an original's
// bytes: one copy per original, whichever path and however many of its
// credentials are dead-lettered.
func payloadCopyID(stream string, seq uint64) string {
	return fmt.Sprintf("dlqdata:%s:%d", stream, seq)
}

// HeaderCredentialHash names, in a poster DeadLetter's original headers,
// the credential the dead letter is about (one entry per credential).
const HeaderCredentialHash = "Bcreg-Credential-Hash"

// maxReason bounds a dead letter's reason (an agent's answer can be long),
// so a dead letter without its payload is always small.
const maxReason = 16 << 10

// PublishDeadLetter stores a dead letter about a whole message in
// BCREG_DLQ: PublishDeadLetterPart with no part.
func PublishDeadLetter(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter, backoff Backoff) error {
	return PublishDeadLetterPart(ctx, js, dl, "", backoff)
}

// PublishDeadLetterPart stores a dead letter in BCREG_DLQ. A dead letter
// about one part of a message (the poster: one credential of a bundle)
// names it: part extends its id, so each part is one entry and a retried
// publish stays one. A dead letter always fits: when its payload,
// base64-encoded, would take it over the server's max payload, the bytes
// are stored apart (keepPayloadApart) and the dead letter refers to them.
func PublishDeadLetterPart(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter, part string, backoff Backoff) error {
	id := DeadLetterMsgID(dl.OriginalStream, dl.OriginalSeq)
	if part != "" {
		id += ":" + part
	}
	ack, err := publishDeadLetter(ctx, js, dl, id, backoff)
	if err != nil {
		return err
	}
	if !ack.Duplicate {
		deadLetters.WithLabelValues(dl.Stage).Inc()
	}
	return nil
}

// publishDeadLetter stores dl in BCREG_DLQ under the de-duplication id id,
// uncounted (the caller counts what it keeps).
func publishDeadLetter(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter, id string, backoff Backoff) (*jetstream.PubAck, error) {
	if len(dl.Reason) > maxReason {
		dl.Reason = dl.Reason[:maxReason] + "…"
	}
	system, corp := subjectTokens(dl.OriginalSubject)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	publish := func(dl messages.DeadLetter) (*jetstream.PubAck, error) {
		data, err := messages.Encode(dl)
		if err != nil {
			return nil, err
		}
		subject := DLQPrefix + "." + SubjectToken(dl.Stage) + "." + system + "." + corp
		return Publish(pctx, js, Outgoing{Subject: subject, MsgID: id, CorpNum: dl.CorpNum, Data: data}, backoff)
	}
	ack, err := publish(dl)
	if IsTooLarge(err) && len(dl.PayloadBase64) > 0 {
		if dl, err = keepPayloadApart(pctx, js, dl, system, corp, backoff); err == nil {
			ack, err = publish(dl)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter %s seq %d: %w", dl.OriginalStream, dl.OriginalSeq, err)
	}
	return ack, nil
}

// keepPayloadApart stores dl's original bytes as a message of their own on
// bcreg.dlqdata.<system>.<corp> and returns dl referring to it. The
// original fitted in a message with its headers, and the copy's headers
// are no larger than Headroom, so the copy fits whenever the publisher
// kept to MaxData. When even the copy does not fit (the server's max
// payload was lowered since), dl keeps no bytes, says why, and names a
// bundle's credentials, so an operator can post them again with bcregctl
// requeue.
func keepPayloadApart(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter, system, corp string, backoff Backoff) (messages.DeadLetter, error) {
	data := dl.PayloadBase64
	dl.PayloadBase64, dl.PayloadSize = nil, len(data)
	o := Outgoing{Subject: DLQDataPrefix + "." + system + "." + corp, MsgID: payloadCopyID(dl.OriginalStream, dl.OriginalSeq),
		CorpNum: dl.CorpNum, Data: data}
	ack, err := Publish(ctx, js, o, backoff)
	if err == nil && ack.Duplicate {
		// The copy stored earlier may have been removed with the dead
		// letters that used it while its id is still remembered: store it
		// again under a fresh id.
		ack, err = refreshCopy(ctx, js, o, ack, backoff)
	}
	switch {
	case err == nil:
		dl.PayloadRef = &messages.PayloadRef{Stream: ack.Stream, Seq: ack.Sequence}
		return dl, nil
	case IsTooLarge(err):
		dl.PayloadOmitted = fmt.Sprintf("%d bytes fit no message under the server's max payload of %d", len(data), js.Conn().MaxPayload())
		if b, derr := messages.DecodeBundle(data); derr == nil {
			for _, c := range b.Credentials {
				dl.CredentialHashes = append(dl.CredentialHashes, c.Hash)
			}
		}
		return dl, nil
	default:
		return dl, fmt.Errorf("store payload apart: %w", err)
	}
}

// refreshCopy checks that the copy a duplicate PubAck names still exists,
// and stores it under a fresh id when it does not.
func refreshCopy(ctx context.Context, js jetstream.JetStream, o Outgoing, ack *jetstream.PubAck, backoff Backoff) (*jetstream.PubAck, error) {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, err
	}
	if _, err := st.GetMsg(ctx, ack.Sequence); !errors.Is(err, jetstream.ErrMsgNotFound) {
		return ack, err
	}
	o.MsgID = fmt.Sprintf("%s:%d", o.MsgID, time.Now().UnixNano())
	return Publish(ctx, js, o, backoff)
}

// ErrPayloadNotKept marks a dead letter whose original bytes were kept
// nowhere (DeadLetter.PayloadOmitted says why).
var ErrPayloadNotKept = errors.New("original bytes not kept")

// DLQPayload returns a dead letter's original bytes: inline, or read from
// the message its PayloadRef names.
func DLQPayload(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter) ([]byte, error) {
	switch {
	case dl.PayloadRef != nil:
		st, err := js.Stream(ctx, dl.PayloadRef.Stream)
		if err != nil {
			return nil, fmt.Errorf("payload of %s seq %d: %w", dl.OriginalStream, dl.OriginalSeq, err)
		}
		raw, err := st.GetMsg(ctx, dl.PayloadRef.Seq)
		if err != nil {
			return nil, fmt.Errorf("payload of %s seq %d at %s seq %d: %w", dl.OriginalStream, dl.OriginalSeq,
				dl.PayloadRef.Stream, dl.PayloadRef.Seq, err)
		}
		want := payloadCopyID(dl.OriginalStream, dl.OriginalSeq)
		if id := raw.Header.Get(jetstream.MsgIDHeader); id != want && !strings.HasPrefix(id, want+":") {
			return nil, fmt.Errorf("payload of %s seq %d: %s seq %d holds another message", dl.OriginalStream, dl.OriginalSeq,
				dl.PayloadRef.Stream, dl.PayloadRef.Seq)
		}
		return raw.Data, nil
	case dl.PayloadOmitted != "":
		return nil, fmt.Errorf("payload of %s seq %d: %w: %s", dl.OriginalStream, dl.OriginalSeq, ErrPayloadNotKept, dl.PayloadOmitted)
	default:
		return dl.PayloadBase64, nil
	}
}
