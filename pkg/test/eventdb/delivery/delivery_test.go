package delivery_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/test/internal/eventdbtest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func claimedHashes(rows []delivery.ClaimedRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Hash)
	}
	return out
}

func TestConcurrentClaimsAreDisjoint(t *testing.T) {
	pool, hashes := eventdbtest.DeliveryDB(t, 50)
	ctx := testenv.Context(t)
	const claimers = 6
	got := make([][]string, claimers)
	var wg sync.WaitGroup
	for i := 0; i < claimers; i++ {
		wg.Go(func() {
			rows, err := delivery.Claim(ctx, pool, delivery.ClaimRequest{Hashes: hashes, Claimer: fmt.Sprintf("p%d", i), Lease: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = claimedHashes(rows)
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, g := range got {
		for _, h := range g {
			seen[h]++
		}
	}
	for _, h := range hashes {
		if seen[h] != 1 {
			t.Errorf("%s claimed %d times, want exactly once", h, seen[h])
		}
	}
}

func TestClaimLeaseOrderAndOutcomes(t *testing.T) {
	pool, h := eventdbtest.DeliveryDB(t, 5)
	ctx := testenv.Context(t)
	claim := func(who string, hashes ...string) []string {
		t.Helper()
		rows, err := delivery.Claim(ctx, pool, delivery.ClaimRequest{Hashes: hashes, Claimer: who, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return claimedHashes(rows)
	}
	// A holds h1 and h2; B cannot take them, but takes h3.
	if diff := cmp.Diff([]string{"h1", "h2"}, claim("A", h[0], h[1])); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff([]string{"h3"}, claim("B", h[0], h[1], h[2])); diff != "" {
		t.Fatal(diff)
	}
	// Order check: for B the oldest outstanding row not its own is h1.
	oldest, err := delivery.OldestForeignOutstanding(ctx, pool, []string{"C1"}, "B")
	if err != nil {
		t.Fatal(err)
	}
	if oldest["C1"] != 1 {
		t.Errorf("oldest foreign for B = %v, want record 1", oldest)
	}
	// A's lease runs out: C takes h1 over and learns from whom.
	if _, err := pool.Exec(ctx, `UPDATE credential_log SET claimed_until = now() - interval '1 second' WHERE claimed_by = 'A'`); err != nil {
		t.Fatal(err)
	}
	rows, err := delivery.Claim(ctx, pool, delivery.ClaimRequest{Hashes: []string{h[0]}, Claimer: "C", Lease: time.Minute})
	if err != nil || len(rows) != 1 || rows[0].TookOver != "A" {
		t.Fatalf("takeover: %+v, %v", rows, err)
	}
	// A's renew now finds only h2.
	if n, err := delivery.Renew(ctx, pool, "A", []string{h[0], h[1]}, time.Minute); err != nil || n != 1 {
		t.Errorf("renew = %d, %v; want 1", n, err)
	}
	// Y and N are recorded whoever holds the row; a second answer is
	// ignored. One statement records the answers of two claims (the
	// poster's group commit), each row with its own claimer.
	marked, err := delivery.MarkDelivered(ctx, pool, []delivery.Outcome{
		{Hash: h[0], Status: delivery.Issued, Msg: "cred-1", Claimer: "C"}, {Hash: h[2], Status: delivery.Rejected, Msg: "no", Claimer: "B"}})
	if err != nil || len(marked) != 2 {
		t.Fatalf("mark: %v, %v", marked, err)
	}
	var by []string
	if err := pool.QueryRow(ctx, `SELECT array_agg(claimed_by ORDER BY record_id) FROM credential_log WHERE credential_hash = ANY($1)`,
		[]string{h[0], h[2]}).Scan(&by); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"C", "B"}, by); diff != "" {
		t.Errorf("claimed_by of the marked rows (-want +got):\n%s", diff)
	}
	if marked, _ := delivery.MarkDelivered(ctx, pool, []delivery.Outcome{{Hash: h[0], Status: delivery.Issued, Msg: "again", Claimer: "A"}}); len(marked) != 0 {
		t.Errorf("a final row was marked again")
	}
	// An outcome must say who posted it: claimed_by records that.
	if _, err := delivery.MarkDelivered(ctx, pool, []delivery.Outcome{{Hash: h[1], Status: delivery.Issued, Msg: "x"}}); err == nil {
		t.Errorf("an outcome without a claimer was recorded")
	}
	// Failures count attempts; the limit makes D.
	for i := 1; i <= 3; i++ {
		claim("A", h[1])
		res, err := delivery.RecordFailure(ctx, pool, "A", []string{h[1]}, "agent 502", 3)
		if err != nil || len(res) != 1 || res[0].Attempts != i || res[0].Dead != (i == 3) {
			t.Fatalf("failure %d: %+v, %v", i, res, err)
		}
	}
	// Final rows never block: h1 is Y, h2 D, h3 N, so B's oldest foreign
	// outstanding row is h4.
	oldest, _ = delivery.OldestForeignOutstanding(ctx, pool, []string{"C1"}, "B")
	if oldest["C1"] != 4 {
		t.Errorf("oldest foreign for B = %v, want record 4", oldest)
	}
	// A future not_before: not claimable, not blocking; deferral clears
	// published_at.
	if _, err := pool.Exec(ctx, `UPDATE credential_log SET not_before = now() + interval '1 hour' WHERE credential_hash = $1`, h[3]); err != nil {
		t.Fatal(err)
	}
	if err := delivery.Defer(ctx, pool, []string{h[3]}); err != nil {
		t.Fatal(err)
	}
	if got := claim("B", h[3]); len(got) != 0 {
		t.Errorf("a row that is not due was claimed: %v", got)
	}
	oldest, _ = delivery.OldestForeignOutstanding(ctx, pool, []string{"C1"}, "B")
	if oldest["C1"] != 5 {
		t.Errorf("oldest foreign for B = %v, want record 5 (record 4 waits)", oldest)
	}
	// retry_rejected: the N row becomes outstanding again and is claimed.
	if got := claim("B", h[2]); len(got) != 0 {
		t.Fatalf("an N row was claimed without retry_rejected")
	}
	rows, err = delivery.Claim(ctx, pool, delivery.ClaimRequest{Hashes: []string{h[2]}, Claimer: "B", Lease: time.Minute, RetryRejectedBefore: time.Now().Add(time.Minute)})
	if err != nil || len(rows) != 1 {
		t.Fatalf("retry_rejected claim: %+v, %v", rows, err)
	}
	// Release, then a last-delivery give-up marks D what nobody holds.
	if err := delivery.Release(ctx, pool, "B", []string{h[2]}); err != nil {
		t.Fatal(err)
	}
	dead, err := delivery.MarkDead(context.WithoutCancel(ctx), pool, "B", []string{h[2], h[4]}, "gave up")
	if err != nil || len(dead) != 2 {
		t.Errorf("mark dead: %v, %v", dead, err)
	}
	state, err := delivery.LoadRows(ctx, pool, h)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, x := range h {
		got[x] = state[x].Status
	}
	want := map[string]string{"h1": "Y", "h2": "D", "h3": "D", "h4": "", "h5": "D"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	var waits bool
	if err := pool.QueryRow(ctx, `SELECT not_before IS NOT NULL FROM credential_log WHERE credential_hash = 'h4'`).Scan(&waits); err != nil {
		t.Fatal(err)
	}
	if state["h4"].Due || !waits {
		t.Errorf("h4: %+v, not_before set %v; want waiting with not_before", state["h4"], waits)
	}
}
