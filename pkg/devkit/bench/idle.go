package bench

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// idleCost is what the caught-up pipeline costs while nothing happens in
// the registry: the ongoing run's idle phase, after its last burst was
// delivered. The poller keeps polling every BCREG_POLL_INTERVAL; the poll's
// look-back window still holds the run's events (WindowEvents), as it
// would after a busy spell in production.
type idleCost struct {
	Wall time.Duration
	// Poller is the event-poller's own CPU; PG is all of PostgreSQL (the
	// postmaster and every process under it, exited backends included),
	// so it also holds the other services' idle queries and PostgreSQL's
	// own background work; PGParts splits PG by process (see pgSplit).
	Poller, PG time.Duration
	PGParts    []pgPart
	// Others is the rest of the pipeline in the same window (builders,
	// posters, vonx-sim, NATS), for information.
	Others       []procUsage
	WindowEvents int
}

// pct is cpu as a percentage of one core over the window.
func (c *idleCost) pct(cpu time.Duration) float64 {
	if c.Wall <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / c.Wall.Seconds()
}

// pgPart is the CPU of some of PostgreSQL's processes in the idle window.
type pgPart struct {
	What string
	CPU  time.Duration
}

// pgBackend is a PostgreSQL process as pg_stat_activity lists it, with
// its CPU when it was listed.
type pgBackend struct {
	PID         int
	BackendType string
	Application string
	CPU         time.Duration
}

// pgProcesses lists PostgreSQL's processes (pg_stat_activity: client
// backends with their application_name, and the background processes).
func (b *bencher) pgProcesses(ctx context.Context) (map[int]*pgBackend, error) {
	rows, _ := b.c.admin.Query(ctx, `SELECT pid, coalesce(backend_type, ''), coalesce(application_name, '') FROM pg_stat_activity`)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pgBackend, error) {
		var p pgBackend
		return &p, row.Scan(&p.PID, &p.BackendType, &p.Application)
	})
	if err != nil {
		return nil, fmt.Errorf("bench: pg_stat_activity: %w", err)
	}
	out := make(map[int]*pgBackend, len(list))
	for _, p := range list {
		if s, err := readProc(p.PID); err == nil {
			p.CPU = s.CPU
		}
		out[p.PID] = p
	}
	return out, nil
}

// pgSplit attributes PostgreSQL's CPU in a window to its processes: the
// event-poller's backends (the bench names each service's connections
// after its role in application_name), the other services' backends, the
// background processes (checkpointer, background writer, WAL writer,
// autovacuum, …) and the rest (the postmaster, backends that ended within
// the window, the bench's own reading of pg_stat_activity, rounding).
func pgSplit(start, end map[int]*pgBackend, total time.Duration) []pgPart {
	var poller, others, background time.Duration
	bgTypes := map[string]bool{}
	for pid, e := range end {
		d := e.CPU
		if s, ok := start[pid]; ok {
			d -= s.CPU
		}
		d = max(d, 0)
		switch {
		case e.BackendType != "client backend":
			background += d
			bgTypes[e.BackendType] = true
		case e.Application == "event-poller":
			poller += d
		case e.Application != "":
			others += d
		}
	}
	types := slices.Sorted(maps.Keys(bgTypes))
	return []pgPart{
		{What: "backends of the event-poller", CPU: poller},
		{What: "backends of the other services", CPU: others},
		{What: "background (" + strings.Join(types, ", ") + ")", CPU: background},
		{What: "rest (postmaster, backends ended in the window)", CPU: max(0, total-poller-others-background)},
	}
}

// measureIdle meters the pipeline for o.IdleFor with nothing appended.
// The bench makes no query of its own in the window (pg_stat_activity is
// read at its two ends).
// windowEvents is how many events the poll's look-back window holds.
func (b *bencher) measureIdle(ctx context.Context, r *pipeRun, windowEvents int) (*idleCost, error) {
	if b.opts.IdleFor <= 0 {
		return nil, nil
	}
	b.logf("ongoing: idle phase, %s with nothing appended", b.opts.IdleFor)
	start, err := b.pgProcesses(ctx)
	if err != nil {
		return nil, err
	}
	m := r.startMeter()
	if err := sleepCtx(ctx, b.opts.IdleFor); err != nil {
		return nil, err
	}
	u := m.stop()
	end, err := b.pgProcesses(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.checkAlive(); err != nil {
		return nil, err
	}
	c := &idleCost{Wall: u.Wall, PG: u.PG, WindowEvents: windowEvents, PGParts: pgSplit(start, end, u.PG)}
	for _, p := range u.Procs {
		if p.Role == "event-poller" {
			c.Poller = p.CPU
			continue
		}
		c.Others = append(c.Others, p)
	}
	c.Others = append(c.Others, procUsage{Role: "NATS", CPU: u.NATS})
	return c, nil
}

// withAppName sets application_name in a PostgreSQL URL, so that
// pg_stat_activity tells the services' connections apart.
func withAppName(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}
