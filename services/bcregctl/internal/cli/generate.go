package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func init() { register(newGenerate) }

// generateConfig is what generate reads: only the source database.
type generateConfig struct {
	config.SourceDB
	PostAddresses bool `envconfig:"POST_ADDRESSES" default:"false"`
}

func newGenerate(e *env) *cobra.Command {
	var profileName, nowFlag string
	var asJSON bool
	c := &cobra.Command{
		Use:   "generate --profile snapshot|history [--now TIME] CORP_NUM...",
		Short: "dry run: print the credentials a profile would issue for corporations",
		Long: settings(`Print what a profile would issue for these corporations over their whole
history, nothing written: one JSON line per credential (a corporation that
cannot be generated gets an error line, and the exit status is 1); with --json
one JSON array of the same lines.`, "BCREG_SOURCE_DB_URL (read only), BCREG_POST_ADDRESSES"),
		Example: `  bcregctl generate --profile snapshot 0191294
  bcregctl generate 0191294 A9592574 --profile history --now 2019-03-01T00:00:00 --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%w: name at least one CORP_NUM", errUsage)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runGenerate(c.Context(), e, profileName, nowFlag, asJSON, args)
		},
	}
	c.Flags().StringVar(&profileName, "profile", "", "credential profile: snapshot or history (required)")
	c.Flags().StringVar(&nowFlag, "now", "", "BC local time taken as now, YYYY-MM-DDTHH:MM:SS (default: the current time)")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON array instead of JSON lines")
	return c
}

func runGenerate(ctx context.Context, e *env, profileName, nowFlag string, asJSON bool, corpNums []string) error {
	if profileName == "" {
		return fmt.Errorf("%w: --profile is required (snapshot or history)", errUsage)
	}
	now := time.Now()
	if nowFlag != "" {
		t, err := time.Parse("2006-01-02T15:04:05", nowFlag)
		if err != nil {
			return fmt.Errorf("%w: --now %q: want YYYY-MM-DDTHH:MM:SS", errUsage, nowFlag)
		}
		now = t
	} else {
		now = regclock.At(now)
	}
	var cfg generateConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	profile, err := credential.New(profileName, credential.Options{PostAddresses: cfg.PostAddresses, Log: e.log})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	pool, err := sourcedb.Open(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	batch, err := sourcedb.NewLoader(pool, e.log).Load(ctx, corpNums)
	if err != nil {
		return err
	}
	// The full range: from event 0 up to now, as an initial load would.
	params := credential.FullRange(regevent.Through(now), now)
	lines := credential.Lines(profile, corpNums, batch, params)
	failed := false
	for _, l := range lines {
		if _, isErr := l.(*credential.ErrorLine); isErr {
			failed = true
		}
	}
	if err := writeLines(e.stdout, lines, asJSON); err != nil {
		return err
	}
	if failed {
		return exitError{code: 1}
	}
	return nil
}

// writeLines writes one JSON line per value, or with asJSON one JSON array.
func writeLines[T any](w io.Writer, lines []T, asJSON bool) error {
	if asJSON {
		return writeJSON(w, nonNil(lines))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}
