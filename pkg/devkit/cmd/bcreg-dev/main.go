// Command bcreg-dev is the development kit's tool, kept out of the
// operator's bcregctl so that production binaries carry none of it:
//
//	run     the whole pipeline on a workstation (make run): embedded NATS,
//	        a local PostgreSQL, vonx-sim, demo data, every service
//	seed    synthetic registry data for load tests and benchmarks
//	bench   benchmarks at registry scale (make bench), report in docs/benchmarks/
//
// Settings come from BCREG_* variables like the services'; each command
// answers --help, exits 2 on a usage mistake and 1 on a failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what every command gets.
type env struct {
	stdout, stderr io.Writer
	log            *zap.Logger
}

// commands are bcreg-dev's commands by name.
var commands = map[string]struct {
	summary string
	run     func(context.Context, *env, []string) error
}{
	"run":   {"run the whole pipeline locally (make run): NATS, PostgreSQL, vonx-sim, demo data, services", runDev},
	"seed":  {"write synthetic corporations into the source database (load tests, benchmarks)", runSeed},
	"bench": {"benchmarks at registry scale (make bench): staging, posting, ongoing latency, memory", runBench},
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// lookupEnv reads the environment (the bench's defaults come from it).
var lookupEnv = os.LookupEnv

// dispatch runs the command named by args[0] and returns the exit status.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "usage: bcreg-dev COMMAND [flags]\n\ncommands:")
		for _, n := range []string{"run", "seed", "bench"} {
			fmt.Fprintf(stderr, "  %-6s %s\n", n, commands[n].summary)
		}
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bcreg-dev: unknown command %q (run, seed, bench)\n", args[0])
		return 2
	}
	var lc config.Logging
	if err := config.Load(&lc); err != nil {
		fmt.Fprintf(stderr, "bcreg-dev: %v\n", err)
		return 1
	}
	if _, set := lookupEnv("BCREG_LOG_FORMAT"); !set {
		lc.Format = "console" // a person at a terminal, unless asked otherwise
	}
	log, err := logging.New(lc, "bcreg-dev")
	if err != nil {
		fmt.Fprintf(stderr, "bcreg-dev: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	err = cmd.run(ctx, &env{stdout: stdout, stderr: stderr, log: log}, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "bcreg-dev %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "bcreg-dev %s: %v\n", args[0], err)
		return 1
	}
}

// newFlags makes a command's flag set with a usage text naming its settings.
func newFlags(e *env, name, synopsis, settings string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: bcreg-dev %s %s\n", name, synopsis)
		if settings != "" {
			fmt.Fprintf(e.stderr, "settings: %s\n", settings)
		}
		fs.PrintDefaults()
	}
	return fs
}

func joinArgs(a []string) string { return strings.Join(a, " ") }
