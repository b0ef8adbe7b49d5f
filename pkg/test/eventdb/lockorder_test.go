package eventdb_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// conflictTracer records every statement PostgreSQL aborted for a
// deadlock or a serialization failure (the retries hide them otherwise).
type conflictTracer struct {
	mu     sync.Mutex
	errors []string
}

func (c *conflictTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (c *conflictTracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	var pgErr *pgconn.PgError
	if errors.As(d.Err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") {
		c.mu.Lock()
		c.errors = append(c.errors, pgErr.Message)
		c.mu.Unlock()
	}
}

func (c *conflictTracer) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errors...)
}

// TestBuilderAndPosterLockInOneOrder (issue 15, item 11): the builder marks
// a bundle's credentials published while a poster claims the same
// corporation's credentials. Hash order and record order differ (as they
// do for real hashes); a third session holds the middle row so both
// statements are caught half-way. Marking in hash order deadlocked with
// the claim; in record order the two queue and both succeed, with no
// statement aborted by PostgreSQL.
func TestBuilderAndPosterLockInOneOrder(t *testing.T) {
	pool, dbURL := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// Hashes sort against record order: r1 "c", r2 "b", r3 "a". Enough other
	// rows that the planner finds rows by the hash index, as in production.
	if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
		last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash)
		SELECT 'BC_REG', 'C1', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', h
		FROM unnest(ARRAY['c', 'b', 'a']) WITH ORDINALITY AS x(h, o) ORDER BY o`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
		last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash, process_success)
		SELECT 'BC_REG', 'C' || (g % 500), 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', 'other' || g, 'Y'
		FROM generate_series(1, 20000) g; ANALYZE credential_log`); err != nil {
		t.Fatal(err)
	}
	tracer := &conflictTracer{}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	traced, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer traced.Close()
	waiting := func(n int) func() bool {
		return func() bool {
			var w int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&w); err != nil {
				t.Fatal(err)
			}
			return w >= n
		}
	}

	// A third session holds r2.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.WithoutCancel(ctx))
	if _, err := holder.Exec(ctx, `SELECT 1 FROM credential_log WHERE credential_hash = 'b' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var claimErr, markErr error
	var claimed []delivery.ClaimedRow
	// The poster claims r1, r2, r3 in record order: it takes r1, waits for r2.
	wg.Go(func() {
		claimed, claimErr = delivery.Claim(ctx, traced, delivery.ClaimRequest{Hashes: []string{"c", "b", "a"}, Claimer: "p", Lease: time.Minute})
	})
	waitFor(t, "the claim to wait for r2", waiting(1))
	// The builder marks r1 and r3 published.
	wg.Go(func() {
		markErr = outboxdb.MarkPublished(ctx, traced, []outboxdb.PublishMark{{Hash: "c", Seq: 7}, {Hash: "a", Seq: 7}})
	})
	waitFor(t, "the marking to wait", waiting(2))
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if claimErr != nil || markErr != nil {
		t.Fatalf("claim: %v; mark: %v", claimErr, markErr)
	}
	if len(claimed) != 3 {
		t.Errorf("claimed %d rows, want 3", len(claimed))
	}
	if got := tracer.seen(); len(got) != 0 {
		t.Errorf("statements aborted by PostgreSQL: %q", got)
	}
	var published int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM credential_log WHERE published_seq = 7 AND published_at IS NOT NULL`).Scan(&published); err != nil {
		t.Fatal(err)
	}
	if published != 2 {
		t.Errorf("published rows = %d, want 2", published)
	}
}
