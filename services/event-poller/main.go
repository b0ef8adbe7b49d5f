// Command event-poller watches the BC Registries event table and publishes
// one CorpEvent per changed corporation to BCREG_EVENTS. Replicas may run
// for availability; only the holder of the poller advisory lock polls.
package main

import (
	"context"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/logging"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

func main() { lifecycle.Main("event-poller", run) }

func run(ctx context.Context) error {
	var cfg poller.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, err := logging.New(cfg.Logging, "event-poller")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return poller.Run(ctx, cfg, log)
}
