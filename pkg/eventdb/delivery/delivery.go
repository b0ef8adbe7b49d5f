// Package delivery is the poster's SQL on credential_log
// (docs/design/registry.md §4; docs/design/rules.md rules 6 and 7): loading
// a bundle's rows by hash, claiming them with a lease, the per-corporation
// order check, recording each outcome (process_success, process_msg,
// process_date, attempts), handing rows not yet due back to the outbox,
// and the reset of a requeued dead letter's failed rows. Rows are always
// found by credential_hash, never by a row id from a message. It owns the
// poster's columns of credential_log (claimed_by, claimed_until, attempts
// and the outcome); the outbox's columns are pkg/eventdb/outboxdb's.
//
// Its callers: the poster, and pkg/outbox (a credential too large for any
// bundle is given up with MarkDead). Its statements lock rows in record_id
// order and retry conflicts (eventdb.RetryConflicts); time comparisons use
// the database's clock (now()), so the leases of posters on different
// machines agree.
//
// Rows are looked up by joining unnest(hashes) with credential_log, one
// probe of the unique hash index per credential. The plainer
// "credential_hash = ANY($1) AND process_success IS NULL" let the planner
// AND a bitmap of every outstanding row (from the status index of the
// time; since migration 9 cl_ps_pd_desc holds processed rows only) to the
// hash lookups: tens of milliseconds per claim on a large backlog.
package delivery

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// isDue is "the credential may be posted now" (eventdb.DueSQL).
var isDue = eventdb.DueSQL("")

// credential_log.process_success values the poster reads and writes.
const (
	Issued   = "Y" // posted; process_msg is the agent's result id
	Rejected = "N" // refused by the agent; process_msg is its reason
	Dead     = "D" // dead-lettered after exhausting retries
	Held     = "A" // held back by the builder; never posted
)

// Row is a credential_log row as the poster sees it.
type Row struct {
	Hash     string
	RecordID int64
	CorpNum  string
	// Status is process_success: "" (outstanding), Y, N, D or A.
	Status   string
	Attempts int
	// Due is false while the row's not_before lies in the future (see
	// eventdb.DueSQL).
	Due bool
	// ClaimedBy and Leased: who holds the row and whether the lease runs.
	ClaimedBy   string
	Leased      bool
	ProcessDate *time.Time
}

// LoadRows returns the rows of the given hashes, keyed by hash;
// hashes without a row are absent.
func LoadRows(ctx context.Context, db eventdb.Querier, hashes []string) (map[string]Row, error) {
	rows, err := db.Query(ctx, `
		SELECT credential_hash, record_id, corp_num, COALESCE(process_success, ''), attempts,
		       `+isDue+`,
		       COALESCE(claimed_by, ''), (claimed_until IS NOT NULL AND claimed_until >= now()),
		       process_date
		FROM credential_log WHERE credential_hash = ANY($1)`, hashes)
	if err != nil {
		return nil, fmt.Errorf("load delivery rows: %w", err)
	}
	out := make(map[string]Row, len(hashes))
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Hash, &r.RecordID, &r.CorpNum, &r.Status, &r.Attempts,
			&r.Due, &r.ClaimedBy, &r.Leased, &r.ProcessDate); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load delivery rows: %w", err)
		}
		out[r.Hash] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load delivery rows: %w", err)
	}
	return out, nil
}

// ClaimRequest asks for rows to be claimed.
type ClaimRequest struct {
	Hashes  []string
	Claimer string
	Lease   time.Duration
	// RetryRejectedBefore, when set, first makes the N and D rows among
	// Hashes that failed before that instant outstanding again (an
	// operator's retry_rejected bundle; rows that failed while this
	// bundle was being handled are not retried twice).
	RetryRejectedBefore time.Time
}

// ClaimedRow is a row a claim obtained.
type ClaimedRow struct {
	Hash     string
	RecordID int64
	CorpNum  string
	Attempts int
	// TookOver names the previous holder whose lease had expired.
	TookOver string
}

