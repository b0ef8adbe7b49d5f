package bus

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
)

// ConnectWait is Connect retried with back-off until ctx ends (the
// start-up bound): NATS may come up after the service. A refused login is
// returned at once.
func ConnectWait(ctx context.Context, cfg config.NATS, name string, log *zap.Logger, b lifecycle.ConnectBackoff) (nc *nats.Conn, js jetstream.JetStream, err error) {
	err = b.Retry(ctx, log, "NATS (BCREG_NATS_URL)", func(ctx context.Context) (err error) {
		nc, js, err = Connect(ctx, cfg, name, log)
		if refusedLogin(err) {
			return lifecycle.Permanent(err)
		}
		return err
	})
	return nc, js, err
}

func refusedLogin(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}
