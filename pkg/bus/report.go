package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StageState is a work stream and its consumer as an operator sees them
// (docs/design/pipeline.md §6). Reading it is two JetStream API requests (and one
// per stranded message): poll it every few seconds at most, never per
// message.
type StageState struct {
	// Messages are stored in the stream: on a work queue, every message
	// not yet acknowledged.
	Messages uint64 `json:"messages"`
	// Pending have not been delivered yet (the backlog).
	Pending uint64 `json:"pending"`
	// InFlight are delivered and not yet acknowledged.
	InFlight int `json:"in_flight"`
	// Redelivered are in flight and were delivered more than once.
	Redelivered int `json:"redelivered"`
	// Waiting is the number of open pull requests (0: nobody consumes).
	Waiting int `json:"waiting_pulls"`
	// Stranded are stored but will never be delivered again: they
	// exhausted MaxDeliver and the dlq-mover did not move them (counted up
	// to strandedScanLimit). The dlq reconciler moves them.
	Stranded int `json:"stranded"`
}

// strandedScanLimit bounds the messages ReadStage reads to count the
// stranded ones (each is a message read).
const strandedScanLimit = 100

// ReadStage reads a stream's and its durable consumer's state. A missing
// consumer counts every message as pending.
func ReadStage(ctx context.Context, js jetstream.JetStream, stream, consumer string) (StageState, error) {
	var s StageState
	st, info, ci, err := readStageInfo(ctx, js, stream, consumer)
	if err != nil {
		return s, err
	}
	if err := CheckQuorum(stream, info.Cluster); err != nil {
		return s, err
	}
	s.Messages = info.State.Msgs
	if ci == nil {
		s.Pending = info.State.Msgs
		return s, nil
	}
	if err := CheckQuorum(stream+"/"+consumer, ci.Cluster); err != nil {
		return s, err
	}
	s.Pending, s.InFlight, s.Redelivered, s.Waiting = ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting
	stranded, err := strandedOf(ctx, st, info, ci, strandedScanLimit)
	if err != nil {
		return s, fmt.Errorf("stranded messages of %s: %w", stream, err)
	}
	s.Stranded = len(stranded)
	return s, nil
}

// readStageInfo reads a work stream's and its durable consumer's info in
// two API requests: looking the stream and the consumer up fetches their
// info, which CachedInfo returns. The consumer's info is nil when it does
// not exist.
func readStageInfo(ctx context.Context, js jetstream.JetStream, stream, consumer string) (jetstream.Stream, *jetstream.StreamInfo, *jetstream.ConsumerInfo, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	c, err := st.Consumer(ctx, consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return st, st.CachedInfo(), nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("consumer %s of %s: %w", consumer, stream, err)
	}
	return st, st.CachedInfo(), c.CachedInfo(), nil
}

// ErrNoQuorum marks a stream's or consumer's info answered by a replica
// that is not a leader with a quorum of its replica group: a member while
// the group has no leader (it answers stream info from its own replica,
// whatever it missed), or a leader cut off from its peers (quorum lost,
// it has not stepped down yet). Figures from such an answer may be out of
// date.
var ErrNoQuorum = errors.New("no leader with a quorum of its replicas answered (an election, or quorum lost)")

// CheckQuorum fails with ErrNoQuorum unless c (a StreamInfo's or
// ConsumerInfo's cluster information) names a leader that, with the
// replicas current and online, is a majority of the group. A single
// server (no replica group) passes.
func CheckQuorum(what string, c *jetstream.ClusterInfo) error {
	if c == nil {
		return nil
	}
	current := 0
	if c.Leader != "" {
		current = 1
		for _, p := range c.Replicas {
			if p != nil && p.Current && !p.Offline {
				current++
			}
		}
	}
	if 2*current <= len(c.Replicas)+1 {
		return fmt.Errorf("%s: %w", what, ErrNoQuorum)
	}
	return nil
}

// DLQState summarises BCREG_DLQ.
type DLQState struct {
	Total   uint64            `json:"total"`
	ByStage map[string]uint64 `json:"by_stage"`
	// Oldest is when the oldest dead letter was stored.
	Oldest *time.Time `json:"oldest,omitempty"`
	// OldestByStage is the same per stage.
	OldestByStage map[string]time.Time `json:"oldest_by_stage,omitempty"`
	// Bytes is what the stream stores (dead letters and their payload
	// copies); MaxBytes its limit (BCREG_JS_DLQ_MAX_BYTES as applied; -1
	// none). At the limit new dead letters are refused.
	Bytes    uint64 `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
}

// ReadDLQ counts the dead letters per stage and finds the oldest of each.
func ReadDLQ(ctx context.Context, js jetstream.JetStream) (DLQState, error) {
	d := DLQState{ByStage: map[string]uint64{}, OldestByStage: map[string]time.Time{}}
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return d, fmt.Errorf("stream %s: %w", StreamDLQ, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(DLQPrefix+".>"))
	if err != nil {
		return d, fmt.Errorf("stream %s: %w", StreamDLQ, err)
	}
	if err := CheckQuorum(StreamDLQ, info.Cluster); err != nil {
		return d, err
	}
	// Counted by subject: the stream also holds the payload copies of
	// large dead letters (bcreg.dlqdata.>), which are no dead letters.
	d.Total = countSubjects(info.State.Subjects)
	d.Bytes, d.MaxBytes = info.State.Bytes, info.Config.MaxBytes
	for subj, n := range info.State.Subjects {
		parts := strings.Split(subj, ".")
		if len(parts) > 2 {
			d.ByStage[parts[2]] += n
		}
	}
	if d.Total == 0 {
		return d, nil
	}
	for stage := range d.ByStage {
		// The first message at or after the stream's first sequence on
		// the stage's subjects is the stage's oldest.
		m, err := st.GetMsg(ctx, info.State.FirstSeq, jetstream.WithGetMsgSubject(DLQPrefix+"."+stage+".>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // purged since the count
		}
		if err != nil {
			return d, fmt.Errorf("oldest %s dead letter: %w", stage, err)
		}
		d.OldestByStage[stage] = m.Time
		if d.Oldest == nil || m.Time.Before(*d.Oldest) {
			t := m.Time
			d.Oldest = &t
		}
	}
	return d, nil
}
