package sourcedb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/source"
)

// DB is what the Loader needs from a connection or pool (*pgxpool.Pool and
// *pgx.Conn both have it).
type DB interface {
	BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error)
}

// Loader reads corporation snapshots in batches. It caches the code tables
// after the first Load; it is safe for concurrent use.
//
// By default it reads each corporation's full history (docs/design/generation.md §3a):
// ended records too, their end events, and the conv_event rows of data
// conversion events. Every profile can generate from such a snapshot. The
// CurrentOnly option reads what the 2018 pipeline read instead, which only
// the snapshot profile can use.
type Loader struct {
	db          DB
	log         *zap.Logger
	currentOnly bool

	mu    sync.Mutex
	codes *source.CodeTables
}

// Option configures a Loader.
type Option func(*Loader)

// CurrentOnly makes the Loader read current records only (plus every state
// row) and no conv_event rows, as the 2018 pipeline did: fewer rows, for a
// deployment that runs the snapshot profile. Snapshots it assembles have
// FullHistory false, and the history profile refuses them.
func CurrentOnly() Option { return func(l *Loader) { l.currentOnly = true } }

// NewLoader returns a Loader reading through db. log may be nil.
func NewLoader(db DB, log *zap.Logger, opts ...Option) *Loader {
	if log == nil {
		log = zap.NewNop()
	}
	l := &Loader{db: db, log: log}
	for _, o := range opts {
		o(l)
	}
	return l
}

// The snapshot queries: one per table per batch, keyed by `= ANY($1)`. The
// record queries read every row (full history); their *Current variants,
// for a CurrentOnly loader, only the rows that have not ended. All are
// constants.
const (
	partyColumns = `SELECT coalesce(corp_num, '') AS corp_num, corp_party_id, mailing_addr_id, delivery_addr_id,
       party_typ_cd, start_event_id, end_event_id, cessation_dt, last_nme, middle_nme, first_nme,
       business_nme, bus_company_num, email_address, corp_party_seq_num, office_notification_dt,
       phone, reason_typ_cd
FROM bc_registries.corp_party
`
	// Both sides of the FBO link: the firms a corporation owns and the
	// owners of a firm (Q5 step 9 picks one side by type; the scope check
	// and the history profile need both). UNION rather than OR, which was
	// slow through oracle_fdw (docs/design/registry.md §1).
	qParties = partyColumns + `WHERE corp_num = ANY($1) AND party_typ_cd = 'FBO'
UNION
` + partyColumns + `WHERE bus_company_num = ANY($1) AND party_typ_cd = 'FBO'`
	qPartiesCurrent = partyColumns + `WHERE corp_num = ANY($1) AND party_typ_cd = 'FBO' AND end_event_id IS NULL
UNION
` + partyColumns + `WHERE bus_company_num = ANY($1) AND party_typ_cd = 'FBO' AND end_event_id IS NULL`

	qCorporations = `SELECT corp_num, corp_typ_cd, recognition_dts, last_ar_filed_dt, bn_9, bn_15,
       admin_email, last_ledger_dt
FROM bc_registries.corporation
WHERE corp_num = ANY($1)`

	// Every state row in both modes: the 2018 status date walks back
	// through ended states.
	qStates = `SELECT corp_num, start_event_id, end_event_id, state_typ_cd, dd_corp_num
FROM bc_registries.corp_state
WHERE corp_num = ANY($1)`

	qNames = `SELECT corp_num, corp_name_typ_cd, start_event_id, end_event_id, corp_name_seq_num,
       srch_nme, corp_nme, dd_corp_num
FROM bc_registries.corp_name
WHERE corp_num = ANY($1) AND corp_name_typ_cd IN ('CO', 'NB', 'AS', 'TR', 'NO')`
	qNamesCurrent = qNames + ` AND end_event_id IS NULL`

	qJurisdictions = `SELECT corp_num, start_event_id, end_event_id, can_jur_typ_cd, home_recogn_dt,
       othr_juris_desc, home_juris_num, home_company_nme
FROM bc_registries.jurisdiction
WHERE corp_num = ANY($1)`
	qJurisdictionsCurrent = qJurisdictions + ` AND end_event_id IS NULL`

	qOffices = `SELECT corp_num, office_typ_cd, start_event_id, end_event_id, mailing_addr_id,
       delivery_addr_id, dd_corp_num, email_address
FROM bc_registries.office
WHERE corp_num = ANY($1) AND office_typ_cd IN ('RG', 'HD', 'FO')`
	qOfficesCurrent = qOffices + ` AND end_event_id IS NULL`

	qAddresses = `SELECT addr_id, province, country_typ_cd, postal_cd, addr_line_1, addr_line_2,
       addr_line_3, city, address_format_type, address_desc, address_desc_short, unit_no,
       unit_type, province_state_name
FROM bc_registries.address
WHERE addr_id = ANY($1)`

	qEvents = `SELECT event_id, corp_num, event_typ_cd, event_timestmp, trigger_dts
FROM bc_registries.event
WHERE event_id = ANY($1)`

	qFilings = `SELECT event_id, filing_typ_cd, effective_dt, change_dt, registration_dt, period_end_dt,
       accession_num, arrangement_ind, auth_sign_dt, withdrawn_event_id, ods_typ_cd, dd_event_id,
       access_cd, nr_num, court_appr_ind, court_order_num, agm_date, new_corp_num
FROM bc_registries.filing
WHERE event_id = ANY($1)`

	// Only effective_dt drives anything; the rest is read as text so an
	// unexpected column type in the registry cannot fail the batch.
	qConvEvents = `SELECT event_id, effective_dt, report_corp_ind::text AS report_corp_ind,
       prev_bc_ind::text AS prev_bc_ind, activity_user_id::text AS activity_user_id,
       activity_dt::text AS activity_dt, activity_tm::text AS activity_tm,
       annual_file_dt::text AS annual_file_dt, corp_cre_typ_cd::text AS corp_cre_typ_cd,
       accession_num::text AS accession_num, dd_event_id::text AS dd_event_id, remarks::text AS remarks
FROM bc_registries.conv_event
WHERE event_id = ANY($1)`
)

