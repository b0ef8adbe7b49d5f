package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
)

// sample is one reading of the figures that change while the console runs.
type sample struct {
	At        time.Time
	Report    pipeline.Report
	EventsSeq uint64 // BCREG_EVENTS last sequence: messages ever published
	CredsSeq  uint64
}

// agentHealth is the last answer of the agent's health URL.
type agentHealth struct {
	Checked time.Time
	OK      bool
	Detail  string
}

// Figure is one number of a stage; Set is false where the stage has no
// such figure (rendered as a dash).
type Figure struct {
	Key   string // data-figure name: "<stage>.<figure>"
	Value int64
	Set   bool
}

// Stage is one box of the overview's pipeline.
type Stage struct {
	ID, Name, Note                                string
	Pending, InFlight, Done, Failed, DeadLettered Figure
	Throughput                                    string // per minute, or "—" until two samples exist
	Link                                          string
}

// Figures returns the stage's figures in column order.
func (st Stage) Figures() []Figure {
	return []Figure{st.Pending, st.InFlight, st.Done, st.Failed, st.DeadLettered}
}

func fig(stage, name string, v int64) Figure {
	return Figure{Key: stage + "." + name, Value: v, Set: true}
}
func none(stage, name string) Figure { return Figure{Key: stage + "." + name} }

// Stages maps a status report onto the pipeline's stages, left to right.
// The figures are the report's, untouched, so the page and `bcregctl
// status --json` agree.
func Stages(r pipeline.Report) []Stage {
	eb := r.EventDB.Tables["event_by_corp_filing"]
	cl := r.EventDB.Tables["credential_log"]
	posted := cl.Processed - cl.Failed - cl.DeadLetter
	st := []Stage{
		{ID: "source", Name: "Source", Note: "BC Registries events, polled from the watermark",
			Pending: none("source", "pending"), InFlight: none("source", "in_flight"),
			Done: fig("source", "done", r.EventDB.WatermarkEventID), Failed: none("source", "failed"), DeadLettered: none("source", "dead_lettered")},
		{ID: "events", Name: "Events stream", Note: bus.StreamEvents,
			Pending: fig("events", "pending", int64(r.Events.Pending)), InFlight: fig("events", "in_flight", int64(r.Events.InFlight)),
			Done: none("events", "done"), Failed: fig("events", "redelivered", int64(r.Events.Redelivered)), DeadLettered: none("events", "dead_lettered")},
		{ID: "builder", Name: "Builder", Note: "event_by_corp_filing work items",
			Pending: fig("builder", "pending", eb.Outstanding), InFlight: fig("builder", "in_flight", int64(r.Events.InFlight)),
			Done: fig("builder", "done", eb.Processed-eb.Failed-eb.Skipped), Failed: fig("builder", "failed", eb.Failed),
			DeadLettered: fig("builder", "dead_lettered", int64(r.DLQ.ByStage["builder"])), Link: "/dlq?stage=builder"},
		{ID: "credlog", Name: "Credential log", Note: "credential_log (outbox)",
			Pending: fig("credlog", "pending", cl.Outstanding), InFlight: fig("credlog", "unpublished", cl.Unpublished),
			Done: fig("credlog", "done", cl.Processed), Failed: fig("credlog", "failed", cl.Failed),
			DeadLettered: fig("credlog", "dead_lettered", cl.DeadLetter)},
		{ID: "creds", Name: "Creds stream", Note: bus.StreamCreds,
			Pending: fig("creds", "pending", int64(r.Creds.Pending)), InFlight: fig("creds", "in_flight", int64(r.Creds.InFlight)),
			Done: none("creds", "done"), Failed: fig("creds", "redelivered", int64(r.Creds.Redelivered)), DeadLettered: none("creds", "dead_lettered")},
		{ID: "poster", Name: "Poster", Note: fmt.Sprintf("%d waiting, %d held (A)", cl.Waiting, cl.Held),
			Pending: fig("poster", "pending", cl.Outstanding-cl.Unpublished), InFlight: fig("poster", "in_flight", int64(r.Creds.InFlight)),
			Done: fig("poster", "done", posted), Failed: fig("poster", "failed", cl.Failed),
			DeadLettered: fig("poster", "dead_lettered", int64(r.DLQ.ByStage["poster"])), Link: "/dlq?stage=poster"},
		{ID: "agent", Name: "Agent", Note: "issuing agent (VON-X / controller)",
			Pending: none("agent", "pending"), InFlight: none("agent", "in_flight"),
			Done: fig("agent", "done", posted), Failed: fig("agent", "rejected", cl.Failed), DeadLettered: none("agent", "dead_lettered")},
	}
	if r.Received != nil {
		st[6].Done = fig("agent", "received", *r.Received)
	}
	return st
}

