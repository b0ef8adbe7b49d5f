// Package cli implements bcregctl's commands on spf13/cobra, the command
// line of kubectl and helm: flags go anywhere on the line, every command
// answers --help with an example, a usage mistake exits 2 and a failed
// operation 1, each with one message on stderr. Each command loads only the
// settings it needs, writes its answer to stdout (--json where it lists or
// reports) and its logs to stderr, at warn unless asked otherwise.
//
// Each command lives in its own file and registers its constructor in
// init (register), so a new command joins without touching this file.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/logging"
)

// env is what every command gets: its output streams and, once the root
// command has read the logging settings, its logger.
type env struct {
	stdout, stderr io.Writer
	log            *zap.Logger
}

// commands are the top-level commands' constructors, in registration order.
var commands []func(*env) *cobra.Command

// register adds a top-level command; each command's file calls it in init.
func register(newCmd func(*env) *cobra.Command) { commands = append(commands, newCmd) }

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// exitError carries a chosen exit status; its message, if any, was written.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run runs bcregctl with args (without the program name) and returns the
// exit status: 0, 1 for a failed operation, 2 for a usage mistake.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, log: zap.NewNop()}
	root := newRoot(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	defer func() { _ = e.log.Sync() }()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", cmd.CommandPath(), msg, cmd.CommandPath())
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
		return 1
	}
}

func newRoot(e *env) *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:   "bcregctl",
		Short: "the operator's command line of bcreg-events",
		Long: `bcregctl is the operator's command line of bcreg-events. Each command takes its
settings from BCREG_* environment variables (see README's settings table),
prints its answer on stdout and its logs on stderr, and exits 1 when the
operation fails, 2 on a usage mistake. Requeues, purges, adoptions, initial
loads and prunes are recorded in operator_action.`,
		Example: `  bcregctl status
  bcregctl dlq list --stage poster --json
  bcregctl requeue corp 0191294 --json`,
		Version:       buildinfo.Version,
		SilenceErrors: true, // Run prints the one message
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%w: name a command (bcregctl --help lists them)", errUsage)
			}
			return unknownSub(c, args[0])
		},
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			log, err := newLogger(e.stderr, logLevel, c.Flags().Changed("log-level"))
			if err != nil {
				return err
			}
			e.log = log
			return nil
		},
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate(versionLine() + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	root.PersistentFlags().StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error (default BCREG_LOG_LEVEL, else warn: the output is the answer, not the log)")
	for _, newCmd := range commands {
		root.AddCommand(newCmd(e))
	}
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = `  source <(bcregctl completion bash)
  bcregctl completion zsh > "${fpath[1]}/_bcregctl"
  bcregctl completion fish > ~/.config/fish/completions/bcregctl.fish`
		}
	}
	return root
}

// newLogger makes the commands' logger: console format for a person at a
// terminal and warn level, unless BCREG_LOG_FORMAT, BCREG_LOG_LEVEL or
// --log-level say otherwise (the flag wins).
func newLogger(w io.Writer, flagLevel string, flagSet bool) (*zap.Logger, error) {
	var lc config.Logging
	if err := config.Load(&lc); err != nil {
		return nil, err
	}
	if !envSet("BCREG_LOG_FORMAT") {
		lc.Format = "console"
	}
	if flagSet || !envSet("BCREG_LOG_LEVEL") {
		lc.Level = flagLevel
		if err := lc.Validate(); err != nil {
			return nil, fmt.Errorf("%w: --log-level: %v", errUsage, err)
		}
	}
	return logging.NewTo(lc, "bcregctl", w)
}

// group makes a command whose work is done by its subcommands; run
// without one, or with an unknown one, it is a usage mistake.
func group(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use: use, Short: short, Example: example,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%w: name a subcommand: %s", errUsage, strings.Join(subNames(c), ", "))
			}
			return unknownSub(c, args[0])
		},
	}
	c.AddCommand(subs...)
	return c
}

func unknownSub(c *cobra.Command, name string) error {
	err := fmt.Errorf("%w: unknown command %q for %q", errUsage, name, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		err = fmt.Errorf("%w (did you mean %s?)", err, strings.Join(s, ", "))
	}
	return err
}

func subNames(c *cobra.Command) []string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return names
}

// noArgs refuses positional arguments as a usage mistake.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, args)
	}
	return nil
}

// settings appends the BCREG_ variables a command reads to its help.
func settings(long, vars string) string {
	return strings.TrimSpace(long) + "\n\nSettings: " + vars + "."
}

// writeJSON writes v as indented JSON, the --json answer of a command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func envSet(name string) bool {
	_, ok := lookupEnv(name)
	return ok
}
