package poller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
)

// Audit holds the scheduled OrgBook audit's settings: the active poller
// runs `bcregctl audit`'s comparison (package audit) once a day at
// BCREG_AUDIT_SCHEDULE, records it for the console, exports its findings
// per check and alerts when they rise (docs/operations.md §18).
type Audit struct {
	// AuditSchedule is the time of day, HH:MM on the registry's (BC) clock;
	// empty turns the scheduled audit off.
	AuditSchedule string        `envconfig:"AUDIT_SCHEDULE"`
	OrgBookDBURL  config.Secret `envconfig:"ORGBOOK_DB_URL"`
}

// Validate checks the audit's settings.
func (a Audit) Validate() error {
	if a.AuditSchedule == "" {
		return nil
	}
	var errs []error
	if _, err := ParseSchedule(a.AuditSchedule); err != nil {
		errs = append(errs, err)
	}
	if a.OrgBookDBURL == "" {
		errs = append(errs, errors.New("BCREG_AUDIT_SCHEDULE is set: BCREG_ORGBOOK_DB_URL (OrgBook's database, a read-only user) is required"))
	}
	return errors.Join(errs...)
}

// ValidateConfig checks what spans the poller's settings: the scheduled
// audit compares the history profile's credentials (BCREG_PROFILE, the
// ones OrgBook BC stores).
func (c Config) ValidateConfig() error {
	if c.AuditSchedule != "" && c.Poll.Profile != "" && c.Poll.Profile != credential.ProfileHistory {
		return fmt.Errorf("BCREG_AUDIT_SCHEDULE is set: BCREG_PROFILE=%s, but the audit compares the history profile's credentials, the ones OrgBook BC stores", c.Poll.Profile)
	}
	return nil
}

// Schedule is a daily time on the registry's clock.
type Schedule struct{ hour, minute int }

// ParseSchedule reads HH:MM.
func ParseSchedule(s string) (Schedule, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hour, err1 := strconv.Atoi(h)
	minute, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return Schedule{}, fmt.Errorf("BCREG_AUDIT_SCHEDULE=%q: want a time of day HH:MM on BC's clock, e.g. 02:30", s)
	}
	return Schedule{hour, minute}, nil
}

// Next is the first instant after t at which BC's wall clock shows the
// schedule's time (a time the spring change skips runs when the clocks
// jump over it; a repeated autumn time runs on its first pass).
func (s Schedule) Next(t time.Time) time.Time {
	local := regclock.LocalOf(regclock.Registry, t)
	for day := 0; ; day++ {
		d := local.AddDate(0, 0, day)
		at := regclock.WithOffset(regclock.Registry, time.Date(d.Year(), d.Month(), d.Day(), s.hour, s.minute, 0, 0, time.UTC))
		if at.After(t) {
			return at
		}
	}
}

// auditMetrics are the scheduled audit's series.
type auditMetrics struct {
	findings *prometheus.GaugeVec
	last     prometheus.Gauge
	failed   prometheus.Counter
}

func newAuditMetrics(reg prometheus.Registerer) *auditMetrics {
	m := &auditMetrics{
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bcreg_audit_findings",
			Help: "Findings of the last scheduled OrgBook audit, by check (docs/operations.md §18)."}, []string{"check"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bcreg_audit_last_run_timestamp_seconds",
			Help: "When the last scheduled OrgBook audit finished (Unix time); 0 before the first."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_audit_failed_total",
			Help: "Scheduled OrgBook audits that could not finish (a database unreachable)."}),
	}
	reg.MustRegister(m.findings, m.last, m.failed)
	// Every labelled series exists at zero from the start (docs/operations.md
	// §16); bcreg_audit_last_run_timestamp_seconds 0 says no audit ran yet.
	for _, c := range audit.Checks {
		m.findings.WithLabelValues(string(c))
	}
	return m
}

// auditing runs the scheduled audit at each BCREG_AUDIT_SCHEDULE until ctx
// ends (the lock released or lost).
func (s *service) auditing(ctx context.Context) {
	if s.cfg.AuditSchedule == "" {
		return
	}
	sched, _ := ParseSchedule(s.cfg.AuditSchedule) // validated at start-up
	for {
		if s.hooks.AuditDue != nil {
			if !s.hooks.AuditDue(ctx) {
				return
			}
		} else {
			wait := time.Until(sched.Next(time.Now()))
			s.log.Info("scheduled OrgBook audit", zap.Duration("in", wait.Round(time.Second)))
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		rep, err := s.runAudit(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.auditM.failed.Inc()
			s.log.Error("scheduled OrgBook audit failed", zap.Error(err))
			s.report(ctx, alert.KeyAudit, alert.Error, "the scheduled OrgBook audit failed: "+err.Error())
		}
		if s.hooks.Audited != nil {
			s.hooks.Audited(rep, err)
		}
	}
}

// runAudit audits, records the run, sets the metric and alerts when the
// findings outnumber the previous recorded audit's.
func (s *service) runAudit(ctx context.Context) (*audit.Report, error) {
	profile, err := credential.New(cmp.Or(s.cfg.Poll.Profile, credential.ProfileHistory), credential.Options{Log: s.log})
	if err != nil {
		return nil, fmt.Errorf("audit: BCREG_PROFILE: %w", err)
	}
	ob, err := pgxpool.New(ctx, s.cfg.OrgBookDBURL.Value())
	if err != nil {
		return nil, fmt.Errorf("audit: BCREG_ORGBOOK_DB_URL: %s", config.RedactURL(err.Error()))
	}
	defer ob.Close()
	reader, err := audit.OpenDB(ctx, ob)
	if err != nil {
		return nil, err
	}
	prev, err := audit.LastRuns(ctx, s.edb, 1)
	if err != nil {
		return nil, err
	}
	rep, err := audit.Run(ctx, audit.Options{Registry: s.src, EventDB: s.edb, OrgBook: reader, Profile: profile,
		Grace: time.Hour, Now: s.hooks.Now(), Log: s.log})
	if err != nil {
		return nil, err
	}
	if _, err := rep.Record(ctx, s.edb, "event-poller"); err != nil {
		return rep, err
	}
	for _, c := range rep.Counts {
		s.auditM.findings.WithLabelValues(string(c.Check)).Set(float64(c.Count))
	}
	s.auditM.last.Set(float64(time.Now().Unix()))
	total := len(rep.Findings)
	s.log.Info("scheduled OrgBook audit done", zap.Int("audited", rep.Audited), zap.Int("findings", total),
		zap.Float64("seconds", rep.Seconds))
	before := 0
	if len(prev) > 0 {
		before = prev[0].Total
	}
	if total > before {
		msg := rep.Summary("", "").Message
		s.report(ctx, alert.KeyAudit, alert.Error, fmt.Sprintf("%s\n(%d more than the previous audit's %d; the console's Audit page lists them and repairs)", msg, total-before, before))
	}
	return rep, nil
}
