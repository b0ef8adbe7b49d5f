package outboxdb_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/test/internal/eventdbtest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// rearmRow is what Rearm and the operator's reset touch of a row.
type rearmRow struct {
	Status    string
	Msg       string
	Published bool
	Seq       int64
	Rearmed   int
}

func readRearm(t *testing.T, q eventdb.Querier, hashes ...string) map[string]rearmRow {
	t.Helper()
	out := map[string]rearmRow{}
	for _, h := range hashes {
		var r rearmRow
		if err := q.QueryRow(testenv.Context(t), `SELECT coalesce(process_success, ''), coalesce(process_msg, ''),
			published_at IS NOT NULL, coalesce(published_seq, 0), rearmed FROM credential_log WHERE credential_hash = $1`, h).
			Scan(&r.Status, &r.Msg, &r.Published, &r.Seq, &r.Rearmed); err != nil {
			t.Fatal(err)
		}
		out[h] = r
	}
	return out
}

// TestRearmGivesUpAfterMaxRearms: the rows of a lost bundle go back to
// the outbox (published_at NULL, published_seq kept, rearmed + 1) until
// they were handed back maxRearms times; the next loss makes them D with
// the reason, still published. A row under a poster's running lease, and
// one a newer bundle carries, are left alone. An operator's requeue of the
// D row starts afresh: its next loss hands it back again.
func TestRearmGivesUpAfterMaxRearms(t *testing.T) {
	pool, h := eventdbtest.DeliveryDB(t, 4)
	ctx := testenv.Context(t)
	// h1 lost 3 bundles already, h2 one, h3 none but a poster holds it; all
	// were in bundle 7. h4 is in bundle 8.
	if _, err := pool.Exec(ctx, `UPDATE credential_log SET published_seq = CASE WHEN credential_hash = 'h4' THEN 8 ELSE 7 END,
		rearmed = CASE credential_hash WHEN 'h1' THEN 3 WHEN 'h2' THEN 1 ELSE 0 END`); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.Claim(ctx, pool, delivery.ClaimRequest{Hashes: []string{h[2]}, Claimer: "p1", Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, err := outboxdb.Rearm(ctx, pool, []uint64{7}, 3, "lost too often")
	if err != nil {
		t.Fatal(err)
	}
	want := []outboxdb.Rearmed{{CorpNum: "C1", Hash: h[0], Dead: true}, {CorpNum: "C1", Hash: h[1]}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rearmed (-want +got):\n%s", diff)
	}
	wantRows := map[string]rearmRow{
		h[0]: {Status: delivery.Dead, Msg: "lost too often", Published: true, Seq: 7, Rearmed: 3},
		h[1]: {Published: false, Seq: 7, Rearmed: 2},
		h[2]: {Published: true, Seq: 7},
		h[3]: {Published: true, Seq: 8},
	}
	if diff := cmp.Diff(wantRows, readRearm(t, pool, h...)); diff != "" {
		t.Errorf("rows after Rearm (-want +got):\n%s", diff)
	}

	// bcregctl requeue failed: the D row is outstanding and unpublished
	// again, its lost bundles forgotten.
	reset, err := operator.ResetFailed(ctx, pool, "BC_REG", []string{"C1"}, operator.FailedSince{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{h[0]}, reset); diff != "" {
		t.Errorf("reset (-want +got):\n%s", diff)
	}
	if _, err := pool.Exec(ctx, `UPDATE credential_log SET published_at = now(), published_seq = 9 WHERE credential_hash = $1`, h[0]); err != nil {
		t.Fatal(err)
	}
	got, err = outboxdb.Rearm(ctx, pool, []uint64{9}, 3, "lost too often")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]outboxdb.Rearmed{{CorpNum: "C1", Hash: h[0]}}, got); diff != "" {
		t.Errorf("rearmed after the requeue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rearmRow{Seq: 9, Rearmed: 1}, readRearm(t, pool, h[0])[h[0]]); diff != "" {
		t.Errorf("requeued row after its next loss (-want +got):\n%s", diff)
	}
}
