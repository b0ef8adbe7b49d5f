package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// TestJSONAnswers: every --json answer is one valid JSON document, an
// empty list is [] (dlq list printed null), and a registry time carries
// its BC offset.
func TestJSONAnswers(t *testing.T) {
	w := newOpsWorld(t)
	wm := regevent.At(77, time.Date(2018, 7, 24, 13, 47, 53, 0, time.UTC))
	w.setWatermark(wm)
	newest := w.newestEvent()
	newestAt := regclock.WithOffset(regclock.Registry, newest.Date.Time).Format(time.RFC3339Nano)
	tests := []struct {
		name string
		args []string
		want []string // texts the JSON holds
	}{
		{"dlq list, empty", []string{"dlq", "list", "--json"}, []string{"[]"}},
		{"dlq list, filtered", []string{"dlq", "list", "--json", "--stage", "poster"}, []string{"[]"}},
		{"requeue failed, nothing", []string{"requeue", "failed", "--dry-run", "--json"}, []string{`"corps": []`, `"dlq_removed": []`}},
		{"prune dry run", []string{"prune", "--seen-older-than", "24h", "--history-older-than", "90d", "--dry-run", "--json"},
			[]string{`"dry_run": true`, `"table": "event_seen"`, `"before": "2018-07-23T13:47:53-07:00"`, `"table": "corp_history_log"`}},
		{"requeue corp", []string{"requeue", "corp", "0191294", "--json"},
			[]string{`"corp_num": "0191294"`, `"last_event_date": "` + newestAt + `"`}},
		{"initial-load", []string{"initial-load", "--yes", "--page", "20", "--json"},
			[]string{`"run_id": 1`, `"published": 52`, `"watermark_event_date": "` + newestAt + `"`}},
		{"generate", []string{"generate", "NOSUCH1", "--profile", "history", "--json"}, []string{`"corp_num": "NOSUCH1"`}},
		{"version", []string{"version", "--json"}, []string{`"go_version"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stdout, stderr := run(t, tc.args...)
			var doc any
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatalf("not one JSON document: %v\n%s\nstderr: %s", err, stdout, stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("want %s in:\n%s", want, stdout)
				}
			}
			if strings.Contains(stdout, "null") {
				t.Errorf("null in:\n%s", stdout)
			}
		})
	}
}
