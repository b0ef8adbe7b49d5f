// Package bus is the project's JetStream layer: the connection, the topology
// of docs/design/pipeline.md declared once and applied idempotently, subjects,
// publishing with message ids, the consume loop every service reuses, error
// classification (transient, permanent) decided once here, and both
// dead-letter paths (in the loop, and the dlq-mover on BCREG_ADVISORIES).
package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
)

// Connect opens a NATS connection that reconnects forever and logs every
// connection event, and a JetStream handle on it. The first connection
// attempt fails with an error naming the server.
func Connect(ctx context.Context, cfg config.NATS, name string, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // a deliberate close or drain
			}
			log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", zap.String("server", c.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Info("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats async error", zap.String("subject", subj), zap.Error(err))
		}),
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password.Value()))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	nc, err := nats.Connect(cfg.URL.Value(), opts...)
	if err != nil {
		// cfg.URL prints redacted; the client's own message may quote the
		// URL it could not parse, so the credentials are scrubbed from it.
		err = config.ScrubError(err, append(cfg.URL.Credentials(), cfg.Password.Value())...)
		return nil, nil, fmt.Errorf("connect to NATS at %s (BCREG_NATS_URL): %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(1024),
		jetstream.WithPublishAsyncTimeout(30*time.Second),
	)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// ReadyCheck reports whether the connection is up and JetStream answers,
// for /readyz. In a cluster the connection stays up while quorum is lost
// (two of three nodes down): the services then pause, publishes and pulls
// retry, and /readyz says so (docs/design/cluster.md). The JetStream check
// is one API request (the account's info, answered by the meta leader).
func ReadyCheck(nc *nats.Conn, js jetstream.JetStream) func(context.Context) error {
	return func(ctx context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats %s", s)
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("jetstream unavailable (no meta leader: quorum lost or an election): %w", err)
		}
		return nil
	}
}

// Drain flushes and closes the connection within the deadline of ctx.
func Drain(ctx context.Context, nc *nats.Conn) error {
	if nc == nil || nc.IsClosed() {
		return nil
	}
	done := make(chan struct{})
	prev := nc.Opts.ClosedCB
	nc.SetClosedHandler(func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		close(done)
	})
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain nats: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		nc.Close()
		return errors.New("drain nats: deadline passed, connection closed")
	}
}