// throughputs are each stage's per-minute rates over the last minute of
// samples, from counters that only grow.
func throughputs(samples []sample) map[string]string {
	out := map[string]string{}
	if len(samples) < 2 {
		return out
	}
	cur := samples[len(samples)-1]
	old := samples[0]
	for _, s := range samples {
		if cur.At.Sub(s.At) <= time.Minute {
			old = s
			break
		}
	}
	if old.At.Equal(cur.At) {
		old = samples[len(samples)-2]
	}
	mins := cur.At.Sub(old.At).Minutes()
	if mins <= 0 {
		return out
	}
	rate := func(a, b int64) string { return fmt.Sprintf("%.1f/min", float64(b-a)/mins) }
	ebOld, ebCur := old.Report.EventDB.Tables["event_by_corp_filing"], cur.Report.EventDB.Tables["event_by_corp_filing"]
	clOld, clCur := old.Report.EventDB.Tables["credential_log"], cur.Report.EventDB.Tables["credential_log"]
	// The posting rate (docs/operations.md §11): credentials the agent
	// answered, Y or N.
	postedOld, postedCur := clOld.Processed-clOld.DeadLetter, clCur.Processed-clCur.DeadLetter
	out["source"] = rate(int64(old.EventsSeq), int64(cur.EventsSeq))
	out["events"] = out["source"]
	out["builder"] = rate(ebOld.Processed, ebCur.Processed)
	out["credlog"] = rate(int64(old.CredsSeq), int64(cur.CredsSeq))
	out["creds"] = out["credlog"]
	out["poster"] = rate(postedOld, postedCur)
	out["agent"] = out["poster"]
	return out
}

// Samples returns the readings the lag chart and the throughputs are
// drawn from, oldest first (at most an hour of them): what Sample kept,
// for a caller that inspects the sampler, such as the module's tests.
func (s *Server) Samples() []pipeline.Report {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]pipeline.Report, len(s.samples))
	for i, smp := range s.samples {
		out[i] = smp.Report
	}
	return out
}

// Sample reads the figures once for the lag chart and throughput, and
// checks the agent's health.
func (s *Server) Sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.SampleEvery)
	defer cancel()
	done := make(chan agentHealth, 1)
	go func() { done <- s.checkHealth(ctx) }()
	// The lag chart and the throughputs read the stages' counts only.
	r := pipeline.Read(ctx, pipeline.Sources{EventDB: s.opt.DB, JS: s.opt.JS, SkipAbandoned: true})
	if err := r.Err(); err != nil {
		s.metrics.samples.WithLabelValues("error").Inc()
		s.opt.Log.Warn("console: sample", zapErr(err))
	} else {
		s.metrics.samples.WithLabelValues("ok").Inc()
		s.metrics.lastSample.Set(float64(s.opt.Now().Unix()))
		smp := sample{At: r.At, Report: r}
		smp.EventsSeq = lastSeq(ctx, s, bus.StreamEvents)
		smp.CredsSeq = lastSeq(ctx, s, bus.StreamCreds)
		s.mu.Lock()
		s.samples = append(s.samples, smp)
		cut := 0
		for cut < len(s.samples) && smp.At.Sub(s.samples[cut].At) > time.Hour {
			cut++
		}
		s.samples = s.samples[cut:]
		s.mu.Unlock()
	}
	h := <-done
	s.mu.Lock()
	s.health = h
	s.mu.Unlock()
}

func lastSeq(ctx context.Context, s *Server, stream string) uint64 {
	st, err := s.opt.JS.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.LastSeq
}

