package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
)

// ongoingResult is the ongoing-mode run.
type ongoingResult struct {
	N            int
	Profile      string
	PollInterval time.Duration
	CatchUp      time.Duration // delivering the staged backlog before the first burst
	CatchUpBoxed bool
	Bursts       int
	Events       int           // appended
	Span         time.Duration // first to last burst
	BurstWall    []time.Duration
	Repeated     int // events of a corporation appended more than once (not measured)
	Measured     int // events whose corporation got a credential after the commit
	NoCred       int // events after which the corporation got no credential (no change to issue)
	DrainBoxed   bool
	Latencies    []time.Duration // sorted
	Usage        usage           // the burst phase
}

func (o *ongoingResult) pct(p float64) time.Duration {
	if len(o.Latencies) == 0 {
		return 0
	}
	// Nearest rank.
	k := int(float64(len(o.Latencies))*p+0.999999) - 1
	return o.Latencies[min(max(k, 0), len(o.Latencies)-1)]
}

func (o *ongoingResult) max() time.Duration {
	if len(o.Latencies) == 0 {
		return 0
	}
	return o.Latencies[len(o.Latencies)-1]
}

func (o *ongoingResult) line() string {
	return fmt.Sprintf("%s bench: ongoing N=%d %s, poll every %s: %d events in %d bursts, %d measured: commit → agent p50 %s, p99 %s, max %s\n",
		time.Now().Format("15:04:05"), o.N, o.Profile, o.PollInterval, o.Events, o.Bursts, o.Measured,
		o.pct(0.5).Round(time.Millisecond), o.pct(0.99).Round(time.Millisecond), o.max().Round(time.Millisecond))
}

var appendedRE = regexp.MustCompile(`appended (\d+) events: event ids (\d+) to (\d+)`)

// appended is one burst.
type appended struct {
	first, last int64
}

// ongoing runs the whole pipeline on a copy of a staged state and of the
// registry, lets it deliver the backlog, then appends events in bursts and
// measures, per event, the time from its commit (PostgreSQL's commit
// timestamp) to vonx-sim's received_at of the first credential of its
// corporation issued after it.
func (b *bencher) ongoing(ctx context.Context, st *stagedState, src, profile string) (*ongoingResult, error) {
	name := b.runName("ongoing", profile, st.n)
	b.logf("ongoing mode N=%d profile %s (%s)", st.n, profile, name)
	o := b.opts
	res := &ongoingResult{N: st.n, Profile: profile, PollInterval: o.PollInterval}
	srcCopy := name + "_src"
	if err := b.c.createDB(ctx, name, st.eventDB); err != nil {
		return nil, err
	}
	defer b.c.dropDB(ctx, name)
	if err := b.c.createDB(ctx, srcCopy, src); err != nil {
		return nil, err
	}
	defer b.c.dropDB(ctx, srcCopy)
	store := filepath.Join(b.c.natsDir, name)
	if err := copyDir(st.store, store); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer b.removeStore(store)
	r, err := b.newRun(ctx, name, name, srcCopy, store, profile, st.replicas)
	if err != nil {
		return nil, err
	}
	defer r.close(ctx)
	r.extra = []string{"BCREG_POLL_INTERVAL=" + o.PollInterval.String()}
	if err := r.startSim(ctx, "BCREG_SIM_CAPACITY=0"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for _, s := range []struct{ role, bin string }{
		{"credential-builder-1", "credential-builder"}, {"credential-builder-2", "credential-builder"},
		{"poster-1", "poster"}, {"poster-2", "poster"}, {"event-poller", "event-poller"},
	} {
		extra := []string{}
		if s.bin == "poster" {
			extra = append(extra, "BCREG_POSTER_ID="+s.role)
		}
		if _, err := r.service(ctx, s.role, s.bin, false, extra...); err != nil {
			return nil, err
		}
	}
	idle := func() (bool, error) {
		if !r.drained(ctx, bus.StreamEvents, bus.ConsumerBuilder) || !r.drained(ctx, bus.StreamCreds, bus.ConsumerPoster) {
			return false, nil
		}
		due, _, err := r.outstanding(ctx)
		return due == 0, err
	}
	err = r.waitFor(ctx, o.PostingBox, 500*time.Millisecond, idle)
	res.CatchUp = time.Since(t0)
	if errors.Is(err, errBoxed) {
		res.CatchUpBoxed = true
		b.logf("ongoing: the backlog was not delivered within %s; measuring anyway", o.PostingBox)
	} else if err != nil {
		return nil, err
	}
	// One quiet poll so the first burst does not race the catch-up's.
	if err := sleepCtx(ctx, o.PollInterval); err != nil {
		return nil, err
	}
	st0, err := r.sim.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: vonx-sim stats: %w", err)
	}
	base := st0.Issued
	m := r.startMeter()
	var bursts []appended
	start := time.Now()
	for i := 0; time.Since(start) < o.OngoingFor; i++ {
		next := start.Add(time.Duration(i+1) * o.BurstEvery)
		bt := time.Now()
		out, err := b.runBin(ctx, "bcreg-dev", []string{"BCREG_SOURCE_DB_URL=" + b.c.url(srcCopy)},
			"seed", "--append-events", strconv.Itoa(o.BurstSize), "--seed", strconv.Itoa(1000+i))
		if err != nil {
			return nil, err
		}
		res.BurstWall = append(res.BurstWall, time.Since(bt))
		mm := appendedRE.FindStringSubmatch(out)
		if mm == nil {
			return nil, fmt.Errorf("bench: unexpected seed output: %s", out)
		}
		first, _ := strconv.ParseInt(mm[2], 10, 64)
		last, _ := strconv.ParseInt(mm[3], 10, 64)
		bursts = append(bursts, appended{first, last})
		n, _ := strconv.Atoi(mm[1])
		res.Events += n
		if err := r.checkAlive(); err != nil {
			return nil, err
		}
		if err := sleepCtx(ctx, time.Until(next)); err != nil {
			return nil, err
		}
	}
	res.Bursts = len(bursts)
	res.Span = time.Since(start)
	lastBurst := time.Now()
	err = r.waitFor(ctx, 2*time.Minute+3*o.PollInterval, 500*time.Millisecond, func() (bool, error) {
		if time.Since(lastBurst) < 2*o.PollInterval+time.Second {
			return false, nil
		}
		return idle()
	})
	if errors.Is(err, errBoxed) {
		res.DrainBoxed = true
	} else if err != nil {
		return nil, err
	}
	res.Usage = m.stop()
	if err := b.latencies(ctx, r, srcCopy, bursts, base, res); err != nil {
		return nil, err
	}
	r.stopServices()
	r.finishUsage(&res.Usage)
	return res, nil
}

