// Package audit is `bcregctl audit`: it proves, corporation by corporation
// but set-based (a batch of corporations per query), that the event
// database and OrgBook hold what the profile's generator issues from the
// registry today, and says what to do where they do not
// (docs/design/orgbook.md, "The audit").
package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	loader := sourcedb.NewLoader(o.Registry, o.Log)
	after := ""
	for i := 0; ; i += o.Batch {
		var nums []string
		if all {
			if nums, err = sourcedb.DiscoverCorpNums(ctx, o.Registry, after, o.Batch); err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
		} else if i < len(o.Corps) {
			nums = o.Corps[i:min(i+o.Batch, len(o.Corps))]
		}
		if len(nums) == 0 {
			break
		}
		after = nums[len(nums)-1]
		if err := o.batch(ctx, conn, loader, params, nums, r, all); err != nil {
			return nil, err
		}
	}
	if all {
		if err := o.extraTopics(ctx, conn, r); err != nil {
			return nil, err
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.Counts = countFindings(r.Findings)
	return r, nil
}

// batch audits one batch of corporations: one registry load, one event
// database query and one OrgBook query.
func (o *Options) batch(ctx context.Context, conn eventdb.Querier, loader *sourcedb.Loader, params credential.Params,
	nums []string, r *Report, all bool) error {
	b, err := loader.Load(ctx, nums)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	var exp []Expected
	var ids, corps []string
	for _, num := range nums {
		snap, err := b.Get(num)
		if err != nil {
			if all {
				return fmt.Errorf("audit: %w", err)
			}
			r.Findings = append(r.Findings, Finding{CorpNum: num, Check: CheckNeverProcessed, Expected: "a corporation of the registry", Found: err.Error()})
			continue
		}
		if !o.Profile.InScope(snap) {
			continue
		}
		res, err := o.Profile.Generate(snap, params)
		if err != nil {
			return fmt.Errorf("audit: generate %s: %w", num, err)
		}
		if res.Note == credential.NoteWithdrawn {
			continue // hidden: never published
		}
		e := expect(res, o.Now)
		if e.HasRegistration {
			ids = append(ids, e.SourceID)
		}
		if o.Ignore[num] || (e.SourceID != "" && o.Ignore[e.SourceID]) {
			r.Ignored++
			continue
		}
		exp = append(exp, e)
		corps = append(corps, num)
	}
	if all && len(ids) > 0 {
		if err := auditdb.AuditAddKnown(ctx, conn, ids); err != nil {
			return err
		}
	}
	if len(exp) == 0 {
		return nil
	}
	states, err := auditdb.AuditCorps(ctx, conn, messages.SystemBCReg, corps, o.Now, o.Grace)
	if err != nil {
		return err
	}
	found, err := o.OrgBook.Lookup(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range exp {
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
