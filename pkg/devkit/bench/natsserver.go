package bench

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServeNATS runs NATS with JetStream on 127.0.0.1:port with its file store
// in store until ctx ends (the bench's NATS child: a process of its own, so
// its CPU and memory are measured like the services').
func ServeNATS(ctx context.Context, store string, port int) error {
	s, err := server.NewServer(&server.Options{ServerName: "bcreg-bench", Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: store, NoSigs: true, NoLog: true,
		// Stream limits are reservations against this, not allocations:
		// the bench checks the real free disk itself.
		JetStreamMaxStore: 256 << 30})
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(2 * time.Minute) {
		s.Shutdown()
		return errors.New("bench: NATS did not start within 2m")
	}
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
