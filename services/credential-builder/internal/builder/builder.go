// Package builder is the credential-builder service: CorpEvents in,
// credentials stored (the outbox) and CredentialBundles out.
package builder

import (
	"context"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/daemon"
)

// Config is the credential-builder's configuration (variables BCREG_*).
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
		Name: "credential-builder", HTTP: cfg.HTTP, NATS: &cfg.NATS, Topology: &cfg.Topology,
		EventDB: &cfg.EventDB, SourceDB: &cfg.SourceDB, Backoff: cfg.Backoff, RunMover: true,
	})
}
