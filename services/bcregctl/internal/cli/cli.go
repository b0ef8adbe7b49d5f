// Package cli implements bcregctl's commands. Each command parses its own
// flags, loads only the settings it needs, writes its output to stdout and
// its logs to stderr, and exits non-zero on failure with an error that names
// the setting and server involved.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/logging"
)

// command is one bcregctl subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets.
type env struct {
	stdout, stderr io.Writer
	log            *zap.Logger
}

var commands = map[string]command{}

func register(name, summary string, run func(context.Context, *env, []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// exitError carries a chosen exit status.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run runs the command named by args[0] and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bcregctl: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	var lc config.Logging
	if err := config.Load(&lc); err != nil {
		fmt.Fprintf(stderr, "bcregctl: %v\n", err)
		return 1
	}
	if lc.Format == "json" && !envSet("BCREG_LOG_FORMAT") {
		lc.Format = "console" // a person at a terminal, unless asked otherwise
	}
	log, err := logging.New(lc, "bcregctl")
	if err != nil {
		fmt.Fprintf(stderr, "bcregctl: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	err = cmd.run(ctx, &env{stdout: stdout, stderr: stderr, log: log}, args[1:])
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "bcregctl %s: %v\n", args[0], err)
		return 2
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "bcregctl %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: bcregctl COMMAND [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'bcregctl COMMAND --help' for a command's flags. Settings come from BCREG_* environment variables (see README).")
}

// newFlags makes a command's flag set with a usage text naming its settings.
func newFlags(e *env, name, synopsis, settings string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: bcregctl %s %s\n", name, synopsis)
		if settings != "" {
			fmt.Fprintf(e.stderr, "settings: %s\n", settings)
		}
		fs.PrintDefaults()
	}
	return fs
}

func envSet(name string) bool {
	_, ok := lookupEnv(name)
	return ok
}

func joinArgs(a []string) string { return strings.Join(a, " ") }
