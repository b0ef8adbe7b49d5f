// Command poster consumes CredentialBundles from BCREG_CREDS and delivers them
// to the issuing agent (VON-X or the issuer controller) with acknowledgements,
// redelivery and per-corporation order. Any number of replicas may run.
package main

import (
	"context"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/logging"
	"github.com/bcgov/bcreg-events/services/poster/internal/poster"
)

func main() { lifecycle.Main("poster", run) }

func run(ctx context.Context) error {
	var cfg poster.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, err := logging.New(cfg.Logging, "poster")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return poster.Run(ctx, cfg, log)
}
