package messages

import (
	"fmt"
	"time"
)

// InitialLoadMsgID is the message id of an initial-load CorpEvent: one per
// corporation per run, so a resumed run re-publishes nothing twice
// (docs/design/pipeline.md §4).
func InitialLoadMsgID(system, corpNum string, runID int64) string {
	return fmt.Sprintf("init:%s:%s:%d", system, corpNum, runID)
}

// RequeueMsgID is the message id of an operator's requeue of a
// corporation: unique per request, so a requeue is never dropped as a
// duplicate of an earlier one.
func RequeueMsgID(system, corpNum string, at time.Time) string {
	return fmt.Sprintf("requeue:%s:%s:%d", system, corpNum, at.UnixNano())
}
