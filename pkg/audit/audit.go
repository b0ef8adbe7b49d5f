// Package audit is the OrgBook audit of `bcregctl audit` and of the
// event-poller's schedule (BCREG_AUDIT_SCHEDULE): it proves, corporation by corporation
// but set-based (a batch of corporations per query), that the event
// database and OrgBook hold what the profile's generator issues from the
// registry today, and says what to do where they do not
// (docs/design/orgbook.md, "The audit").
package audit

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/auditdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// Check names a kind of finding.
type Check string

// The checks, in report order.
const (
	// Registry vs event processor.
	CheckNeverProcessed   Check = "never_processed"
	CheckNoRegistration   Check = "no_registration_credential"
	CheckStuckCredentials Check = "stuck_credentials"
	// Registry vs OrgBook.
	CheckNoTopic          Check = "no_topic"
	CheckEntityType       Check = "entity_type"
	CheckName             Check = "name"
	CheckEntityStatus     Check = "entity_status"
	CheckRegistrationDate Check = "registration_date"
	CheckJurisdiction     Check = "home_jurisdiction"
	CheckBusinessNumber   Check = "business_number"
	CheckRelationship     Check = "relationship"
	CheckNotInRegistry    Check = "topic_not_in_registry"
)

// Checks lists every check in report order.
var Checks = []Check{CheckNeverProcessed, CheckNoRegistration, CheckStuckCredentials, CheckNoTopic, CheckEntityType,
	CheckName, CheckEntityStatus, CheckRegistrationDate, CheckJurisdiction, CheckBusinessNumber, CheckRelationship, CheckNotInRegistry}

