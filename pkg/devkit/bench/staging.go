package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
)

// stagedState is what a staging run leaves for the posting and ongoing
// runs: its event database (used as a template) and its NATS store (copied).
type stagedState struct {
	n        int
	profile  string
	replicas int // BCREG_JS_REPLICAS of the staging run (its store holds that many nodes)
	eventDB  string
	store    string
}

func (b *bencher) dropStaged(ctx context.Context, st *stagedState) {
	b.c.dropDB(ctx, st.eventDB)
	b.removeStore(st.store)
}

// stagingResult is one staging run.
type stagingResult struct {
	N        int
	Profile  string
	Builders int
	Replicas int // BCREG_JS_REPLICAS (0 in reports of before R3: 1)
	Boxed    bool
	Box      time.Duration
	Wall     time.Duration // poller start → last work item processed and last bundle published

	Total                 int64 // corporations the initial load published
	Processed, Y, S, NRow int64 // work items
	Creds                 int64 // credentials published in bundles
	Held, Future          int64 // held back (A), dated in the future (published when due)
	Unpublished           int64 // due and not published at the end (0 when done)
	Bundles, DLQ          uint64
	Deliveries            uint64        // the builder consumer's deliveries (above Total: redeliveries)
	PollerPublish         time.Duration // the initial load's publishing, start to finish
	EventDBBytes          int64
	StoreBytes            int64

	Usage  usage
	Phases builderPhases
	TopSQL []statement
	Perf   *perfProfile
	// GoCPU: the builders' CPU profiles (pprof) of the main run.
	GoCPU *goProfile
}

// r is the run's JetStream replicas.
func (s *stagingResult) r() int { return max(s.Replicas, 1) }

func (s *stagingResult) corpsPerSec() float64 { return rate(s.Processed, s.Wall) }
func (s *stagingResult) credsPerSec() float64 { return rate(s.Creds, s.Wall) }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (s *stagingResult) line() string {
	atLeast := ""
	if s.Boxed {
		atLeast = "≥ "
	}
	return fmt.Sprintf("%s bench: staging N=%d %s, R%d, %d builder(s): %s%.0f corporations/s, %s%.0f credentials/s (%d of %d corporations, %d credentials, %d bundles in %s; N %d, dead letters %d)\n",
		time.Now().Format("15:04:05"), s.N, s.Profile, s.r(), s.Builders, atLeast, s.corpsPerSec(), atLeast, s.credsPerSec(),
		s.Processed, s.Total, s.Creds, s.Bundles, s.Wall.Round(100*time.Millisecond), s.NRow, s.DLQ)
}

