package deploy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const runbookPath = "../docs/operations.md"

// bcregctlUse matches "bcregctl <command> [<word>]" anywhere in the
// runbook, prose or code: a command that does not exist yet must not be
// written this way. The word is the subcommand when there is one (`dlq
// list`, `requeue corp`); otherwise `<command> <word> --help` is still the
// command's help.
var bcregctlUse = regexp.MustCompile(`\bbcregctl[ \t]+([a-z][a-z0-9-]*)(?:[ \t]+([a-z][a-z-]*))?`)

// flagUse matches a long flag written after a command.
var flagUse = regexp.MustCompile(`(?:^|[\s\[])--([a-z][a-z0-9-]*)`)

// commandUse is one command the runbook names, with the flags it shows.
type commandUse struct {
	flags map[string]bool
	words map[string]bool // the words after the command: its subcommands, if it has any
	lines []int
}

// runbookCommands extracts every `bcregctl <command> [--flag ...]` use. A
// use ends at the end of its code span, a pipe, a separator or a comment.
func runbookCommands(doc string) map[string]*commandUse {
	cmds := map[string]*commandUse{}
	for i, line := range strings.Split(doc, "\n") {
		uses := bcregctlUse.FindAllStringSubmatchIndex(line, -1)
		for k, m := range uses {
			name := line[m[2]:m[3]]
			// A use's flags run to the next use at most.
			rest := line[m[1]:]
			if k+1 < len(uses) {
				rest = line[m[1]:uses[k+1][0]]
			}
			if j := strings.IndexAny(rest, "`|;#)"); j >= 0 {
				rest = rest[:j]
			}
			if j := strings.Index(rest, "&&"); j >= 0 {
				rest = rest[:j]
			}
			u := cmds[name]
			if u == nil {
				u = &commandUse{flags: map[string]bool{}, words: map[string]bool{}}
				cmds[name] = u
			}
			if m[4] >= 0 {
				u.words[line[m[4]:m[5]]] = true
			}
			u.lines = append(u.lines, i+1)
			for _, f := range flagUse.FindAllStringSubmatch(rest, -1) {
				u.flags[f[1]] = true
			}
		}
	}
	return cmds
}

// TestRunbook: the runbook's bcregctl commands and flags are the real ones
// (each command's --help, from a freshly built bcregctl, exits 0 and lists
// the flags shown), and what it names from the manifests exists.
func TestRunbook(t *testing.T) {
	raw, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatalf("the runbook: %v", err)
	}
	doc := string(raw)

	t.Run("bcregctl-commands", func(t *testing.T) {
		cmds := runbookCommands(doc)
		for _, want := range []string{"migrate", "status"} {
			if cmds[want] == nil {
				t.Errorf("the runbook never shows `bcregctl %s`", want)
			}
		}
		bin := buildBcregctl(t)
		names := sortedKeys(cmds)
		for _, name := range names {
			use := cmds[name]
			t.Run(name, func(t *testing.T) {
				out, code := runHelp(t, bin, name)
				if code != 0 {
					t.Fatalf("docs/operations.md lines %v: `bcregctl %s --help` exits %d: not a command (a planned one goes in prose, without the bcregctl prefix):\n%s",
						use.lines, name, code, out)
				}
				// A subcommand's flags are in its own help.
				for _, w := range sortedKeys(use.words) {
					if sub, code := runHelp(t, bin, name+" "+w); code == 0 {
						out += sub
					}
				}
				for _, f := range sortedKeys(use.flags) {
					if f == "help" {
						continue
					}
					if !regexp.MustCompile(`(?m)^\s+-{1,2}` + regexp.QuoteMeta(f) + `\b`).MatchString(out) {
						t.Errorf("docs/operations.md lines %v: `bcregctl %s` has no flag --%s; its help says:\n%s", use.lines, name, f, out)
					}
				}
			})
		}
	})

	t.Run("secrets-documented", func(t *testing.T) {
		for _, s := range documentedSecrets {
			if !strings.Contains(doc, "`"+s+"`") {
				t.Errorf("Secret %s (referenced by the manifests) is not documented in the runbook", s)
			}
		}
	})

	t.Run("alerts-documented", func(t *testing.T) {
		for _, alert := range alertNames(t) {
			if !strings.Contains(doc, "### "+alert+"\n") {
				t.Errorf("alert %s has no section `### %s` under Alerts", alert, alert)
			}
		}
	})

	t.Run("paths-exist", func(t *testing.T) {
		path := regexp.MustCompile("`((?:deploy|docs)/[^`\\s]+)`")
		for _, m := range path.FindAllStringSubmatch(doc, -1) {
			p := m[1]
			if strings.ContainsAny(p, "*{<") {
				continue // a pattern, not a path
			}
			if _, err := os.Stat(filepath.Join("..", p)); err != nil {
				t.Errorf("the runbook names %s: %v", p, err)
			}
		}
	})

	t.Run("jobs-exist", func(t *testing.T) {
		r := renderOverlay(t, "prod")
		for _, m := range regexp.MustCompile(`\bjob/([a-z0-9-]+)`).FindAllStringSubmatch(doc, -1) {
			found := false
			for _, j := range r.jobs {
				found = found || j.Name == m[1]
			}
			if !found {
				t.Errorf("the runbook names job/%s, which the manifests do not define", m[1])
			}
		}
	})

	// The autoscaling derivation and the ScaledObjects must tell the same
	// numbers.
	t.Run("thresholds-documented", func(t *testing.T) {
		r := renderOverlay(t, "prod")
		for _, so := range r.scaledObjects {
			for _, tr := range so.Spec.Triggers {
				if v := tr.Metadata["lagThreshold"]; !strings.Contains(doc, "**"+v+"**") {
					t.Errorf("ScaledObject %s lagThreshold %s does not appear (as **%s**) in the runbook's derivation", so.Name, v, v)
				}
			}
			for _, v := range []*int32{so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount} {
				if v != nil && !strings.Contains(doc, "**"+strconv.Itoa(int(*v))+"**") {
					t.Errorf("ScaledObject %s bound %d does not appear (as **%d**) in the runbook's derivation", so.Name, *v, *v)
				}
			}
		}
	})
}

