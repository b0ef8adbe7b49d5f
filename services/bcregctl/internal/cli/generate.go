package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func init() {
	register("generate", "dry run: print the credentials a profile would issue for corporations", runGenerate)
}

// generateConfig is what generate reads: only the source database.
type generateConfig struct {
	config.SourceDB
	PostAddresses bool `envconfig:"POST_ADDRESSES" default:"false"`
}

func runGenerate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "generate", "--profile snapshot|history [--now TIME] CORP_NUM...",
		"BCREG_SOURCE_DB_URL (read only), BCREG_POST_ADDRESSES")
	profileName := fs.String("profile", "", "credential profile: snapshot or history (required)")
	nowFlag := fs.String("now", "", "BC local time taken as now, YYYY-MM-DDTHH:MM:SS (default: the current time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profileName == "" {
		return fmt.Errorf("%w: --profile is required (snapshot or history)", errUsage)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: name at least one CORP_NUM", errUsage)
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse("2006-01-02T15:04:05", *nowFlag)
		if err != nil {
			return fmt.Errorf("%w: --now %q: want YYYY-MM-DDTHH:MM:SS", errUsage, *nowFlag)
		}
		now = t
	} else {
		now = regclock.At(now)
	}
	var cfg generateConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	profile, err := credential.New(*profileName, credential.Options{PostAddresses: cfg.PostAddresses, Log: e.log})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	pool, err := sourcedb.Open(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	corpNums := fs.Args()
	batch, err := sourcedb.NewLoader(pool, e.log).Load(ctx, corpNums)
	if err != nil {
		return err
	}
	// The full range: from event 0 up to now, as an initial load would.
	params := credential.FullRange(regevent.Through(now), now)
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	failed := false
	for _, l := range credential.Lines(profile, corpNums, batch, params) {
		if _, isErr := l.(*credential.ErrorLine); isErr {
			failed = true
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if failed {
		return exitError{code: 1}
	}
	return nil
}
