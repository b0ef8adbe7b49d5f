// Command bcregctl is the operator's command line: migrate the event
// database and apply the JetStream topology, dry-run credential generation,
// and (as later commands land) status, dead letters and requeues.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bcgov/bcreg-events/services/bcregctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
