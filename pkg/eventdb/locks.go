package eventdb

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory-lock namespaces. A key is the FNV-64 hash of namespace and name,
// so different uses never share a key by accident.
const (
	LockPoller = "event-poller" // the one active poller
	LockCorp   = "corp"         // one builder per corporation at a time
)

// LockKey returns the advisory-lock key of a name in a namespace.
func LockKey(namespace, name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(namespace))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}

// SessionLock is a session-level advisory lock held on a dedicated
// connection. It is released by Release, or by PostgreSQL when the
// connection dies (a crashed holder never blocks the others for good).
type SessionLock struct {
	conn *pgxpool.Conn
	keys []int64
}

// TryLock takes the lock without waiting; ok is false when another session
// holds it.
func TryLock(ctx context.Context, pool *pgxpool.Pool, key int64) (l *SessionLock, ok bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("try advisory lock: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("try advisory lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return &SessionLock{conn: conn, keys: []int64{key}}, true, nil
}

// LockAll takes the locks of keys, waiting for each, in ascending key order
// so two holders of overlapping sets never deadlock.
func LockAll(ctx context.Context, pool *pgxpool.Pool, keys []int64) (*SessionLock, error) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	l := &SessionLock{conn: conn}
	for _, k := range sorted {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", k); err != nil {
			l.Release(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("advisory lock: %w", err)
		}
		l.keys = append(l.keys, k)
	}
	return l, nil
}

// Conn is the connection that holds the lock (use it to check it is alive).
func (l *SessionLock) Conn() *pgxpool.Conn { return l.conn }

// Alive reports whether the holding connection still answers; a holder
// whose connection died has lost the lock.
func (l *SessionLock) Alive(ctx context.Context) bool {
	return l.conn.Ping(ctx) == nil
}

// Release unlocks and returns the connection. On error the connection is
// closed, which releases the locks too.
func (l *SessionLock) Release(ctx context.Context) {
	if l == nil || l.conn == nil {
		return
	}
	var err error
	for i := len(l.keys) - 1; i >= 0; i-- {
		if _, e := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.keys[i]); e != nil {
			err = errors.Join(err, e)
		}
	}
	if err != nil {
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
	l.conn = nil
}

// LockXact takes transaction-level advisory locks (released at commit or
// rollback), in ascending key order.
func LockXact(ctx context.Context, tx pgx.Tx, keys []int64) error {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted", sorted); err != nil {
		return fmt.Errorf("advisory xact lock: %w", err)
	}
	return nil
}