// recordQueries returns the party, name, jurisdiction and office queries of
// the loader's mode.
func (l *Loader) recordQueries() (parties, names, juris, offices string) {
	if l.currentOnly {
		return qPartiesCurrent, qNamesCurrent, qJurisdictionsCurrent, qOfficesCurrent
	}
	return qParties, qNames, qJurisdictions, qOffices
}

// CodeTables returns the cached code tables, reading them on first use.
func (l *Loader) CodeTables(ctx context.Context) (*source.CodeTables, error) {
	tx, err := l.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return l.codeTables(ctx, tx)
}

func (l *Loader) codeTables(ctx context.Context, tx pgx.Tx) (*source.CodeTables, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.codes != nil {
		return l.codes, nil
	}
	ct, err := loadCodeTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	l.codes = ct
	return ct, nil
}

func (l *Loader) begin(ctx context.Context) (pgx.Tx, error) {
	// One consistent view of the registry for the whole batch.
	tx, err := l.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("load snapshots: begin: %w", err)
	}
	return tx, nil
}

// Load reads the snapshots of corpNums (duplicates are read once) with a
// fixed number of queries, whatever the batch size: the code tables on first
// use, then one query per table (ten, or nine for a CurrentOnly loader), sent
// in three pipelined round trips (readRows). An
// error means the batch could not be read at all; a corporation that cannot
// be assembled gets its reason in source.Batch.Errors instead.
func (l *Loader) Load(ctx context.Context, corpNums []string) (*source.Batch, error) {
	nums := unique(corpNums)
	tx, err := l.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	codes, err := l.codeTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := l.readRows(ctx, tx, nums)
	if err != nil {
		return nil, err
	}
	b := source.Assemble(nums, codes, r, !l.currentOnly)
	l.log.Debug("snapshots loaded", zap.Int("requested", len(nums)), zap.Int("assembled", len(b.Snapshots)),
		zap.Duration("took", time.Since(start)))
	return b, nil
}

