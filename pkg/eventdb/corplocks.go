package eventdb

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CorpLocks holds the session advisory locks of a set of corporations
// (rule 5: one builder per corporation at a time) on one dedicated
// connection. Do the locked work on Conn: if that connection dies, the
// locks are gone and so is the work's transaction.
type CorpLocks struct {
	conn *pgxpool.Conn
}

// CorpLockKeys returns the advisory-lock keys of corpNums, sorted and
// without duplicates.
func CorpLockKeys(corpNums []string) []int64 {
	keys := make([]int64, 0, len(corpNums))
	for _, c := range corpNums {
		keys = append(keys, LockKey(LockCorp, c))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// LockCorps takes the locks of corpNums, waiting up to wait for holders to
// finish, in ascending key order and in one statement, so two holders of
// overlapping sets never deadlock and a batch of hundreds costs one round
// trip. A wait that times out returns an error and holds nothing: a caller
// stuck behind a vanished holder retries later instead of blocking, with
// its own locks, everyone queued behind it.
func LockCorps(ctx context.Context, pool *pgxpool.Pool, corpNums []string, wait time.Duration) (*CorpLocks, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock corporations: %w", err)
	}
	if err := KeepAliveSession(ctx, conn); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock corporations: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// The subquery's order is the order the locks are taken in.
	if _, err := conn.Exec(lctx, `SELECT pg_advisory_lock(k) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted`,
		CorpLockKeys(corpNums)); err != nil {
		if lctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("waited %v for another holder: %w", wait, err)
		}
		// Session locks taken before the failure outlive the statement:
		// closing the connection drops them all.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
		return nil, fmt.Errorf("lock corporations: %w", err)
	}
	return &CorpLocks{conn: conn}, nil
}

// KeepAliveSession makes the server probe the session's client after 10 s
// of silence (3 probes 5 s apart), so the advisory locks of a holder that
// vanished without closing its connection (a partitioned pod) are released
// within about half a minute rather than the system's TCP default of hours.
// Connections that are not TCP ignore it.
func KeepAliveSession(ctx context.Context, conn *pgxpool.Conn) error {
	if _, err := conn.Exec(ctx, `SELECT set_config('tcp_keepalives_idle', '10', false),
       set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)`); err != nil {
		return fmt.Errorf("session keepalives: %w", err)
	}
	return nil
}

// Conn is the connection holding the locks.
func (l *CorpLocks) Conn() *pgxpool.Conn { return l.conn }

// Begin starts a transaction on the locking connection.
func (l *CorpLocks) Begin(ctx context.Context) (pgx.Tx, error) { return l.conn.Begin(ctx) }

// Release drops every lock and returns the connection; if the unlock
// fails the connection is closed, which drops them too.
func (l *CorpLocks) Release(ctx context.Context) {
	if l == nil || l.conn == nil {
		return
	}
	if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
		_ = l.conn.Conn().Close(context.WithoutCancel(ctx))
	}
	l.conn.Release()
	l.conn = nil
}
