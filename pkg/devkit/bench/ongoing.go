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
	// Segments split the measured latencies by the pipeline's own
	// timestamps (where the time goes).
	Segments []segment
	Usage    usage     // the burst phase
	Idle     *idleCost // the idle phase after it (nil: not measured)
}

// segment is one stretch of the way from commit to agent, per measured
// event: the time between two recorded timestamps (sorted).
type segment struct {
	What string
	Lat  []time.Duration
}

// pct is the nearest-rank percentile p of sorted.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t / time.Duration(len(ds))
}

func (o *ongoingResult) pct(p float64) time.Duration { return pct(o.Latencies, p) }

func (o *ongoingResult) max() time.Duration {
	if len(o.Latencies) == 0 {
		return 0
	}
	return o.Latencies[len(o.Latencies)-1]
}

func (o *ongoingResult) line() string {
	idle := ""
	if c := o.Idle; c != nil {
		idle = fmt.Sprintf("; idle %s: event-poller %.2f %% + PostgreSQL %.2f %% of one core", c.Wall.Round(time.Second), c.pct(c.Poller), c.pct(c.PG))
	}
	return fmt.Sprintf("%s bench: ongoing N=%d %s, poll every %s: %d events in %d bursts, %d measured: commit → agent p50 %s, p99 %s, max %s%s\n",
		time.Now().Format("15:04:05"), o.N, o.Profile, o.PollInterval, o.Events, o.Bursts, o.Measured,
		o.pct(0.5).Round(time.Millisecond), o.pct(0.99).Round(time.Millisecond), o.max().Round(time.Millisecond), idle)
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
		// Each service's connections carry its role, so that the idle
		// phase can tell PostgreSQL's backends apart.
		extra := []string{"BCREG_EVENT_DB_URL=" + withAppName(b.c.url(name), s.role),
			"BCREG_SOURCE_DB_URL=" + withAppName(b.c.url(srcCopy), s.role)}
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
	if res.Idle, err = b.measureIdle(ctx, r, res.Events); err != nil {
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
	var events []ongoingEvent
	count := map[string]int{}
	for _, bu := range bursts {
		rows, _ := src.Query(ctx, `SELECT event_id::bigint, corp_num, pg_xact_commit_timestamp(xmin) FROM bc_registries.event WHERE event_id BETWEEN $1 AND $2`, bu.first, bu.last)
		evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ongoingEvent, error) {
			var e ongoingEvent
			var ts *time.Time
			err := row.Scan(&e.id, &e.corp, &ts)
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
	// entry_date is the builder's store transaction's LOCALTIMESTAMP (the
	// server's time zone, which every session of the bench's cluster
	// shares); published_at its bundle's PubAck.
	rows, _ := r.edb.Query(ctx, `SELECT credential_hash, corp_num, entry_date AT TIME ZONE current_setting('TimeZone'), published_at
FROM credential_log WHERE credential_hash = ANY($1)`, hashes)
	type cred struct {
		hash, corp string
		stored     time.Time
		published  *time.Time
		received   time.Time
	}
	creds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cred, error) {
		var c cred
		return c, row.Scan(&c.hash, &c.corp, &c.stored, &c.published)
	})
	if err != nil {
		return fmt.Errorf("bench: credential_log: %w", err)
	}
	at := map[string][]cred{} // corp → received credentials, by received_at
	for _, c := range creds {
		for _, rc := range byHash[c.hash] {
			c.received = rc.ReceivedAt
			at[c.corp] = append(at[c.corp], c)
		}
	}
	for _, cs := range at {
		slices.SortFunc(cs, func(a, b cred) int { return a.received.Compare(b.received) })
	}
	seen, err := b.seenAt(ctx, r, events)
	if err != nil {
		return err
	}
	segs := []segment{
		{What: "poller: commit → poll recorded (`event_seen.seen_at`: poll wait, discovery, CorpEvent PubAcks)"},
		{What: "builder: poll recorded → store began (`credential_log.entry_date`: pull, registry read, generation)"},
		{What: "builder: store began → bundle published (`published_at`: store, commit, bundle PubAck)"},
		{What: "poster: bundle published → agent received (pull, claim, request)"},
	}
	for _, e := range events {
		if count[e.corp] > 1 {
			res.Repeated++
			continue
		}
		cs := at[e.corp]
		i, _ := slices.BinarySearchFunc(cs, e.commit, func(c cred, t time.Time) int { return c.received.Compare(t) })
		if i >= len(cs) {
			res.NoCred++
			continue
		}
		c := cs[i]
		res.Measured++
		res.Latencies = append(res.Latencies, c.received.Sub(e.commit))
		s, ok := seen[e.key()]
		if !ok || c.published == nil {
			continue // a stretch without its timestamps is left out
		}
		segs[0].Lat = append(segs[0].Lat, s.Sub(e.commit))
		segs[1].Lat = append(segs[1].Lat, c.stored.Sub(s))
		segs[2].Lat = append(segs[2].Lat, c.published.Sub(c.stored))
		segs[3].Lat = append(segs[3].Lat, c.received.Sub(*c.published))
	}
	slices.Sort(res.Latencies)
	for i := range segs {
		slices.Sort(segs[i].Lat)
	}
	res.Segments = segs
	return nil
}

// seenAt reads when the poller recorded each event (event_seen.seen_at,
// its watermark transaction after the CorpEvents' PubAcks).
func (b *bencher) seenAt(ctx context.Context, r *pipeRun, events []ongoingEvent) (map[string]time.Time, error) {
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.id
	}
	rows, _ := r.edb.Query(ctx, `SELECT event_id, corp_num, seen_at FROM event_seen WHERE event_id = ANY($1)`, ids)
	out := map[string]time.Time{}
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var e ongoingEvent
		var at time.Time
		if err := row.Scan(&e.id, &e.corp, &at); err != nil {
			return struct{}{}, err
		}
		out[e.key()] = at
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench: event_seen: %w", err)
	}
	return out, nil
}

// ongoingEvent is an appended event.
type ongoingEvent struct {
	id     int64
	corp   string
	commit time.Time
}

func (e ongoingEvent) key() string { return strconv.FormatInt(e.id, 10) + "/" + e.corp }

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

// Goal 4 of issue 18: commit → agent acceptance at a 1 s poll, and what
// polling every second costs while nothing happens.
const (
	goalOngoingPoll = time.Second
	goalOngoingP99  = 2500 * time.Millisecond
	goalIdlePct     = 2.0 // % of one core, event-poller + PostgreSQL
)

// ongoingGoals are goal 4's rows: the ongoing run's p99 from a source
// commit to the agent's acceptance, and its idle phase's cost.
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
		idle := goal{What: fmt.Sprintf("4 · idle cost of polling every second, %s profile: event-poller + PostgreSQL with nothing appended", profile),
			Target: fmt.Sprintf("≤ %.0f%% of one core", goalIdlePct)}
		for _, o := range r.Ongoing {
			if c := o.Idle; o.Profile == profile && c != nil && o.PollInterval == goalOngoingPoll {
				idle.Measured = fmt.Sprintf("%.2f%% over %s (event-poller %.2f%%, PostgreSQL %.2f%%)", c.pct(c.Poller+c.PG), dur(c.Wall), c.pct(c.Poller), c.pct(c.PG))
				idle.Met = yes(c.pct(c.Poller+c.PG) <= goalIdlePct)
			}
		}
		out = append(out, g, idle)
	}
	return out
}
