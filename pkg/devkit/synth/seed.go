package synth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
)

// DB is what Seed and Append need from a pool or a connection.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ErrAlreadySeeded is returned by Seed for a database that already holds
// synthetic corporations (their numbers would collide).
var ErrAlreadySeeded = errors.New("the database already holds synthetic corporations")

// Options configure Seed.
type Options struct {
	// Corporations is how many corporations to write (1 to
	// MaxCorporations).
	Corporations int
	// Seed selects the data set: the same seed writes the same rows.
	Seed uint64
	// Progress, when set, is called after each chunk of corporations is
	// written, with the number written so far.
	Progress func(done, total int)
	// Workers is how many goroutines generate rows while the previous
	// chunk is copied; 0 means GOMAXPROCS.
	Workers int
}

// Result says what Seed wrote.
type Result struct {
	Corporations int
	// Rows is the number of rows written per table.
	Rows map[string]int64
	// FirstEventID and LastEventID bound the event ids written.
	FirstEventID, LastEventID int64
	// Load is the time spent generating and copying rows, Index the time
	// spent creating indexes and analysing, Total the whole run.
	Load, Index, Total time.Duration
}

// chunkSize is the corporations generated and copied together: large enough
// that the per-COPY round trips do not count, small enough to keep memory
// flat whatever the number of corporations.
const chunkSize = 1000

// lockKey serialises seeds and appends on one database (an advisory
// transaction lock), so that two runs cannot interleave their ids.
const lockKey = 0x62637265_73796e74 // "bcresynt"

// Seed writes opts.Corporations synthetic corporations into the source
// database in one transaction: the schema, code tables and indexes when
// missing, then every row with COPY. Generation runs on opts.Workers
// goroutines, a chunk ahead of the COPY. It fails with ErrAlreadySeeded when
// synthetic corporations exist already.
func Seed(ctx context.Context, db DB, opts Options) (*Result, error) {
	start := time.Now()
	n := opts.Corporations
	if n < 1 || n > MaxCorporations {
		return nil, fmt.Errorf("seed: %d corporations: want 1 to %d", n, MaxCorporations)
	}
	tx, err := begin(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := ensureSchema(ctx, tx); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	var existing int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM bc_registries.corporation WHERE fixture_group = $1`, Group).Scan(&existing); err != nil {
		return nil, fmt.Errorf("seed: count synthetic corporations: %w", err)
	}
	if existing > 0 {
		return nil, fmt.Errorf("seed: %w (%d); seed a fresh database, or append events to them", ErrAlreadySeeded, existing)
	}

	res := &Result{Corporations: n, Rows: map[string]int64{}}
	if err := write(ctx, tx, newPlan(opts.Seed, n), opts, res); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	res.Load = time.Since(start)
	if err := createIndexes(ctx, tx); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("seed: commit: %w", err)
	}
	res.Total = time.Since(start)
	res.Index = res.Total - res.Load
	return res, nil
}

// begin starts the transaction of a seed or an append, holding the
// advisory lock. Commit durability is not needed for test data.
func begin(ctx context.Context, db DB) (pgx.Tx, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	for _, stmt := range []string{
		"SET LOCAL synchronous_commit = off",
		"SET LOCAL maintenance_work_mem = '256MB'",
		fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(lockKey)),
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return tx, nil
}

// write generates the plan's corporations chunk by chunk, on several
// goroutines, and copies the chunks in order.
func write(ctx context.Context, tx pgx.Tx, p *plan, opts Options, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := len(p.entries)
	chunks := (n + chunkSize - 1) / chunkSize

	// order holds each chunk's result channel in chunk order; its buffer
	// bounds how far generation runs ahead of the COPY.
	order := make(chan chan *rowSet, 2*workers)
	go func() {
		defer close(order)
		sem := make(chan struct{}, workers)
		for c := range chunks {
			ch := make(chan *rowSet, 1) // buffered: a worker never blocks on an abandoned chunk
			select {
			case order <- ch:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				rs := &rowSet{}
				for i := c * chunkSize; i < min((c+1)*chunkSize, n); i++ {
					p.generate(i, rs)
				}
				ch <- rs
			}()
		}
	}()

	done := 0
	for ch := range order {
		var rs *rowSet
		select {
		case rs = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := copyRows(ctx, tx, rs, res); err != nil {
			return err
		}
		done += len(rs.corps)
		if opts.Progress != nil {
			opts.Progress(done, n)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// copyRows writes every table of rs with COPY and adds to res's counts.
func copyRows(ctx context.Context, tx pgx.Tx, rs *rowSet, res *Result) error {
	for t := range numTables {
		if rs.count(t) == 0 {
			continue
		}
		spec := &tables[t]
		src := &copySource{rs: rs, t: t, buf: make([]any, len(spec.cols))}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"bc_registries", spec.name}, spec.cols, src)
		if err != nil {
			return fmt.Errorf("copy %s: %w", spec.name, err)
		}
		res.Rows[spec.name] += n
	}
	for _, e := range rs.events {
		if res.FirstEventID == 0 || e.id < res.FirstEventID {
			res.FirstEventID = e.id
		}
		res.LastEventID = max(res.LastEventID, e.id)
	}
	return nil
}

// copySource feeds one table of a rowSet to pgx's CopyFrom, boxing one row
// at a time into a reused slice (pgx encodes each row before the next).
type copySource struct {
	rs   *rowSet
	t, i int
	buf  []any
}

func (s *copySource) Next() bool {
	s.i++
	return s.i <= s.rs.count(s.t)
}

func (s *copySource) Values() ([]any, error) {
	s.rs.values(s.t, s.i-1, s.buf)
	return s.buf, nil
}

func (s *copySource) Err() error { return nil }
