// Command bcregctl is the operator's command line (commands in
// internal/cli, one file each; `bcregctl --help` lists them). Each command
// takes its settings from BCREG_* variables, prints its answer on stdout
// (--json where it lists or reports) and its logs on stderr, and exits 1
// when the operation fails, 2 on a usage mistake. Requeues, purges,
// adoptions, initial loads and prunes are recorded in operator_action.
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
