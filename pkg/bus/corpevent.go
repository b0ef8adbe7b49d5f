package bus

import (
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// CorpEventMsg encodes a CorpEvent for publishing on BCREG_EVENTS under
// msgID.
func CorpEventMsg(ev messages.CorpEvent, msgID string) (Outgoing, error) {
	if ev.V == 0 {
		ev.V = messages.Version
	}
	data, err := messages.Encode(ev)
	if err != nil {
		return Outgoing{}, err
	}
	return Outgoing{Subject: EventSubject(ev.System, ev.CorpNum), MsgID: msgID, CorpNum: ev.CorpNum, Data: data}, nil
}

// RequeueMsgs returns a requeue CorpEvent of system per corporation over
// (regevent.Start, last] and their message ids: unique per request, so a
// requeue is never dropped as a duplicate of an earlier one. bcregctl's
// requeues and the event-poller's handling of work items queued by hand
// make theirs here.
func RequeueMsgs(system string, corps []string, last regevent.Position, now time.Time) ([]Outgoing, []string, error) {
	msgs, ids := make([]Outgoing, 0, len(corps)), make([]string, 0, len(corps))
	for i, c := range corps {
		// Distinct nanoseconds per corporation, even on a coarse clock.
		id := messages.RequeueMsgID(system, c, now.Add(time.Duration(i)))
		m, err := CorpEventMsg(messages.NewRequeueEvent(system, c, last, now), id)
		if err != nil {
			return nil, nil, fmt.Errorf("requeue %s: %w", c, err)
		}
		msgs, ids = append(msgs, m), append(ids, id)
	}
	return msgs, ids, nil
}
