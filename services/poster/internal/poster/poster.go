// Package poster is the poster service: CredentialBundles in, credentials
// delivered to the issuing agent, credential_log updated.
package poster

import (
	"context"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/daemon"
)

// Config is the poster's configuration (variables BCREG_*).
type Config struct {
	config.Logging
	config.HTTP
	config.NATS
	bus.Topology
	bus.Backoff
	config.EventDB
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	return daemon.Run(ctx, log, daemon.Options{
		Name: "poster", HTTP: cfg.HTTP, NATS: &cfg.NATS, Topology: &cfg.Topology,
		EventDB: &cfg.EventDB, Backoff: cfg.Backoff, RunMover: true,
	})
}
