package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
)

// TestReportJSON: the registry's naive BC times carry their offset (they
// were labelled UTC: 13:47:53 BC local printed as 13:47:53Z), and empty
// lists print as lists.
func TestReportJSON(t *testing.T) {
	wm := time.Date(2018, 7, 24, 13, 47, 53, 0, time.UTC) // naive BC local, summer
	newest := time.Date(2019, 1, 2, 8, 0, 0, 0, time.UTC) // naive BC local, winter
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)    // an instant
	full := Report{At: at, Source: &Source{Read: true, NewestEventDate: &newest},
		EventDB: operator.PipelineCounts{WatermarkEventID: 1, WatermarkEventDate: &wm}}
	tests := []struct {
		name string
		r    Report
		want map[string]any
	}{
		{"registry times with their offset", full, map[string]any{
			"at": "2026-03-01T12:00:00Z", "source.newest_event_date": "2019-01-02T08:00:00-08:00",
			"event_db.watermark_event_date": "2018-07-24T13:47:53-07:00",
		}},
		{"empty lists are lists", Report{At: at}, map[string]any{
			"recent_errors": []any{}, "throughput.posted_per_minute": []any{}, "event_db.tables": map[string]any{},
			"dlq.by_stage": map[string]any{},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			for path := range tc.want {
				var v any = doc
				for _, k := range strings.Split(path, ".") {
					v = v.(map[string]any)[k]
				}
				got[path] = v
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s\n%s", diff, b)
			}
		})
	}
	// In memory the report keeps the naive times the alert rules compare.
	if !full.EventDB.WatermarkEventDate.Equal(wm) {
		t.Errorf("marshalling changed the report: %v", full.EventDB.WatermarkEventDate)
	}
}
