package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/devrun"
	"github.com/bcgov/bcreg-events/pkg/progress"
)

type devConfig struct {
	Profile      string `envconfig:"PROFILE" default:"history"`
	ExitWhenIdle bool   `envconfig:"RUN_EXIT_WHEN_IDLE" default:"false"`
}

func runDev(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "dev", "[--data-dir DIR] [--bin DIR] [--nats-port PORT] [--nats-monitor-port PORT]", "BCREG_PROFILE, BCREG_RUN_EXIT_WHEN_IDLE")
	self, _ := os.Executable()
	dataDir := fs.String("data-dir", ".data", "where NATS and PostgreSQL keep their data (root: PostgreSQL's goes under /var/tmp)")
	binDir := fs.String("bin", filepath.Dir(self), "directory with the service binaries")
	builders := fs.Int("builders", 2, "credential-builder replicas")
	posters := fs.Int("posters", 2, "poster replicas")
	every := fs.Duration("status-every", 2*time.Second, "live status refresh")
	natsPort := fs.Int("nats-port", devrun.DefaultNATSPort, "the embedded NATS server's client port on 127.0.0.1")
	monitorPort := fs.Int("nats-monitor-port", devrun.DefaultNATSMonitorPort, "the embedded NATS server's monitoring port on 127.0.0.1 (/jsz, /varz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg devConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	return devrun.Run(ctx, e.log, devrun.Options{
		DataDir: *dataDir, BinDir: *binDir, Profile: cfg.Profile,
		ExitWhenIdle: cfg.ExitWhenIdle, StatusEvery: *every, Builders: *builders, Posters: *posters,
		NATSPort: *natsPort, NATSMonitorPort: *monitorPort, Out: e.stdout, Terminal: progress.IsTerminal(e.stdout),
	})
}
