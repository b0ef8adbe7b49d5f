package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/synth"
	"github.com/bcgov/bcreg-events/pkg/progress"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// seedConfig is what seed reads: only the source database, which it
// writes (never point it at a real registry).
type seedConfig struct {
	config.SourceDB
}

func runSeed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "seed", "--synthetic N [--seed S] [--append-events M] [--stats]",
		"BCREG_SOURCE_DB_URL (written: test databases only)")
	n := fs.Int("synthetic", 0, "write N synthetic corporations (a fresh database; deterministic for --seed)")
	seed := fs.Uint64("seed", 1, "data set: the same seed writes the same rows")
	appendEvents := fs.Int("append-events", 0, "then add M new events, timestamped now, to M existing synthetic corporations")
	stats := fs.Bool("stats", false, "then print the shape of the synthetic data as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %s", errUsage, joinArgs(fs.Args()))
	case *n < 0 || *n > synth.MaxCorporations:
		return fmt.Errorf("%w: --synthetic %d: want 1 to %d", errUsage, *n, synth.MaxCorporations)
	case *appendEvents < 0:
		return fmt.Errorf("%w: --append-events %d: want a positive number", errUsage, *appendEvents)
	case *n == 0 && *appendEvents == 0 && !*stats:
		return fmt.Errorf("%w: name --synthetic N, --append-events M or --stats", errUsage)
	}
	var cfg seedConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	pool, err := sourcedb.Open(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()

	if *n > 0 {
		// Progress goes to stderr: a bar on a terminal, lines otherwise.
		bar := progress.New(e.stderr, "seed", "corporations", int64(*n), progress.Options{})
		res, err := synth.Seed(ctx, pool, synth.Options{Corporations: *n, Seed: *seed, Progress: func(done, total int) {
			bar.SetTotal(int64(total))
			bar.Set(int64(done))
		}})
		bar.Finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "seeded %d corporations (seed %d) in %s: %.0f corporations/s (rows %s, indexes %s)\n",
			res.Corporations, *seed, res.Total.Round(time.Millisecond), float64(res.Corporations)/res.Total.Seconds(),
			res.Load.Round(time.Millisecond), res.Index.Round(time.Millisecond))
		fmt.Fprintf(e.stdout, "rows: %s\n", countList(res.Rows))
		fmt.Fprintf(e.stdout, "event ids: %d to %d\n", res.FirstEventID, res.LastEventID)
	}
	if *appendEvents > 0 {
		res, err := synth.Append(ctx, pool, synth.AppendOptions{Events: *appendEvents, Seed: *seed})
		if err != nil {
			return err
		}
		const layout = "2006-01-02 15:04:05.000"
		fmt.Fprintf(e.stdout, "appended %d events: event ids %d to %d, timestamps %s to %s (BC local)\n",
			res.Events, res.FirstEventID, res.LastEventID, res.First.Format(layout), res.Last.Format(layout))
		fmt.Fprintf(e.stdout, "changes: %s\n", countList(res.Kinds))
	}
	if *stats {
		shape, err := synth.Stats(ctx, pool)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(shape); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

// countList formats counts as "a 1, b 2" in key order.
func countList[V int | int64](m map[string]V) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
