package builder

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
)

// TestConfig checks the defaults and the validation.
func TestConfig(t *testing.T) {
	base := Config{Topology: bus.DefaultTopology(), Build: Build{Profile: "snapshot", BatchSize: 200, BatchWait: time.Second,
		Workers: 2, PublishTimeout: 10 * time.Second, SweepInterval: 30 * time.Second, SweepAge: time.Minute, LockWait: time.Minute}}
	tests := []struct {
		name string
		mod  func(*Config)
		errs []string
	}{
		{"defaults are valid", func(*Config) {}, nil},
		{"history profile name accepted", func(c *Config) { c.Profile = "history" }, nil},
		{"unknown profile", func(c *Config) { c.Profile = "2019" }, []string{"BCREG_PROFILE"}},
		{"batch too large", func(c *Config) { c.BatchSize = 10000 }, []string{"BCREG_BUILDER_BATCH"}},
		{"batch wait above a second", func(c *Config) { c.BatchWait = 2 * time.Second }, []string{"BCREG_BUILDER_BATCH_WAIT"}},
		{"no batch wait (the default)", func(c *Config) { c.BatchWait = 0 }, nil},
		{"negative batch wait", func(c *Config) { c.BatchWait = -time.Second }, []string{"BCREG_BUILDER_BATCH_WAIT"}},
		{"more in flight than the consumer allows", func(c *Config) { c.Workers, c.BatchSize = 20, 200 }, []string{"BCREG_JS_MAX_ACK_PENDING"}},
		{"publish timeout beyond ack wait", func(c *Config) { c.PublishTimeout = 3 * time.Minute }, []string{"BCREG_JS_BUILDER_ACK_WAIT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			err := errors.Join(c.Build.Validate(), c.ValidateConfig())
			if len(tc.errs) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, want := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not name %s", err, want)
				}
			}
		})
	}
}

// TestUnknownProfileStopsStart: a profile this build cannot generate
// stops the service at start, before it connects to anything.
func TestUnknownProfileStopsStart(t *testing.T) {
	err := Run(context.Background(), Config{Build: Build{Profile: "no-such-profile"}}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "BCREG_PROFILE") {
		t.Errorf("err = %v, want a BCREG_PROFILE error", err)
	}
}
