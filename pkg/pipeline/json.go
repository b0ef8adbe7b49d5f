package pipeline

import (
	"encoding/json"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/regclock"
)

// MarshalJSON writes the report for scripts (`bcregctl status --json`, the
// console's /api/status) as always-valid JSON: every time with an explicit
// offset, every list a list ([] rather than null). The registry's times
// (the newest event, the watermark) are naive BC local wall clock in
// memory, where the alert rules compare them with each other; a reader of
// the JSON gets the instants they stand for, with the BC offset then
// (2018-07-24T13:47:53-07:00), not the wall clock labelled UTC. The other
// times are instants already and keep their own offset (UTC: Z).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without this method
	p := plain(r)
	if s := p.Source; s != nil {
		c := *s
		c.NewestEventDate = bcInstant(c.NewestEventDate)
		p.Source = &c
	}
	p.EventDB.WatermarkEventDate = bcInstant(p.EventDB.WatermarkEventDate)
	if p.EventDB.Tables == nil {
		p.EventDB.Tables = map[string]operator.TableCounts{}
	}
	if p.RecentErrors == nil {
		p.RecentErrors = []operator.RecentError{}
	}
	if p.DLQ.ByStage == nil {
		p.DLQ.ByStage = map[string]uint64{}
	}
	if p.Throughput.PostedPerMinute == nil {
		p.Throughput.PostedPerMinute = []int64{}
	}
	return json.Marshal(p)
}

// bcInstant is a naive BC local time as the instant it stands for.
func bcInstant(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	at := regclock.WithOffset(regclock.Registry, *t)
	return &at
}
