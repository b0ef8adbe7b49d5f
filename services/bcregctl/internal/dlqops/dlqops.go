// Package dlqops is what `bcregctl dlq` and the console do to dead letters,
// one implementation for both: select them (by filter or by sequence
// numbers), requeue or purge them, and record the action in
// operator_action.
package dlqops

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// ErrNotSeq marks a dead-letter reference that is not a sequence number
// (a usage mistake).
var ErrNotSeq = errors.New("not a sequence number")

// Select returns the dead letters named by seqs, or every one matching f
// when seqs is empty.
func Select(ctx context.Context, js jetstream.JetStream, f bus.DLQFilter, seqs []string) ([]bus.DLQEntry, error) {
	if len(seqs) == 0 {
		return bus.ListDLQ(ctx, js, f, 0)
	}
	var out []bus.DLQEntry
	for _, v := range seqs {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("dead letter %q: %w", v, ErrNotSeq)
		}
		en, err := bus.GetDLQ(ctx, js, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, en)
	}
	return out, nil
}

// Failure is a dead letter the action could not be applied to.
type Failure struct {
	Seq uint64
	Err error
}

// Act requeues (bus.RequeueDLQ) or purges (bus.DeleteDLQ) entries, going
// on past failures, and records one operator_action for the whole
// selection f (detail: the sequences done, and via when not empty). err is
// only the recording's failure.
func Act(ctx context.Context, js jetstream.JetStream, db eventdb.Querier, action string, entries []bus.DLQEntry, f bus.DLQFilter, backoff bus.Backoff, via string) (done []uint64, failures []Failure, err error) {
	done = []uint64{}
	for _, en := range entries {
		var aerr error
		if action == "requeue" {
			aerr = bus.RequeueDLQ(ctx, js, en, backoff, retryRejected)
		} else {
			aerr = bus.DeleteDLQ(ctx, js, en.Seq)
		}
		if aerr != nil {
			failures = append(failures, Failure{Seq: en.Seq, Err: aerr})
			continue
		}
		done = append(done, en.Seq)
	}
	detail := map[string]any{"dlq_seqs": done}
	if via != "" {
		detail["via"] = via
	}
	target := fmt.Sprintf("BCREG_DLQ stage=%q corp=%q reason=%q", f.Stage, f.CorpNum, f.Reason)
	if _, err := operator.RecordAction(ctx, db, "dlq-"+action, target, int64(len(done)), detail); err != nil {
		return done, failures, err
	}
	return done, failures, nil
}

// retryRejected is the requeue's edit: a bundle goes back flagged
// retry_rejected, so the poster re-sends its credentials that were
// rejected (N) or given up (D) before the requeue (docs/design/poster.md).
// Any other message, or a bundle that does not decode, goes back as it was.
func retryRejected(dl messages.DeadLetter, data []byte) ([]byte, error) {
	if dl.OriginalStream != bus.StreamCreds {
		return data, nil
	}
	b, err := messages.DecodeBundle(data)
	if err != nil {
		return data, nil
	}
	b.RetryRejected = true
	return messages.Encode(b)
}
