// Command credential-builder consumes CorpEvents from BCREG_EVENTS, rebuilds each
// corporation from the registry, stores its new credentials and publishes
// them as CredentialBundles to BCREG_CREDS. Any number of replicas may run.
package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/logging"
	"github.com/bcgov/bcreg-events/services/credential-builder/internal/builder"
)

func main() { lifecycle.Main("credential-builder", run) }

func run(ctx context.Context) error {
	var cfg builder.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, err := logging.New(cfg.Logging, "credential-builder")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if builder.TuneGC(os.LookupEnv) {
		log.Info("garbage collection target set (GOGC not set)", zap.Int("gogc", builder.DefaultGCPercent))
	}
	return builder.Run(ctx, cfg, log)
}