// Claim sets claimed_by and claimed_until on the outstanding, due
// rows among the hashes that are unclaimed, whose lease expired, or that
// the claimer holds already, and returns them in record_id order. Rows are
// locked in record_id order, so concurrent claims never deadlock.
func Claim(ctx context.Context, db eventdb.Querier, c ClaimRequest) ([]ClaimedRow, error) {
	if !c.RetryRejectedBefore.IsZero() {
		if _, err := ResetForRetry(ctx, db, c.Hashes, c.RetryRejectedBefore); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	var out []ClaimedRow
	err := eventdb.RetryConflicts(ctx, func() error {
		rows, err := db.Query(ctx, `
			UPDATE credential_log c
			SET claimed_by = $2, claimed_until = now() + $3::interval
			FROM (
				SELECT cl.record_id, COALESCE(cl.claimed_by, '') AS prev
				FROM unnest($1::text[]) AS x(hash)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.process_success IS NULL
				  AND `+eventdb.DueSQL("cl")+`
				  AND (cl.claimed_by IS NULL OR cl.claimed_until IS NULL OR cl.claimed_until < now() OR cl.claimed_by = $2)
				ORDER BY cl.record_id
				FOR UPDATE OF cl
			) p
			WHERE c.record_id = p.record_id
			RETURNING c.credential_hash, c.record_id, c.corp_num, c.attempts, p.prev`,
			c.Hashes, c.Claimer, c.Lease)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClaimedRow, error) {
			var cr ClaimedRow
			err := r.Scan(&cr.Hash, &cr.RecordID, &cr.CorpNum, &cr.Attempts, &cr.TookOver)
			if cr.TookOver == c.Claimer {
				cr.TookOver = ""
			}
			return cr, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim delivery: %w", err)
	}
	sortClaimed(out)
	return out, nil
}

func sortClaimed(rows []ClaimedRow) {
	slices.SortFunc(rows, func(a, b ClaimedRow) int { return cmp.Compare(a.RecordID, b.RecordID) })
}

// OldestForeignOutstanding returns, per corporation, the record_id of the
// oldest outstanding, due row that the claimer does not hold: nothing of
// that corporation newer than it may be posted yet (rule 6). Rows in Y, N,
// D or A, and rows waiting for not_before, never block.
func OldestForeignOutstanding(ctx context.Context, db eventdb.Querier, corps []string, claimer string) (map[string]int64, error) {
	rows, err := db.Query(ctx, `
		SELECT corp_num, min(record_id) FROM credential_log
		WHERE corp_num = ANY($1) AND process_success IS NULL
		  AND `+isDue+`
		  AND claimed_by IS DISTINCT FROM $2
		GROUP BY corp_num`, corps, claimer)
	if err != nil {
		return nil, fmt.Errorf("order check: %w", err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var corp string
		var id int64
		if err := rows.Scan(&corp, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("order check: %w", err)
		}
		out[corp] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("order check: %w", err)
	}
	return out, nil
}

// Renew extends the claimer's lease on the outstanding rows
// among hashes and returns how many it still holds; fewer than asked means
// another poster took some over after the lease ran out.
func Renew(ctx context.Context, db eventdb.Querier, claimer string, hashes []string, lease time.Duration) (int, error) {
	var n int64
	err := eventdb.RetryConflicts(ctx, func() error {
		tag, err := db.Exec(ctx, `
			UPDATE credential_log c SET claimed_until = now() + $3::interval
			FROM (
				SELECT cl.record_id FROM unnest($2::text[]) AS x(hash)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.claimed_by = $1 AND cl.process_success IS NULL
				ORDER BY cl.record_id FOR UPDATE OF cl
			) p
			WHERE c.record_id = p.record_id`,
			claimer, hashes, lease)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("renew claims: %w", err)
	}
	return int(n), nil
}

// Release gives the claimer's outstanding rows among hashes
// back, so any poster may take them at once.
func Release(ctx context.Context, db eventdb.Querier, claimer string, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	err := eventdb.RetryConflicts(ctx, func() error {
		_, err := db.Exec(ctx, `
			UPDATE credential_log SET claimed_by = NULL, claimed_until = NULL
			WHERE record_id IN (
				SELECT cl.record_id FROM unnest($2::text[]) AS x(hash)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.claimed_by = $1 AND cl.process_success IS NULL
				ORDER BY cl.record_id FOR UPDATE OF cl)`,
			claimer, hashes)
		return err
	})
	if err != nil {
		return fmt.Errorf("release claims: %w", err)
	}
	return nil
}

// Outcome is the agent's final answer for one credential.
type Outcome struct {
	Hash   string
	Status string // Issued or Rejected
	Msg    string // result id or reason
	// Claimer is who posted it (kept as claimed_by). One statement may
	// record the answers of several claims (the poster records concurrent
	// requests' answers together), so each outcome names its own.
	Claimer string
}

// MarkDelivered records final answers (Y or N, process_date, process_msg)
// on rows that are still outstanding, whoever holds them now: the agent's
// answer is the truth even if the lease ran out meanwhile. claimed_by is
// kept as a record of who posted. It returns the hashes it marked.
func MarkDelivered(ctx context.Context, db eventdb.Querier, outs []Outcome) ([]string, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	hashes, statuses, msgs, claimers := make([]string, len(outs)), make([]string, len(outs)), make([]string, len(outs)), make([]string, len(outs))
	for i, o := range outs {
		if o.Status != Issued && o.Status != Rejected {
			return nil, fmt.Errorf("mark delivered: status %q of %s: want Y or N", o.Status, o.Hash)
		}
		if o.Claimer == "" {
			return nil, fmt.Errorf("mark delivered: %s names no claimer", o.Hash)
		}
		hashes[i], statuses[i], msgs[i], claimers[i] = o.Hash, o.Status, eventdb.ProcessMsg(o.Msg), o.Claimer
	}
	var marked []string
	err := eventdb.RetryConflicts(ctx, func() error {
		rows, err := db.Query(ctx, `
			UPDATE credential_log c
			SET process_success = u.status, process_msg = u.msg, process_date = LOCALTIMESTAMP,
			    claimed_by = u.claimer, claimed_until = NULL
			FROM (
				SELECT cl.record_id, x.status, x.msg, x.claimer
				FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(hash, status, msg, claimer)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.process_success IS NULL
				ORDER BY cl.record_id
				FOR UPDATE OF cl
			) u
			WHERE c.record_id = u.record_id
			RETURNING c.credential_hash`,
			hashes, statuses, msgs, claimers)
		if err != nil {
			return err
		}
		marked, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mark delivered: %w", err)
	}
	return marked, nil
}

// Attempt is a row after a failed attempt was counted.
type Attempt struct {
	Hash     string
	Attempts int
	// Dead is true when the attempt limit was reached: the row is now D.
	Dead bool
}

// RecordFailure counts one failed agent attempt on the claimer's
// outstanding rows among hashes, keeps msg as the last error, and releases
// them; a row that reaches maxAttempts becomes D.
func RecordFailure(ctx context.Context, db eventdb.Querier, claimer string, hashes []string, msg string, maxAttempts int) ([]Attempt, error) {
	var out []Attempt
	err := eventdb.RetryConflicts(ctx, func() error {
		rows, err := db.Query(ctx, `
			UPDATE credential_log c
			SET attempts = c.attempts + 1,
			    process_msg = $3,
			    process_success = CASE WHEN c.attempts + 1 >= $4 THEN 'D' END,
			    process_date = CASE WHEN c.attempts + 1 >= $4 THEN LOCALTIMESTAMP END,
			    claimed_by = CASE WHEN c.attempts + 1 >= $4 THEN c.claimed_by END,
			    claimed_until = NULL
			FROM (
				SELECT cl.record_id FROM unnest($2::text[]) AS x(hash)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.claimed_by = $1 AND cl.process_success IS NULL
				ORDER BY cl.record_id FOR UPDATE OF cl
			) p
			WHERE c.record_id = p.record_id
			RETURNING c.credential_hash, c.attempts, c.process_success IS NOT NULL`,
			claimer, hashes, eventdb.ProcessMsg(msg), maxAttempts)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
			var a Attempt
			err := r.Scan(&a.Hash, &a.Attempts, &a.Dead)
			return a, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery failure: %w", err)
	}
	return out, nil
}

// MarkDead marks D the outstanding rows among hashes that nobody
// else holds under a running lease, and returns the hashes it marked. Its
// caller is the outbox giving up a credential too large for any bundle.
func MarkDead(ctx context.Context, db eventdb.Querier, claimer string, hashes []string, msg string) ([]string, error) {
	var marked []string
	err := eventdb.RetryConflicts(ctx, func() error {
		rows, err := db.Query(ctx, `
			UPDATE credential_log c
			SET process_success = 'D', process_date = LOCALTIMESTAMP, process_msg = $3,
			    claimed_by = $1, claimed_until = NULL
			FROM (
				SELECT cl.record_id FROM unnest($2::text[]) AS x(hash)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.process_success IS NULL
				  AND (cl.claimed_by IS NULL OR cl.claimed_until IS NULL OR cl.claimed_until < now() OR cl.claimed_by = $1)
				ORDER BY cl.record_id FOR UPDATE OF cl
			) p
			WHERE c.record_id = p.record_id
			RETURNING c.credential_hash`,
			claimer, hashes, eventdb.ProcessMsg(msg))
		if err != nil {
			return err
		}
		marked, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mark delivery dead: %w", err)
	}
	return marked, nil
}

// Defer hands outstanding credentials that are not due yet (their
// not_before lies ahead) back to the outbox: it clears published_at, so
// the builder's sweep republishes them once due. The bundle that carried
// them can then be acked without them (they block nothing).
func Defer(ctx context.Context, db eventdb.Querier, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	err := eventdb.RetryConflicts(ctx, func() error {
		_, err := db.Exec(ctx, `
			UPDATE credential_log c
			SET published_at = NULL
			FROM (
				SELECT cl.record_id FROM unnest($1::text[]) AS x(hash)
				JOIN credential_log cl ON cl.credential_hash = x.hash
				WHERE cl.process_success IS NULL
				ORDER BY cl.record_id FOR UPDATE OF cl
			) u
			WHERE c.record_id = u.record_id`,
			hashes)
		return err
	})
	if err != nil {
		return fmt.Errorf("defer delivery: %w", err)
	}
	return nil
}
