package cli

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/webhook"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

func init() { register(newAudit) }

type auditConfig struct {
	config.EventDB
	config.SourceDB
	config.NATS
	bus.Backoff
	Profile             string        `envconfig:"PROFILE" default:"history"`
	OrgBookDBURL        config.Secret `envconfig:"ORGBOOK_DB_URL"`
	OrgBookAPIURL       string        `envconfig:"ORGBOOK_API_URL"`
	OrgBookAPIRate      float64       `envconfig:"ORGBOOK_API_RATE" default:"25"`
	WebhookURL          config.Secret `envconfig:"WEBHOOK_URL"`
	ProjectName         string        `envconfig:"PROJECT_NAME"`
	FriendlyProjectName string        `envconfig:"FRIENDLY_PROJECT_NAME"`
}

// exitFindings is the exit status of an audit with findings.
const exitFindings = 3

// auditOpts are audit's flags.
type auditOpts struct {
	asJSON, requeue, yes, api bool
	ignore, corpList          string
	batch                     int
	grace                     time.Duration
}

func newAudit(e *env) *cobra.Command {
	var o auditOpts
	c := &cobra.Command{
		Use:   "audit [--json] [--ignore FILE] [--corp CORP_NUM,...] [--requeue [--yes]]",
		Short: "compare the registry, the event database and OrgBook; requeue what drifted (--requeue --yes)",
		Long: settings(`Compare the registry, the event database and OrgBook, corporation by
corporation, and report what drifted; exit status 3 when there are findings.
With --requeue --yes, requeue the corporations with findings and re-post
what they delivered (a dry run without --yes).`,
			"BCREG_SOURCE_DB_URL, BCREG_EVENT_DB_URL, BCREG_ORGBOOK_DB_URL (or with --corp BCREG_ORGBOOK_API_URL, BCREG_ORGBOOK_API_RATE), BCREG_PROFILE, BCREG_WEBHOOK_URL; --requeue --yes: BCREG_NATS_URL"),
		Example: `  bcregctl audit --json
  bcregctl audit --corp 0191294,A9592574 --requeue --yes
  BCREG_ORGBOOK_API_URL=https://orgbook.gov.bc.ca bcregctl audit --corp 0191294 --api`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runAudit(c.Context(), e, o) },
	}
	f := c.Flags()
	f.BoolVar(&o.asJSON, "json", false, "write the report as JSON")
	f.StringVar(&o.ignore, "ignore", "", "a file of corporations (numbers or registration ids) to skip: one a line, or a JSON array")
	f.StringVar(&o.corpList, "corp", "", "audit only these corporations (comma-separated)")
	f.BoolVar(&o.api, "api", false, "with --corp: read OrgBook through its API (BCREG_ORGBOOK_API_URL, at most BCREG_ORGBOOK_API_RATE requests/s) even when BCREG_ORGBOOK_DB_URL is set")
	f.BoolVar(&o.requeue, "requeue", false, "repair: requeue the corporations with findings and re-post what they delivered (a dry run without --yes)")
	f.BoolVar(&o.yes, "yes", false, "with --requeue: act")
	f.IntVar(&o.batch, "batch", 2000, "corporations per round of queries")
	f.DurationVar(&o.grace, "grace", time.Hour, "how long a credential may be due and undelivered before it counts as stuck")
	return c
}