// staging measures one initial load: fresh event database and NATS store,
// the builders started and ready, then the poller; from the poller's start
// until the load is finished, every corporation's work item is processed
// and no due credential is unpublished. keep leaves the database and the
// store for the posting and ongoing runs.
func (b *bencher) staging(ctx context.Context, n int, src, profile string, replicas, builders int, keep bool) (_ *stagingResult, _ *stagedState, err error) {
	name := b.runName("stage", profile, fmt.Sprintf("r%d", replicas), fmt.Sprintf("%db", builders), n)
	b.logf("staging N=%d profile %s, R%d, with %d builder(s) (%s)", n, profile, replicas, builders, name)
	res := &stagingResult{N: n, Profile: profile, Builders: builders, Replicas: replicas, Box: b.opts.stagingBoxFor(n)}
	if err := b.c.createDB(ctx, name, ""); err != nil {
		return nil, nil, err
	}
	store := filepath.Join(b.c.natsDir, name)
	kept := false
	defer func() {
		if !kept {
			b.c.dropDB(ctx, name)
			b.removeStore(store)
		}
	}()
	r, err := b.newRun(ctx, name, name, src, store, profile, replicas)
	if err != nil {
		return nil, nil, err
	}
	defer r.close(ctx)
	if err := r.migrate(ctx); err != nil {
		return nil, nil, err
	}
	planOff := b.resetStatements(ctx)
	// Builders log each batch's phases at debug level (two more lines per
	// corporation); the breakdown is in the report.
	for i := 1; i <= builders; i++ {
		if _, err := r.service(ctx, fmt.Sprintf("credential-builder-%d", i), "credential-builder", true, "BCREG_LOG_LEVEL=debug"); err != nil {
			return nil, nil, err
		}
	}
	m := r.startMeter()
	var perf *perfRecorder
	var gocpu *pprofRecorder
	if n == b.opts.Corps && builders == 2 {
		// The builders are the stage's bottleneck (the slowest stage of
		// the pipeline): their profile says where its time goes.
		gocpu = r.startPprof("credential-builder", "credential-builder")
		if b.opts.Perf {
			perf = b.startPerf(name)
		}
	}
	t0 := time.Now()
	if _, err := r.service(ctx, "event-poller", "event-poller", false); err != nil {
		return nil, nil, err
	}
	var total int64
	loadDone := false
	err = r.waitFor(ctx, res.Box, 500*time.Millisecond, func() (bool, error) {
		if !loadDone {
			var finished bool
			err := r.edb.QueryRow(ctx, `SELECT total, finished_at IS NOT NULL FROM initial_load ORDER BY run_id DESC LIMIT 1`).Scan(&total, &finished)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return false, fmt.Errorf("bench: read initial_load: %w", err)
			}
			loadDone = finished
		}
		if !loadDone || !r.drained(ctx, bus.StreamEvents, bus.ConsumerBuilder) {
			return false, nil
		}
		var processed int64
		if err := r.edb.QueryRow(ctx, `SELECT count(*) FROM event_by_corp_filing WHERE process_date IS NOT NULL`).Scan(&processed); err != nil {
			return false, err
		}
		_, unpublished, err := r.outstanding(ctx)
		return processed >= total && unpublished == 0, err
	})
	detected := time.Since(t0)
	switch {
	case errors.Is(err, errBoxed):
		res.Boxed = true
	case err != nil:
		perf.stop()
		gocpu.stop()
		return nil, nil, err
	}
	res.Usage = m.stop()
	res.Perf = perf.stop()
	res.GoCPU = gocpu.stop()
	// Before the bench's own queries below.
	res.TopSQL = b.topStatements(ctx, []string{name, src}, 8, planOff)

	// Figures from the event database.
	var lastItem, lastPublished *time.Time
	if err := r.edb.QueryRow(ctx, `SELECT count(*) FILTER (WHERE process_date IS NOT NULL),
       count(*) FILTER (WHERE process_success = 'Y'), count(*) FILTER (WHERE process_success = 'S'),
       count(*) FILTER (WHERE process_success = 'N'), max(process_date)::timestamptz
FROM event_by_corp_filing`).Scan(&res.Processed, &res.Y, &res.S, &res.NRow, &lastItem); err != nil {
		return nil, nil, fmt.Errorf("bench: work items: %w", err)
	}
	if err := r.edb.QueryRow(ctx, `SELECT count(*) FILTER (WHERE published_at IS NOT NULL),
       count(*) FILTER (WHERE process_success = 'A'),
       count(*) FILTER (WHERE process_success IS NULL AND published_at IS NULL AND not_before > now()),
       count(*) FILTER (WHERE process_success IS NULL AND published_at IS NULL AND (not_before IS NULL OR not_before <= now())),
       max(published_at)
FROM credential_log`).Scan(&res.Creds, &res.Held, &res.Future, &res.Unpublished, &lastPublished); err != nil {
		return nil, nil, fmt.Errorf("bench: credentials: %w", err)
	}
	var loadStart, loadEnd *time.Time
	_ = r.edb.QueryRow(ctx, `SELECT total, started_at, finished_at FROM initial_load ORDER BY run_id DESC LIMIT 1`).Scan(&res.Total, &loadStart, &loadEnd)
	if loadStart != nil && loadEnd != nil {
		res.PollerPublish = loadEnd.Sub(*loadStart)
	}
	res.Wall = detected
	if !res.Boxed {
		// The database's own timestamps are more precise than the polling.
		end := time.Time{}
		for _, t := range []*time.Time{lastItem, lastPublished} {
			if t != nil && t.After(end) {
				end = *t
			}
		}
		if w := end.Sub(t0); w > 0 && w <= detected {
			res.Wall = w
		}
	}
	res.Bundles = r.streamMsgs(ctx, bus.StreamCreds)
	res.DLQ = r.streamMsgs(ctx, bus.StreamDLQ)
	res.Deliveries = r.deliveries(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	r.stopServices()
	r.finishUsage(&res.Usage)
	for _, p := range r.procs {
		if ph, err := readPhases(p.logPath); err == nil {
			res.Phases.add(ph)
		}
	}
	r.edb.Close()
	r.edb = nil
	r.nc.Close()
	r.nc = nil
	r.nats.stop(30 * time.Second)
	res.EventDBBytes = b.c.dbSize(ctx, name)
	res.StoreBytes = dirSize(store)
	if keep && !res.Boxed {
		kept = true
		// Autovacuum of the staged database would otherwise run during the
		// first posting run (PostgreSQL's CPU is the whole server's) and be
		// counted as the cost of posting; the copies start vacuumed and
		// analysed.
		if err := b.c.vacuum(ctx, name); err != nil {
			return nil, nil, err
		}
		return res, &stagedState{n: n, profile: profile, replicas: replicas, eventDB: name, store: store}, nil
	}
	if keep {
		b.logf("staging hit its box: no posting or ongoing runs for profile %s", profile)
	}
	return res, nil, nil
}