// latencies correlates the appended events with what the agent received.
func (b *bencher) latencies(ctx context.Context, r *pipeRun, srcDB string, bursts []appended, base int64, res *ongoingResult) error {
	if len(bursts) == 0 {
		return nil
	}
	src, err := pgx.Connect(ctx, b.c.url(srcDB))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer src.Close(ctx)
	type event struct {
		corp   string
		commit time.Time
	}
	var events []event
	count := map[string]int{}
	for _, bu := range bursts {
		rows, _ := src.Query(ctx, `SELECT corp_num, pg_xact_commit_timestamp(xmin) FROM bc_registries.event WHERE event_id BETWEEN $1 AND $2`, bu.first, bu.last)
		evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (event, error) {
			var e event
			var ts *time.Time
			err := row.Scan(&e.corp, &ts)
			if ts != nil {
				e.commit = *ts
			}
			return e, err
		})
		if err != nil {
			return fmt.Errorf("bench: commit timestamps: %w", err)
		}
		for _, e := range evs {
			if e.commit.IsZero() {
				return errors.New("bench: no commit timestamp (track_commit_timestamp is off?)")
			}
			count[e.corp]++
			events = append(events, e)
		}
	}
	received, err := r.sim.Received(ctx, int(base))
	if err != nil {
		return fmt.Errorf("bench: vonx-sim received: %w", err)
	}
	hashes := make([]string, 0, len(received))
	byHash := map[string][]agentsim.Received{}
	for _, rc := range received {
		h, err := receivedHash(rc.Attributes)
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
		byHash[h] = append(byHash[h], rc)
	}
	rows, _ := r.edb.Query(ctx, `SELECT credential_hash, corp_num FROM credential_log WHERE credential_hash = ANY($1)`, hashes)
	type hc struct{ hash, corp string }
	pairs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (hc, error) {
		var p hc
		return p, row.Scan(&p.hash, &p.corp)
	})
	if err != nil {
		return fmt.Errorf("bench: credential_log: %w", err)
	}
	at := map[string][]time.Time{} // corp → received_at, sorted
	for _, p := range pairs {
		for _, rc := range byHash[p.hash] {
			at[p.corp] = append(at[p.corp], rc.ReceivedAt)
		}
	}
	for _, ts := range at {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	}
	for _, e := range events {
		if count[e.corp] > 1 {
			res.Repeated++
			continue
		}
		i, _ := slices.BinarySearchFunc(at[e.corp], e.commit, func(a, b time.Time) int { return a.Compare(b) })
		if i >= len(at[e.corp]) {
			res.NoCred++
			continue
		}
		res.Measured++
		res.Latencies = append(res.Latencies, at[e.corp][i].Sub(e.commit))
	}
	slices.Sort(res.Latencies)
	return nil
}

// receivedHash is the hash of a received credential: the canonical text of
// its attributes without reason_description, which the poster adds.
func receivedHash(attrs json.RawMessage) (string, error) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(attrs)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("bench: received attributes: %w", err)
	}
	delete(m, "reason_description")
	text, err := canonical.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("bench: received attributes: %w", err)
	}
	return canonical.Hash(text), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return errStopped
	case <-time.After(d):
		return nil
	}
}

// Goal 4 of issue 18: commit → agent acceptance at a 1 s poll.
const (
	goalOngoingPoll = time.Second
	goalOngoingP99  = 2500 * time.Millisecond
)

// ongoingGoals are goal 4's rows: the ongoing run's p99 from a source
// commit to the agent's acceptance.
func (r *report) ongoingGoals() []goal {
	var out []goal
	for _, profile := range r.Opts.Profiles {
		g := goal{What: fmt.Sprintf("4 · commit → OrgBook, %s profile: p99 from a source commit to the agent's acceptance", profile),
			Target: fmt.Sprintf("≤ %s with `BCREG_POLL_INTERVAL=%s`", dur(goalOngoingP99), goalOngoingPoll)}
		for _, o := range r.Ongoing {
			if o.Profile == profile && o.Measured > 0 {
				g.Measured = fmt.Sprintf("p99 %s at a %s poll (p50 %s, max %s; %d events measured)", dur(o.pct(0.99)), o.PollInterval, dur(o.pct(0.5)), dur(o.max()), o.Measured)
				g.Met = yes(o.PollInterval <= goalOngoingPoll && o.pct(0.99) <= goalOngoingP99 && !o.DrainBoxed)
			}
		}
		out = append(out, g)
	}
	return out
}
