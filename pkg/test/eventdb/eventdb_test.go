package eventdb_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var wantTables = []string{"alert_state", "audit_run", "corp_history_log", "credential_log", "event_by_corp_filing", "event_seen",
	"future_requeue", "goose_db_version", "initial_load", "last_event", "operator_action"}

func tables(t *testing.T, ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	rows, _ := q.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrateEmptyThenNoOp(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	first, err := eventdb.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Applied) == 0 || first.Current != first.Applied[len(first.Applied)-1] {
		t.Fatalf("first run: %+v, want every migration applied", first)
	}
	if diff := cmp.Diff(wantTables, tables(t, ctx, pool)); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	second, err := eventdb.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 || second.Current != first.Current {
		t.Errorf("second run: %+v, want nothing applied at version %d", second, first.Current)
	}
}

func TestConcurrentMigrateDoNotCollide(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := testenv.Context(t)
	const runs = 4
	var wg sync.WaitGroup
	errs := make([]error, runs)
	applied := make([]int, runs)
	for i := 0; i < runs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := eventdb.Open(ctx, url, "BCREG_EVENT_DB_URL")
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			res, err := eventdb.Migrate(ctx, pool)
			errs[i], applied[i] = err, len(res.Applied)
		}()
	}
	wg.Wait()
	total := 0
	for i := range errs {
		if errs[i] != nil {
			t.Errorf("run %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	pool := testenv.Pool(t, url)
	var versions int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if total != versions {
		t.Errorf("runs applied %d migrations in all, database records %d: some ran twice", total, versions)
	}
}

func TestOpenNamesUnreachableServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := eventdb.Open(ctx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", "BCREG_EVENT_DB_URL")
	if err == nil {
		t.Fatal("no error for an unreachable server")
	}
	msg := err.Error()
	for _, want := range []string{"127.0.0.1:1", "BCREG_EVENT_DB_URL"} {
		if !contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if contains(msg, "hunter2") {
		t.Errorf("error %q shows the password", msg)
	}
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestAdvisoryLockExcludesSecondHolderAndDiesWithConnection(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := testenv.Context(t)
	a := testenv.Pool(t, url)
	b := testenv.Pool(t, url)
	key := eventdb.LockKey(eventdb.LockPoller, "BC_REG")

	held, ok, err := eventdb.TryLock(ctx, a, key)
	if err != nil || !ok {
		t.Fatalf("first holder: ok=%v err=%v", ok, err)
	}
	defer held.Release(ctx)
	if _, ok, err := eventdb.TryLock(ctx, b, key); err != nil || ok {
		t.Fatalf("second holder got the lock while the first holds it (ok=%v err=%v)", ok, err)
	}
	// The holder's connection dies (a crashed process): the lock is freed.
	var pid int
	if err := held.Conn().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	// The server frees the lock once the terminated backend has exited.
	waitFor(t, "the lock to be released after its holder's connection died", func() bool {
		l, ok, err := eventdb.TryLock(ctx, b, key)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			l.Release(ctx)
		}
		return ok
	})
	if held.Alive(ctx) {
		t.Error("dead holder reports itself alive")
	}
}

func TestLockAllWaitsForHolder(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := testenv.Context(t)
	pool := testenv.Pool(t, url)
	keys := []int64{eventdb.LockKey(eventdb.LockCorp, "B"), eventdb.LockKey(eventdb.LockCorp, "A")}
	first, err := eventdb.LockAll(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release(context.Background()) // on failure: the pool closes only once it is back
	got := make(chan error, 1)
	go func() {
		second, err := eventdb.LockAll(ctx, pool, []int64{keys[1]})
		if err == nil {
			second.Release(ctx)
		}
		got <- err
	}()
	// The second waits in PostgreSQL for the advisory lock the first holds.
	waitFor(t, "the second holder to wait for the lock", func() bool {
		select {
		case err := <-got:
			t.Fatalf("second holder got an overlapping lock before the first released it (%v)", err)
		default:
		}
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		return waiting == 1
	})
	first.Release(ctx)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("second holder: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("second holder did not get the lock within a minute of its release")
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := eventdb.LockXact(ctx, tx, keys); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, for at most testenv.Guard.
var waitFor = testenv.WaitFor