func (s *Server) checkHealth(ctx context.Context) agentHealth {
	h := agentHealth{Checked: s.opt.Now()}
	if s.opt.HealthURL == "" {
		h.Detail = "not configured (BCREG_AGENT_HEALTH_URL or BCREG_AGENT_URL)"
		return h
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opt.HealthURL, nil)
	if err != nil {
		h.Detail = "bad health URL"
		return h
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// The error text may carry the URL; show only its kind.
		h.Detail = "unreachable"
		if ctx.Err() != nil {
			h.Detail = "no answer within 2s"
		}
		return h
	}
	resp.Body.Close()
	h.OK = resp.StatusCode/100 == 2
	h.Detail = fmt.Sprintf("HTTP %d in %d ms", resp.StatusCode, time.Since(start).Milliseconds())
	return h
}

// overviewData is the overview template's input.
type overviewData struct {
	Report        pipeline.Report
	Stages        []Stage
	Health        agentHealth
	HealthURL     bool
	Watermark     string
	Behind        string
	LagChart      chart
	PostedChart   chart
	PostedLastMin int64
	DLQStages     []kv
	ServerTime    time.Duration
}

type kv struct {
	Key   string
	Value uint64
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	// The figures of pipeline.Collect, with the posting rate of `bcregctl
	// status` over an hour for the chart.
	rep := pipeline.Read(ctx, pipeline.Sources{EventDB: s.opt.DB, JS: s.opt.JS, Window: 60})
	if err := rep.Err(); err != nil {
		s.fail(w, r, err)
		return
	}
	// Oldest minute first for the chart.
	posted := slices.Clone(rep.Throughput.PostedPerMinute)
	slices.Reverse(posted)
	s.mu.RLock()
	samples := append([]sample(nil), s.samples...)
	health := s.health
	s.mu.RUnlock()
	d := overviewData{Report: rep, Stages: Stages(rep), Health: health, HealthURL: s.opt.HealthURL != ""}
	tp := throughputs(samples)
	for i := range d.Stages {
		d.Stages[i].Throughput = tp[d.Stages[i].ID]
		if d.Stages[i].Throughput == "" {
			d.Stages[i].Throughput = "—"
		}
	}
	d.Watermark, d.Behind = "none (initial load not done)", "—"
	if rep.EventDB.WatermarkEventID > 0 && rep.EventDB.WatermarkEventDate != nil {
		wd := *rep.EventDB.WatermarkEventDate
		d.Watermark = fmt.Sprintf("event %d at %s (BC local)", rep.EventDB.WatermarkEventID, wd.Format("2006-01-02 15:04:05"))
		now := s.bcNow()
		behind := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), now.Minute(), now.Second(), 0, time.UTC).
			Sub(time.Date(wd.Year(), wd.Month(), wd.Day(), wd.Hour(), wd.Minute(), wd.Second(), 0, time.UTC))
		d.Behind = humanDuration(behind)
	}
	lag := make([]point, 0, len(samples))
	for _, smp := range samples {
		v := float64(smp.Report.Events.Pending) + float64(smp.Report.Events.InFlight) + float64(smp.Report.Creds.Pending) + float64(smp.Report.Creds.InFlight)
		lag = append(lag, point{smp.At, v})
	}
	d.LagChart = lineChart("lag-chart", "Lag: messages pending or in flight on both streams, sampled while the console runs", lag, rep.At)
	d.PostedChart = barChart("posted-chart", "Credentials posted (answered Y or N) per minute, last 60 minutes", posted)
	d.PostedLastMin = posted[len(posted)-1]
	for stage, n := range rep.DLQ.ByStage {
		d.DLQStages = append(d.DLQStages, kv{stage, n})
	}
	slices.SortFunc(d.DLQStages, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
	d.ServerTime = time.Since(start)
	w.Header().Set("Server-Timing", fmt.Sprintf("app;dur=%.1f", float64(d.ServerTime.Microseconds())/1000))
	s.render(w, r, "overview", "Overview", d)
}

// apiStatus serves the status report as JSON: `bcregctl status --json`.
func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	rep, err := pipeline.Collect(r.Context(), s.opt.DB, s.opt.JS)
	if err != nil {
		http.Error(w, "status unavailable", http.StatusServiceUnavailable)
		s.opt.Log.Warn("console: status", zapErr(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		return "ahead of the clock by " + humanDuration(-d)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