// runAudit only checks flags and loads settings; the work is package audit's.
func runAudit(ctx context.Context, e *env, o auditOpts) error {
	if o.yes && !o.requeue {
		return fmt.Errorf("%w: --yes goes with --requeue", errUsage)
	}
	var corps []string
	for _, c := range strings.Split(o.corpList, ",") {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(corps, c) {
			corps = append(corps, c)
		}
	}
	var cfg auditConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	// The full audit reads OrgBook's database; named corporations may be
	// read through the API (it cannot page through every topic).
	useAPI := len(corps) > 0 && (o.api || cfg.OrgBookDBURL == "") && cfg.OrgBookAPIURL != ""
	switch {
	case o.api && len(corps) == 0:
		return fmt.Errorf("%w: --api goes with --corp (the full audit reads BCREG_ORGBOOK_DB_URL)", errUsage)
	case o.api && cfg.OrgBookAPIURL == "":
		return fmt.Errorf("%w: --api: BCREG_ORGBOOK_API_URL is not set", errUsage)
	case !useAPI && cfg.OrgBookDBURL == "":
		return fmt.Errorf("%w: BCREG_ORGBOOK_DB_URL is not set (OrgBook's database, a read-only user; with --corp, BCREG_ORGBOOK_API_URL will do)", errUsage)
	case useAPI && (cfg.OrgBookAPIRate <= 0 || cfg.OrgBookAPIRate > 1000):
		return fmt.Errorf("%w: BCREG_ORGBOOK_API_RATE=%v: want more than 0 and at most 1000 requests/s (OrgBook BC allows 25)", errUsage, cfg.OrgBookAPIRate)
	}
	profile, err := credential.New(cfg.Profile, credential.Options{Log: e.log})
	if err != nil {
		return fmt.Errorf("BCREG_PROFILE: %w", err)
	}
	if profile.Name() != credential.ProfileHistory {
		return fmt.Errorf("BCREG_PROFILE=%s: OrgBook BC stores the history profile's registries.ca credentials; the audit compares those", cfg.Profile)
	}
	opts := audit.Options{Profile: profile, Corps: corps, Batch: o.batch, Grace: o.grace, Log: e.log, Now: time.Now()}
	if o.ignore != "" {
		if opts.Ignore, err = audit.ReadIgnore(o.ignore); err != nil {
			return err
		}
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	src, err := openOptional(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if err != nil {
		return err
	}
	defer src.Close()
	if useAPI {
		api, err := audit.OpenAPI(ctx, cfg.OrgBookAPIURL, audit.APIOptions{Rate: cfg.OrgBookAPIRate})
		if err != nil {
			return err
		}
		defer func() { e.log.Info("audit: OrgBook API read", zap.Int("throttled", api.Throttled())) }()
		opts.OrgBook = api
	} else {
		ob, err := openOptional(ctx, cfg.OrgBookDBURL.Value(), "BCREG_ORGBOOK_DB_URL")
		if err != nil {
			return err
		}
		defer ob.Close()
		if opts.OrgBook, err = audit.OpenDB(ctx, ob); err != nil {
			return err
		}
	}
	opts.Registry, opts.EventDB = src, pool

	rep, err := audit.Run(ctx, opts)
	if err != nil {
		return err
	}
	// A full audit is the console's "last audit" (a --corp one is partial).
	if len(corps) == 0 {
		if _, err := rep.Record(ctx, pool, "bcregctl"); err != nil {
			return err
		}
	}
	if o.asJSON {
		if err := rep.WriteJSON(e.stdout); err != nil {
			return err
		}
	} else {
		rep.WriteText(e.stdout)
		if steps := rep.PersonSteps(); len(steps) > 0 {
			fmt.Fprintln(e.stdout, "\nsteps for a person:")
			for _, s := range steps {
				fmt.Fprintln(e.stdout, "  "+s)
			}
		}
	}
	if cfg.WebhookURL != "" {
		project, friendly := cmp.Or(cfg.ProjectName, webhook.DefaultProjectName), cmp.Or(cfg.FriendlyProjectName, webhook.DefaultFriendlyProjectName)
		client := &http.Client{Timeout: 10 * time.Second}
		if err := webhook.Post(ctx, client, cfg.WebhookURL.Value(), rep.Summary(project, friendly)); err != nil {
			fmt.Fprintf(e.stderr, "audit: summary not posted: %v\n", err)
		}
	}
	if o.requeue {
		if err := auditRepair(ctx, e, cfg, pool, src, rep, o.yes); err != nil {
			return err
		}
	}
	if len(rep.Findings) > 0 {
		return exitError{code: exitFindings}
	}
	return nil
}

// auditRepair requeues the corporations with findings (picking up registry
// changes that raised no event) and re-posts what they delivered (OrgBook
// lost or changed it; the builder issues a known credential only once).
func auditRepair(ctx context.Context, e *env, cfg auditConfig, pool, src *pgxpool.Pool, rep *audit.Report, act bool) error {
	corps := rep.Corps()
	out := e.stderr
	if len(corps) == 0 {
		fmt.Fprintln(out, "audit --requeue: nothing to requeue")
		return nil
	}
	if !act {
		fmt.Fprintf(out, "audit --requeue (dry run; --yes acts): would requeue and re-post %d corporation(s): %s\n", len(corps), strings.Join(corps, " "))
		return nil
	}
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-audit", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	r, err := corpops.RepairAudit(ctx, pool, src, js, cfg.Backoff, cfg.Profile, corps, "audit", e.log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit --requeue: requeued %d corporation(s) up to event %d; %d delivered credential(s) re-posted (%d published now)\n",
		len(corps), r.Through, r.Reposted, r.Published)
	return nil
}