// readRows reads the batch's rows in three round trips, each a pipeline of
// the queries that need nothing from the ones after: the corporations'
// records; then the rows they point at (the corporations at both ends of
// the FBO links, the offices' addresses, the events); then the events'
// filings and conv_event rows.
func (l *Loader) readRows(ctx context.Context, tx pgx.Tx, nums []string) (*source.Rows, error) {
	qp, qn, qj, qo := l.recordQueries()
	r := &source.Rows{}
	b := &pgx.Batch{}
	queue(b, "corp_party", qp, nums, scanParty, &r.Parties)
	queue(b, "corp_state", qStates, nums, scanState, &r.States)
	queue(b, "corp_name", qn, nums, scanName, &r.Names)
	queue(b, "jurisdiction", qj, nums, scanJurisdiction, &r.Jurisdictions)
	queue(b, "office", qo, nums, scanOffice, &r.Offices)
	if err := send(ctx, tx, b); err != nil {
		return nil, err
	}

	b = &pgx.Batch{}
	// The corporations at the other end of the FBO links come with the
	// batch's own corporation rows.
	corpNums := slices.Clone(nums)
	for _, p := range r.Parties {
		for _, n := range []string{p.CorpNum, deref(p.BusCompanyNum)} {
			if n != "" {
				corpNums = append(corpNums, n)
			}
		}
	}
	queue(b, "corporation", qCorporations, unique(corpNums), scanCorporation, &r.Corporations)

	var addrIDs []int64
	for _, o := range r.Offices {
		addrIDs = appendID(addrIDs, o.DeliveryAddrID)
		addrIDs = appendID(addrIDs, o.MailingAddrID)
	}
	if len(addrIDs) > 0 {
		queue(b, "address", qAddresses, uniqueIDs(addrIDs), scanAddress, &r.Addresses)
	}

	// Start events, and with full history the end events too.
	var eventIDs []int64
	ends := !l.currentOnly
	add := func(start, end *int64) {
		eventIDs = appendID(eventIDs, start)
		if ends {
			eventIDs = appendID(eventIDs, end)
		}
	}
	for _, s := range r.States {
		add(s.StartEventID, s.EndEventID)
	}
	for _, n := range r.Names {
		add(n.StartEventID, n.EndEventID)
	}
	for _, j := range r.Jurisdictions {
		add(j.StartEventID, j.EndEventID)
	}
	for _, o := range r.Offices {
		add(o.StartEventID, o.EndEventID)
	}
	for _, p := range r.Parties {
		add(p.StartEventID, p.EndEventID)
	}
	if len(eventIDs) > 0 {
		queue(b, "event", qEvents, uniqueIDs(eventIDs), scanEvent, &r.Events)
	}
	if err := send(ctx, tx, b); err != nil {
		return nil, err
	}

	b = &pgx.Batch{}
	// Filings are read only for FILE events, as the original did, and
	// conv_event rows only for data-conversion (CONV*) events.
	var fileIDs, convIDs []int64
	for _, e := range r.Events {
		switch typ := deref(e.EventTypCd); {
		case typ == "FILE":
			fileIDs = append(fileIDs, e.EventID)
		case ends && strings.HasPrefix(typ, "CONV"):
			convIDs = append(convIDs, e.EventID)
		}
	}
	if len(fileIDs) > 0 {
		queue(b, "filing", qFilings, uniqueIDs(fileIDs), scanFiling, &r.Filings)
	}
	if len(convIDs) > 0 {
		queue(b, "conv_event", qConvEvents, uniqueIDs(convIDs), scanConvEvent, &r.ConvEvents)
	}
	if err := send(ctx, tx, b); err != nil {
		return nil, err
	}
	return r, nil
}

func appendID(ids []int64, id *int64) []int64 {
	if id != nil {
		ids = append(ids, *id)
	}
	return ids
}

func unique(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func uniqueIDs(ids []int64) []int64 {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// deref returns *p, the zero value when p is nil (a NULL column).
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
