package bus

import (
	"github.com/bcgov/bcreg-events/pkg/messages"
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
