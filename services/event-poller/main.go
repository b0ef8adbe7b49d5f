// Command event-poller watches the BC Registries event table and publishes
// one CorpEvent per changed corporation to BCREG_EVENTS. Replicas may run
// for availability; only the holder of the poller advisory lock polls.
//
// Usage:
//
//	event-poller          poll every BCREG_POLL_INTERVAL until stopped
//	event-poller --once   one cycle (initial load if needed, poll, due
//	                      re-queues), then exit; exits 1 when another
//	                      poller holds the lock or the cycle fails
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/logging"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

func main() { lifecycle.Main("event-poller", run) }

func run(ctx context.Context) error {
	fs := flag.NewFlagSet("event-poller", flag.ContinueOnError)
	once := fs.Bool("once", false, "run one cycle (initial load if needed, poll, due re-queues) and exit, for cron-style runs")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: event-poller [--once]\nconfiguration: BCREG_* environment variables (see README)\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("event-poller: unexpected arguments %q (only --once)", fs.Args())
	}
	var cfg poller.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	cfg.Once = *once
	log, err := logging.New(cfg.Logging, "event-poller")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return poller.Run(ctx, cfg, log)
}
