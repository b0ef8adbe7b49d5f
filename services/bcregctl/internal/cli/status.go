package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/status"
)

func init() {
	register("status", "where the work is: streams, work tables, credentials, dead letters", runStatus)
}

type statusConfig struct {
	config.NATS
	config.EventDB
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "[--json] [--watch DURATION]", "BCREG_EVENT_DB_URL (read-only rights suffice), BCREG_NATS_URL")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	watch := fs.Duration("watch", 0, "refresh every DURATION until interrupted (e.g. 2s)")
	if err := fs.Parse(args); err != nil {
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
	for {
		r, err := status.Collect(ctx, pool, js)
		if err != nil {
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
			r.Render(e.stdout)
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
