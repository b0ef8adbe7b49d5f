package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/progress"
	"github.com/bcgov/bcreg-events/pkg/regclock"
)

func init() { register(newPrune) }

type pruneConfig struct {
	config.EventDB
	HistoryRetention time.Duration `envconfig:"HISTORY_RETENTION" default:"0"`
	LookBack         time.Duration `envconfig:"POLL_LOOKBACK" default:"10m"`
}

type pruneOpts struct {
	history, seen  string
	dryRun, asJSON bool
}

// pruned is what prune did (or, in a dry run, would do) to one table.
type pruned struct {
	Table string `json:"table"`
	// OlderThan is corp_history_log's age; Before event_seen's date
	// (the registry's BC local clock, with its offset).
	OlderThan string     `json:"older_than,omitempty"`
	Before    *time.Time `json:"before,omitempty"`
	Rows      int64      `json:"rows"`
	Note      string     `json:"note,omitempty"`
}

// pruneReport is prune's --json answer.
type pruneReport struct {
	DryRun bool     `json:"dry_run"`
	Tables []pruned `json:"tables"`
}

func newPrune(e *env) *cobra.Command {
	var o pruneOpts
	c := &cobra.Command{
		Use:   "prune [--history-older-than DURATION] [--seen-older-than DURATION] [--dry-run] [--json]",
		Short: "retention: delete old corp_history_log snapshots (the latest per corporation is kept) and old event_seen rows",
		Long: settings(`Delete corp_history_log snapshots logged longer ago than --history-older-than
(each corporation's latest is kept) and event_seen rows dated longer before the
watermark than --seen-older-than (never inside the poller's look-back). With
--dry-run count them and change nothing. Shows progress on stderr.`,
			"BCREG_EVENT_DB_URL, BCREG_HISTORY_RETENTION (default for --history-older-than), BCREG_POLL_LOOKBACK (the least --seen-older-than)"),
		Example: `  bcregctl prune --history-older-than 90d
  bcregctl prune --seen-older-than 24h --dry-run --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runPrune(c.Context(), e, o) },
	}
	f := c.Flags()
	f.StringVar(&o.history, "history-older-than", "", "delete corp_history_log snapshots logged longer ago than this (e.g. 90d or 2160h), except each corporation's latest")
	f.StringVar(&o.seen, "seen-older-than", "", "delete event_seen rows dated this long before the watermark (at least BCREG_POLL_LOOKBACK)")
	f.BoolVar(&o.dryRun, "dry-run", false, "count what would be deleted; change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return c
}

func runPrune(ctx context.Context, e *env, o pruneOpts) error {
	var cfg pruneConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	historyAge := cfg.HistoryRetention
	if o.history != "" {
		d, err := parseAge(o.history)
		if err != nil {
			return fmt.Errorf("%w: --history-older-than: %v", errUsage, err)
		}
		historyAge = d
	}
	var seenAge time.Duration
	if o.seen != "" {
		d, err := parseAge(o.seen)
		if err != nil {
			return fmt.Errorf("%w: --seen-older-than: %v", errUsage, err)
		}
		if d < cfg.LookBack {
			return fmt.Errorf("%w: --seen-older-than %v is inside the poller's look-back (BCREG_POLL_LOOKBACK=%v): those events would be published again", errUsage, d, cfg.LookBack)
		}
		seenAge = d
	}
	if historyAge <= 0 && seenAge <= 0 {
		return fmt.Errorf("%w: name what to prune: --history-older-than (or BCREG_HISTORY_RETENTION) and/or --seen-older-than", errUsage)
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	rep := pruneReport{DryRun: o.dryRun, Tables: []pruned{}}
	if historyAge > 0 {
		p := pruned{Table: "corp_history_log", OlderThan: historyAge.String()}
		if p.Rows, err = pruneTable(ctx, e, o.dryRun, "corp_history_log",
			func() (int64, error) { return operator.CountHistory(ctx, pool, historyAge) },
			func(on func(int64)) (int64, error) { return operator.PruneHistory(ctx, pool, historyAge, on) }); err != nil {
			return err
		}
		rep.Tables = append(rep.Tables, p)
	}
	if seenAge > 0 {
		p := pruned{Table: "event_seen"}
		wm, ok, err := discovery.CurrentWatermark(ctx, pool, messages.SystemBCReg)
		if err != nil {
			return err
		}
		if !ok {
			p.Note = "no watermark yet; nothing pruned"
		} else {
			// Never past what the poller may still read: in autumn its
			// look-back (real time) reaches further back in wall time.
			before := wm.Date.Add(-seenAge)
			if h := regclock.Horizon(regclock.Registry, wm.Date.Time, cfg.LookBack); h.Before(before) {
				before = h
			}
			at := regclock.WithOffset(regclock.Registry, before)
			p.Before = &at
			if p.Rows, err = pruneTable(ctx, e, o.dryRun, "event_seen",
				func() (int64, error) { return operator.CountSeen(ctx, pool, messages.SystemBCReg, before) },
				func(on func(int64)) (int64, error) {
					return operator.PruneSeen(ctx, pool, messages.SystemBCReg, before, on)
				}); err != nil {
				return err
			}
		}
		rep.Tables = append(rep.Tables, p)
	}
	if !o.dryRun {
		if err := recordPrune(ctx, pool, rep); err != nil {
			return err
		}
	}
	if o.asJSON {
		return writeJSON(e.stdout, rep)
	}
	verb := "deleted"
	if o.dryRun {
		verb = "would be deleted (dry run)"
	}
	for _, p := range rep.Tables {
		switch {
		case p.Note != "":
			fmt.Fprintf(e.stdout, "%s: %s\n", p.Table, p.Note)
		case p.Before != nil:
			fmt.Fprintf(e.stdout, "%s: %d events dated before %s %s\n", p.Table, p.Rows, regclock.NewLocalTime(*p.Before), verb)
		default:
			fmt.Fprintf(e.stdout, "%s: %d snapshots older than %s %s (each corporation's latest kept)\n", p.Table, p.Rows, p.OlderThan, verb)
		}
	}
	return nil
}

// pruneTable counts (dry run) or deletes one table's prunable rows, with
// progress on stderr against the count taken first.
func pruneTable(ctx context.Context, e *env, dryRun bool, table string, count func() (int64, error), del func(func(int64)) (int64, error)) (int64, error) {
	total, err := count()
	if err != nil || dryRun || total == 0 {
		return total, err
	}
	bar := progress.New(e.stderr, "prune "+table, "rows", total, progress.Options{})
	defer bar.Finish()
	return del(bar.Set)
}

// recordPrune records a prune that deleted something in operator_action.
func recordPrune(ctx context.Context, pool eventdb.Querier, rep pruneReport) error {
	detail := map[string]any{}
	var total int64
	var targets []string
	for _, p := range rep.Tables {
		if p.Note != "" {
			continue
		}
		targets = append(targets, p.Table)
		total += p.Rows
		if p.Before != nil {
			detail["seen_before"], detail["seen_deleted"] = regclock.NewLocalTime(*p.Before).String(), p.Rows
		} else {
			detail["history_older_than"], detail["history_deleted"] = p.OlderThan, p.Rows
		}
	}
	if len(targets) == 0 {
		return nil
	}
	_, err := operator.RecordAction(ctx, pool, "prune", strings.Join(targets, " "), total, detail)
	return err
}

// parseAge reads a Go duration (2160h) or a number of days (90d).
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days (90d) or a duration (2160h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration (2160h) or number of days (90d)", s)
	}
	return d, nil
}