// Finding is one corporation failing one check.
type Finding struct {
	CorpNum  string `json:"corp_num"` // empty for a topic the registry does not have
	SourceID string `json:"source_id"`
	Check    Check  `json:"check"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
}

// Report is an audit's result.
type Report struct {
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Profile  string    `json:"profile"`
	Audited  int       `json:"audited"`  // corporations in scope compared
	Pending  int       `json:"pending"`  // skipped: waiting in the queue
	Ignored  int       `json:"ignored"`  // skipped: on the ignore list
	Topics   int       `json:"topics"`   // OrgBook topics with a registration credential read
	Counts   []Count   `json:"counts"`   // per check, every check listed
	Findings []Finding `json:"findings"` // never null
}

// Count is the number of findings of one check.
type Count struct {
	Check Check `json:"check"`
	Count int   `json:"count"`
}

// Options configure an audit.
type Options struct {
	Registry *pgxpool.Pool // BCREG_SOURCE_DB_URL
	EventDB  *pgxpool.Pool // BCREG_EVENT_DB_URL
	OrgBook  OrgBook
	Profile  credential.Profile
	// Corps, when set, limits the audit to these corporations (and skips
	// the search for topics the registry does not have).
	Corps []string
	// Ignore lists corporations (numbers or registration ids) to skip.
	Ignore map[string]bool
	// Batch is how many corporations one round of queries covers.
	Batch int
	// Grace is how long a credential may be due without being delivered
	// before it counts as stuck.
	Grace time.Duration
	Now   time.Time
	Log   *zap.Logger
}

// Run audits.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Batch < 1 {
		o.Batch = 2000
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	start := time.Now()
	r := &Report{Started: o.Now.UTC(), Profile: o.Profile.Name(), Findings: []Finding{}}

	newest, ok, err := sourcedb.DiscoverNewestEvent(ctx, o.Registry, regclock.At(o.Now))
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	last := regevent.Start
	if ok {
		last = newest.Position
	}
	params := credential.FullRange(last, regclock.At(o.Now))

	conn, err := o.EventDB.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: BCREG_EVENT_DB_URL: %w", err)
	}
	defer conn.Release()
	all := len(o.Corps) == 0
	if all {
		if err := auditdb.AuditStartKnown(ctx, conn); err != nil {
			return nil, err
		}
	}
	// Two stages overlap: the registry's batches are read and generated
	// (on every core) one batch ahead while the event database and OrgBook
	// are queried for the current one, so the audit's CPU and the
	// databases' work add up no longer (docs/design/orgbook.md, "The
	// audit"). At most two prepared batches wait: memory stays bounded by
	// the batch, not N.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan *prepared, 1)
	go func() {
		defer close(ready)
		loader := sourcedb.NewLoader(o.Registry, o.Log)
		after := ""
		for i := 0; ; i += o.Batch {
			var nums []string
			var err error
			if all {
				nums, err = sourcedb.DiscoverCorpNums(ctx, o.Registry, after, o.Batch)
			} else if i < len(o.Corps) {
				nums = o.Corps[i:min(i+o.Batch, len(o.Corps))]
			}
			var p *prepared
			switch {
			case err != nil:
				p = &prepared{err: fmt.Errorf("audit: %w", err)}
			case len(nums) == 0:
				return
			default:
				after = nums[len(nums)-1]
				p = o.prepare(ctx, loader, params, nums, all)
			}
			select {
			case ready <- p:
			case <-ctx.Done():
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	var waited, checking time.Duration
	for {
		t0 := time.Now()
		p, ok := <-ready
		waited += time.Since(t0)
		if !ok {
			break
		}
		if p.err != nil {
			return nil, p.err
		}
		t1 := time.Now()
		if err := o.check(ctx, conn, p, r, all); err != nil {
			return nil, err
		}
		checking += time.Since(t1)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	t2 := time.Now()
	if all {
		if err := o.extraTopics(ctx, conn, r); err != nil {
			return nil, err
		}
	}
	// Where the time went: waiting for the registry and the generator, the
	// event database and OrgBook per batch, OrgBook's extra topics.
	o.Log.Info("audit: done", zap.Duration("waiting_for_registry", waited), zap.Duration("comparing", checking),
		zap.Duration("extra_topics", time.Since(t2)), zap.Int("findings", len(r.Findings)))
	r.Seconds = time.Since(start).Seconds()
	r.Counts = countFindings(r.Findings)
	return r, nil
}

// prepared is one batch read from the registry and generated: what
// OrgBook should hold of each corporation in scope.
type prepared struct {
	exp      []Expected
	corps    []string // of exp
	ids      []string // registration ids issued (ignored corporations' too)
	ignored  int
	findings []Finding // corporations --corp named that the registry lacks
	err      error
}

// prepare loads a batch from the registry once and runs the generator
// over it, on every core (it is pure, and the audit's largest cost).
func (o *Options) prepare(ctx context.Context, loader *sourcedb.Loader, params credential.Params, nums []string, all bool) *prepared {
	b, err := loader.Load(ctx, nums)
	if err != nil {
		return &prepared{err: fmt.Errorf("audit: %w", err)}
	}
	type gen struct {
		e       Expected
		skip    bool
		missing error
		err     error
	}
	out := make([]gen, len(nums))
	workers := min(runtime.GOMAXPROCS(0), len(nums))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(nums); i += workers {
				snap, err := b.Get(nums[i])
				switch {
				case err != nil:
					out[i].missing = err
				case !o.Profile.InScope(snap):
					out[i].skip = true
				default:
					res, err := o.Profile.Generate(snap, params)
					switch {
					case err != nil:
						out[i].err = fmt.Errorf("audit: generate %s: %w", nums[i], err)
					case res.Note == credential.NoteWithdrawn:
						out[i].skip = true // hidden: never published
					default:
						out[i].e = expect(res, o.Now)
					}
				}
			}
		}()
	}
	wg.Wait()
	p := &prepared{}
	for i, g := range out {
		switch {
		case g.err != nil:
			return &prepared{err: g.err}
		case g.missing != nil && all:
			return &prepared{err: fmt.Errorf("audit: %w", g.missing)}
		case g.missing != nil:
			p.findings = append(p.findings, Finding{CorpNum: nums[i], Check: CheckNeverProcessed, Expected: "a corporation of the registry", Found: g.missing.Error()})
			continue
		case g.skip:
			continue
		}
		e := g.e
		if e.HasRegistration {
			p.ids = append(p.ids, e.SourceID)
		}
		if o.Ignore[nums[i]] || (e.SourceID != "" && o.Ignore[e.SourceID]) {
			p.ignored++
			continue
		}
		p.exp = append(p.exp, e)
		p.corps = append(p.corps, nums[i])
	}
	return p
}

// check compares one prepared batch with the event database (one query)
// and OrgBook (one query).
func (o *Options) check(ctx context.Context, conn eventdb.Querier, p *prepared, r *Report, all bool) error {
	r.Findings = append(r.Findings, p.findings...)
	r.Ignored += p.ignored
	if all && len(p.ids) > 0 {
		if err := auditdb.AuditAddKnown(ctx, conn, p.ids); err != nil {
			return err
		}
	}
	if len(p.exp) == 0 {
		return nil
	}
	states, err := auditdb.AuditCorps(ctx, conn, messages.SystemBCReg, p.corps, o.Now, o.Grace)
	if err != nil {
		return err
	}
	found, err := o.OrgBook.Lookup(ctx, p.ids)
	if err != nil {
		return err
	}
	for _, e := range p.exp {
		st := states[e.CorpNum]
		if st.Pending {
			r.Pending++
			continue
		}
		r.Audited++
		r.Findings = append(r.Findings, compare(e, st, found[e.SourceID])...)
	}
	return nil
}

// compare lists one corporation's findings.
func compare(e Expected, st auditdb.AuditCorp, f *Found) []Finding {
	var out []Finding
	add := func(c Check, expected, found string) {
		out = append(out, Finding{CorpNum: e.CorpNum, SourceID: e.SourceID, Check: c, Expected: expected, Found: found})
	}
	switch {
	case !st.Processed:
		add(CheckNeverProcessed, "processed", "no processed work item, no credential")
	case e.HasRegistration && !st.RegistrationDelivered:
		add(CheckNoRegistration, "a registration credential delivered (Y)", "none delivered")
	}
	if n := st.Rejected + st.GivenUp + st.Stuck; n > 0 {
		add(CheckStuckCredentials, "0", fmt.Sprintf("%d rejected (N), %d given up (D), %d outstanding past due", st.Rejected, st.GivenUp, st.Stuck))
	}
	if !e.HasRegistration {
		return out
	}
	if f == nil || !f.HasRegistration {
		found := "no topic"
		if f != nil {
			found = "a topic without a registration credential"
		}
		add(CheckNoTopic, "topic "+e.SourceID, found)
		return out
	}
	diff := func(c Check, expected, found string, same bool) {
		if !same {
			add(c, expected, found)
		}
	}
	diff(CheckEntityType, e.EntityType, f.EntityType, e.EntityType == f.EntityType)
	diff(CheckName, e.Name, f.Name, strings.TrimSpace(e.Name) == strings.TrimSpace(f.Name))
	diff(CheckEntityStatus, e.EntityStatus, f.EntityStatus, e.EntityStatus == f.EntityStatus)
	diff(CheckRegistrationDate, e.RegistrationDate, f.RegistrationDate, sameInstant(e.RegistrationDate, f.RegistrationDate))
	diff(CheckJurisdiction, e.HomeJurisdiction, f.HomeJurisdiction, e.HomeJurisdiction == f.HomeJurisdiction)
	diff(CheckBusinessNumber, e.BusinessNumber, f.BusinessNumber, e.BusinessNumber == f.BusinessNumber)
	for _, rel := range e.Related {
		if !slices.Contains(f.Related, rel) {
			add(CheckRelationship, "related to "+rel, "missing in OrgBook")
		}
	}
	for _, rel := range f.Related {
		if !slices.Contains(e.Related, rel) {
			add(CheckRelationship, "not related to "+rel, "related to "+rel+" in OrgBook")
		}
	}
	return out
}

// extraTopics pages through OrgBook's registered topics and reports those
// no corporation in scope issues.
func (o *Options) extraTopics(ctx context.Context, conn eventdb.Querier, r *Report) error {
	var cursor int64
	for {
		ids, next, err := o.OrgBook.Registered(ctx, cursor, o.Batch*5)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		r.Topics += len(ids)
		cursor = next
		unknown, err := auditdb.AuditUnknown(ctx, conn, ids)
		if err != nil {
			return err
		}
		for _, id := range unknown {
			if o.Ignore[id] {
				r.Ignored++
				continue
			}
			r.Findings = append(r.Findings, Finding{SourceID: id, Check: CheckNotInRegistry, Expected: "no topic", Found: "topic " + id})
		}
	}
}

func countFindings(fs []Finding) []Count {
	n := map[Check]int{}
	for _, f := range fs {
		n[f.Check]++
	}
	out := make([]Count, len(Checks))
	for i, c := range Checks {
		out[i] = Count{Check: c, Count: n[c]}
	}
	return out
}

// Corps returns the corporations with findings that a requeue and a
// re-post can repair: all but topics the registry does not have.
func (r *Report) Corps() []string {
	var out []string
	for _, f := range r.Findings {
		if f.CorpNum != "" && !slices.Contains(out, f.CorpNum) {
			out = append(out, f.CorpNum)
		}
	}
	return out
}
