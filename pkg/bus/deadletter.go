package bus

import (
	"context"
	"fmt"
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

// HeaderCredentialHash names, in a poster DeadLetter's original headers,
// the credential the dead letter is about (one entry per credential).
const HeaderCredentialHash = "Bcreg-Credential-Hash"

// PublishDeadLetter stores a dead letter in BCREG_DLQ.
func PublishDeadLetter(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter, backoff Backoff) error {
	return PublishDeadLetterPart(ctx, js, dl, "", backoff)
}

// PublishDeadLetterPart stores a dead letter about one part of a message
// (the poster: one credential of a bundle): part extends its id, so each
// part is one entry and a retried publish stays one.
func PublishDeadLetterPart(ctx context.Context, js jetstream.JetStream, dl messages.DeadLetter, part string, backoff Backoff) error {
	data, err := messages.Encode(dl)
	if err != nil {
		return err
	}
	system, corp := subjectTokens(dl.OriginalSubject)
	subject := DLQPrefix + "." + SubjectToken(dl.Stage) + "." + system + "." + corp
	id := DeadLetterMsgID(dl.OriginalStream, dl.OriginalSeq)
	if part != "" {
		id += ":" + part
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ack, err := Publish(pctx, js, Outgoing{Subject: subject, MsgID: id, CorpNum: dl.CorpNum, Data: data}, backoff)
	if err != nil {
		return fmt.Errorf("dead-letter %s seq %d: %w", dl.OriginalStream, dl.OriginalSeq, err)
	}
	if !ack.Duplicate {
		deadLetters.WithLabelValues(dl.Stage).Inc()
	}
	return nil
}
