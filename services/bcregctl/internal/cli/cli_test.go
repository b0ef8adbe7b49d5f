package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
)

// run runs bcregctl with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMigrateNamesUnreachableServer(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"database", map[string]string{"BCREG_EVENT_DB_URL": "postgres://bc:secretpw@127.0.0.1:1/ep?connect_timeout=2"}, []string{"migrate", "--db-only"},
			[]string{"127.0.0.1:1", "BCREG_EVENT_DB_URL"}},
		{"nats", map[string]string{"BCREG_NATS_URL": "nats://127.0.0.1:1"}, []string{"migrate", "--nats-only"},
			[]string{"nats://127.0.0.1:1", "BCREG_NATS_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			// migrate retries an unreachable server until this ends (the
			// least allowed, rather than the default two minutes).
			t.Setenv("BCREG_START_TIMEOUT", "1s")
			code, _, stderr := run(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "secretpw") {
				t.Errorf("stderr shows the password:\n%s", stderr)
			}
		})
	}
}

func TestGenerateUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"generate", "A1"}, {"generate", "--profile", "snapshot"}, {"generate", "--profile", "nope", "A1"}} {
		t.Setenv("BCREG_SOURCE_DB_URL", "postgres://127.0.0.1:1/x")
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}

// TestFlagsAfterArguments: flags after a positional argument count (the
// runbook's `dlq purge 42 --yes`); the operation then fails on the
// unreachable server (exit 1), not on the command line (exit 2).
func TestFlagsAfterArguments(t *testing.T) {
	t.Setenv("BCREG_NATS_URL", "nats://127.0.0.1:1")
	t.Setenv("BCREG_SOURCE_DB_URL", "postgres://127.0.0.1:1/x?connect_timeout=2")
	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"dlq purge SEQ --yes", []string{"dlq", "purge", "42", "--yes"}, "127.0.0.1:1"},
		{"generate CORP --profile", []string{"generate", "0191294", "--profile", "snapshot"}, "127.0.0.1:1"},
		{"dlq list --json after a filter", []string{"dlq", "list", "--stage", "poster", "--json"}, "127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "--yes") {
				t.Errorf("exit %d, want 1 naming %q:\n%s", code, tc.want, stderr)
			}
		})
	}
}

// TestUsageMistakesExit2Once: every usage mistake exits 2 with one
// message (not the flag package's text and then ours again).
func TestUsageMistakesExit2Once(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "name a command"},
		{"unknown command", []string{"nope"}, `unknown command "nope"`},
		{"unknown flag", []string{"status", "--nope"}, "unknown flag: --nope"},
		{"unknown flag after an argument", []string{"dlq", "purge", "42", "--nope"}, "unknown flag: --nope"},
		{"bad flag value", []string{"status", "--errors", "many"}, "invalid argument"},
		{"no subcommand", []string{"dlq"}, "name a subcommand"},
		{"unknown subcommand", []string{"requeue", "nope"}, `unknown command "nope"`},
		{"purge without --yes", []string{"dlq", "purge", "42"}, "add --yes"},
		{"show without a number", []string{"dlq", "show", "x"}, "not a number"},
		{"unexpected argument", []string{"status", "extra"}, "unexpected arguments"},
		{"generate without a corporation", []string{"generate", "--profile", "snapshot"}, "CORP_NUM"},
		{"generate without a profile", []string{"generate", "A1"}, "--profile is required"},
		{"bad log level", []string{"version", "--log-level", "loud"}, "--log-level"},
		{"migrate both onlys", []string{"migrate", "--db-only", "--nats-only"}, "exclude each other"},
		{"audit without OrgBook", []string{"audit"}, "BCREG_ORGBOOK_DB_URL is not set"},
		{"audit --api without --corp", []string{"audit", "--api"}, "--api goes with --corp"},
		{"audit --api without its URL", []string{"audit", "--corp", "A1", "--api"}, "BCREG_ORGBOOK_API_URL is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2\n%s", code, stderr)
			}
			if n := strings.Count(stderr, tc.want); n != 1 {
				t.Errorf("stderr names %q %d times, want once:\n%s", tc.want, n, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout: %s", stdout)
			}
		})
	}
}

// TestEveryCommandHasHelpWithAnExample walks the command tree.
func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			args := append(strings.Fields(c.CommandPath())[1:], "--help")
			code, stdout, stderr := run(t, args...)
			if code != 0 || !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "Examples:") {
				t.Errorf("%v: exit %d, want help with an example on stdout:\n%s%s", args, code, stdout, stderr)
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(&env{stdout: io.Discard, stderr: io.Discard, log: zap.NewNop()}))
}

func TestVersionAndCompletion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if code, stdout, _ := run(t, args...); code != 0 || !strings.HasPrefix(stdout, "bcregctl "+buildinfo.Get().String()) {
			t.Errorf("%v: exit %d, %q", args, code, stdout)
		}
	}
	code, stdout, _ := run(t, "version", "--json")
	var v map[string]string
	if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || v["version"] != buildinfo.Version || v["go_version"] == "" {
		t.Errorf("version --json: exit %d, %v: %s", code, err, stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, stdout, stderr := run(t, "completion", shell); code != 0 || !strings.Contains(stdout, "bcregctl") {
			t.Errorf("completion %s: exit %d\n%s", shell, code, stderr)
		}
	}
}

// TestLogLevel: warn unless BCREG_LOG_LEVEL or --log-level ask for more
// (the connection's INFO lines are noise in a command's answer).
func TestLogLevel(t *testing.T) {
	tests := []struct {
		name     string
		env      string // BCREG_LOG_LEVEL, "" unset
		flag     string // --log-level, "" not given
		wantInfo bool
	}{
		{"default", "", "", false},
		{"setting", "info", "", true},
		{"flag", "", "info", true},
		{"flag over setting", "info", "error", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("BCREG_LOG_LEVEL", tc.env)
			}
			flag := tc.flag
			if flag == "" {
				flag = "warn"
			}
			log, err := newLogger(io.Discard, flag, tc.flag != "")
			if err != nil {
				t.Fatal(err)
			}
			if got := log.Core().Enabled(zapcore.InfoLevel); got != tc.wantInfo {
				t.Errorf("info enabled = %v, want %v", got, tc.wantInfo)
			}
		})
	}
}
