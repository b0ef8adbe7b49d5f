// Command vonx-sim simulates the issuing agent (VON-X, or the aca-py issuer
// controller with BCREG_SIM_MODE=controller) for development, end-to-end and
// load tests: the agent's HTTP contract case by case, injectable faults, and
// a control API under /_sim/ that reports what it received.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/logging"
)

// Config is vonx-sim's configuration: the simulator's settings (BCREG_SIM_*)
// and logging. It serves health and metrics on BCREG_SIM_ADDR, no side port.
type Config struct {
	config.Logging
	agentsim.Config
}

func main() { lifecycle.Main("vonx-sim", run) }

func run(ctx context.Context) error {
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, err := logging.New(cfg.Logging, "vonx-sim")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	sim, err := agentsim.New(cfg.Config, log)
	if err != nil {
		return err
	}
	log.Info("vonx-sim listening", zap.String("addr", cfg.Addr), zap.String("mode", cfg.Mode), zap.String("issuer", cfg.Issuer))
	return sim.ListenAndServe(ctx)
}
