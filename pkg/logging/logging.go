// Package logging builds the one zap logger a process uses: JSON for
// machines (the default) or console for people, at the configured level,
// always to stderr so a command's own output on stdout stays clean.
package logging

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bcgov/bcreg-events/pkg/config"
)

// New returns a logger named after the service, writing to stderr.
func New(cfg config.Logging, service string) (*zap.Logger, error) {
	return NewTo(cfg, service, os.Stderr)
}

// NewTo is New writing to w: a command run in-process (bcregctl's cli.Run)
// logs to the stderr it was given.
func NewTo(cfg config.Logging, service string, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch cfg.Format {
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	case "json", "":
		enc = zapcore.NewJSONEncoder(encCfg)
	default:
		return nil, fmt.Errorf("logging: unknown format %q", cfg.Format)
	}
	out := zapcore.Lock(zapcore.AddSync(w))
	core := zapcore.NewCore(enc, out, level)
	return zap.New(core, zap.AddCaller(), zap.ErrorOutput(out)).
		With(zap.String("service", service)), nil
}
