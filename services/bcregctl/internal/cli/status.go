package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func init() {
	register("status", "where the work is: registry, streams, work tables, credentials, dead letters, posting rate, recent errors", runStatus)
}

type statusConfig struct {
	config.NATS
	config.EventDB
	config.SourceDB
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "[--json] [--watch DURATION] [--errors N] [--no-source]",
		"BCREG_EVENT_DB_URL (read-only rights suffice), BCREG_NATS_URL, BCREG_SOURCE_DB_URL (optional: the registry's lead over the watermark)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	watch := fs.Duration("watch", 0, "refresh every DURATION until interrupted (e.g. 2s)")
	errorsN := fs.Int("errors", 20, "list the N most recent errors")
	window := fs.Int("rate-minutes", 10, "minutes the posting rate covers")
	noSource := fs.Bool("no-source", false, "do not read the registry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
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
	in := pipeline.Sources{EventDB: pool, JS: js, Errors: *errorsN, Window: *window}
	if !*noSource {
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
		r := pipeline.Read(ctx, in)
		if err := r.Err(); err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(r); err != nil {
				return err
			}
		} else {
			if *watch > 0 {
				fmt.Fprint(e.stdout, "\033[H\033[2J")
			}
			pipeline.Render(e.stdout, r)
		}
		if *watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
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
