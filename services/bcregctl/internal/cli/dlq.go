package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/dlqops"
)

func init() {
	register("dlq", "dead letters: list, show, requeue, purge (filters: --stage, --corp, --reason)", runDLQ)
}

type dlqConfig struct {
	config.NATS
	config.EventDB
	bus.Backoff
}

// dlqFlags are the flags every dlq subcommand takes.
type dlqFlags struct {
	stage, corp, reason *string
	limit               *int
	asJSON, yes         *bool
}

func newDLQFlags(e *env, sub string) (*flag.FlagSet, dlqFlags) {
	fs := newFlags(e, "dlq "+sub, "[--stage S] [--corp C] [--reason TEXT] [SEQ...]", "BCREG_NATS_URL, BCREG_EVENT_DB_URL")
	return fs, dlqFlags{
		stage:  fs.String("stage", "", "only dead letters of this stage: builder, poster or mover"),
		corp:   fs.String("corp", "", "only dead letters of this corporation"),
		reason: fs.String("reason", "", "only dead letters whose reason contains this text"),
		limit:  fs.Int("limit", 0, "list at most N (0: all)"),
		asJSON: fs.Bool("json", false, "list as JSON"),
		yes:    fs.Bool("yes", false, "confirm purge"),
	}
}

func runDLQ(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, "usage: bcregctl dlq list|show|requeue|purge [flags]\n\n"+
			"  list    [--stage S] [--corp C] [--reason TEXT] [--limit N] [--json]\n"+
			"  show    SEQ\n"+
			"  requeue [--stage S] [--corp C] [--reason TEXT] [SEQ...]   publish back to the original stream, then remove\n"+
			"  purge   [--stage S] [--corp C] [--reason TEXT] [SEQ...] --yes\n\n"+
			"settings: BCREG_NATS_URL, BCREG_EVENT_DB_URL (requeue and purge are recorded in operator_action)\n\nflags:")
		fs, _ := newDLQFlags(e, "")
		fs.PrintDefaults()
		if len(args) == 0 {
			return fmt.Errorf("%w: name a subcommand", errUsage)
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs, fl := newDLQFlags(e, sub)
	stage, corp, reason, limit, asJSON, yes := fl.stage, fl.corp, fl.reason, fl.limit, fl.asJSON, fl.yes
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if sub == "purge" && !*yes {
		return fmt.Errorf("%w: purge deletes dead letters for good; add --yes", errUsage)
	}
	var cfg dlqConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-dlq", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	filter := bus.DLQFilter{Stage: *stage, CorpNum: *corp, Reason: *reason}
	switch sub {
	case "list":
		entries, err := bus.ListDLQ(ctx, js, filter, *limit)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(entries)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tSTORED\tSTAGE\tCORP\tDELIVERIES\tFROM\tREASON")
		for _, en := range entries {
			dl := en.DeadLetter
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s#%d\t%s\n", en.Seq, en.StoredAt.UTC().Format(time.RFC3339), dl.Stage, dl.CorpNum,
				dl.Deliveries, dl.OriginalStream, dl.OriginalSeq, truncate(dl.Reason, 100))
		}
		return tw.Flush()
	case "show":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: dlq show SEQ", errUsage)
		}
		seq, err := strconv.ParseUint(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: SEQ %q is not a number", errUsage, fs.Arg(0))
		}
		en, err := bus.GetDLQ(ctx, js, seq)
		if err != nil {
			return err
		}
		// A large dead letter's bytes are kept apart (payload_ref): read
		// them back; when they are lost, say why beside the entry.
		payload, perr := bus.DLQPayload(ctx, js, en.DeadLetter)
		out := struct {
			bus.DLQEntry
			Payload      string `json:"payload_text"`
			PayloadError string `json:"payload_error,omitempty"`
		}{DLQEntry: en, Payload: string(payload)}
		if perr != nil {
			out.PayloadError = perr.Error()
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "requeue", "purge":
		entries, err := dlqops.Select(ctx, js, filter, fs.Args())
		if errors.Is(err, dlqops.ErrNotSeq) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if err != nil {
			return err
		}
		pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
		if err != nil {
			return err
		}
		defer pool.Close()
		return actOnDLQ(ctx, e, js, pool, sub, entries, filter, cfg.Backoff)
	default:
		return fmt.Errorf("%w: unknown dlq subcommand %q (list, show, requeue, purge)", errUsage, sub)
	}
}

// actOnDLQ requeues or purges entries (dlqops.Act), naming each failure on
// stderr and the count on stdout.
func actOnDLQ(ctx context.Context, e *env, js jetstream.JetStream, pool *pgxpool.Pool, action string, entries []bus.DLQEntry, f bus.DLQFilter, backoff bus.Backoff) error {
	done, failures, err := dlqops.Act(ctx, js, pool, action, entries, f, backoff, "")
	for _, fl := range failures {
		fmt.Fprintf(e.stderr, "dlq %s %d: %v\n", action, fl.Seq, fl.Err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d of %d dead letters\n", action, len(done), len(entries))
	if len(failures) > 0 {
		return failures[0].Err
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
