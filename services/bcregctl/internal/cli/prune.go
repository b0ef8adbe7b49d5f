package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
)

func init() {
	register("prune", "retention: delete old corp_history_log snapshots (the latest per corporation is kept) and old event_seen rows", runPrune)
}

type pruneConfig struct {
	config.EventDB
	HistoryRetention time.Duration `envconfig:"HISTORY_RETENTION" default:"0"`
	LookBack         time.Duration `envconfig:"POLL_LOOKBACK" default:"10m"`
}

func runPrune(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "prune", "[--history-older-than DURATION] [--seen-older-than DURATION]",
		"BCREG_EVENT_DB_URL, BCREG_HISTORY_RETENTION (default for --history-older-than), BCREG_POLL_LOOKBACK (the least --seen-older-than)")
	history := fs.String("history-older-than", "", "delete corp_history_log snapshots logged longer ago than this (e.g. 90d or 2160h), except each corporation's latest")
	seen := fs.String("seen-older-than", "", "delete event_seen rows dated this long before the watermark (at least BCREG_POLL_LOOKBACK)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var cfg pruneConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	historyAge := cfg.HistoryRetention
	if *history != "" {
		d, err := parseAge(*history)
		if err != nil {
			return fmt.Errorf("%w: --history-older-than: %v", errUsage, err)
		}
		historyAge = d
	}
	var seenAge time.Duration
	if *seen != "" {
		d, err := parseAge(*seen)
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
	detail := map[string]any{}
	var total int64
	var targets []string
	if historyAge > 0 {
		n, err := operator.PruneHistory(ctx, pool, historyAge)
		if err != nil {
			return err
		}
		detail["history_older_than"], detail["history_deleted"] = historyAge.String(), n
		total += n
		targets = append(targets, "corp_history_log")
		fmt.Fprintf(e.stdout, "corp_history_log: %d snapshots older than %v deleted (each corporation's latest kept)\n", n, historyAge)
	}
	if seenAge > 0 {
		wm, ok, err := discovery.CurrentWatermark(ctx, pool, messages.SystemBCReg)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(e.stdout, "event_seen: no watermark yet; nothing pruned")
		} else {
			// Never past what the poller may still read: in autumn its
			// look-back (real time) reaches further back in wall time.
			before := wm.Date.Add(-seenAge)
			if h := regclock.Horizon(regclock.Registry, wm.Date.Time, cfg.LookBack); h.Before(before) {
				before = h
			}
			n, err := operator.PruneSeen(ctx, pool, messages.SystemBCReg, before)
			if err != nil {
				return err
			}
			detail["seen_before"], detail["seen_deleted"] = regclock.NewLocalTime(before).String(), n
			total += n
			targets = append(targets, "event_seen")
			fmt.Fprintf(e.stdout, "event_seen: %d events dated before %s deleted\n", n, regclock.NewLocalTime(before))
		}
	}
	if len(targets) == 0 {
		return nil
	}
	_, err = operator.RecordAction(ctx, pool, "prune", strings.Join(targets, " "), total, detail)
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
