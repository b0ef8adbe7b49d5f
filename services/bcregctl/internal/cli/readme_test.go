package cli

import (
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

// readmePath is the repository's README, from this package's directory.
const readmePath = "../../../../README.md"

// TestREADMECommandsMatchTheCode: the README's folders table names
// bcregctl's commands, exactly; each has a `bcregctl <command>` entry;
// and every flag the README shows with a command is one of its flags.
func TestREADMECommandsMatchTheCode(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	root := newRoot(&env{stdout: io.Discard, stderr: io.Discard, log: zap.NewNop()})
	var code []string
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			code = append(code, c.Name())
		}
	}
	slices.Sort(code)

	var row string
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `services/bcregctl` |") {
			row = strings.TrimPrefix(line, "| `services/bcregctl` |")
		}
	}
	var table []string
	for _, m := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(row, -1) {
		table = append(table, m[1])
	}
	slices.Sort(table)
	if diff := cmp.Diff(code, table); diff != "" {
		t.Errorf("README's folders table, services/bcregctl row (-code +README):\n%s", diff)
	}

	use := regexp.MustCompile("`bcregctl ([a-z-]+(?: [a-z-]+)?)([^`]*)`")
	flag := regexp.MustCompile(`--([a-z][a-z-]*)`)
	documented := map[string]bool{}
	for _, m := range use.FindAllStringSubmatch(readme, -1) {
		args := strings.Fields(m[1])
		cmd, _, err := root.Find(args)
		if err != nil || cmd == root {
			t.Errorf("README shows `bcregctl %s`: no such command", m[1])
			continue
		}
		documented[strings.Fields(cmd.CommandPath())[1]] = true
		for _, f := range flag.FindAllStringSubmatch(m[2], -1) {
			if cmd.Flags().Lookup(f[1]) == nil && cmd.InheritedFlags().Lookup(f[1]) == nil && !hasSubFlag(cmd, f[1]) {
				t.Errorf("README shows `bcregctl %s%s`: %s has no flag --%s", m[1], m[2], cmd.CommandPath(), f[1])
			}
		}
	}
	for _, name := range code {
		if !documented[name] {
			t.Errorf("README has no `bcregctl %s` entry", name)
		}
	}
}

// hasSubFlag reports whether a subcommand of c has the flag (a README
// line may show a group with its subcommands' filters).
func hasSubFlag(c *cobra.Command, name string) bool {
	for _, s := range c.Commands() {
		if s.Flags().Lookup(name) != nil {
			return true
		}
	}
	return false
}
