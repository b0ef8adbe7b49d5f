package poller

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// affected is a corporation a poll found, with the new events that brought
// it in: its own, the event that started or ended one of its states, or,
// for an owner or owned firm, those of the corporation it is linked to.
type affected struct {
	CorpNum  string
	EventIDs []int64 // sorted, unique
}

// affectedCorps applies the pre-LEAR discovery rules (docs/design/registry.md §3) to a
// poll's new events: their corporations, the corporations whose state one
// of them started or ended, then the owners and owned firms of all of these
// (one level, both directions). Blank corporation numbers are dropped (the
// caller logs the events). The result is in corp_num order.
func affectedCorps(newEvents []regevent.Event, states []sourcedb.DiscoveredStateLink, firms []sourcedb.DiscoveredFirmLink) []affected {
	isNew := map[int64]bool{}
	reasons := map[string]map[int64]bool{}
	add := func(corp string, ids ...int64) {
		if blank(corp) {
			return
		}
		set := reasons[corp]
		if set == nil {
			set = map[int64]bool{}
			reasons[corp] = set
		}
		for _, id := range ids {
			set[id] = true
		}
	}
	for _, e := range newEvents {
		isNew[e.EventID] = true
		add(e.CorpNum, e.EventID)
	}
	for _, l := range states {
		if isNew[l.EventID] {
			add(l.CorpNum, l.EventID)
		}
	}
	// The FBO links extend the first level only: an owner's other firms are
	// not affected by a change of one firm.
	first := map[string][]int64{}
	for corp, set := range reasons {
		first[corp] = slices.Sorted(maps.Keys(set))
	}
	for _, l := range firms {
		if ids, ok := first[l.Firm]; ok {
			add(l.Owner, ids...)
		}
		if ids, ok := first[l.Owner]; ok {
			add(l.Firm, ids...)
		}
	}
	out := make([]affected, 0, len(reasons))
	for _, corp := range slices.Sorted(maps.Keys(reasons)) {
		out = append(out, affected{CorpNum: corp, EventIDs: slices.Sorted(maps.Keys(reasons[corp]))})
	}
	return out
}

// blank reports a corporation number that names nothing.
func blank(corpNum string) bool { return strings.TrimSpace(corpNum) == "" }

// PollMsgID is the message id of a poll's CorpEvent (docs/design/pipeline.md §4):
// <system>:<corp>:<sha256 of the sorted ids of the new events that brought
// it in>. The same events give the same id, so a re-published poll is
// stored once; a corporation brought in again by other events (a second
// real change, or a linked corporation's) gets a new id.
func PollMsgID(system, corpNum string, eventIDs []int64) string {
	ids := slices.Clone(eventIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return system + ":" + corpNum + ":" + hex.EncodeToString(sum[:])
}

// FutureMsgID is the message id of a future-dated re-queue: the due date is
// part of it, so a re-queue re-armed for a new effective date is not
// dropped as a duplicate of the one that fired at the old date.
func FutureMsgID(system, corpNum string, dueEventID int64, dueAt time.Time) string {
	return fmt.Sprintf("future:%s:%s:%d:%s", system, corpNum, dueEventID, regclock.NewLocalTime(dueAt))
}
