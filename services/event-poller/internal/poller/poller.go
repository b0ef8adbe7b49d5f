// Package poller is the event-poller service: discovery of changed
// corporations in the registry and their publication as CorpEvents.
package poller

import (
	"context"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/daemon"
)

// Config is the event-poller's configuration (variables BCREG_*).
type Config struct {
	config.Logging
	config.HTTP
	config.NATS
	bus.Topology
	bus.Backoff
	config.EventDB
	config.SourceDB
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	return daemon.Run(ctx, log, daemon.Options{
		Name: "event-poller", HTTP: cfg.HTTP, NATS: &cfg.NATS, Topology: &cfg.Topology,
		EventDB: &cfg.EventDB, SourceDB: &cfg.SourceDB, Backoff: cfg.Backoff,
	})
}
