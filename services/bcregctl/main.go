// Command bcregctl is the operator's command line. Each command takes its
// settings from BCREG_* variables, prints its result on stdout and its logs
// on stderr, exits non-zero on failure (2 for a usage mistake), and answers
// --help:
//
//	migrate        event-database migrations and the JetStream topology
//	status         where the work is: registry, streams, work tables,
//	               credentials, dead letters, posting rate, recent errors
//	               (--json, --watch; read-only rights suffice)
//	dlq            dead letters: list, show, requeue, purge
//	requeue        corp CORP_NUM...: re-process corporations over their
//	               whole history; failed [--since T]: re-post N and D
//	               credentials in fresh bundles
//	initial-load   run, resume or re-run the initial load under the
//	               poller's lock, with progress
//	adopt          switch over from the Python pipeline: import its
//	               event-processor database (--from URL)
//	prune          retention of corp_history_log and event_seen
//	generate       dry run: the credentials a profile would issue
//	seed           synthetic registry data for load tests
//	dev            the whole pipeline on a workstation (make run)
//
// Other commands (the console, benchmarks) list themselves in
// `bcregctl --help`. Requeues, purges, adoptions, initial loads and prunes
// are recorded in operator_action.
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
