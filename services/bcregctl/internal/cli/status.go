package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func init() { register(newStatus) }

type statusConfig struct {
	config.NATS
	config.EventDB
	config.SourceDB
}

type statusOpts struct {
	asJSON, noSource bool
	since            string
	watch            time.Duration
	errors, window   int
}

func newStatus(e *env) *cobra.Command {
	var o statusOpts
	c := &cobra.Command{
		Use:   "status [--json] [--watch DURATION] [--errors N] [--no-source]",
		Short: "where the work is: registry, streams, work tables, credentials, dead letters, posting rate, recent errors",
		Long: settings(`Show where the work is, stage by stage: the registry's lead over the watermark,
each stream's pending and in-flight messages, the work tables, the credentials,
the dead letters, the posting rate with an ETA and the most recent errors,
then the manage script's figures: every table's record count
(getRecordCounts), the credential summary and the credentials posted and
staged since --since (getCredentialPostRate, getCredentialStageRate), and the
failed credentials by reason (getFailedCredErrors), with the script's own
tests.
Read-only rights on the event database suffice. With --json the same figures
as the console's /api/status; README says which clock each time is in.`,
			"BCREG_EVENT_DB_URL (read-only rights suffice), BCREG_NATS_URL, BCREG_SOURCE_DB_URL (optional: the registry's lead over the watermark)"),
		Example: `  bcregctl status
  bcregctl status --json
  bcregctl status --watch 5s
  bcregctl status --since 10m --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runStatus(c.Context(), e, o) },
	}
	f := c.Flags()
	f.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	f.DurationVar(&o.watch, "watch", 0, "refresh every DURATION until interrupted (e.g. 2s)")
	f.IntVar(&o.errors, "errors", 20, "list the N most recent errors")
	f.IntVar(&o.window, "rate-minutes", 10, "minutes the posting rate covers")
	f.BoolVar(&o.noSource, "no-source", false, "do not read the registry")
	f.StringVar(&o.since, "since", "1h", "start of the posted and staged counts: TIME (RFC 3339) or DURATION ago")
	return c
}

func runStatus(ctx context.Context, e *env, o statusOpts) error {
	if _, err := parseSince(o.since, time.Now()); err != nil {
		return err
	}
	var cfg statusConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-status", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	in := pipeline.Sources{EventDB: pool, JS: js, Errors: o.errors, Window: o.window}
	if !o.noSource {
		// The registry is optional: unreachable, it is reported, not fatal.
		src, err := openOptional(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
		if err != nil {
			in.SourceErr = err
		} else {
			defer src.Close()
			in.Source = src
		}
	}
	for {
		since, err := parseSince(o.since, time.Now())
		if err != nil {
			return err
		}
		in.ManageSince = &since
		r := pipeline.Read(ctx, in)
		if err := r.Err(); err != nil {
			return err
		}
		if o.asJSON {
			if err := writeJSON(e.stdout, r); err != nil {
				return err
			}
		} else {
			if o.watch > 0 {
				fmt.Fprint(e.stdout, "\033[H\033[2J")
			}
			pipeline.Render(e.stdout, r)
		}
		if o.watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.watch):
		}
	}
}

// openOptional opens the registry database, which a command can do
// without, giving up after a few seconds.
func openOptional(ctx context.Context, url, setting string) (*pgxpool.Pool, error) {
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return sourcedb.Open(octx, url, setting)
}
