package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
)

func init() { register(newVersion) }

func newVersion(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version [--json]",
		Short: "the version bcregctl was built as (also --version)",
		Long:  "Print the version, commit and build date set at link time, and the Go version.",
		Example: `  bcregctl version
  bcregctl version --json`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return writeJSON(e.stdout, buildinfo.Get())
			}
			_, err := fmt.Fprintln(e.stdout, versionLine())
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

// versionLine is the answer of `version` and `--version`.
func versionLine() string { return "bcregctl " + buildinfo.Get().String() }
