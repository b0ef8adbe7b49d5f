package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/auditdb"
)

// StoredFindings is how many findings a stored run keeps (all are
// counted): enough for the console's page and a repair of typical drift;
// a larger drift is repaired with `bcregctl audit --requeue --yes`.
const StoredFindings = 1000

// Record stores the report as an audit run (the console shows the last).
func (r *Report) Record(ctx context.Context, q eventdb.Querier, ranBy string) (int64, error) {
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return 0, fmt.Errorf("audit: record: %w", err)
	}
	findings, err := json.Marshal(r.Findings[:min(len(r.Findings), StoredFindings)])
	if err != nil {
		return 0, fmt.Errorf("audit: record: %w", err)
	}
	return auditdb.SaveRun(ctx, q, auditdb.Run{StartedAt: r.Started, Seconds: r.Seconds, RanBy: ranBy, Profile: r.Profile,
		Audited: r.Audited, Pending: r.Pending, Ignored: r.Ignored, Topics: r.Topics, FindingsTotal: len(r.Findings),
		Counts: counts, Findings: findings})
}

// Stored is a recorded run as a report, with its id, who ran it and its
// total of findings (Findings holds the first StoredFindings).
type Stored struct {
	Report
	ID    int64
	RanBy string
	Total int
}

// LastRuns reads the newest n recorded runs, newest first.
func LastRuns(ctx context.Context, q eventdb.Querier, n int) ([]Stored, error) {
	runs, err := auditdb.LastRuns(ctx, q, n)
	if err != nil {
		return nil, err
	}
	out := make([]Stored, 0, len(runs))
	for _, run := range runs {
		s := Stored{ID: run.ID, RanBy: run.RanBy, Total: run.FindingsTotal, Report: Report{Started: run.StartedAt, Seconds: run.Seconds,
			Profile: run.Profile, Audited: run.Audited, Pending: run.Pending, Ignored: run.Ignored, Topics: run.Topics}}
		if err := json.Unmarshal(run.Counts, &s.Counts); err != nil {
			return nil, fmt.Errorf("audit: run %d: counts: %w", run.ID, err)
		}
		if err := json.Unmarshal(run.Findings, &s.Findings); err != nil {
			return nil, fmt.Errorf("audit: run %d: findings: %w", run.ID, err)
		}
		out = append(out, s)
	}
	return out, nil
}