// buildBcregctl builds the operator CLI from its module, as `make build`
// does (-trimpath shares its build cache).
func buildBcregctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bcregctl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "services", "bcregctl")
	// Build as the workspace does (go.work at the root), even when this
	// module is tested alone: this test is about command names, and `make
	// lint` checks that each module builds by itself.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOWORK=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ../services/bcregctl: %v\n%s", err, out)
	}
	return bin
}

// runHelp runs `bcregctl <command> --help` with no BCREG_ settings, and
// returns its output and exit status.
func runHelp(t *testing.T, bin, command string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(strings.Fields(command), "--help")...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	default:
		t.Fatalf("run bcregctl %s --help: %v", command, err)
		return "", -1
	}
}

// alertNames reads the alert names from the base PrometheusRule.
func alertNames(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(k8sDir, "base", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(raw, &pr); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	var names []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no alerts in prometheusrule.yaml")
	}
	return names
}

// TestRunbookCommandExtraction pins what counts as a command use, so a
// planned command cannot slip through in a form the extractor misses.
func TestRunbookCommandExtraction(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want map[string][]string // command -> flags
	}{
		{"code span with optional flags", "run `bcregctl status [--json] [--watch 5s]` now", map[string][]string{"status": {"json", "watch"}}},
		{"flags stop at the code span", "`bcregctl migrate` then `--force`", map[string][]string{"migrate": nil}},
		{"comment ends the use", "bcregctl migrate --db-only   # not --nats-only", map[string][]string{"migrate": {"db-only"}}},
		{"two uses on a line", "`bcregctl migrate --nats-only` and `bcregctl generate --profile snapshot CORP`", map[string][]string{"migrate": {"nats-only"}, "generate": {"profile"}}},
		{"planned command in prose is caught", "then bcregctl adopt the database", map[string][]string{"adopt": nil}},
		{"a shell function is not a use", "bcregctl() { oc debug job/x -- /usr/local/bin/bcregctl \"$@\"; }", map[string][]string{}},
		{"a planned command without the prefix", "a planned `dlq` command", map[string][]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runbookCommands(tt.doc)
			if len(got) != len(tt.want) {
				t.Fatalf("commands %v, want %v", sortedKeys(got), tt.want)
			}
			for cmd, flags := range tt.want {
				u := got[cmd]
				if u == nil {
					t.Fatalf("command %s not found in %v", cmd, sortedKeys(got))
				}
				if strings.Join(sortedKeys(u.flags), ",") != strings.Join(flags, ",") {
					t.Errorf("%s flags %v, want %v", cmd, sortedKeys(u.flags), flags)
				}
			}
		})
	}
}
